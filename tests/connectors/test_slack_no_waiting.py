"""The Slack connector inside ``connectors.retry.without_waiting`` (the real-time lane's
writes), against the real sandbox: a 429 is given back with its Retry-After at once, never
slept in the retry layer, and holds the pacer; a call the pacing would hold back is refused
unsent. Outside the scope (a sync, a bootstrap) the same 429 is waited for as ever."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from connectors.pacing import SlackPacer
from connectors.retry import waiting_allowed, without_waiting
from connectors.sandbox.clients import testing
from connectors.sandbox.clients.testing import admin
from connectors.sandbox.core.server import SandboxServer
from connectors.slack.connector import SlackConnector
from sync.core.errors import RetriableRemoteError


class Clock:
    """A fake monotonic clock the pacer reads (sleeping is recorded, never done)."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)


@pytest.fixture
def sandbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[SandboxServer]:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.delenv(name, raising=False)
    server = SandboxServer(port=0, rate_limits=False, data_dir=tmp_path)
    server.start()
    yield server
    server.stop()


def _connect(sandbox: Any, clock: Clock) -> tuple[SlackConnector, str]:
    token = testing.issued(sandbox)["slack"]["bot_token"]
    slack = SlackConnector(token, base_url=sandbox.base_urls["slack"],
                           pacer=SlackPacer(clock=clock, sleep=clock.sleep), sleep=clock.sleep)
    return slack, slack.create_channel("frl-lane").id


def _limit_posts(sandbox: Any, retry_after: float) -> None:
    admin(sandbox, "POST", "/_sandbox/faults", {
        "service": "slack", "method": "POST", "path": "*chat.postMessage", "mode": "ratelimit",
        "seconds": retry_after, "count": 1})


def test_a_429_is_given_back_with_its_retry_after_and_holds_the_pacer(sandbox: Any) -> None:
    clock = Clock()
    slack, channel = _connect(sandbox, clock)
    _limit_posts(sandbox, 30)
    calls = slack.calls
    with without_waiting():
        assert not waiting_allowed()
        with pytest.raises(RetriableRemoteError) as refused:
            slack.post_message(channel, "a note")
    assert waiting_allowed()  # the scope ends with the block
    assert refused.value.retry_after == 30 and not refused.value.outcome_unknown
    assert slack.calls - calls == 1 and clock.sleeps == []  # one attempt, no sleep at all
    # The pacer holds the channel's posts for the Retry-After; other methods go at once.
    assert slack.ready_in("chat.postMessage", channel) == pytest.approx(30)
    assert slack.ready_in("chat.update", channel) == 0.0
    # Still held: refused unsent (the sandbox sees no call), with the time left.
    clock.now += 10
    with without_waiting(), pytest.raises(RetriableRemoteError) as paced:
        slack.post_message(channel, "a note")
    assert paced.value.retry_after == pytest.approx(20) and slack.calls - calls == 1
    assert [m.text for m in slack.history(channel)] == []
    clock.now += 20
    with without_waiting():
        slack.post_message(channel, "a note")
    assert [m.text for m in slack.history(channel)] == ["a note"] and clock.sleeps == []


def test_outside_the_scope_a_429_is_waited_for_as_before(sandbox: Any) -> None:
    clock = Clock()
    slack, channel = _connect(sandbox, clock)
    _limit_posts(sandbox, 7)
    slack.post_message(channel, "a note")
    assert 7 in clock.sleeps  # the retry layer's wait: Retry-After
    assert [m.text for m in slack.history(channel)] == ["a note"]


def test_the_sandbox_sends_the_chosen_retry_after_only_where_the_vendor_does(
        sandbox: Any) -> None:
    clock = Clock()
    slack, channel = _connect(sandbox, clock)
    _limit_posts(sandbox, 2.2)  # Slack says whole seconds: rounded up
    with without_waiting(), pytest.raises(RetriableRemoteError) as refused:
        slack.post_message(channel, "a note")
    assert refused.value.retry_after == 3
