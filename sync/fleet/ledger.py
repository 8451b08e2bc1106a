"""The workers' shared ledger: per alliance, its last run, next run and last error; and the
scheduling locks that let one worker at a time run an alliance.

On PostgreSQL (``--database postgresql://...``, several workers on several machines) the
ledger is the table ``alliance_runs`` in the schema ``mcm_worker``, and the scheduling lock of
an alliance is a session-level ``pg_try_advisory_lock`` held on the worker's dedicated
connection: a worker killed with ``kill -9`` loses its session, the server drops its locks,
and the next worker to look takes the alliance over. A worker on SQLite keeps the ledger in a
file beside the configs and is alone by definition (the alliances' own file locks still keep
a cron run and the worker apart).

The ledger is bookkeeping, not a queue: what is due is computed from ``next_due``; the run
itself is always the alliance's own journalled sync, so a run repeated after a crash writes
nothing twice. The deliveries themselves wait in each alliance's own durable queue (its state
store's ``events`` table); ``serve --alliances`` only raises the alliance's flag here
(``events_at``, and ``events_mark`` counted up on every raise) and, on PostgreSQL, sends
``NOTIFY mcm_sync_events`` with the alliance's name, so a waiting worker starts at once. A
worker lowers the flag after draining only if ``events_mark`` is still what it read before
(:meth:`Ledger.events_drained`): a delivery that arrived meanwhile keeps it raised.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.schema import CreateTable

from sync.core.errors import DatabaseUnavailable
from sync.state.db import Database, database_unavailable, is_url, masked, postgres_engine
from sync.state.lock import LOCK_NAMESPACE
from sync.state.schema import migrate

SCHEMA = "mcm_worker"
CHANNEL = "mcm_sync_events"  # NOTIFY channel: the payload is an alliance's name
LEDGER_FILE = ".mcm-sync-worker.db"
# The scheduling locks' first key: one past the alliances' run locks (sync.state.lock).
SCHEDULE_NAMESPACE = LOCK_NAMESPACE + 1

_meta = sa.MetaData()
alliance_runs = sa.Table(
    "alliance_runs", _meta,
    sa.Column("name", sa.Text, primary_key=True),  # the config file's name, without .yaml
    sa.Column("slug", sa.Text, nullable=False, server_default=sa.text("''")),
    sa.Column("worker", sa.Text, nullable=False, server_default=sa.text("''")),
    sa.Column("started_at", sa.Text),
    sa.Column("finished_at", sa.Text),
    sa.Column("outcome", sa.Text, nullable=False, server_default=sa.text("''")),
    sa.Column("error", sa.Text, nullable=False, server_default=sa.text("''")),
    sa.Column("next_due", sa.Text),
    sa.Column("runs", sa.Integer, nullable=False, server_default=sa.text("0")),
    sa.Column("failures", sa.Integer, nullable=False, server_default=sa.text("0")),
)
MIGRATIONS = (
    (CreateTable(alliance_runs),),
    # 2: deliveries waiting in the alliance's queue (raised by serve --alliances).
    ("ALTER TABLE alliance_runs ADD COLUMN events_at TEXT",
     "ALTER TABLE alliance_runs ADD COLUMN events_mark INTEGER NOT NULL DEFAULT 0"),
    # 3: database outages a worker rode out (written once the database is back).
    ("CREATE TABLE outages (worker TEXT NOT NULL, began TEXT NOT NULL, ended TEXT NOT NULL,"
     " seconds REAL NOT NULL, interrupted TEXT NOT NULL DEFAULT '', error TEXT NOT NULL"
     " DEFAULT '')",),
)


@dataclass(frozen=True)
class Entry:
    """One alliance's line in the ledger."""

    name: str
    slug: str = ""
    worker: str = ""
    started_at: str | None = None
    finished_at: str | None = None
    outcome: str = ""
    error: str = ""
    next_due: str | None = None
    runs: int = 0
    failures: int = 0
    events_at: str | None = None  # deliveries waiting since (None: none announced)
    events_mark: int = 0

    def due(self, now: dt.datetime) -> bool:
        """Whether the alliance's schedule is due at ``now`` (never run: yes)."""
        return self.next_due is None or self.next_due <= iso(now)

    @property
    def waiting(self) -> bool:
        """Whether ``serve`` announced deliveries no worker has drained yet."""
        return self.events_at is not None


def iso(moment: dt.datetime) -> str:
    """The ledger's time format: UTC ISO 8601, which sorts as text."""
    return moment.astimezone(dt.UTC).isoformat(timespec="seconds")


