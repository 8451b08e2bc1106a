"""The one retry policy of all three connectors, on tenacity.

What is retried: :class:`connectors.errors.RetriableRemoteError` only (connectors map 429, 5xx,
timeouts and dropped connections into it, see :func:`error_for_status` and
:func:`error_for_connection`). A ``retry_after`` sent by the service is honoured as the wait;
otherwise the wait grows exponentially with jitter. Attempts and total time are bounded, and
a retry is never started when its wait would overrun the time budget: the last error is
raised instead, unchanged, so the caller's message names the service and what failed.

A write whose outcome is unknown (``outcome_unknown=True``: the answer was lost, the request
may have taken effect) is never repeated blindly. Without a ``recover`` callable it is not
retried at all; with one, the next attempt first calls ``recover()`` (typically: look the
object up by its identity token) and returns what it finds; only if it finds nothing is the
write repeated. Fatal errors (auth, not found, bad request) are raised at once.

Sleep, clock and randomness are injectable so tests never sleep. Each retry is logged at INFO
with secrets redacted.

Inside :func:`without_waiting` (a thread's scope: the real-time drain's notes lane) nothing is
waited for: a retriable failure is given back at once, its ``retry_after`` (Slack's
``Retry-After``) on it, for a caller that has other work to do meanwhile (new deliveries) and
comes back when the service is ready. A scheduled sync or a bootstrap, outside the scope,
waits as above.
"""

from __future__ import annotations

import email.utils
import functools
import logging
import random
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import ParamSpec, TypeVar

import tenacity

from connectors.errors import (
    AuthError,
    FatalRemoteError,
    NotFoundError,
    RemoteError,
    RetriableRemoteError,
)
from connectors.masking import mask

T = TypeVar("T")
P = ParamSpec("P")
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RetryPolicy:
    """Bounds and shape of the backoff; the defaults suit all three services."""

    max_attempts: int = 6
    max_total_seconds: float = 120.0
    initial_wait: float = 1.0
    exp_base: float = 2.0
    max_wait: float = 30.0
    jitter: float = 1.0

    def backoff(self, attempt: int, rng: random.Random) -> float:
        """The wait after failed attempt number ``attempt`` (1-based) without a Retry-After."""
        base = self.initial_wait * self.exp_base ** (attempt - 1)
        return min(self.max_wait, base + rng.uniform(0, self.jitter))


DEFAULT_POLICY = RetryPolicy()

_scope = threading.local()


@contextmanager
def without_waiting(tolerate: float = 0.0) -> Iterator[None]:
    """Within (this thread): retriable failures are given back at once, never waited for;
    a connector's pacing refuses a call it would have to wait for more than ``tolerate``
    seconds (see the module docstring; a sync a delivery triggered waits for a post's slot)."""
    before = waiting_allowed(), getattr(_scope, "tolerate", 0.0)
    _scope.impatient, _scope.tolerate = True, tolerate
    try:
        yield
    finally:
        _scope.impatient, _scope.tolerate = not before[0], before[1]


def waiting_allowed() -> bool:
    """False inside :func:`without_waiting` (in this thread)."""
    return not getattr(_scope, "impatient", False)


def refuse_if_held(service: str, operation: str, ready_in: Callable[[], float]) -> None:
    """Inside :func:`without_waiting`: raise a retriable error, the call unsent, when the
    connector's pacing would hold it back (``ready_in()`` > 0, or more than the scope's
    ``tolerate``), its wait as ``retry_after``; outside the scope nothing is asked (the call
    waits in its pacer as usual)."""
    if waiting_allowed():
        return
    wait = ready_in()
    if wait > getattr(_scope, "tolerate", 0.0):
        raise RetriableRemoteError(service, f"{operation}: paced, ready in {wait:.2f} s",
                                   retry_after=wait)


def redact(text: str) -> str:
    """``text`` with anything that looks like a credential replaced by ``***``
    (:func:`connectors.masking.mask`: the remembered secrets and the shapes of credentials)."""
    return mask(text)


