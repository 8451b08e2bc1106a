"""Rate-limit building blocks the emulated services combine into their vendor's rules.

- :class:`WindowLimiter`: at most N hits per key in a sliding window (Trello: 100 per token
  and 300 per key in 10 s; Slack tiers: N per method per minute via :class:`MethodLimiter`).
- :class:`ConcurrencyLimiter`: at most N requests in flight per key (Mailchimp: 10).

All take an injectable clock so tests advance time instead of sleeping.
"""

from __future__ import annotations

import math
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable, Hashable


class WindowLimiter:
    """At most ``limit`` hits per key within any ``window`` seconds (a sliding log)."""

    def __init__(self, limit: int, window: float, clock: Callable[[], float] = time.time) -> None:
        self.limit = limit
        self.window = window
        self.clock = clock
        self._hits: dict[Hashable, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def hit(self, key: Hashable, limit: int | None = None) -> float | None:
        """Record a hit; None if allowed, else the seconds until one is allowed again.

        A refused hit is not recorded (a client that waits gets through). ``limit``
        overrides the default for this key (per-method tiers).
        """
        allowed = self.limit if limit is None else limit
        now = self.clock()
        with self._lock:
            hits = self._hits[key]
            while hits and hits[0] <= now - self.window:
                hits.popleft()
            if len(hits) >= allowed:
                return max(0.0, hits[0] + self.window - now)
            hits.append(now)
            return None

    def reset(self) -> None:
        """Forget every hit."""
        with self._lock:
            self._hits.clear()

    def remaining(self, key: Hashable) -> int:
        """How many more hits ``key`` may make in the current window."""
        now = self.clock()
        with self._lock:
            hits = self._hits.get(key) or deque()
            recent = sum(1 for moment in hits if moment > now - self.window)
        return max(0, self.limit - recent)


class MethodLimiter:
    """Per-method-per-minute limits, e.g. Slack's tiers: ``hit(token, method)``.

    ``limits`` maps a method to its allowance per ``window`` seconds; unknown methods get
    ``default``. ``hit`` returns None, or the whole seconds to send as ``Retry-After``.
    """

    def __init__(
        self,
        limits: dict[str, int],
        default: int,
        window: float = 60.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.limits = dict(limits)
        self.default = default
        self._window = WindowLimiter(default, window, clock)

    def hit(self, bucket: Hashable, method: str) -> int | None:
        """Record a call of ``method`` by ``bucket``; None if allowed, else ``Retry-After``."""
        wait = self._window.hit((bucket, method), self.limits.get(method, self.default))
        return None if wait is None else max(1, math.ceil(wait))

    def reset(self) -> None:
        """Forget every call."""
        self._window.reset()


class ConcurrencyLimiter:
    """At most ``limit`` requests in flight per key: ``acquire`` then always ``release``."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._active: dict[Hashable, int] = defaultdict(int)
        self._lock = threading.Lock()

    def acquire(self, key: Hashable) -> bool:
        """Take a slot; False (and nothing taken) when all ``limit`` slots are in use."""
        with self._lock:
            if self._active[key] >= self.limit:
                return False
            self._active[key] += 1
            return True

    def release(self, key: Hashable) -> None:
        """Give back a slot taken by a successful ``acquire``."""
        with self._lock:
            self._active[key] = max(0, self._active[key] - 1)
            if not self._active[key]:
                del self._active[key]

    def active(self, key: Hashable) -> int:
        """How many slots ``key`` holds now."""
        with self._lock:
            return self._active.get(key, 0)