class Ledger:
    """The ledger of one set of workers: a PostgreSQL URL, or the SQLite file in ``folder``."""

    def __init__(self, database: str | None, folder: Path) -> None:
        self.url = database if database and is_url(database) else None
        self.path = Path(database) if database and not self.url else folder / LEDGER_FILE
        # One connection, shared by the worker's threads under a mutex (a few small statements
        # per alliance run: opening a connection each time would cost more than the work).
        self._mutex = threading.Lock()
        self._conn: Database | None = None
        with self._db() as db:
            migrate(db, migrations=MIGRATIONS, where=f"worker ledger {db.where}")

    def _connect(self) -> Database:
        return Database.postgresql(self.url, SCHEMA) if self.url else \
            Database.sqlite(self.path, threads=True)

    def close(self) -> None:
        """Close the ledger's connection."""
        with self._mutex:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    @property
    def shared(self) -> bool:
        """Whether several workers may share this ledger (PostgreSQL)."""
        return self.url is not None

    @contextmanager
    def _db(self) -> Iterator[Database]:
        """The ledger's connection, made again after the server dropped it (a restart): the
        statement that met the dropped one raises, the next one gets a new connection."""
        with self._mutex:
            if self._conn is None:
                try:
                    self._conn = self._connect()
                except sa.exc.DBAPIError as exc:
                    if database_unavailable(exc):
                        raise unavailable(self.url or str(self.path), exc) from exc
                    raise
            try:
                yield self._conn
            except sa.exc.DBAPIError as exc:
                if not database_unavailable(exc):
                    raise
                with contextlib.suppress(Exception):
                    self._conn.connection.invalidate()
                self._conn = None
                raise unavailable(self.url or str(self.path), exc) from exc

    def outage(self, worker: str, began: dt.datetime, ended: dt.datetime,
               interrupted: Sequence[str], error: str) -> None:
        """Record a database outage a worker rode out (shown by ``worker status``)."""
        with self._db() as db:
            db.execute("INSERT INTO outages (worker, began, ended, seconds, interrupted, error)"
                       " VALUES (?, ?, ?, ?, ?, ?)",
                       (worker, iso(began), iso(ended), (ended - began).total_seconds(),
                        ", ".join(sorted(interrupted)), error[:500]))

    def outages(self, limit: int = 5) -> list[dict[str, Any]]:
        """The latest outages workers rode out, newest first."""
        with self._db() as db:
            rows = db.execute("SELECT * FROM outages ORDER BY began DESC LIMIT ?",
                              (limit,)).fetchall()
        return [row.as_dict() for row in rows]

    def reset(self) -> None:
        """Forget every run: every alliance is due at once (benchmarks, a fresh start)."""
        with self._db() as db:
            db.execute("DELETE FROM alliance_runs")

    def entries(self) -> dict[str, Entry]:
        """Every alliance the ledger knows, by name."""
        with self._db() as db:
            rows = db.execute("SELECT * FROM alliance_runs").fetchall()
        return {row["name"]: Entry(**row.as_dict()) for row in rows}

    def entry(self, name: str) -> Entry:
        """One alliance's line (an empty one if it never ran)."""
        with self._db() as db:
            row = db.execute("SELECT * FROM alliance_runs WHERE name = ?", (name,)).fetchone()
        return Entry(**row.as_dict()) if row else Entry(name)

    def started(self, name: str, worker: str, now: dt.datetime) -> None:
        """Note that ``worker`` started running the alliance."""
        self._upsert(name, worker=worker, started_at=iso(now), outcome="running")

    def finished(self, before: Entry, *, slug: str, outcome: str, error: str,
                 next_due: dt.datetime, now: dt.datetime, failed: bool) -> None:
        """Note how the run ended and when the alliance is due again.

        ``before`` is the alliance's line as the run started: only the worker holding the
        alliance's scheduling lock writes it, so nothing changed it meanwhile.
        """
        name, runs, failures = before.name, before.runs, before.failures
        self._upsert(name, slug=slug, finished_at=iso(now), outcome=outcome, error=error,
                     next_due=iso(next_due), runs=runs + 1,
                     failures=failures + 1 if failed else 0)

    def drain_failed(self, name: str, error: str) -> None:
        """Record why draining the alliance's queue failed (shown by ``worker status``)."""
        self._upsert(name, outcome="failed", error=error)

    def events_arrived(self, name: str, now: dt.datetime | None = None) -> None:
        """Raise the alliance's flag (its queue has new deliveries) and wake the workers.

        Called by ``serve --alliances`` after the delivery is committed to the alliance's
        queue, so a worker that sees the flag (or the notification) finds the delivery.
        """
        stamp = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC).isoformat()
        with self._db() as db:
            db.execute(
                "INSERT INTO alliance_runs (name, events_at, events_mark) VALUES (?, ?, 1)"
                " ON CONFLICT (name) DO UPDATE SET events_mark = alliance_runs.events_mark + 1,"
                " events_at = COALESCE(alliance_runs.events_at, excluded.events_at)",
                (name, stamp))
            if self.url:  # after the flag's commit (autocommit): the woken worker sees it
                db.execute("SELECT pg_notify(?, ?)", (CHANNEL, name))

    def events_drained(self, before: Entry) -> bool:
        """Lower the flag raised as ``before`` shows it; False if deliveries came since."""
        with self._db() as db:
            cursor = db.execute(
                "UPDATE alliance_runs SET events_at = NULL WHERE name = ? AND events_mark = ?",
                (before.name, before.events_mark))
            return cursor.rowcount == 1

    def _upsert(self, name: str, **values: Any) -> None:
        columns = ["name", *values]
        updates = ", ".join(f"{c} = excluded.{c}" for c in values)
        with self._db() as db:
            db.execute(
                f"INSERT INTO alliance_runs ({', '.join(columns)}) VALUES"
                f" ({', '.join('?' * len(columns))}) ON CONFLICT (name) DO UPDATE SET {updates}",
                (name, *values.values()),
            )