class Retrier:
    """The retry policy bound to one service, with injectable sleep, clock and randomness."""

    def __init__(
        self,
        service: str,
        policy: RetryPolicy = DEFAULT_POLICY,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
    ) -> None:
        self.service = service
        self.policy = policy
        self._sleep = sleep
        self._clock = clock
        self._rng = rng or random.Random()

    def call(
        self,
        fn: Callable[[], T],
        *,
        operation: str = "",
        recover: Callable[[], T | None] | None = None,
    ) -> T:
        """Call ``fn`` under the policy; see the module docstring for what is retried."""
        policy = self.policy
        start = self._clock()
        waits: dict[int, float] = {}
        unknown = [False]  # the previous attempt may have taken effect
        label = f"{self.service}: {operation or getattr(fn, '__name__', 'call')}"

        def attempt() -> T:
            if unknown[0] and recover is not None:
                found = recover()
                if found is not None:
                    log.info("%s: the lost answer's object was found; not repeated", label)
                    return found
                unknown[0] = False
            try:
                return fn()
            except RetriableRemoteError as exc:
                unknown[0] = exc.outcome_unknown
                raise

        def retriable(exc: BaseException) -> bool:
            if not isinstance(exc, RetriableRemoteError):
                return False
            if not waiting_allowed():
                log.info("%s: %s; given back, not waited for", label, redact(str(exc)))
                return False
            if exc.outcome_unknown and recover is None:
                log.info("%s: outcome unknown and no way to look it up; not retried", label)
                return False
            return True

        def wait(state: tenacity.RetryCallState) -> float:
            # Computed once per attempt: tenacity may consult stop before or after wait.
            n = state.attempt_number
            if n not in waits:
                exc = state.outcome.exception() if state.outcome else None
                after = getattr(exc, "retry_after", None)
                waits[n] = max(0.0, after) if after is not None else policy.backoff(n, self._rng)
            return waits[n]

        def stop(state: tenacity.RetryCallState) -> bool:
            if state.attempt_number >= policy.max_attempts:
                return True
            return self._clock() - start + wait(state) > policy.max_total_seconds

        def before_sleep(state: tenacity.RetryCallState) -> None:
            exc = state.outcome.exception() if state.outcome else None
            log.info(
                "%s: attempt %d of %d failed (%s); retrying in %.1f s",
                label,
                state.attempt_number,
                policy.max_attempts,
                redact(str(exc)),
                wait(state),
            )

        retrying = tenacity.Retrying(
            retry=tenacity.retry_if_exception(retriable),
            stop=stop,
            wait=wait,
            sleep=self._sleep,
            before_sleep=before_sleep,
            reraise=True,
        )
        return retrying(attempt)

    def wrap(self, operation: str | None = None) -> Callable[[Callable[P, T]], Callable[P, T]]:
        """A decorator applying :meth:`call` to every call of a function (reads, updates)."""

        def decorate(fn: Callable[P, T]) -> Callable[P, T]:
            @functools.wraps(fn)
            def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
                return self.call(lambda: fn(*args, **kwargs), operation=operation or fn.__name__)

            return wrapper

        return decorate


def call_with_retry(
    fn: Callable[[], T],
    *,
    service: str,
    operation: str = "",
    recover: Callable[[], T | None] | None = None,
    policy: RetryPolicy = DEFAULT_POLICY,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    rng: random.Random | None = None,
) -> T:
    """Call ``fn`` under the retry policy (a one-off :class:`Retrier`)."""
    retrier = Retrier(service, policy, sleep=sleep, clock=clock, rng=rng)
    return retrier.call(fn, operation=operation, recover=recover)


# ---------------------------------------------------------------- mapping failures


def parse_retry_after(value: str | float | None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (seconds or an HTTP date), or None."""
    if value is None:
        return None
    if isinstance(value, int | float):
        return max(0.0, float(value))
    text = value.strip()
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


# 501 Not Implemented and 505 HTTP Version Not Supported will not pass by waiting.
_TRANSIENT = {408, 425, 429} | (set(range(500, 600)) - {501, 505})


def error_for_status(
    service: str,
    status: int,
    message: str,
    *,
    retry_after: str | float | None = None,
    write: bool = False,
    hint: str = "",
) -> RemoteError:
    """The project's exception for an HTTP error status (raise it; messages are redacted).

    ``write``: the request changes something, so after a 5xx or a timeout it may have
    taken effect (``outcome_unknown``); a 429 was refused before any effect.
    """
    text = redact(message.strip() or f"HTTP {status}")
    if status in _TRANSIENT:
        return RetriableRemoteError(
            service,
            f"HTTP {status}: {text}",
            retry_after=parse_retry_after(retry_after),
            outcome_unknown=write and status != 429,
            hint=hint,
        )
    if status == 401:
        return AuthError(service, f"credentials refused (HTTP 401): {text}", hint=hint)
    if status in (404, 410):
        return NotFoundError(service, f"not found (HTTP {status}): {text}", hint=hint)
    return FatalRemoteError(service, f"HTTP {status}: {text}", hint=hint)


# Failures that happen before a byte of the request is sent: the write cannot have happened.
_NEVER_SENT = ("ConnectTimeout", "NewConnectionError", "NameResolutionError")


def error_for_connection(
    service: str, exc: BaseException, *, write: bool = False
) -> RetriableRemoteError:
    """The retriable error for a timeout or dropped connection (``exc`` from the SDK)."""
    chain: list[BaseException] = []
    cur: BaseException | None = exc
    while cur is not None and cur not in chain:
        chain.append(cur)
        cur = cur.__cause__ or cur.__context__
    never_sent = any(
        isinstance(e, ConnectionRefusedError) or type(e).__name__ in _NEVER_SENT for e in chain
    )
    reason = redact(str(exc)) or type(exc).__name__
    return RetriableRemoteError(
        service,
        f"connection failed: {reason}",
        outcome_unknown=write and not never_sent,
    )


__all__ = [
    "DEFAULT_POLICY",
    "Retrier",
    "RetryPolicy",
    "call_with_retry",
    "error_for_connection",
    "error_for_status",
    "parse_retry_after",
    "redact",
    "refuse_if_held",
    "waiting_allowed",
    "without_waiting",
]
