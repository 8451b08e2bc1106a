"""What can be watched and steered on a running sandbox: call stats, armed faults, settings.

The app (``core.app``) counts every call in :class:`CallStats`, asks :class:`FaultRegistry`
for a fault before it runs a handler and reads :class:`Settings` per request; the admin API
(``core.admin``) reads and changes the same three objects, which the app hands it, so neither
module needs the other's code.
"""

from __future__ import annotations

import fnmatch
import threading
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

FAULT_MODES = ("error", "drop_after_apply", "delay", "ratelimit")


@dataclass
class Fault:
    """One armed fault; ``count`` None means until disarmed.

    ``skip`` lets that many matching requests through first, so a test can break a run at its
    k-th write (crash-point enumeration) without knowing which object that write is.
    """

    service: str
    method: str
    path: str
    mode: str
    status: int = 503
    seconds: float = 0.0
    count: int | None = None
    skip: int = 0

    def matches(self, service: str, method: str, paths: Iterable[str]) -> bool:
        """True if this fault applies (``*`` wildcards in each field)."""
        return (
            fnmatch.fnmatchcase(service, self.service)
            and fnmatch.fnmatchcase(method.upper(), self.method.upper())
            and any(fnmatch.fnmatchcase(p, self.path) for p in paths)
        )


class CallStats:
    """Calls counted per service, route and status: ``{service: {"METHOD path": {status: n}}}``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[str, dict[str, dict[str, int]]] = defaultdict(
            lambda: defaultdict(lambda: defaultdict(int))
        )

    def count(self, service: str, key: str, status: str) -> None:
        """Add one call."""
        with self._lock:
            self._counts[service][key][status] += 1

    def snapshot(self) -> dict[str, dict[str, dict[str, int]]]:
        """A copy of the counters."""
        with self._lock:
            return {
                service: {key: dict(codes) for key, codes in calls.items()}
                for service, calls in self._counts.items()
            }

    def reset(self) -> None:
        """Zero every counter."""
        with self._lock:
            self._counts.clear()


class FaultRegistry:
    """The armed faults, in the order they were armed."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []

    def arm(self, fault: Fault) -> None:
        """Arm a fault (after the ones already armed)."""
        if fault.mode not in FAULT_MODES:
            raise ValueError(f"unknown fault mode {fault.mode!r}")
        with self._lock:
            self._faults.append(fault)

    def disarm(self) -> None:
        """Disarm every fault."""
        with self._lock:
            self._faults.clear()

    def armed(self) -> list[Fault]:
        """The armed faults."""
        with self._lock:
            return list(self._faults)

    def take(self, service: str, method: str, paths: Iterable[str]) -> Fault | None:
        """The first matching armed fault, its count spent by one."""
        paths = list(paths)
        with self._lock:
            for fault in self._faults:
                if fault.matches(service, method, paths):
                    if fault.skip > 0:
                        fault.skip -= 1
                        continue
                    if fault.count is not None:
                        fault.count -= 1
                        if fault.count <= 0:
                            self._faults.remove(fault)
                    return fault
        return None


@dataclass
class Settings:
    """What can be switched at run time (``/_sandbox/settings``)."""

    rate_limits: bool = True
