"""A long-running worker's SQLite connection to an alliance's store, kept between its runs.

Opening a SQLite store costs more than a quiet run's statements: the file and its write-ahead
log opened and mapped, four PRAGMAs, the schema parsed again at the first statement, and, as
the last connection closes, the log checkpointed into the file and removed (an fsync). A
worker runs each alliance every few minutes, so it keeps the connection of each alliance's
store open between runs (:class:`KeptConnection`), handed out only under the alliance's run
lock (one run at a time uses it, whichever thread).

A kept connection is used again only while the path still names the file it opened (same
device and inode): a store set aside (``bootstrap --adopt``), replaced or removed gets a fresh
connection, as any run would. Each keeps three file descriptors (the file, its log, the log's
index), so at most :func:`capacity` are kept per process: the limit on open files (raised to
its hard maximum once), less a reserve for everything else; past that a run closes its
connection as before.
"""

from __future__ import annotations

import contextlib
import os
import resource
import threading
from pathlib import Path

from sync.state.db import Database

FILES_PER_CONNECTION = 3  # the file, its write-ahead log, the log's shared-memory index
RESERVE = 512  # file descriptors left for sockets, lock files, logs, a run's other needs
_COUNT_LOCK = threading.Lock()
_kept_count = 0
_capacity: int | None = None


def capacity() -> int:
    """How many connections this process may keep (the soft limit on open files raised to
    the hard one, once; a third of what is left past :data:`RESERVE`)."""
    global _capacity
    if _capacity is None:
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if hard == resource.RLIM_INFINITY or hard > soft:
            with contextlib.suppress(ValueError, OSError):
                target = hard if hard != resource.RLIM_INFINITY else max(soft, 65536)
                resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
                soft = target
        _capacity = max(0, (soft - RESERVE) // FILES_PER_CONNECTION)
    return _capacity


def _file_id(path: Path) -> tuple[int, int] | None:
    try:
        info = os.stat(path)
    except OSError:
        return None
    return info.st_dev, info.st_ino


class KeptConnection:
    """At most one open SQLite connection of one store, between runs."""

    def __init__(self) -> None:
        self._db: Database | None = None
        self._file: tuple[int, int] | None = None

    def take(self, path: Path) -> Database | None:
        """The kept connection if ``path`` still names its file (else None, and it is
        closed); it is the caller's until :meth:`give_back`."""
        db, self._db = self._db, None
        if db is None:
            return None
        _released()
        if _file_id(path) != self._file:
            with contextlib.suppress(Exception):
                db.close()
            return None
        return db

    def give_back(self, db: Database, path: Path) -> bool:
        """Keep ``db`` (open, outside any transaction) for the next run; False when this
        process keeps as many as it may (the caller closes it)."""
        global _kept_count
        file = _file_id(path)
        with _COUNT_LOCK:
            if file is None or _kept_count >= capacity():
                return False
            _kept_count += 1
        self.close()
        db.on_write = db.before_write = None
        self._db, self._file = db, file
        return True

    def close(self) -> None:
        """Close the kept connection, if any."""
        db, self._db = self._db, None
        if db is not None:
            _released()
            with contextlib.suppress(Exception):
                db.close()


def _released() -> None:
    global _kept_count
    with _COUNT_LOCK:
        _kept_count = max(0, _kept_count - 1)
