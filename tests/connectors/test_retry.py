"""The one retry policy: what is retried, how long it waits, and when it gives up."""

from __future__ import annotations

import logging
import random
from collections.abc import Callable

import pytest

from connectors.retry import (
    Retrier,
    RetryPolicy,
    call_with_retry,
    error_for_connection,
    error_for_status,
    parse_retry_after,
    redact,
    refuse_if_held,
    without_waiting,
)
from sync.core.errors import (
    AuthError,
    FatalRemoteError,
    NotFoundError,
    RetriableRemoteError,
)


class FakeTime:
    """A clock that only moves when the code under test sleeps."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def failing(*errors: BaseException, then: object = "ok") -> tuple[Callable[[], object], list[int]]:
    """A function raising ``errors`` one per call, then returning ``then``; and its call log."""
    calls: list[int] = []

    def fn() -> object:
        calls.append(1)
        if len(calls) <= len(errors):
            raise errors[len(calls) - 1]
        return then

    return fn, calls


def retry(
    fn: Callable[[], object], fake: FakeTime, policy: RetryPolicy | None = None, **kwargs: object
) -> object:
    return call_with_retry(
        fn,
        service="trello",
        operation="create_card",
        policy=policy or RetryPolicy(),
        sleep=fake.sleep,
        clock=fake.clock,
        rng=random.Random(7),
        **kwargs,  # type: ignore[arg-type]
    )


def rate_limited(after: float | None = None) -> RetriableRemoteError:
    return RetriableRemoteError("trello", "HTTP 429: rate limited", retry_after=after)


def test_429_honours_retry_after_exactly() -> None:
    fake = FakeTime()
    fn, calls = failing(rate_limited(7.5), rate_limited(0), rate_limited(3))
    assert retry(fn, fake) == "ok"
    assert fake.sleeps == [7.5, 0.0, 3.0]
    assert len(calls) == 4


def test_backoff_grows_exponentially_with_bounded_jitter() -> None:
    fake = FakeTime()
    errors = [RetriableRemoteError("slack", "HTTP 503") for _ in range(5)]
    fn, _ = failing(*errors)
    policy = RetryPolicy(
        max_attempts=6,
        initial_wait=1.0,
        exp_base=2.0,
        max_wait=30.0,
        jitter=0.5,
        max_total_seconds=1000,
    )
    assert retry(fn, fake, policy) == "ok"
    bases = [1.0, 2.0, 4.0, 8.0, 16.0]
    assert len(fake.sleeps) == 5
    for slept, base in zip(fake.sleeps, bases, strict=True):
        assert base <= slept <= base + 0.5
    assert fake.sleeps == sorted(fake.sleeps)


def test_backoff_is_capped_by_max_wait() -> None:
    policy = RetryPolicy(initial_wait=1, exp_base=10, max_wait=5, jitter=0)
    rng = random.Random(1)
    assert [policy.backoff(n, rng) for n in (1, 2, 3)] == [1.0, 5.0, 5.0]


def test_bounded_attempts_raise_the_last_error() -> None:
    fake = FakeTime()
    errors = [RetriableRemoteError("trello", f"HTTP 500: failure {i}") for i in range(10)]
    fn, calls = failing(*errors)
    with pytest.raises(RetriableRemoteError) as info:
        retry(fn, fake, RetryPolicy(max_attempts=4, jitter=0))
    assert str(info.value) == "trello: HTTP 500: failure 3"
    assert len(calls) == 4
    assert fake.sleeps == [1.0, 2.0, 4.0]


def test_total_time_budget_stops_before_a_wait_that_would_overrun_it() -> None:
    fake = FakeTime()
    fn, calls = failing(rate_limited(50), rate_limited(50), rate_limited(50))
    with pytest.raises(RetriableRemoteError):
        retry(fn, fake, RetryPolicy(max_attempts=10, max_total_seconds=120))
    assert fake.sleeps == [50, 50]  # a third 50 s wait would end after 150 s > 120 s
    assert len(calls) == 3


@pytest.mark.parametrize(
    "error",
    [
        AuthError("trello", "credentials refused (HTTP 401)"),
        NotFoundError("trello", "not found (HTTP 404)"),
        FatalRemoteError("trello", "HTTP 400: invalid id"),
        ValueError("a bug, not a remote failure"),
    ],
)
def test_fatal_errors_are_not_retried(error: Exception) -> None:
    fake = FakeTime()
    fn, calls = failing(error)
    with pytest.raises(type(error)) as info:
        retry(fn, fake)
    assert info.value is error
    assert len(calls) == 1 and fake.sleeps == []


def test_unknown_outcome_without_recover_is_not_repeated() -> None:
    fake = FakeTime()
    lost = RetriableRemoteError("trello", "connection dropped", outcome_unknown=True)
    fn, calls = failing(lost)
    with pytest.raises(RetriableRemoteError) as info:
        retry(fn, fake)
    assert info.value is lost and len(calls) == 1 and fake.sleeps == []


def test_unknown_outcome_with_recover_returns_the_found_object_and_never_repeats() -> None:
    fake = FakeTime()
    lost = RetriableRemoteError("trello", "connection dropped", outcome_unknown=True)
    fn, calls = failing(lost, then="a duplicate card")
    lookups: list[int] = []

    def recover() -> str | None:
        lookups.append(1)
        return "card-42 (found by token)"

    assert retry(fn, fake, recover=recover) == "card-42 (found by token)"
    assert len(calls) == 1 and len(lookups) == 1


def test_unknown_outcome_with_nothing_found_repeats_the_write_once() -> None:
    fake = FakeTime()
    lost = RetriableRemoteError("slack", "HTTP 502", outcome_unknown=True)
    fn, calls = failing(lost, then="message-1")
    lookups: list[int] = []

    def recover() -> str | None:
        lookups.append(1)
        return None

    assert retry(fn, fake, recover=recover) == "message-1"
    assert len(calls) == 2 and len(lookups) == 1


def test_a_failing_lookup_is_retried_before_anything_is_repeated() -> None:
    fake = FakeTime()
    lost = RetriableRemoteError("trello", "read timeout", outcome_unknown=True)
    fn, calls = failing(lost, then="duplicate")
    answers: list[object] = [rate_limited(2), "card-42"]

    def recover() -> object:
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    assert retry(fn, fake, recover=recover) == "card-42"
    assert len(calls) == 1 and fake.sleeps[-1] == 2


def test_each_retry_is_logged_at_info_without_secrets(caplog: pytest.LogCaptureFixture) -> None:
    fake = FakeTime()
    secret = RetriableRemoteError(
        "trello",
        "HTTP 503 on /1/cards?key=abcdef0123&token=ATTAsecret99",
        retry_after=1,
    )
    fn, _ = failing(secret)
    with caplog.at_level(logging.INFO, logger="connectors.retry"):
        retry(fn, fake)
    assert [r.levelno for r in caplog.records] == [logging.INFO]
    line = caplog.records[0].getMessage()
    assert line.startswith("trello: create_card: attempt 1 of 6 failed")
    assert "retrying in 1.0 s" in line
    assert "ATTAsecret99" not in line and "abcdef0123" not in line


def test_retrier_decorator_retries_each_call() -> None:
    fake = FakeTime()
    retrier = Retrier("mailchimp", RetryPolicy(jitter=0), sleep=fake.sleep, clock=fake.clock)
    attempts: list[str] = []

    @retrier.wrap()
    def list_audiences(prefix: str) -> str:
        attempts.append(prefix)
        if len(attempts) == 1:
            raise RetriableRemoteError("mailchimp", "HTTP 429", retry_after=None)
        return f"{prefix}-audiences"

    assert list_audiences("x") == "x-audiences"
    assert attempts == ["x", "x"] and fake.sleeps == [1.0]
    assert list_audiences.__name__ == "list_audiences"


# ---------------------------------------------------------------- mapping HTTP failures


def test_error_for_status_maps_into_the_exception_tree() -> None:
    limited = error_for_status("slack", 429, "ratelimited", retry_after="12", write=True)
    assert isinstance(limited, RetriableRemoteError)
    assert (limited.retry_after, limited.outcome_unknown) == (12.0, False)
    server = error_for_status("trello", 502, "Bad gateway", write=True)
    assert isinstance(server, RetriableRemoteError) and server.outcome_unknown
    assert not error_for_status("trello", 500, "oops").outcome_unknown  # reads are safe
    assert isinstance(error_for_status("trello", 401, "invalid token"), AuthError)
    assert isinstance(error_for_status("trello", 404, "Could not find the card"), NotFoundError)
    bad = error_for_status("trello", 400, "invalid id")
    assert type(bad) is FatalRemoteError and str(bad) == "trello: HTTP 400: invalid id"
    assert type(error_for_status("trello", 501, "")) is FatalRemoteError


def test_error_for_connection_knows_when_nothing_was_sent() -> None:
    refused = ConnectionError("cannot connect")
    refused.__cause__ = ConnectionRefusedError(111, "Connection refused")
    assert not error_for_connection("slack", refused, write=True).outcome_unknown
    dropped = error_for_connection("slack", TimeoutError("read timed out"), write=True)
    assert dropped.outcome_unknown and "read timed out" in str(dropped)


def test_parse_retry_after() -> None:
    assert parse_retry_after("30") == 30.0
    assert parse_retry_after(" 1.5 ") == 1.5
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # in the past
    assert parse_retry_after(-3) == 0.0


def test_redact_masks_credentials() -> None:
    text = redact(
        "GET /1/boards?key=k123&token=t456 Authorization: Bearer xoxb-1-2-abc "
        "api key 0123456789abcdef0123456789abcdef-us21 slack xoxp-9-8"
    )
    for secret in ("k123", "t456", "xoxb-1-2-abc", "0123456789abcdef0123456789abcdef", "xoxp"):
        assert secret not in text
    assert "key=***" in text and "token=***" in text


@pytest.mark.parametrize("retry_after", [None, 12.0])
def test_without_waiting_a_retriable_failure_is_given_back_at_once(
        retry_after: float | None) -> None:
    """The real-time lane's scope: one attempt, no sleep, the error (and its Retry-After)
    as it came; outside the scope the same failure is retried after a wait."""
    sleeps: list[float] = []
    attempts: list[int] = []

    def refused() -> str:
        attempts.append(1)
        if len(attempts) > 1:  # the second attempt goes through
            return "made"
        raise RetriableRemoteError("slack", "HTTP 429", retry_after=retry_after)

    retrier = Retrier("slack", sleep=sleeps.append, rng=random.Random(1))
    with without_waiting(), pytest.raises(RetriableRemoteError) as given:
        retrier.call(refused, operation="chat.postMessage")
    assert attempts == [1] and sleeps == [] and given.value.retry_after == retry_after
    attempts.clear()
    assert retrier.call(refused, operation="chat.postMessage") == "made"
    assert len(attempts) == 2 and len(sleeps) == 1
    assert sleeps[0] == retry_after if retry_after is not None else sleeps[0] >= 1.0


def test_a_tolerant_scope_refuses_only_what_the_pacing_holds_longer_and_is_restored() -> None:
    """``without_waiting(tolerate=...)`` (a sync a delivery triggered): a call its pacing holds
    for up to ``tolerate`` seconds goes (and waits in its pacer); a longer hold is refused,
    unsent, with its wait; leaving the scope restores the one around it."""
    asked: list[float] = []

    def held(seconds: float) -> Callable[[], float]:
        def ready_in() -> float:
            asked.append(seconds)
            return seconds
        return ready_in

    refuse_if_held("slack", "chat.postMessage", held(5.0))  # outside: nothing asked
    assert asked == []
    with without_waiting():
        with without_waiting(tolerate=1.5):
            refuse_if_held("slack", "chat.postMessage", held(1.0))  # goes: a post's slot
            with pytest.raises(RetriableRemoteError) as refused:
                refuse_if_held("slack", "chat.postMessage", held(2.0))
            assert refused.value.retry_after == 2.0
        with pytest.raises(RetriableRemoteError):  # the outer scope tolerates nothing
            refuse_if_held("slack", "chat.postMessage", held(1.0))
    refuse_if_held("slack", "chat.postMessage", held(5.0))
    assert asked == [1.0, 2.0, 1.0]
