"""Where the vendors' limits are counted: one process, or every worker of a deployment.

The vendors key their limits wider than one connector object: Trello counts per API key
(every alliance's token of a hosted service) as well as per token, Slack per app, workspace
and method, Mailchimp's 10 connections per API key. A connector's pacer therefore books its
calls in a :class:`RateLimits` backend it is given, in *buckets* named after what the vendor
counts:

- :class:`LocalLimits` (here): one process, every connector that shares the object;
- a PostgreSQL-backed one (built by ``sync`` from the state store's address), the same
  interface across processes and machines.

A bucket's name never carries a secret in clear: :func:`bucket_name` hashes the key or token
it is named after (bucket names end up in a database table that operators read).

Two operations, both safe for threads:

- :meth:`RateLimits.reserve`: book one call in several buckets at once (Trello: the key's and
  the token's), at the earliest moment that keeps every bucket's sliding window within its
  limit; returns how long to wait for it. Booking, rather than try-and-retry, serves waiting
  callers in arrival order and spends no calls on polling.
- :meth:`RateLimits.lease`: hold one of ``slots`` simultaneous connections of a bucket
  (Mailchimp), released when the block ends, also on an error.
- :meth:`RateLimits.learn` / :meth:`RateLimits.learned`: the limit a vendor's answer stated
  for a bucket, so that a new connector (a worker's next alliance) on the same key paces at
  it from its first call (in the process: a new process starts from the published figures).
"""

from __future__ import annotations

import bisect
import hashlib
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from typing import Protocol

from connectors.rate_limits import Limit

Clock = Callable[[], float]


def bucket_name(kind: str, secret: str, *parts: str) -> str:
    """``kind:<hash of secret>[:part...]``: a bucket name that does not reveal the secret.

    SHA-256, cut to 24 hex digits: enough that two keys never share a bucket, and the
    secrets hashed are long random strings, so the hash cannot be turned back.
    """
    digest = hashlib.sha256(secret.encode("utf-8")).hexdigest()[:24]
    return ":".join((kind, digest, *parts))


class RateLimits(Protocol):
    """A place where calls are counted per bucket (see the module docstring)."""

    def reserve(self, buckets: Sequence[tuple[str, Limit]], delay: float = 0.0) -> float:
        """Book one call in every bucket, at least ``delay`` seconds from now; returns the
        seconds to wait until the booked moment."""
        ...

    def ready_in(self, buckets: Sequence[tuple[str, Limit]]) -> float:
        """How long until one call in every bucket could start, booking nothing (the wait
        :meth:`reserve` would return now)."""
        ...

    def pause(self, bucket: str, seconds: float) -> None:
        """Book nothing in ``bucket`` for ``seconds`` (the vendor said it is spent)."""
        ...

    def lease(self, bucket: str, slots: int) -> AbstractContextManager[None]:
        """Hold one of ``slots`` simultaneous connections of ``bucket`` for a block."""
        ...

    def learn(self, bucket: str, limit: Limit) -> None:
        """Remember the limit the vendor stated for ``bucket`` (Trello's quota headers), so
        every pacer on it paces at that from its first call on, not only the one told."""
        ...

    def learned(self, bucket: str) -> Limit | None:
        """The limit last stated for ``bucket`` in this process, if any."""
        ...


def earliest_start(slots: Sequence[float], limit: Limit, start: float) -> float:
    """The first moment at or after ``start`` when one more call keeps every window of
    ``limit.seconds`` within ``limit.calls``, given the booked moments ``slots`` (sorted).

    The ``calls``-th latest booking (future ones included) must be a whole window before
    the new one: then at most ``calls - 1`` others lie within a window of it, on either side.
    """
    if len(slots) >= limit.calls:
        start = max(start, slots[-limit.calls] + limit.seconds)
    return start


class LocalLimits:
    """:class:`RateLimits` in one process (every connector holding this object)."""

    def __init__(self, *, clock: Clock = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._slots: dict[str, list[float]] = {}
        self._holds: dict[str, float] = {}
        self._leases: dict[str, threading.BoundedSemaphore] = {}
        self._stated: dict[str, Limit] = {}

    def reserve(self, buckets: Sequence[tuple[str, Limit]], delay: float = 0.0) -> float:
        """Book one call in every bucket (see :class:`RateLimits`)."""
        with self._lock:
            now = self._clock()
            start = now + max(0.0, delay)
            for bucket, limit in buckets:
                start = max(start, self._holds.get(bucket, start))
                start = earliest_start(self._slots.get(bucket, ()), limit, start)
            for bucket, limit in buckets:
                slots = self._slots.setdefault(bucket, [])
                # Bookings older than a window no longer constrain anything from now on.
                del slots[:bisect.bisect_right(slots, now - limit.seconds)]
                bisect.insort(slots, start)
            return start - now

    def ready_in(self, buckets: Sequence[tuple[str, Limit]]) -> float:
        """How long until one call in every bucket could start, without booking it: the
        wait :meth:`reserve` would return now (for a caller that has other work meanwhile)."""
        with self._lock:
            now = self._clock()
            start = now
            for bucket, limit in buckets:
                start = max(start, self._holds.get(bucket, start))
                start = earliest_start(self._slots.get(bucket, ()), limit, start)
            return start - now

    def pause(self, bucket: str, seconds: float) -> None:
        """Book nothing in ``bucket`` for ``seconds``."""
        with self._lock:
            until = self._clock() + max(0.0, seconds)
            self._holds[bucket] = max(self._holds.get(bucket, until), until)

    @contextmanager
    def lease(self, bucket: str, slots: int) -> Iterator[None]:
        """Hold one of ``slots`` connections of ``bucket`` (the first caller's ``slots``
        sizes the bucket)."""
        with self._lock:
            semaphore = self._leases.setdefault(bucket, threading.BoundedSemaphore(slots))
        with semaphore:
            yield

    def learn(self, bucket: str, limit: Limit) -> None:
        """Remember the limit stated for ``bucket``."""
        with self._lock:
            self._stated[bucket] = limit

    def learned(self, bucket: str) -> Limit | None:
        """The limit last stated for ``bucket``, if any."""
        with self._lock:
            return self._stated.get(bucket)

    def in_window(self, bucket: str, seconds: float) -> int:
        """How many of ``bucket``'s bookings started in the last ``seconds`` (up to now)."""
        with self._lock:
            now = self._clock()
            return sum(1 for at in self._slots.get(bucket, ()) if now - seconds < at <= now)

    def booked(self, bucket: str) -> int:
        """How many bookings of ``bucket`` are still remembered (tests)."""
        with self._lock:
            return len(self._slots.get(bucket, ()))
