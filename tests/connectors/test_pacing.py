"""Client-side pacing: the sliding window, the vendor tables, the connection gate."""

from __future__ import annotations

import threading
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.pacing import (
    SLACK_TIERS,
    TRELLO_TOKEN_LIMIT,
    ConnectionGate,
    Limit,
    Pacer,
    SlackPacer,
    TrelloPacer,
)


class FakeTime:
    """A clock that moves only when someone sleeps (or the test advances it)."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def test_the_call_after_a_full_window_waits_for_the_oldest_to_leave() -> None:
    fake = FakeTime()
    pacer = Pacer(3, 10.0, clock=fake.clock, sleep=fake.sleep)
    times = []
    for advance in (0.0, 1.0, 2.0, 0.0, 0.0):
        fake.now += advance
        pacer.acquire("token")
        times.append(fake.now)
    # Calls at 0, 1, 3; the 4th waits until 10 (the call at 0 leaves), the 5th until 11.
    assert times == [0.0, 1.0, 3.0, 10.0, 11.0]
    assert fake.sleeps == [7.0, 1.0]
    assert (pacer.calls, pacer.waited) == (5, 8.0)


def test_keys_have_separate_windows() -> None:
    fake = FakeTime()
    pacer = Pacer(1, 1.0, clock=fake.clock, sleep=fake.sleep)
    assert [pacer.acquire(channel) for channel in ("C1", "C2", "C3")] == [0.0, 0.0, 0.0]
    assert pacer.acquire("C1") == 1.0


def test_pause_holds_a_key_back() -> None:
    fake = FakeTime()
    pacer = Pacer(100, 10.0, clock=fake.clock, sleep=fake.sleep)
    pacer.acquire("k")
    pacer.pause("k", 5.0)
    assert pacer.acquire("k") == 5.0
    assert pacer.acquire("other") == 0.0


def test_invalid_limits_are_refused() -> None:
    with pytest.raises(ValueError):
        Pacer(0, 1.0)
    with pytest.raises(ValueError):
        ConnectionGate(0)


@settings(max_examples=200, deadline=None)
@given(
    max_calls=st.integers(1, 6),
    per_seconds=st.floats(0.5, 30.0),
    calls=st.lists(
        st.tuples(st.floats(0.0, 20.0), st.sampled_from(["a", "b"])),
        min_size=1,
        max_size=40,
    ),
)
def test_never_more_than_max_calls_in_any_window_and_never_a_needless_wait(
    max_calls: int, per_seconds: float, calls: list[tuple[float, str]]
) -> None:
    fake = FakeTime()
    pacer = Pacer(max_calls, per_seconds, clock=fake.clock, sleep=fake.sleep)
    granted: dict[str, list[float]] = {"a": [], "b": []}
    for gap, key in calls:
        fake.now += gap
        arrival = fake.now
        pacer.acquire(key)
        times = granted[key]
        # Never sooner than allowed, and never later than needed.
        earliest = arrival
        if len(times) >= max_calls:
            earliest = max(arrival, times[-max_calls] + per_seconds)
        assert fake.now == pytest.approx(earliest)
        times.append(fake.now)
    for times in granted.values():
        for i in range(len(times) - max_calls):
            # Calls i..i+max_calls are max_calls + 1 calls: they span at least a window.
            assert times[i + max_calls] - times[i] >= per_seconds - 1e-9


def test_threads_share_the_window() -> None:
    """Under contention every thread books a distinct slot and the window still holds."""
    fake = FakeTime()
    fake.now = 100.0  # frozen: threads only book, so the test cannot depend on scheduling
    pacer = Pacer(4, 0.25, clock=fake.clock, sleep=fake.sleep)
    starts: list[float] = []
    lock = threading.Lock()
    barrier = threading.Barrier(8)

    def worker() -> None:
        barrier.wait()
        for _ in range(25):
            start = fake.now + pacer.reserve("shared")
            with lock:
                starts.append(start)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    starts.sort()
    expected = [100.0 + 0.25 * (i // 4) for i in range(200)]
    assert starts == pytest.approx(expected)


def test_acquire_really_sleeps_with_the_real_clock() -> None:
    pacer = Pacer(2, 0.1)
    began = time.monotonic()
    waits = [pacer.acquire() for _ in range(3)]
    assert waits[:2] == [0.0, 0.0] and 0.05 < waits[2] <= 0.1
    assert time.monotonic() - began >= waits[2]


# ---------------------------------------------------------------- vendor tables


def test_slack_tiers_and_per_channel_posting() -> None:
    fake = FakeTime()
    slack = SlackPacer(clock=fake.clock, sleep=fake.sleep)
    assert SlackPacer.limit_of("conversations.create") == Limit(20, 60.0)
    assert SlackPacer.limit_of("chat.update") == SLACK_TIERS[3] == Limit(50, 60.0)
    assert SlackPacer.limit_of("users.info") == Limit(100, 60.0)
    assert SlackPacer.limit_of("some.newMethod") == Limit(20, 60.0)
    for _ in range(20):
        assert slack.acquire("conversations.create") == 0.0
    assert slack.acquire("conversations.setTopic") == 0.0  # same tier, its own method window
    assert slack.acquire("conversations.create") == pytest.approx(66.0)  # 10 % margin
    fake.now = 1000.0
    assert slack.acquire("chat.postMessage", "C1") == 0.0
    assert slack.acquire("chat.postMessage", "C2") == 0.0
    assert slack.acquire("chat.postMessage", "C1") == pytest.approx(1.1)


def test_slack_pause_after_a_429() -> None:
    fake = FakeTime()
    slack = SlackPacer(clock=fake.clock, sleep=fake.sleep)
    slack.pause("chat.update", 30.0)
    assert slack.acquire("chat.update") == 30.0
    assert slack.acquire("chat.postMessage", "C1") == 0.0


def test_trello_stays_under_100_per_10_seconds_per_token() -> None:
    fake = FakeTime()
    trello = TrelloPacer(clock=fake.clock, sleep=fake.sleep)
    stamps = []
    for _ in range(250):
        trello.acquire("/1/cards")
        stamps.append(fake.now)
    limit = TRELLO_TOKEN_LIMIT.calls
    assert limit < 100
    assert stamps[limit - 1] == 0.0 and stamps[limit] == 10.0
    for i in range(len(stamps) - limit):
        assert stamps[i + limit] - stamps[i] >= 10.0


def test_trello_members_routes_have_their_own_stricter_window() -> None:
    fake = FakeTime()
    trello = TrelloPacer(clock=fake.clock, sleep=fake.sleep)
    for _ in range(90):
        trello.acquire("/1/members/me/boards")
    fake.now = 20.0  # the token window has long passed, the members one has not
    assert trello.acquire("/1/boards/b1") == 0.0
    assert trello.acquire("/1/members/me") == pytest.approx(880.0)


def test_connection_gate_bounds_concurrency() -> None:
    gate = ConnectionGate()
    assert gate.max_connections == 8 < 10
    release = threading.Event()
    entered = threading.Semaphore(0)

    def request() -> None:
        with gate.slot():
            entered.release()
            release.wait(5)

    threads = [threading.Thread(target=request) for _ in range(12)]
    for thread in threads:
        thread.start()
    for _ in range(8):
        assert entered.acquire(timeout=5)
    assert not entered.acquire(timeout=0.1)  # the 9th waits for a free connection
    assert gate.active == 8
    release.set()
    for thread in threads:
        thread.join()
    assert (gate.peak, gate.active) == (8, 0)


def quota(most: int = 100, remaining: int = 100, interval_ms: int = 10_000) -> dict[str, str]:
    """Trello's token quota headers as the connector keeps them (lower-case names)."""
    return {"x-rate-limit-api-token-max": str(most),
            "x-rate-limit-api-token-interval-ms": str(interval_ms),
            "x-rate-limit-api-token-remaining": str(remaining)}


