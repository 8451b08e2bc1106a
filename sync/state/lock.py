"""One mcm-sync run per alliance at a time: an OS file lock, or a PostgreSQL advisory lock.

SQLite stores (:class:`StateLock`):

``fcntl.flock`` on ``<state>.lock``, never blocking: a second writer (cron and a ``--watch``
loop, two CI jobs, a ``bootstrap`` started while a ``sync`` runs) is refused at once, naming
the holder: its pid, its command and since when. The kernel releases the lock when its process
ends, however it ends, so a crash never leaves a stale lock behind; what is written into the
file (``pid``, ``since``, ``command``, one per line) is only there for the message.

PostgreSQL stores (:class:`AdvisoryLock`): a session-level ``pg_try_advisory_lock`` on the hash
of the alliance's schema, held on a connection of its own, or (a store opened with its lock,
:meth:`AdvisoryLock.on`) on the store's own connection, released before that connection goes
back to the pool: one connection, one statement each way, per run. No file: several worker machines
share one database, and the server releases the lock when the session ends, however it ends
(a ``kill -9`` of the worker included). The holder (pid, since, command) is read from the
holding session's ``application_name``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import os
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

from sync.core.errors import StateError
from sync.state.db import DatabaseError, from_sqlalchemy, postgres_engine

if TYPE_CHECKING:  # imported where used: only PostgreSQL's lock needs it
    import sqlalchemy as sa

    from sync.state.db import Database

# The first key of our two-key advisory locks: "mcm" in ASCII, so that other applications'
# advisory locks on the same database never collide with ours.
LOCK_NAMESPACE = 0x6D636D


def lock_path(state_path: str | os.PathLike[str]) -> Path:
    """The lock file of a state store: ``state.db`` -> ``state.db.lock``."""
    path = Path(state_path)
    return path.with_name(path.name + ".lock")


@dataclass(frozen=True)
class Holder:
    """Who holds a lock, as written in its file: pid, when it took it, its command."""

    pid: int | None
    since: str = ""
    command: str = ""

    def __str__(self) -> str:
        parts = [f"pid {self.pid or 'unknown'}"]
        if self.command:
            parts.append(f"`{self.command}`")
        if self.since:
            parts.append(f"since {self.since}")
        return ", ".join(parts)


class StateLock:
    """An exclusive, non-blocking lock on one state store; a context manager.

    ``command`` (e.g. ``mcm-sync bootstrap``) is written into the lock file with the pid and
    the time, so that a second writer is told who holds the lock.
    """

    def __init__(self, state_path: str | os.PathLike[str], command: str = "mcm-sync") -> None:
        self.path = lock_path(state_path)
        self.command = command
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        """Whether this object currently holds the lock."""
        return self._fd is not None

    def acquire(self) -> StateLock:
        """Take the lock or raise :class:`StateError` naming who holds it (pid, command, since)."""
        if self._fd is not None:
            return self
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = read_holder(fd)
            os.close(fd)
            raise StateError(
                f"another mcm-sync run holds the lock ({holder})",
                hint=f"wait for it to finish; the lock ({self.path}) is released when that "
                "process ends",
            ) from None
        except BaseException:
            os.close(fd)
            raise
        # Only the holder writes, so readers see either the old or the new pid, never a mix.
        since = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        command = " ".join(self.command.split())  # one line, whatever it was given
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n{since}\n{command}\n".encode(), 0)
        self._fd = fd
        return self

    def release(self) -> None:
        """Give the lock up (idempotent). The file stays: deleting it would race a new taker."""
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)

    def __enter__(self) -> StateLock:
        return self.acquire()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()


def read_holder(fd: int) -> Holder:
    """What the lock file open on ``fd`` says about its holder (pid, since, command)."""
    try:
        text = os.pread(fd, 4096, 0).decode("utf-8", "replace")
    except OSError:
        return Holder(None)
    lines = [line.strip() for line in text.splitlines()] + ["", "", ""]
    pid = int(lines[0]) if lines[0].isdigit() else None
    return Holder(pid, lines[1], lines[2])


class AdvisoryLock:
    """An exclusive, non-blocking lock on one alliance of a PostgreSQL database.

    The same contract as :class:`StateLock` (``acquire`` raises :class:`StateError` naming
    the holder; ``release`` is idempotent; a context manager); :meth:`try_acquire` is the
    non-raising form the worker uses.
    """

    def __init__(self, url: str, schema: str, command: str = "mcm-sync") -> None:
        self.url = url
        self.schema = schema
        self.command = command
        self._conn: sa.Connection | None = None
        # A store's own connection the lock is taken on (see :meth:`on`), and whether held.
        self._session: Database | None = None
        self._session_held = False

    @classmethod
    def on(cls, session: Database, url: str, schema: str,
           command: str = "mcm-sync") -> AdvisoryLock:
        """The lock taken on ``session``, a store's own connection (not a pooled one of its
        own): the store releases it before closing that connection."""
        lock = cls(url, schema, command)
        lock._session = session
        return lock

    @property
    def on_session(self) -> bool:
        """Whether the lock is taken on a store's own connection (:meth:`on`)."""
        return self._session is not None

    @property
    def held(self) -> bool:
        """Whether this object currently holds the lock."""
        return self._conn is not None or self._session_held

    def _holder_name(self) -> str:
        """What the holding session's ``application_name`` says: pid, since, command."""
        since = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        command = " ".join(self.command.split())
        return f"{os.getpid()}|{since}|{command}"[:63]

    def try_acquire(self) -> bool:
        """Take the lock if it is free; False if another session holds it.

        A database that fails is a :class:`sync.state.db.DatabaseError`, as in the store.
        """
        import sqlalchemy as sa  # PostgreSQL only

        if self.held:
            return True
        if self._session is not None:
            # One statement: the lock, and the holder's name only once it is ours.
            got = self._session.execute(
                "SELECT CASE WHEN pg_try_advisory_lock(?, hashtext(?))"
                " THEN set_config('application_name', ?, false) END",
                (LOCK_NAMESPACE, self.schema, self._holder_name())).one()[0]
            self._session_held = got is not None
            return self._session_held
        try:
            conn = postgres_engine(self.url).connect()
        except sa.exc.DBAPIError as exc:
            raise from_sqlalchemy(exc) from exc
        try:
            conn.execute(sa.text("SELECT set_config('application_name', :name, false)"),
                         {"name": self._holder_name()})
            got = conn.execute(
                sa.text("SELECT pg_try_advisory_lock(:ns, hashtext(:schema))"),
                {"ns": LOCK_NAMESPACE, "schema": self.schema},
            ).scalar()
        except sa.exc.DBAPIError as exc:
            conn.close()
            raise from_sqlalchemy(exc) from exc
        except BaseException:
            conn.close()
            raise
        if not got:
            conn.close()
            return False
        self._conn = conn
        return True

    def acquire(self) -> AdvisoryLock:
        """Take the lock or raise :class:`StateError` naming who holds it (pid, command, since)."""
        if not self.try_acquire():
            raise StateError(
                f"another mcm-sync run holds the lock ({self.holder()})",
                hint=f"wait for it to finish; the lock (PostgreSQL advisory lock of schema "
                f"{self.schema}) is released when that process ends",
            )
        return self

    def holder(self) -> Holder:
        """Who holds the lock now, as its session's ``application_name`` says."""
        import sqlalchemy as sa

        try:
            with postgres_engine(self.url).connect() as conn:
                name = conn.execute(
                    sa.text(
                        "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a"
                        " ON a.pid = l.pid WHERE l.locktype = 'advisory' AND l.granted"
                        " AND l.classid = :ns AND l.objid = hashtext(:schema)::oid"
                        " AND l.objsubid = 2 LIMIT 1"
                    ),
                    {"ns": LOCK_NAMESPACE, "schema": self.schema},
                ).scalar()
        except sa.exc.DBAPIError as exc:
            raise from_sqlalchemy(exc) from exc
        pid, since, command = ([*str(name or "").split("|", 2), "", ""])[:3]
        return Holder(int(pid) if pid.isdigit() else None, since, command)

    def release(self) -> None:
        """Give the lock up (idempotent); its connection goes back to the pool (one taken on
        a store's connection: that connection stays open, for the store to close)."""
        if self._session is not None:
            if not self._session_held:
                return
            self._session_held = False
            try:
                self._session.execute(
                    "SELECT pg_advisory_unlock(?, hashtext(?)),"
                    " set_config('application_name', 'mcm-sync', false)",
                    (LOCK_NAMESPACE, self.schema))
            except DatabaseError:
                # The session is gone or unusable: ending it for good releases the lock
                # just as well, and the pool gets no connection back that might hold it.
                self._session.discard()
            return
        if self._conn is None:
            return
        import sqlalchemy as sa

        conn, self._conn = self._conn, None
        try:
            conn.execute(sa.text("SELECT pg_advisory_unlock(:ns, hashtext(:schema))"),
                         {"ns": LOCK_NAMESPACE, "schema": self.schema})
            conn.execute(sa.text("SELECT set_config('application_name', 'mcm-sync', false)"))
        except sa.exc.DBAPIError:
            # The session is gone (a database restart) or unusable: ending it for good
            # releases the lock just as well, and the pool gets no broken connection back.
            conn.invalidate()
        finally:
            conn.close()

    def __enter__(self) -> AdvisoryLock:
        return self.acquire()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()
