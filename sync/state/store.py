"""The state store: the hub of the sync, one per alliance (a SQLite file or a PostgreSQL schema).

It records the alliance, every remote resource we made or adopted (kind, logical key, remote
id), every action item with each side's agreed base value and seen fingerprint, a journal of
intents written *before* each remote write, read bookmarks, conflicts, the audit trail and
runs. The schema and its migrations live in ``sync.state.schema``; the connection (SQLite on
``sqlite3``, PostgreSQL through SQLAlchemy, the same queries on both) in ``sync.state.db``;
the rows are the frozen dataclasses of ``sync.state.rows``; the one-run-at-a-time lock is
``sync.state.lock``.

SQLite (the embedded default, ``state.path``) runs in WAL mode with foreign keys on,
``synchronous=FULL`` (a committed journal intent survives a crash or power loss) and a busy
timeout. PostgreSQL (``state.url``) keeps each alliance in its own schema of a shared database,
for many alliances and several workers. Every public write commits on return unless it runs
inside :meth:`StateStore.transaction`, which groups writes atomically (nested blocks are
savepoints). Nothing secret is ever stored.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import TypeVar

from sync.core.errors import DatabaseUnavailable, StateError
from sync.state.db import (
    Database,
    DatabaseError,
    database_unavailable,
    is_url,
    masked,
    schema_name,
)
from sync.state.items import ItemsMixin
from sync.state.journal import JournalMixin
from sync.state.kept.reads import KeptReads
from sync.state.kept.resources import ResourcesMixin
from sync.state.lock import AdvisoryLock, StateLock
from sync.state.records import RecordsMixin
from sync.state.rows import Alliance
from sync.state.schema import migrate, schema_version
from sync.state.schema.stamp import STAMP_QUERY

Clock = Callable[[], dt.datetime]
Location = str | os.PathLike[str]
RunLock = StateLock | AdvisoryLock
DEFAULT_SCHEMA = "mcm_default"
T = TypeVar("T")


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def run_lock(location: Location, command: str = "mcm-sync", *,
             schema: str | None = None) -> RunLock:
    """The one-writer lock of the store at ``location`` (not yet acquired).

    A file lock beside a SQLite file; a PostgreSQL advisory lock on the alliance's schema.
    """
    if is_url(str(location)):
        return AdvisoryLock(str(location), schema_name(schema or DEFAULT_SCHEMA), command)
    return StateLock(location, command)


class StateStore(ItemsMixin, RecordsMixin, ResourcesMixin, JournalMixin):
    """An open state store. Use :meth:`open`; one thread, one connection."""

    def __init__(
        self,
        conn: Database,
        path: Path | str,
        *,
        clock: Clock = _utc_now,
        lock: RunLock | None = None,
        location: Location | None = None,
        schema: str | None = None,
        kept: KeptReads | None = None,
    ) -> None:
        self._conn = conn
        # For messages: the file, or the database URL (password masked) and schema.
        self.path = path
        self._clock = clock
        self._lock = lock
        self._depth = 0
        self._location = location if location is not None else path
        self._schema = schema
        # What this store keeps of its reads while it holds the run lock (a long-running
        # worker hands in the alliance's, kept from its last run: ``sync.state.kept``).
        self._reads = kept if kept is not None else KeptReads()
        self._handed = kept is not None  # a worker's: its SQLite connection is kept too
        conn.on_write = self._reads.wrote
        self._deferred_run = None
        conn.before_write = self._write_deferred_run

    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self._conn.dialect.name

    # ------------------------------------------------------------------ lifecycle

    @classmethod
    def open(
        cls,
        path: Location,
        *,
        lock: bool = False,
        clock: Clock | None = None,
        command: str = "mcm-sync",
        schema: str | None = None,
        kept: KeptReads | None = None,
    ) -> StateStore:
        """Open (creating and migrating as needed) the store at ``path``.

        ``path`` is a SQLite file, or a ``postgresql://`` URL; on PostgreSQL ``schema`` names
        the alliance's schema (``mcm_<slug>``, created if missing). With ``lock=True`` the
        alliance's run lock is taken first (``command`` is recorded with the pid and the time;
        on PostgreSQL on the store's own connection) and released by :meth:`close`; a held
        lock raises :class:`StateError` naming the holder: pid, command, since when.

        ``kept`` (with ``lock``): what a run of this store in this process kept of its reads,
        used if the store's write stamp is still the one they were kept at (then neither the
        schema version nor anything kept is read again), else forgotten.
        """
        url = is_url(str(path))
        # SQLite: the file lock first. PostgreSQL: the advisory lock on the store's own
        # connection, once it is open (no second connection per run), before the migration.
        held = run_lock(path, command, schema=schema).acquire() if lock and not url else None
        try:
            if url:
                name = schema_name(schema or DEFAULT_SCHEMA)
                where: Path | str = f"{masked(str(path))} (schema {name})"
                db = _open(lambda: Database.postgresql(str(path), name), where)
            else:
                where, name = Path(path), None
                # A worker's run: the connection its last run of the store kept open, if any
                # (one thread at a time uses it, under the run lock: ``threads``).
                reused = kept.connection.take(where) if kept is not None and lock else None
                db = reused or _open(lambda: Database.sqlite(Path(path), threads=kept is not None),
                                     where)
            try:
                if lock and url:
                    assert name is not None
                    held = AdvisoryLock.on(db, str(path), name, command).acquire()
                kept = kept if lock else None
                if not (kept is not None and kept.stamp is not None
                        and kept.at(_write_stamp(db))):
                    # (A migration moves the stamp: a store kept at it is at this version.)
                    migrate(db, where=f"state store {where}")
                    if kept is not None:
                        kept.at(_write_stamp(db))
            except BaseException as exc:
                if isinstance(held, AdvisoryLock) and held.on_session:
                    taken = held
                    held = None
                    taken.release()  # before its connection goes back to the pool
                db.close()
                if isinstance(exc, DatabaseError):
                    raise _unusable(where, exc) from exc
                raise
        except BaseException:
            if held is not None:
                held.release()
            raise
        return cls(db, where, clock=clock or _utc_now, lock=held, location=path, schema=name,
                   kept=kept)

    @staticmethod
    def lock(path: Location, command: str = "mcm-sync", *,
             schema: str | None = None) -> RunLock:
        """The run lock of the store at ``path`` (a context manager; not yet acquired)."""
        return run_lock(path, command, schema=schema)

    def acquire_lock(self) -> None:
        """Take the run lock of this store (released by :meth:`close`)."""
        if self._lock is None:
            self._lock = run_lock(self._location, schema=self._schema)
        self._lock.acquire()

    def close(self) -> None:
        """Close the connection and release the run lock if this store holds it (a lock held
        on the connection itself first, before the connection goes back to its pool)."""
        if isinstance(self._lock, AdvisoryLock) and self._lock.on_session:
            try:
                self._lock.release()
            finally:
                self._conn.close()
            return
        try:
            if not self._keep_connection():
                self._conn.close()
        finally:
            if self._lock is not None:
                self._lock.release()

    def _keep_connection(self) -> bool:
        """A worker's SQLite connection, left open for the alliance's next run (before the
        lock goes: it is handed out only under the lock) while its reads are kept."""
        kept = self._reads
        if not (self._handed and self.dialect == "sqlite" and self._depth == 0
                and kept.stamp is not None and self.keeps_reads()):
            return False
        return kept.connection.give_back(self._conn, Path(self._location))

    def __enter__(self) -> StateStore:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def schema_version(self) -> int:
        """The schema version of the open file."""
        return schema_version(self._conn)

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Group writes: all commit together or none. Nested blocks roll back on their own."""
        if self._depth:
            name = f"sp{self._depth}"
            self._conn.savepoint(name)
            self._depth += 1
            try:
                yield
            except BaseException:
                self.forget_reads()
                self._conn.rollback_to(name)
                self._conn.release(name)
                raise
            else:
                self._conn.release(name)
            finally:
                self._depth -= 1
            return
        self._conn.begin()
        self._depth = 1
        try:
            yield
        except BaseException:
            self._depth = 0
            self.forget_reads()
            self._conn.rollback()
            raise
        self._depth = 0
        try:
            self._conn.commit()
        except BaseException:
            self.forget_reads()  # what the transaction wrote may not be there
            raise

    def keeps_reads(self) -> bool:
        """Whether the bookmarks and resources are read once and kept (the run lock held)."""
        return self._lock is not None and self._lock.held

    @property
    def _kept(self) -> KeptReads | None:
        """The kept reads while the run lock is held, else None (every read asks)."""
        return self._reads if self.keeps_reads() else None

    def forget_reads(self) -> None:
        """Drop the kept reads: read again at the next use (after a write to their tables
        that did not go through :meth:`put_resource` and its siblings)."""
        self._reads.clear()

    def kept_value(self, key: Hashable, tables: frozenset[str], load: Callable[[], T], *,
                   once: bool = False) -> T:
        """``load()``'s answer, kept while the run lock is held until this store writes one
        of ``tables`` (or, handed to the next run, until anyone writes the store). The answer
        must not be changed by the caller (a tuple, a frozen row). ``once``: what others
        write without the run lock, kept only from one run's start to the next's
        (:meth:`sync.state.kept.reads.KeptReads.value`)."""
        kept = self._kept
        return load() if kept is None else kept.value(key, tables, load, once=once)

    @property
    def in_transaction(self) -> bool:
        """Whether a :meth:`transaction` block is open."""
        return self._depth > 0

    def _now(self) -> str:
        return self._clock().astimezone(dt.UTC).isoformat()

    # ------------------------------------------------------------------ alliance

    def bind_alliance(self, slug: str, name: str, mode: str = "") -> Alliance:
        """Record the store's alliance on first use; refuse a store of another alliance.

        ``mode`` (``sandbox`` or ``live``) is recorded when the store does not know it yet;
        a store bound to the other mode is refused by ``sync.state.binding``, not here.
        """
        with self.transaction():
            found = self.get_alliance()
            if found is None:
                self._conn.execute(
                    "INSERT INTO alliance (slug, name, created_at, mode) VALUES (?, ?, ?, ?)",
                    (slug, name, self._now(), mode),
                )
            elif found.slug != slug:
                raise StateError(
                    f"state store {self.path} belongs to alliance {found.slug!r}, not {slug!r}",
                    hint="point state.path (or state.url and state.schema) in the config at "
                    "this alliance's own store",
                )
            else:
                if found.name != name:
                    self._conn.execute("UPDATE alliance SET name = ? WHERE slug = ?",
                                       (name, slug))
                if mode and not found.mode:
                    self._conn.execute("UPDATE alliance SET mode = ? WHERE slug = ?",
                                       (mode, slug))
        alliance = self.get_alliance()
        assert alliance is not None
        return alliance

    def set_mode(self, mode: str, *, went_live_at: str = "") -> None:
        """Bind the store to the other kind of services (``mcm-sync go-live`` only)."""
        with self.transaction():
            self._conn.execute("UPDATE alliance SET mode = ?, went_live_at = ?",
                               (mode, went_live_at))

    def get_alliance(self) -> Alliance | None:
        """The alliance this store belongs to, if recorded (kept: every run checks it)."""
        return self.kept_value("alliance", frozenset({"alliance"}), self._read_alliance)

    def _read_alliance(self) -> Alliance | None:
        row = self._one("SELECT slug, name, created_at, mode, went_live_at FROM alliance LIMIT 1")
        if row is None:
            return None
        return Alliance(row["slug"], row["name"], row["created_at"], row["mode"],
                        row["went_live_at"])


def _write_stamp(db: Database) -> int | None:
    """The store's write stamp (:mod:`sync.state.schema.stamp`), None where it has none (an
    older schema, about to be migrated)."""
    try:
        row = db.execute(STAMP_QUERY).fetchone()
    except DatabaseError:  # autocommit: the failed statement spoils no transaction
        return None
    return int(row[0]) if row else None


def _open(connect: Callable[[], Database], where: Path | str) -> Database:
    try:
        return connect()
    except (OSError, DatabaseError) as exc:
        raise _unusable(where, exc) from exc


def _unusable(where: Path | str, exc: BaseException) -> StateError | DatabaseUnavailable:
    detail = getattr(exc, "orig", None) or exc
    if database_unavailable(exc):  # a restart, a server down: retried, not a config error
        return DatabaseUnavailable(f"the state database {where} is unavailable: "
                                   f"{str(detail).strip().splitlines()[0]}")
    return StateError(
        f"cannot use the state store {where}: {detail}",
        hint="check state.path (or state.url) in the config; the file must be an mcm-sync "
        "state store on a writable local disk, the database reachable (a damaged file: "
        "`mcm-sync bootstrap --adopt` rebuilds it)",
    )