def test_trello_paces_at_the_quota_its_headers_state_less_a_reserve() -> None:
    fake = FakeTime()
    trello = TrelloPacer(clock=fake.clock, sleep=fake.sleep)
    stamps = []
    for _ in range(300):
        trello.acquire("/1/cards")
        stamps.append(fake.now)
        used = sum(1 for t in stamps if fake.now - 10.0 < t <= fake.now)  # as Trello counts
        trello.observe(quota(remaining=100 - used))
    # 98 a window (100 less the reserve of 2), not 90, and never more than 98 in any window:
    # the 294th call still goes in the third window (at 90 a window it would wait until 30 s).
    assert stamps[97] == 0.0 and stamps[98] == 10.0
    for i in range(len(stamps) - 98):
        assert stamps[i + 98] - stamps[i] >= 10.0
    assert stamps[293] == 20.0


def test_trello_quota_headers_missing_or_malformed_change_nothing() -> None:
    fake = FakeTime()
    trello = TrelloPacer(clock=fake.clock, sleep=fake.sleep)
    trello.observe({})
    trello.observe(quota(most=0))
    trello.observe({**quota(), "x-rate-limit-api-token-max": "many"})
    for _ in range(TRELLO_TOKEN_LIMIT.calls):
        assert trello.acquire("/1/cards") == 0.0
    assert trello.acquire("/1/cards") == 10.0  # still our own 90 per 10 s