def unavailable(where: str, error: BaseException) -> DatabaseUnavailable:
    """The one-line error for a database that cannot be reached (password masked)."""
    detail = str(getattr(error, "orig", None) or error).strip().splitlines()
    shown = masked(where) if is_url(where) else where
    return DatabaseUnavailable(f"the database {shown} is unavailable: "
                               f"{detail[0] if detail else type(error).__name__}")


class ScheduleLocks:
    """One worker's scheduling locks: per alliance, held while the worker runs it.

    PostgreSQL: advisory locks on one dedicated connection (the worker's session), shared by
    its threads under a mutex. SQLite: a single worker, so a lock is only a set entry.
    """

    def __init__(self, ledger: Ledger) -> None:
        self._mutex = threading.Lock()
        self._held: set[str] = set()
        self._url = ledger.url
        self._conn: sa.Connection | None = None
        if ledger.url:
            self._conn = postgres_engine(ledger.url).connect()

    def _session(self) -> sa.Connection:
        """The dedicated connection, made again after a database restart ended the last one
        (and every lock it held: another worker may have taken those alliances since)."""
        if self._conn is None:
            assert self._url is not None
            self._conn = postgres_engine(self._url).connect()
        return self._conn

    def _lost(self, exc: sa.exc.DBAPIError) -> DatabaseUnavailable:
        """The session died: its locks with it. Forget them, and the connection."""
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                conn.invalidate()
        self._held.clear()
        return unavailable(self._url or "", exc)

    def try_lock(self, name: str) -> bool:
        """Take the alliance's lock if no worker holds it."""
        with self._mutex:
            if name in self._held:
                return False
            if self._url is not None:
                try:
                    taken = self._session().execute(
                        sa.text("SELECT pg_try_advisory_lock(:ns, hashtext(:name))"),
                        {"ns": SCHEDULE_NAMESPACE, "name": name}).scalar()
                except sa.exc.DBAPIError as exc:
                    if not database_unavailable(exc):
                        raise
                    raise self._lost(exc) from exc
                if not taken:
                    return False
            self._held.add(name)
            return True

    def unlock(self, name: str) -> None:
        """Give the alliance's lock up (a lock lost with its session is already given up)."""
        with self._mutex:
            if name not in self._held:
                return
            self._held.discard(name)
            if self._conn is not None:
                try:
                    self._conn.execute(
                        sa.text("SELECT pg_advisory_unlock(:ns, hashtext(:name))"),
                        {"ns": SCHEDULE_NAMESPACE, "name": name})
                except sa.exc.DBAPIError as exc:
                    if not database_unavailable(exc):
                        raise
                    self._lost(exc)

    def close(self) -> None:
        """End the session: every lock still held is released."""
        with self._mutex:
            self._held.clear()
            if self._conn is not None:
                self._conn.invalidate()  # not back to the pool: the session and its locks end
                self._conn = None
