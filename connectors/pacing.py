"""Client-side pacing, so that a normal run stays under every vendor limit and sees no 429.

- :class:`Pacer`: a thread-safe sliding-window limiter, ``max_calls`` per ``per_seconds`` for
  each key. A caller *reserves* the earliest slot that keeps every window within the limit and
  sleeps until it (outside the lock), so waiting threads are served in arrival order and no
  time is wasted polling.
- :class:`SlackPacer`: Slack's per-method tiers (limits apply per method, per workspace, per
  app) and ``chat.postMessage``'s "about one message per second per channel".
- :class:`TrelloPacer`: 100 requests per 10 s per token, plus the separate 100 per 900 s of
  routes under ``/1/members/`` (we use 90). The token's window is paced at 90 until Trello's
  answers state the quota (``x-rate-limit-api-token-{max,interval-ms,remaining}``); from
  then on at what they state, less a reserve of 2 calls (:meth:`TrelloPacer.observe`).
- :class:`ConnectionGate`: Mailchimp allows 10 simultaneous connections; we use at most 8.

Each pacer can instead book its calls in a shared :class:`connectors.limits.RateLimits`
backend (``limits=``), in buckets named as the vendors count (Trello: the API key *and* the
token; Slack: the app's token and the method; Mailchimp: the API key), so that every
connector of a process, or every worker of a deployment, stays under one vendor limit
together. Without one, each pacer counts alone (one alliance, one command).

Clock and sleep are injectable so tests run on a fake clock. The vendors' figures are in
``connectors.rate_limits`` (the same table the sandbox enforces); Slack's tiers are floors
("20+ per minute"), so pacing at the floor is safe.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from types import TracebackType

from connectors.limits import LocalLimits, RateLimits, bucket_name
from connectors.rate_limits import (
    MAILCHIMP_CONNECTIONS,
    SLACK_POST_METHOD,
    SLACK_POST_PER_CHANNEL,
    SLACK_TIERS,
    TRELLO_MEMBERS_ROUTES,
    TRELLO_PER_KEY,
    TRELLO_PER_TOKEN,
    Limit,
    slack_tier,
)

# Calls spaced exactly at a limit by the client can reach the server closer together (network
# jitter): the benchmark saw 429s at 1.0 s per post and none with 10 % more room.
SLACK_MARGIN = 1.1


def with_margin(limit: Limit) -> Limit:
    """The limit we pace at: the vendor's window stretched by ``SLACK_MARGIN``."""
    return Limit(limit.calls, limit.seconds * SLACK_MARGIN)


