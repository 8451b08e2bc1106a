"""The durable event queue of ``mcm-sync serve``: deliveries on disk before they are answered.

Every verified webhook or event delivery is one row of the ``events`` table (schema version
4), committed with ``synchronous=FULL`` *before* the HTTP answer goes out, so a server killed
between the acknowledgement and the processing loses nothing: the next start finds the row
still ``pending`` and processes it. ``(source, dedup_key)`` is unique (Slack's ``event_id``,
Trello's action id, a hash of a Mailchimp post), so a retried or replayed delivery is stored
once and processed once.

The HTTP threads and the worker each use their own :class:`EventQueue` connection (SQLite
connections are not shared between threads); every method commits on return. Payloads hold
only what processing needs, never a credential (the store's JSON guard refuses such keys).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sqlite3
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sync.state.base import dumps
from sync.state.store import BUSY_TIMEOUT_MS, StateStore

STATES = ("pending", "done", "ignored", "failed")
MAX_ATTEMPTS = 5


@dataclass(frozen=True)
class QueuedEvent:
    """One stored delivery."""

    id: int
    source: str
    dedup_key: str
    kind: str
    subject: str
    payload: Mapping[str, Any]
    received_at: str
    state: str
    attempts: int
    note: str


class EventQueue:
    """The ``events`` table of one state store, through a connection of its own."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        # Creates and migrates the store if needed (the table comes with schema version 4).
        StateStore.open(self.path).close()
        self._conn = sqlite3.connect(self.path, isolation_level=None,
                                     timeout=BUSY_TIMEOUT_MS / 1000, check_same_thread=False)
        self._conn.row_factory = sqlite3.Row
        self._conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        self._conn.execute("PRAGMA synchronous = FULL")
        self._mutex = threading.Lock()

    def close(self) -> None:
        """Close the connection."""
        with self._mutex:
            self._conn.close()

    def __enter__(self) -> EventQueue:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @staticmethod
    def _now() -> str:
        return dt.datetime.now(dt.UTC).isoformat()

    def put(self, source: str, dedup_key: str, kind: str, subject: str,
            payload: Mapping[str, Any]) -> bool:
        """Store a delivery (committed on return); False if it was stored before (a replay)."""
        text = dumps(dict(payload), guard="event payload")
        with self._mutex:
            cursor = self._conn.execute(
                "INSERT OR IGNORE INTO events (source, dedup_key, kind, subject, payload, "
                "received_at) VALUES (?, ?, ?, ?, ?, ?)",
                (source, dedup_key, kind, subject, text, self._now()))
            return cursor.rowcount == 1

    def pending(self, limit: int = 500) -> list[QueuedEvent]:
        """The oldest deliveries not processed yet."""
        with self._mutex:
            rows = self._conn.execute(
                "SELECT * FROM events WHERE state = 'pending' ORDER BY id LIMIT ?",
                (limit,)).fetchall()
        return [_event(row) for row in rows]

    def finish(self, ids: Sequence[int], state: str, note: str = "") -> None:
        """Close deliveries as ``done``, ``ignored`` or ``failed`` (one transaction)."""
        assert state in STATES, state
        if not ids:
            return
        with self._mutex:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                self._conn.executemany(
                    "UPDATE events SET state = ?, processed_at = ?, note = ?, "
                    "attempts = attempts + 1 WHERE id = ?",
                    [(state, self._now(), note[:500], i) for i in ids])
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def retry_later(self, ids: Sequence[int], note: str) -> list[int]:
        """Count a failed attempt; deliveries failing :data:`MAX_ATTEMPTS` times give up.

        Returns the ids given up (left to the full reconciliation, which repairs them).
        """
        given_up: list[int] = []
        with self._mutex:
            for i in ids:
                self._conn.execute(
                    "UPDATE events SET attempts = attempts + 1, note = ? WHERE id = ?",
                    (note[:500], i))
                row = self._conn.execute("SELECT attempts FROM events WHERE id = ?",
                                         (i,)).fetchone()
                if row is not None and row["attempts"] >= MAX_ATTEMPTS:
                    self._conn.execute(
                        "UPDATE events SET state = 'failed', processed_at = ? WHERE id = ?",
                        (self._now(), i))
                    given_up.append(i)
        return given_up

    def counts(self) -> dict[str, int]:
        """How many deliveries are in each state."""
        with self._mutex:
            rows = self._conn.execute(
                "SELECT state, COUNT(*) AS n FROM events GROUP BY state").fetchall()
        return {row["state"]: int(row["n"]) for row in rows}

    def all(self) -> list[QueuedEvent]:
        """Every stored delivery, oldest first (for tests and diagnostics)."""
        with self._mutex:
            rows = self._conn.execute("SELECT * FROM events ORDER BY id").fetchall()
        return [_event(row) for row in rows]


def _event(row: sqlite3.Row) -> QueuedEvent:
    return QueuedEvent(id=int(row["id"]), source=row["source"], dedup_key=row["dedup_key"],
                       kind=row["kind"], subject=row["subject"],
                       payload=json.loads(row["payload"]), received_at=row["received_at"],
                       state=row["state"], attempts=int(row["attempts"]), note=row["note"])
