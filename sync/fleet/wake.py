"""How a worker waits between cycles: a tick, cut short by ``NOTIFY`` on PostgreSQL.

``serve --alliances`` stores a delivery in the alliance's queue, raises the alliance's flag in
the ledger and sends ``NOTIFY mcm_sync_events`` (:meth:`sync.fleet.ledger.Ledger.events_arrived`).
A worker on PostgreSQL ``LISTEN``\\s on a connection of its own (psycopg 3, the driver under
SQLAlchemy) and waits for a notification *or* the tick, whichever comes first, so a delivery
is processed at once instead of at the next tick. Notifications that arrive while the worker
is busy wait in the connection and end the next wait at once, so none is missed; the flag in
the ledger, not the notification, says what to do (a notification is only a wake-up call).

On SQLite (one worker on one host) there is no notification: the worker looks every tick.
"""

from __future__ import annotations

import contextlib
import threading
import time
from typing import Any

import psycopg
import sqlalchemy as sa

from sync.fleet.ledger import CHANNEL, unavailable
from sync.state.db import postgres_engine

SLICE = 0.25  # seconds: how often a wait looks at the stop event (SIGTERM)


class Wakeup:
    """A worker's wait between cycles (see the module docstring)."""

    def __init__(self, database_url: str | None) -> None:
        self._url = database_url
        self._conn: sa.Connection | None = None
        self._raw: Any = None
        self.woken = 0  # notifications received (for tests and diagnostics)
        self.connect()

    def connect(self) -> None:
        """(Re)open the listening session: at start, and after a database restart ended it
        (notifications sent meanwhile are lost, but the ledger's flags are not)."""
        self.close()
        if self._url:
            try:
                self._conn = postgres_engine(self._url).connect()  # autocommit (the engine's)
                self._raw = self._conn.connection.dbapi_connection  # the psycopg connection
                self._raw.execute(f"LISTEN {CHANNEL}")
            except (sa.exc.DBAPIError, psycopg.Error) as exc:
                self.close()
                raise unavailable(self._url, exc) from exc

    def _notifies(self, timeout: float, stop_after: int | None = None) -> list[Any]:
        try:
            return list(self._raw.notifies(timeout=timeout, stop_after=stop_after))
        except psycopg.Error as exc:  # the server went away: the worker reconnects
            self.close()
            raise unavailable(self._url or "", exc) from exc

    def wait(self, seconds: float, stop: threading.Event) -> bool:
        """Wait up to ``seconds`` for a notification; True if ``stop`` was set meanwhile.

        Raises DatabaseUnavailable if the listening session died (the worker reconnects).
        """
        if self._raw is None:
            return stop.wait(seconds)
        deadline = time.monotonic() + seconds
        while not stop.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            got = self._notifies(min(SLICE, left), stop_after=1)
            if got:
                # Several deliveries at once are one cycle: take what else is waiting.
                got += self._notifies(0)
                self.woken += len(got)
                return stop.is_set()
        return True

    def notified(self) -> bool:
        """Whether a notification came since the last wait (without waiting); always False
        on SQLite. For a worker whose threads are all busy: a delivery reorders its backlog."""
        if self._raw is None:
            return False
        got = self._notifies(0)
        self.woken += len(got)
        return bool(got)

    def close(self) -> None:
        """End the listening session (not back to the pool: it would still be listening)."""
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.invalidate()
            self._conn = None
            self._raw = None