def with_headroom(limit: Limit) -> Limit:
    """The limit we pace at: 10 % fewer calls than the vendor's in the same window."""
    return Limit(limit.calls * 9 // 10, limit.seconds)


TRELLO_TOKEN_LIMIT = with_headroom(TRELLO_PER_TOKEN)  # vendor: 100 per 10 s per token -> 90
TRELLO_MEMBERS_LIMIT = with_headroom(TRELLO_MEMBERS_ROUTES)  # vendor: 100 per 900 s -> 90
# Shared by every token of the key (every alliance of a hosted service): 300 per 10 s -> 270.
TRELLO_KEY_LIMIT = with_headroom(TRELLO_PER_KEY)
MAILCHIMP_MAX_CONNECTIONS = MAILCHIMP_CONNECTIONS - 2  # vendor: 10 simultaneous -> 8
# Calls kept back from the quota Trello's headers state: our clock starts a call's window when
# it is sent, Trello's when it arrives, and a few milliseconds of jitter can put one more call
# in Trello's window than in ours. A flat 10 % (90 of 100) spends a third more time on a
# bootstrap of 300 calls (a fourth window) than this reserve does.
TRELLO_QUOTA_RESERVE = 2

Clock = Callable[[], float]
Sleep = Callable[[float], None]


class Pacer:
    """At most ``max_calls`` per ``per_seconds`` in every sliding window, per key."""

    def __init__(
        self,
        max_calls: int,
        per_seconds: float,
        *,
        clock: Clock = time.monotonic,
        sleep: Sleep = time.sleep,
    ) -> None:
        if max_calls < 1 or per_seconds <= 0:
            raise ValueError("a pacer needs max_calls >= 1 and per_seconds > 0")
        self.max_calls = max_calls
        self.per_seconds = per_seconds
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        # Per key, the start times of the last ``max_calls`` calls (granted or reserved).
        self._slots: dict[str, deque[float]] = {}
        self._not_before: dict[str, float] = {}
        self.calls = 0
        self.waited = 0.0

    @classmethod
    def of(cls, limit: Limit, *, clock: Clock = time.monotonic, sleep: Sleep = time.sleep) -> Pacer:
        """A pacer for a :class:`Limit`."""
        return cls(limit.calls, limit.seconds, clock=clock, sleep=sleep)

    def reserve(self, key: str = "") -> float:
        """Book the earliest allowed slot for ``key``; returns how long to wait for it."""
        with self._lock:
            now = self._clock()
            slots = self._slots.setdefault(key, deque(maxlen=self.max_calls))
            start = max(now, self._not_before.get(key, now))
            if len(slots) == self.max_calls:
                # The call ``max_calls`` back must have left the window when we start.
                start = max(start, slots[0] + self.per_seconds)
            slots.append(start)
            self.calls += 1
            wait = start - now
            self.waited += wait
            return wait

    def ready_in(self, key: str = "") -> float:
        """How long until a call for ``key`` could start, without booking it or waiting.

        The question a caller with other work asks before it commits to a call (the
        real-time drain, which must not sleep in a pacer while deliveries wait): the earliest
        slot :meth:`reserve` would book now, less now (0.0: the call can go at once).
        """
        with self._lock:
            now = self._clock()
            slots = self._slots.get(key)
            start = max(now, self._not_before.get(key, now))
            if slots is not None and len(slots) == self.max_calls:
                start = max(start, slots[0] + self.per_seconds)
            return start - now

    def held_for(self, key: str = "") -> float:
        """How long ``key`` is held back by :meth:`pause` (a 429), its window aside."""
        with self._lock:
            now = self._clock()
            return max(0.0, self._not_before.get(key, now) - now)

    def acquire(self, key: str = "") -> float:
        """Block until a call for ``key`` is allowed; returns the seconds waited."""
        wait = self.reserve(key)
        if wait > 0:
            self._sleep(wait)
        return wait

    def pause(self, key: str, seconds: float) -> None:
        """Hold every call for ``key`` back for ``seconds`` (after a 429 despite pacing)."""
        with self._lock:
            until = self._clock() + max(0.0, seconds)
            self._not_before[key] = max(self._not_before.get(key, until), until)

    def in_window(self, key: str = "") -> int:
        """How many of ``key``'s calls started in the last ``per_seconds`` (up to now)."""
        with self._lock:
            now = self._clock()
            slots = self._slots.get(key) or ()
            return sum(1 for start in slots if now - self.per_seconds < start <= now)

    def resize(self, max_calls: int, per_seconds: float) -> None:
        """Pace at ``max_calls`` per ``per_seconds`` from now on (the calls made so far still
        count in their windows)."""
        if max_calls < 1 or per_seconds <= 0:
            raise ValueError("a pacer needs max_calls >= 1 and per_seconds > 0")
        with self._lock:
            self.max_calls, self.per_seconds = max_calls, per_seconds
            self._slots = {key: deque(slots, maxlen=max_calls)
                           for key, slots in self._slots.items()}


class SlackPacer:
    """Slack Web API pacing: per-method tiers, and one post per second per channel.

    With ``limits`` (a shared backend) the calls are booked there, per app installation
    (``token``: one bot token is one app in one workspace) and method, or channel for posts.
    ``windows=False``: pacing is off (a sandbox that emulates no limits; ``sleep`` then
    never sleeps), so :meth:`ready_in` answers only a 429's hold, which the retry layer
    honours whatever the pacing.
    """

    def __init__(self, *, clock: Clock = time.monotonic, sleep: Sleep = time.sleep,
                 limits: RateLimits | None = None, token: str = "",
                 windows: bool = True) -> None:
        self.windows = windows
        self._shared = limits
        self._shared_sleep = sleep
        self._token = token
        self._tiers = {
            tier: Pacer.of(with_margin(limit), clock=clock, sleep=sleep)
            for tier, limit in SLACK_TIERS.items()
        }
        self._posts = Pacer.of(with_margin(SLACK_POST_PER_CHANNEL), clock=clock, sleep=sleep)

    @staticmethod
    def limit_of(method: str) -> Limit:
        """The limit we apply to ``method`` (``chat.postMessage``: per channel)."""
        if method == SLACK_POST_METHOD:
            return SLACK_POST_PER_CHANNEL
        return SLACK_TIERS[slack_tier(method)]

    def bucket(self, method: str, channel: str | None = None) -> str:
        """The shared bucket of one call: the app installation's method (or post channel)."""
        if method == SLACK_POST_METHOD:
            return bucket_name("slack-post", self._token, channel or "")
        return bucket_name("slack", self._token, method)

    def acquire(self, method: str, channel: str | None = None) -> float:
        """Wait for a slot for one call of ``method`` (``channel`` for chat.postMessage)."""
        if self._shared is not None:
            limit = with_margin(self.limit_of(method))
            wait = self._shared.reserve([(self.bucket(method, channel), limit)])
            if wait > 0:
                self._shared_sleep(wait)
            return wait
        if method == SLACK_POST_METHOD:
            return self._posts.acquire(channel or "")
        return self._tiers[slack_tier(method)].acquire(method)

    def ready_in(self, method: str, channel: str | None = None) -> float:
        """How long until one call of ``method`` (``channel`` for chat.postMessage) could go,
        booking nothing: what :meth:`acquire` would wait now (a 429's hold included)."""
        if not self.windows:
            return self._pacer_of(method).held_for(self._key_of(method, channel))
        if self._shared is not None:
            limit = with_margin(self.limit_of(method))
            return self._shared.ready_in([(self.bucket(method, channel), limit)])
        if method == SLACK_POST_METHOD:
            return self._posts.ready_in(channel or "")
        return self._tiers[slack_tier(method)].ready_in(method)

    def _pacer_of(self, method: str) -> Pacer:
        return self._posts if method == SLACK_POST_METHOD else self._tiers[slack_tier(method)]

    @staticmethod
    def _key_of(method: str, channel: str | None) -> str:
        return (channel or "") if method == SLACK_POST_METHOD else method

    def pause(self, method: str, seconds: float, channel: str | None = None) -> None:
        """Hold ``method`` back after Slack answered 429 with ``Retry-After: seconds``."""
        if self._shared is not None and self.windows:
            self._shared.pause(self.bucket(method, channel), seconds)
        elif method == SLACK_POST_METHOD:
            self._posts.pause(channel or "", seconds)
        else:
            self._tiers[slack_tier(method)].pause(method, seconds)


class TrelloPacer:
    """Trello pacing: the per-token window, and the stricter one of ``/1/members/`` routes.

    With ``limits`` (a shared backend) every request is booked there in the API key's bucket
    *and* the token's at once (Trello counts both: 300 per key across its tokens, 100 per
    token), at ``per_key`` and ``per_token``; the quotas Trello's headers state replace those
    figures (see :meth:`_observe_shared`). Without, the token is paced here alone.
    """

    def __init__(self, *, clock: Clock = time.monotonic, sleep: Sleep = time.sleep,
                 limits: RateLimits | None = None, api_key: str = "", token: str = "",
                 per_key: Limit = TRELLO_KEY_LIMIT, per_token: Limit = TRELLO_TOKEN_LIMIT
                 ) -> None:
        self._token = Pacer.of(TRELLO_TOKEN_LIMIT, clock=clock, sleep=sleep)
        self._members = Pacer.of(TRELLO_MEMBERS_LIMIT, clock=clock, sleep=sleep)
        self._shared = limits
        self._shared_sleep = sleep
        self.buckets = {"key": bucket_name("trello-key", api_key),
                        "token": bucket_name("trello-token", token),
                        "members": bucket_name("trello-members", token)}
        self.shared_limits = {"key": per_key, "token": per_token}

    @staticmethod
    def _members_route(path: str) -> bool:
        return path.lstrip("/").removeprefix("1/").startswith("members/")

    def acquire(self, path: str = "") -> float:
        """Wait for a slot for one request to ``path`` (e.g. ``/1/members/me/boards``)."""
        if self._shared is not None:
            for name in self.shared_limits:  # what Trello told any pacer on these buckets
                stated = self._shared.learned(self.buckets[name])
                if stated is not None:
                    self.shared_limits[name] = stated
            wanted = [(self.buckets[name], limit) for name, limit in self.shared_limits.items()]
            if self._members_route(path):
                wanted.append((self.buckets["members"], TRELLO_MEMBERS_LIMIT))
            wait = self._shared.reserve(wanted)
            if wait > 0:
                self._shared_sleep(wait)
            return wait
        waited = 0.0
        if self._members_route(path):
            waited += self._members.acquire()
        return waited + self._token.acquire()

    def ready_in(self, path: str = "") -> float:
        """How long until one request to ``path`` could start, booking nothing and waiting
        for nothing (the wait :meth:`acquire` would have now, a 429's hold included; 0.0: at
        once): what a caller with other work (the real-time lane) asks first."""
        if self._shared is not None:
            wanted = [(self.buckets[name], self._shared.learned(self.buckets[name]) or limit)
                      for name, limit in self.shared_limits.items()]
            if self._members_route(path):
                wanted.append((self.buckets["members"], TRELLO_MEMBERS_LIMIT))
            return self._shared.ready_in(wanted)
        wait = self._token.ready_in()
        if self._members_route(path):
            wait = max(wait, self._members.ready_in())
        return wait

    def pause(self, seconds: float) -> None:
        """Hold every request back after a 429 (Trello sends no Retry-After)."""
        if self._shared is not None:
            self._shared.pause(self.buckets["token"], seconds)
        else:
            self._token.pause("", seconds)

    def _observe_shared(self, headers: Mapping[str, str]) -> None:
        """:meth:`observe` with a shared backend: the key's and the token's stated quotas
        (less a margin) are what the buckets are paced at; a spent one holds its bucket back for
        a tenth of its window. Calls beyond ours are expected in a backend that spans the
        workers; in one process (:class:`LocalLimits`) many more on the token than its
        bookings hold it back for a window, as :meth:`observe` does alone."""
        for name in ("key", "token"):
            try:
                most = int(headers[f"x-rate-limit-api-{name}-max"])
                window = int(headers[f"x-rate-limit-api-{name}-interval-ms"]) / 1000
                remaining = int(headers[f"x-rate-limit-api-{name}-remaining"])
            except (KeyError, ValueError):
                continue
            if most < 1 or window <= 0:
                continue
            # The token's quota less the reserve, as when pacing alone (one alliance's
            # bootstrap stays near its floor); the key's less 10 %: many workers' calls are
            # in flight on it at once, so more of them can land in one of Trello's windows.
            stated = Limit(most, window)
            paced = (Limit(max(1, most - TRELLO_QUOTA_RESERVE), window) if name == "token"
                     else Limit(max(1, with_headroom(stated).calls), window))
            self.shared_limits[name] = paced
            if self._shared is None:
                continue
            if self._shared.learned(self.buckets[name]) != paced:
                self._shared.learn(self.buckets[name], paced)  # for the key's other tokens
            if name == "token" and isinstance(self._shared, LocalLimits) and (
                    most - remaining - self._shared.in_window(self.buckets[name], window)
                    > most // 10):
                # Counted in this process only, and Trello counts many more calls on the
                # token (a coordinator's command beside a cron run): as when pacing alone.
                self._shared.pause(self.buckets[name], window)
            elif remaining <= 0:
                self._shared.pause(self.buckets[name], window / 10)

    def observe(self, headers: Mapping[str, str]) -> None:
        """An answer's ``x-rate-limit-api-token-*`` headers (lower-case names): pace the
        token's window at the quota they state, less :data:`TRELLO_QUOTA_RESERVE`. When they count
        many more calls in the window than we made (a tenth of the quota: another process on
        the same token), hold back for one window; when they say the quota is spent, for a
        tenth of one. Headers missing or malformed change nothing. With a shared backend, see
        :meth:`_observe_shared`."""
        if self._shared is not None:
            self._observe_shared(headers)
            return
        try:
            most = int(headers["x-rate-limit-api-token-max"])
            window = int(headers["x-rate-limit-api-token-interval-ms"]) / 1000
            remaining = int(headers["x-rate-limit-api-token-remaining"])
        except (KeyError, ValueError):
            return
        if most <= TRELLO_QUOTA_RESERVE or window <= 0:
            return
        calls = most - TRELLO_QUOTA_RESERVE
        if (calls, window) != (self._token.max_calls, self._token.per_seconds):
            self._token.resize(calls, window)
        beyond_ours = most - remaining - self._token.in_window("")
        if beyond_ours > most // 10:
            # Trello counts many more calls than we made: another process spends the same
            # token's quota, and we cannot tell when its calls leave the window.
            self._token.pause("", window)
        elif remaining <= 0:
            # A few of ours still in Trello's window (their answers were slow to arrive): the
            # next call would be refused; a tenth of the window lets them leave.
            self._token.pause("", window / 10)


class ConnectionGate:
    """A bounded number of simultaneous requests (Mailchimp: 10; we default to 8).

    With ``limits`` (a shared backend) the connections are leased there, per API key, so
    every connector on the key (every worker) holds at most ``max_connections`` together.
    """

    def __init__(self, max_connections: int = MAILCHIMP_MAX_CONNECTIONS, *,
                 limits: RateLimits | None = None, api_key: str = "") -> None:
        if max_connections < 1:
            raise ValueError("a gate needs max_connections >= 1")
        self.max_connections = max_connections
        self._shared = limits
        self.bucket = bucket_name("mailchimp", api_key)
        self._held = threading.local()  # this thread's shared leases, innermost last
        self._semaphore = threading.BoundedSemaphore(max_connections)
        self._count_lock = threading.Lock()
        self.active = 0
        self.peak = 0

    @contextmanager
    def slot(self) -> Iterator[None]:
        """Hold one connection slot for the duration of a request."""
        with self:
            yield

    def _stack(self) -> list[AbstractContextManager[None]]:
        stack: list[AbstractContextManager[None]] | None = getattr(self._held, "leases", None)
        if stack is None:
            stack = self._held.leases = []
        return stack

    def __enter__(self) -> ConnectionGate:
        self._semaphore.acquire()
        if self._shared is not None:
            lease = self._shared.lease(self.bucket, self.max_connections)
            try:
                lease.__enter__()
            except BaseException:
                self._semaphore.release()
                raise
            self._stack().append(lease)
        with self._count_lock:
            self.active += 1
            self.peak = max(self.peak, self.active)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        with self._count_lock:
            self.active -= 1
        stack = self._stack()
        lease = stack.pop() if stack else None
        try:
            if lease is not None:
                lease.__exit__(exc_type, exc, tb)
        finally:
            self._semaphore.release()
