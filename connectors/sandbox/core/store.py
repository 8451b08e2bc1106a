"""The sandbox's persistence: a small JSON document store on SQLite.

Every emulated service keeps its objects here as plain JSON dicts, addressed by
``(service, kind, id)`` with an optional ``parent`` for listing children in creation order.
One connection guarded by one re-entrant lock keeps it thread-safe (the HTTP server is
threaded); ``transaction()`` makes a block atomic, and nested blocks join the outer one so a
request handler can call helpers that open their own.
"""

from __future__ import annotations

import builtins  # the method `list` below hides the type in the class body
import json
import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

DB_NAME = "sandbox.sqlite3"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS objects (
    service TEXT NOT NULL,
    kind TEXT NOT NULL,
    id TEXT NOT NULL,
    parent TEXT NOT NULL DEFAULT '',
    seq INTEGER NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (service, kind, id)
);
CREATE INDEX IF NOT EXISTS objects_parent ON objects (service, kind, parent, seq);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""


class SandboxStore:
    """A thread-safe JSON document store; ``path=None`` keeps everything in memory.

    ``path`` may be a directory (the database file ``sandbox.sqlite3`` is created in it) or a
    file path ending in ``.sqlite3``/``.db``.
    """

    def __init__(self, path: Path | None = None) -> None:
        self._lock = threading.RLock()
        self._depth = 0
        if path is None:
            self.path: Path | None = None
            target = ":memory:"
        else:
            path = Path(path)
            if path.suffix not in (".sqlite3", ".db"):
                path.mkdir(parents=True, exist_ok=True)
                path = path / DB_NAME
            else:
                path.parent.mkdir(parents=True, exist_ok=True)
            self.path = path
            target = os.fspath(path)
        # isolation_level=None: we issue BEGIN/COMMIT ourselves, so nesting is under our control.
        self._conn = sqlite3.connect(target, check_same_thread=False, isolation_level=None)
        with self._lock:
            if self.path is not None:
                # WAL survives a crashed process without losing committed transactions;
                # NORMAL sync trades only power-loss durability for speed (fine for a sandbox).
                self._conn.execute("PRAGMA journal_mode=WAL")
                self._conn.execute("PRAGMA synchronous=NORMAL")
            self._conn.executescript(_SCHEMA)

    # -- transactions -------------------------------------------------------------------

    @contextmanager
    def transaction(self) -> Iterator[SandboxStore]:
        """Run the block atomically; an exception rolls everything in it back."""
        with self._lock:
            outer = self._depth == 0
            if outer:
                self._conn.execute("BEGIN IMMEDIATE")
            self._depth += 1
            try:
                yield self
            except BaseException:
                self._depth -= 1
                if outer:
                    self._conn.execute("ROLLBACK")
                raise
            else:
                self._depth -= 1
                if outer:
                    self._conn.execute("COMMIT")

    def close(self) -> None:
        """Close the connection (the store is unusable afterwards)."""
        with self._lock:
            self._conn.close()

    # -- documents ----------------------------------------------------------------------

    def insert(
        self, service: str, kind: str, id: str, data: dict[str, Any], parent: str = ""
    ) -> dict[str, Any]:
        """Store a new document; ``sqlite3.IntegrityError`` if the id is taken."""
        with self.transaction():
            seq = self.next_counter("seq")
            self._conn.execute(
                "INSERT INTO objects (service, kind, id, parent, seq, data) VALUES (?,?,?,?,?,?)",
                (service, kind, id, parent, seq, json.dumps(data)),
            )
        return data

    def get(self, service: str, kind: str, id: str) -> dict[str, Any] | None:
        """The document, or None."""
        with self._lock:
            row = self._conn.execute(
                "SELECT data FROM objects WHERE service=? AND kind=? AND id=?",
                (service, kind, id),
            ).fetchone()
        return json.loads(row[0]) if row else None

    def update(self, service: str, kind: str, id: str, data: dict[str, Any]) -> dict[str, Any]:
        """Replace a document whole; ``KeyError`` if it does not exist."""
        with self._lock:
            cursor = self._conn.execute(
                "UPDATE objects SET data=? WHERE service=? AND kind=? AND id=?",
                (json.dumps(data), service, kind, id),
            )
        if cursor.rowcount == 0:
            raise KeyError(f"{service}/{kind}/{id}")
        return data

    def upsert(
        self, service: str, kind: str, id: str, data: dict[str, Any], parent: str = ""
    ) -> dict[str, Any]:
        """Insert or replace a document (a new one goes last in its parent's order)."""
        with self.transaction():
            if self.get(service, kind, id) is None:
                return self.insert(service, kind, id, data, parent)
            return self.update(service, kind, id, data)

    def delete(self, service: str, kind: str, id: str) -> None:
        """Remove a document (no error if it is absent)."""
        with self._lock:
            self._conn.execute(
                "DELETE FROM objects WHERE service=? AND kind=? AND id=?", (service, kind, id)
            )

    def list(self, service: str, kind: str, parent: str | None = None) -> list[dict[str, Any]]:
        """All documents of a kind (optionally of one parent), in insertion order."""
        with self._lock:
            if parent is None:
                rows = self._conn.execute(
                    "SELECT data FROM objects WHERE service=? AND kind=? ORDER BY seq",
                    (service, kind),
                ).fetchall()
            else:
                rows = self._conn.execute(
                    "SELECT data FROM objects WHERE service=? AND kind=? AND parent=? ORDER BY seq",
                    (service, kind, parent),
                ).fetchall()
        return [json.loads(r[0]) for r in rows]

    def find(self, service: str, kind: str, **equals: Any) -> builtins.list[dict[str, Any]]:
        """Documents whose top-level fields equal the given values (SQLite JSON1)."""
        clauses = " ".join(f"AND json_extract(data, '$.{name}') = ?" for name in equals)
        for name in equals:
            if not name.isidentifier():
                raise ValueError(f"bad field name {name!r}")
        values = [json.dumps(v) if isinstance(v, dict | list) else v for v in equals.values()]
        values = [int(v) if isinstance(v, bool) else v for v in values]
        with self._lock:
            rows = self._conn.execute(
                f"SELECT data FROM objects WHERE service=? AND kind=? {clauses} ORDER BY seq",
                (service, kind, *values),
            ).fetchall()
        return [json.loads(r[0]) for r in rows]

    def count(self, service: str, kind: str, parent: str | None = None) -> int:
        """How many documents of a kind (optionally of one parent) exist."""
        with self._lock:
            if parent is None:
                row = self._conn.execute(
                    "SELECT COUNT(*) FROM objects WHERE service=? AND kind=?", (service, kind)
                ).fetchone()
            else:
                row = self._conn.execute(
                    "SELECT COUNT(*) FROM objects WHERE service=? AND kind=? AND parent=?",
                    (service, kind, parent),
                ).fetchone()
        return int(row[0])

    def next_counter(self, name: str) -> int:
        """A persisted, strictly increasing counter (1, 2, 3, ...)."""
        with self.transaction():
            self._conn.execute(
                "INSERT INTO counters (name, value) VALUES (?, 1) "
                "ON CONFLICT(name) DO UPDATE SET value = value + 1",
                (name,),
            )
            row = self._conn.execute("SELECT value FROM counters WHERE name=?", (name,)).fetchone()
        return int(row[0])

    def object_id(self, timestamp: float) -> str:
        """A 24-hex id shaped like a Mongo ObjectId (Trello's ids): ids sort by creation.

        4 bytes of seconds, then 8 bytes of a persisted counter: unique per store and ordered
        even for ids created in the same second.
        """
        counter = self.next_counter("objectid")
        return f"{int(timestamp) & 0xFFFFFFFF:08x}{counter & 0xFFFFFFFFFFFF:016x}"