def test_trello_holds_back_when_someone_else_spent_the_quota() -> None:
    fake = FakeTime()
    trello = TrelloPacer(clock=fake.clock, sleep=fake.sleep)
    trello.acquire("/1/cards")
    trello.observe(quota(remaining=99))  # our one call: nothing to hold back
    trello.observe(quota(remaining=95))  # a few more than ours: jitter at a window's edge
    assert trello.acquire("/1/cards") == 0.0
    trello.observe(quota(remaining=40))  # our two calls, and another process's 58
    assert trello.acquire("/1/cards") == 10.0


def test_trello_waits_a_little_when_the_quota_is_spent() -> None:
    fake = FakeTime()
    trello = TrelloPacer(clock=fake.clock, sleep=fake.sleep)
    trello.observe(quota())
    for _ in range(95):
        trello.acquire("/1/cards")
    trello.observe(quota(remaining=0))  # Trello counts 100, five more than our 95
    assert trello.acquire("/1/cards") == pytest.approx(1.0)  # a tenth of the window


def test_ready_in_says_when_a_call_could_go_and_books_nothing() -> None:
    fake = FakeTime()
    pacer = Pacer(2, 10.0, clock=fake.clock, sleep=fake.sleep)
    assert pacer.ready_in("k") == 0.0
    pacer.acquire("k")
    fake.now = 1.0
    pacer.acquire("k")
    assert pacer.ready_in("k") == pytest.approx(9.0)  # the call at 0 leaves at 10
    assert pacer.ready_in("k") == pytest.approx(9.0)  # asking twice books nothing
    assert pacer.ready_in("other") == 0.0
    pacer.pause("other", 4.0)
    assert pacer.ready_in("other") == pytest.approx(4.0)  # a 429's Retry-After counts
    assert pacer.calls == 2 and fake.sleeps == []
    assert pacer.acquire("k") == pytest.approx(9.0)  # what it said is what a call waits


def test_shared_limits_answer_when_a_call_could_go_without_booking() -> None:
    from connectors.limits import LocalLimits

    fake = FakeTime()
    limits = LocalLimits(clock=fake.clock)
    wanted = [("key", Limit(1, 5.0)), ("token", Limit(2, 10.0))]
    assert limits.ready_in(wanted) == 0.0
    limits.reserve(wanted)
    assert limits.ready_in(wanted) == pytest.approx(5.0)  # the key's one call a 5 s
    assert limits.booked("key") == 1
    limits.pause("token", 8.0)
    assert limits.ready_in(wanted) == pytest.approx(8.0)
    assert limits.reserve(wanted) == pytest.approx(8.0)


def test_slack_says_when_a_post_or_a_tiered_call_could_go() -> None:
    from connectors.limits import LocalLimits

    fake = FakeTime()
    for slack in (SlackPacer(clock=fake.clock, sleep=fake.sleep),
                  SlackPacer(clock=fake.clock, sleep=fake.sleep,
                             limits=LocalLimits(clock=fake.clock), token="xoxb-1")):
        fake.now += 1000.0
        slack.acquire("chat.postMessage", "C1")
        assert slack.ready_in("chat.postMessage", "C1") == pytest.approx(1.1)
        assert slack.ready_in("chat.postMessage", "C2") == 0.0
        slack.pause("chat.update", 30.0)
        assert slack.ready_in("chat.update") == pytest.approx(30.0)
        assert fake.sleeps == []


def test_trello_says_when_a_request_could_go_and_books_nothing() -> None:
    from connectors.limits import LocalLimits

    fake = FakeTime()
    for trello in (TrelloPacer(clock=fake.clock, sleep=fake.sleep),
                   TrelloPacer(clock=fake.clock, sleep=fake.sleep,
                               limits=LocalLimits(clock=fake.clock), api_key="k", token="t")):
        fake.now += 1000.0
        assert trello.ready_in("/1/cards/c1/actions/comments") == 0.0
        for _ in range(TRELLO_TOKEN_LIMIT.calls):
            trello.acquire("/1/members/me/boards")
        assert trello.ready_in("/1/cards/c1") == pytest.approx(10.0)  # the token's window
        assert trello.ready_in("/1/cards/c1") == pytest.approx(10.0)  # asking books nothing
        fake.now += 20.0  # the token window has passed, the members one has not
        assert trello.ready_in("/1/cards/c1") == 0.0
        assert trello.ready_in("/1/members/me") == pytest.approx(880.0)
        trello.pause(6.0)  # a 429 (Trello sends no Retry-After)
        assert trello.ready_in("/1/cards/c1") == pytest.approx(6.0)
        assert trello.acquire("/1/cards/c1") == pytest.approx(6.0)  # what it said is waited
        fake.now += 1000.0
    assert fake.sleeps == [pytest.approx(6.0), pytest.approx(6.0)]
