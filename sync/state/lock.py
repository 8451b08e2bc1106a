"""One mcm-sync run per alliance at a time: an OS file lock beside the state store.

``fcntl.flock`` on ``<state>.lock``, never blocking: a second scheduler (cron and a
``--watch`` loop, two CI jobs) is refused at once with the holder's pid. The kernel releases
the lock when its process ends, however it ends, so a crash never leaves a stale lock behind;
the pid written into the file is only there for the message.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path
from types import TracebackType

from sync.core.errors import StateError


def lock_path(state_path: str | os.PathLike[str]) -> Path:
    """The lock file of a state store: ``state.db`` -> ``state.db.lock``."""
    path = Path(state_path)
    return path.with_name(path.name + ".lock")


class StateLock:
    """An exclusive, non-blocking lock on one state store; a context manager."""

    def __init__(self, state_path: str | os.PathLike[str]) -> None:
        self.path = lock_path(state_path)
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        """Whether this object currently holds the lock."""
        return self._fd is not None

    def acquire(self) -> StateLock:
        """Take the lock or raise :class:`StateError` naming the pid that holds it."""
        if self._fd is not None:
            return self
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_pid(fd)
            os.close(fd)
            raise StateError(
                f"another mcm-sync run holds the lock (pid {holder or 'unknown'})",
                hint=f"wait for it to finish; the lock ({self.path}) is released when that "
                "process ends",
            ) from None
        except BaseException:
            os.close(fd)
            raise
        # Only the holder writes, so readers see either the old or the new pid, never a mix.
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
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


def _read_pid(fd: int) -> int | None:
    try:
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None
