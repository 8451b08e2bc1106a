"""The durable event queue of ``mcm-sync serve``: deliveries on disk before they are answered.

Every verified webhook or event delivery is one row of the ``events`` table (schema version
5), committed *before* the HTTP answer goes out, so a server killed
between the acknowledgement and the processing loses nothing: the next start finds the row
still ``pending`` and processes it. ``(source, dedup_key)`` is unique (Slack's ``event_id``,
Trello's action id, a hash of a Mailchimp post), so a retried or replayed delivery is stored
once and processed once.

The queue has a store connection of its own, shared by the HTTP threads under a mutex; every
method commits on return. Payloads hold
only what processing needs, never a credential (the store's JSON guard refuses such keys).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sync.state.base import dumps
from sync.state.db import Database, is_url, schema_name
from sync.state.store import DEFAULT_SCHEMA, StateStore

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
    """The ``events`` table of one state store, through a store connection of its own.

    The same table and statements on SQLite and PostgreSQL (the store's portable SQL): one
    queue for ``serve`` on one laptop and for a hosted service's workers.
    """

    def __init__(self, location: str | os.PathLike[str], *, schema: str | None = None,
                 migrate: bool = True) -> None:
        """``migrate=False``: the caller knows the store is at the current schema (saves
        opening it as a store first, for a front that opens a queue per delivery)."""
        self.path = location if isinstance(location, str) and "://" in location \
            else Path(location)
        self._owned = True
        if migrate:
            # Creates and migrates the store if needed (the table comes with schema version 5).
            StateStore.open(self.path, schema=schema).close()
        if is_url(str(self.path)):
            self._db = Database.postgresql(str(self.path),
                                           schema_name(schema or DEFAULT_SCHEMA))
        else:  # shared by the HTTP threads, one at a time (the mutex)
            self._db = Database.sqlite(Path(self.path), threads=True)
        self._mutex = threading.Lock()
        self._store: StateStore | None = None  # see over()

    @classmethod
    def over(cls, store: StateStore) -> EventQueue:
        """The queue of an open store, on the store's own connection (one thread: a worker
        draining the queue under the alliance's lock); :meth:`close` leaves it open."""
        queue = cls.__new__(cls)
        queue.path = store.path
        queue._db = store._conn
        queue._mutex = threading.Lock()
        queue._owned = False
        queue._store = store
        return queue

    def close(self) -> None:
        """Close the connection (not a store's borrowed one, see :meth:`over`)."""
        with self._mutex:
            if self._owned:
                self._db.close()

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
            cursor = self._db.execute(
                "INSERT INTO events (source, dedup_key, kind, subject, payload, received_at)"
                " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (source, dedup_key) DO NOTHING",
                (source, dedup_key, kind, subject, text, self._now()))
            return cursor.rowcount == 1

    def pending(self, limit: int = 500) -> list[QueuedEvent]:
        """The oldest deliveries not processed yet. Over a store, the answer is handed from
        one run to the next while nobody writes the store (``sync.state.kept``), but read
        afresh within a run: deliveries are stored without the run lock (``serve``'s front,
        a webhook), so a queue found empty a moment ago may not be empty now."""
        if self._store is not None:
            return list(self._store.kept_value(("pending events", limit), frozenset({"events"}),
                                               lambda: tuple(self._pending(limit)), once=True))
        return self._pending(limit)

    def _pending(self, limit: int) -> list[QueuedEvent]:
        with self._mutex:
            rows = self._db.execute(
                "SELECT * FROM events WHERE state = 'pending' ORDER BY id LIMIT ?",
                (limit,)).fetchall()
        return [_event(row) for row in rows]

    def finish(self, ids: Sequence[int], state: str, note: str = "") -> None:
        """Close deliveries as ``done``, ``ignored`` or ``failed`` (one transaction)."""
        assert state in STATES, state
        if not ids:
            return
        with self._mutex:
            self._db.begin()
            try:
                for i in ids:
                    self._db.execute(
                        "UPDATE events SET state = ?, processed_at = ?, note = ?, "
                        "attempts = attempts + 1 WHERE id = ?",
                        (state, self._now(), note[:500], i))
            except BaseException:
                self._db.rollback()
                raise
            self._db.commit()

    def retry_later(self, ids: Sequence[int], note: str) -> list[int]:
        """Count a failed attempt; deliveries failing :data:`MAX_ATTEMPTS` times give up.

        Returns the ids given up (left to the full reconciliation, which repairs them).
        """
        given_up: list[int] = []
        with self._mutex:
            for i in ids:
                self._db.execute(
                    "UPDATE events SET attempts = attempts + 1, note = ? WHERE id = ?",
                    (note[:500], i))
                row = self._db.execute("SELECT attempts FROM events WHERE id = ?",
                                       (i,)).fetchone()
                if row is not None and row["attempts"] >= MAX_ATTEMPTS:
                    self._db.execute(
                        "UPDATE events SET state = 'failed', processed_at = ? WHERE id = ?",
                        (self._now(), i))
                    given_up.append(i)
        return given_up

    def counts(self) -> dict[str, int]:
        """How many deliveries are in each state."""
        with self._mutex:
            rows = self._db.execute(
                "SELECT state, COUNT(*) AS n FROM events GROUP BY state").fetchall()
        return {row["state"]: int(row["n"]) for row in rows}

    def all(self) -> list[QueuedEvent]:
        """Every stored delivery, oldest first (for tests and diagnostics)."""
        with self._mutex:
            rows = self._db.execute("SELECT * FROM events ORDER BY id").fetchall()
        return [_event(row) for row in rows]


def _event(row: Any) -> QueuedEvent:
    return QueuedEvent(id=int(row["id"]), source=row["source"], dedup_key=row["dedup_key"],
                       kind=row["kind"], subject=row["subject"],
                       payload=json.loads(row["payload"]), received_at=row["received_at"],
                       state=row["state"], attempts=int(row["attempts"]), note=row["note"])
