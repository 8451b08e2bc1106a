"""One mcm-sync run per alliance at a time: an OS file lock beside the state store.

``fcntl.flock`` on ``<state>.lock``, never blocking: a second writer (cron and a ``--watch``
loop, two CI jobs, a ``bootstrap`` started while a ``sync`` runs) is refused at once, naming
the holder: its pid, its command and since when. The kernel releases the lock when its process
ends, however it ends, so a crash never leaves a stale lock behind; what is written into the
file (``pid``, ``since``, ``command``, one per line) is only there for the message.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import os
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from sync.core.errors import StateError


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
