"""SlackConnector against the real sandbox, through slack_sdk: every method, faults, errors."""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from connectors.identity import item_metadata, token_in_metadata
from connectors.pacing import SlackPacer
from connectors.sandbox.clients import testing
from connectors.sandbox.clients.testing import admin
from connectors.slack.connector import SlackConnector
from sync.core.errors import AuthError, NotFoundError, RetriableRemoteError

server_module = pytest.importorskip(
    "connectors.sandbox.core.server", reason="sandbox not built yet"
)

BOT_TOKEN = "xoxb-4242-made-up-secret"  # not issued by the sandbox: refused (invalid_auth)
ANA = "ana@example.org"
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class Sleeps(list[float]):
    """A sleep that records instead of sleeping (retry waits and pacing)."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def sandbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.delenv(name, raising=False)
    server = server_module.SandboxServer(port=0, rate_limits=False, data_dir=tmp_path)
    server.start()
    yield server
    server.stop()


def fault(sandbox: Any, path: str, mode: str, **spec: Any) -> None:
    body = {"service": "slack", "method": "POST", "path": path, "mode": mode, "count": 1, **spec}
    admin(sandbox, "POST", "/_sandbox/faults", body)


def connect(sandbox: Any, token: str | None = None, sleeps: Sleeps | None = None) -> SlackConnector:
    sleeps = Sleeps() if sleeps is None else sleeps
    token = testing.issued(sandbox)["slack"]["bot_token"] if token is None else token
    return SlackConnector(
        token, base_url=sandbox.base_urls["slack"], pacer=SlackPacer(sleep=sleeps), sleep=sleeps
    )


@pytest.fixture
def slack(sandbox: Any) -> SlackConnector:
    return connect(sandbox)


def test_identity_key_tells_tokens_apart_without_holding_them(sandbox: Any) -> None:
    token = testing.issued(sandbox)["slack"]["bot_token"]
    slack = connect(sandbox)
    key = slack.identity_key()
    assert slack.calls == 0  # no call to make it
    assert key == connect(sandbox).identity_key()  # the same token, the same key
    assert key != connect(sandbox, token=token + "x").identity_key()
    assert token not in key and len(key) == 16


def test_identity_and_channel_settings(slack: SlackConnector) -> None:
    user_id, bot_id = slack.identity()
    assert user_id.startswith("U") and bot_id.startswith("B")
    channel = slack.create_channel("frl-general")
    assert channel.id.startswith("C") and channel.name == "frl-general"
    assert not channel.is_archived
    slack.set_topic(channel.id, "Friesland alliance")
    slack.set_purpose(channel.id, "Everything about the alliance")
    listed = {c.name: c for c in slack.list_channels()}
    assert listed["frl-general"].topic == "Friesland alliance"
    assert listed["frl-general"].purpose == "Everything about the alliance"
    # An existing name is adopted, never an error and never a second channel.
    calls = slack.calls
    again = slack.create_channel("frl-general")
    assert again.id == channel.id
    assert slack.calls - calls == 2  # conversations.create (name_taken) + conversations.list
    assert [c.name for c in slack.list_channels()].count("frl-general") == 1


def test_archived_channel_is_adopted_by_name(sandbox: Any, slack: SlackConnector) -> None:
    channel = slack.create_channel("frl-actions")
    slack.archive(channel.id)
    slack.archive(channel.id)  # already_archived is success
    adopted = slack.create_channel("frl-actions")
    assert adopted.id == channel.id
    assert adopted.is_archived
    assert slack.unarchive(adopted.id) is False  # Slack refuses bots (user_is_bot)
    person = connect(sandbox, testing.member_token(sandbox, ANA, "slack"))
    assert person.unarchive(adopted.id) is True  # a user token may
    assert person.unarchive(adopted.id) is True  # not_archived is success
    found = [c for c in slack.list_channels() if c.name == "frl-actions"]
    assert [(c.id, c.is_archived) for c in found] == [(channel.id, False)]


def test_list_channels_reads_every_page(slack: SlackConnector) -> None:
    names = {f"c-{i:03d}" for i in range(205)}
    for name in sorted(names):
        slack.create_channel(name)
    calls = slack.calls
    listed = slack.list_channels()
    assert {c.name for c in listed} >= names
    assert slack.calls - calls == 2  # 200 + the rest, with the cursor


def test_lookup_and_invite(sandbox: Any, slack: SlackConnector) -> None:
    admin(sandbox, "POST", "/_sandbox/people", {"email": ANA, "name": "Ana"})
    admin(sandbox, "POST", "/_sandbox/people", {"email": "bo@example.org", "name": "Bo"})
    ana = slack.lookup_user(ANA)
    bo = slack.lookup_user("bo@example.org")
    assert ana and ana.startswith("U") and bo and bo != ana
    assert slack.lookup_user("nobody@example.org") is None
    channel = slack.create_channel("frl-people")
    slack.invite(channel.id, [ana])
    calls = slack.calls
    slack.invite(channel.id, [ana, bo])  # ana already in: falls back to one by one
    assert slack.calls - calls == 3
    slack.invite(channel.id, [])  # nothing to do, no call
    assert slack.calls - calls == 3
    posted = slack.post_message(channel.id, "hello")
    for email in (ANA, "bo@example.org"):  # reacting needs membership: both were invited
        member = connect(sandbox, testing.member_token(sandbox, email, "slack"))
        member.add_reaction(channel.id, posted.ts, "wave")
    [read] = slack.history(channel.id)
    assert read.reactions == {"wave": (ana, bo)}
    with pytest.raises(NotFoundError):
        slack.invite("C000NOPE000", [ana])


def test_metadata_round_trip_reactions_pins_and_updates(
    sandbox: Any, slack: SlackConnector
) -> None:
    channel = slack.create_channel("frl-items")
    metadata = item_metadata("0123456789ab", "FRL-1")
    posted = slack.post_message(channel.id, "FRL-1 Define the region", metadata=metadata)
    assert posted.ts and posted.metadata == metadata
    slack.pin(channel.id, posted.ts)
    slack.pin(channel.id, posted.ts)  # already_pinned is success
    slack.update_message(channel.id, posted.ts, "FRL-1 Define the region (doing)")

    admin(sandbox, "POST", "/_sandbox/people", {"email": ANA, "name": "Ana"})
    ana_id = slack.lookup_user(ANA)
    assert ana_id
    slack.invite(channel.id, [ana_id])
    ana = connect(sandbox, testing.member_token(sandbox, ANA, "slack"))
    ana.add_reaction(channel.id, posted.ts, "white_check_mark")
    ana.add_reaction(channel.id, posted.ts, "white_check_mark")  # already_reacted is success

    [read] = slack.history(channel.id)
    assert read.ts == posted.ts
    assert read.text == "FRL-1 Define the region (doing)"
    assert read.metadata == metadata and token_in_metadata(read.metadata) == "0123456789ab"
    assert read.reactions == {"white_check_mark": (ana_id,)}
    assert read.edited_ts


def test_history_and_replies(sandbox: Any, slack: SlackConnector) -> None:
    channel = slack.create_channel("frl-history")
    posted = [slack.post_message(channel.id, f"message {i}") for i in range(1000)]
    calls = slack.calls
    history = slack.history(channel.id)
    # Pages as large as conversations.history takes (999), not Slack's general advice of 200.
    assert slack.calls - calls == 2
    assert [m.text for m in history] == [f"message {i}" for i in range(1000)]  # oldest first
    # The sandbox caps a page as Slack does: a larger limit gets 999, 0 the default 100.
    bot = testing.slack_client(sandbox)
    assert len(bot.conversations_history(channel=channel.id, limit=5000)["messages"]) == 999
    assert len(bot.conversations_history(channel=channel.id, limit=0)["messages"]) == 100
    later = slack.history(channel.id, oldest=posted[997].ts)
    assert [m.text for m in later] == ["message 998", "message 999"]

    parent = posted[0]
    first = slack.post_message(channel.id, "reply 1", thread_ts=parent.ts)
    slack.post_message(channel.id, "reply 2", thread_ts=parent.ts)
    assert [m.text for m in slack.replies(channel.id, parent.ts)] == ["reply 1", "reply 2"]
    assert [m.text for m in slack.replies(channel.id, parent.ts, oldest=first.ts)] == ["reply 2"]
    top = slack.history(channel.id, oldest=posted[999].ts)
    assert top == []  # replies are not top-level messages
    [head] = [m for m in slack.history(channel.id) if m.ts == parent.ts]
    assert head.reply_count == 2


def test_dropped_post_with_a_token_is_found_not_repeated(
    sandbox: Any, slack: SlackConnector
) -> None:
    channel = slack.create_channel("frl-drop")
    fault(sandbox, "/api/chat.postMessage", "drop_after_apply")
    metadata = item_metadata("feedfacecafe", "FRL-7")
    calls = slack.calls
    posted = slack.post_message(channel.id, "FRL-7 Map the partners", metadata=metadata)
    assert slack.calls - calls == 2  # the dropped post + one history page to find it
    history = slack.history(channel.id)
    assert [m.ts for m in history] == [posted.ts]
    assert history[0].metadata == metadata


def test_dropped_post_without_a_token_is_not_repeated(sandbox: Any, slack: SlackConnector) -> None:
    channel = slack.create_channel("frl-drop2")
    fault(sandbox, "/api/chat.postMessage", "drop_after_apply")
    with pytest.raises(RetriableRemoteError) as caught:
        slack.post_message(channel.id, "a digest")
    assert caught.value.outcome_unknown
    assert [m.text for m in slack.history(channel.id)] == ["a digest"]


def test_dropped_channel_create_is_found_by_name(sandbox: Any, slack: SlackConnector) -> None:
    fault(sandbox, "/api/conversations.create", "drop_after_apply")
    channel = slack.create_channel("frl-dropped")
    assert [c.id for c in slack.list_channels() if c.name == "frl-dropped"] == [channel.id]


def test_server_error_is_retried(sandbox: Any) -> None:
    sleeps = Sleeps()
    slack = connect(sandbox, sleeps=sleeps)
    fault(sandbox, "/api/conversations.create", "error", status=503, count=2)
    channel = slack.create_channel("frl-503")
    assert [c.id for c in slack.list_channels() if c.name == "frl-503"] == [channel.id]
    assert len([s for s in sleeps if s >= 1.0]) == 2  # two backoff waits


def test_ratelimit_retry_after_is_honoured(sandbox: Any) -> None:
    sleeps = Sleeps()
    slack = connect(sandbox, sleeps=sleeps)
    channel = slack.create_channel("frl-429")
    sent = retry_after(sandbox)
    sleeps.clear()
    fault(sandbox, "/api/conversations.setTopic", "ratelimit")
    calls = slack.calls
    slack.set_topic(channel.id, "after a 429")
    assert slack.calls - calls == 2
    # The retry waits exactly Retry-After (a backoff would add jitter), and the pacer holds
    # the method back as long.
    assert sleeps.count(sent) == 1
    assert any(abs(s - sent) < 0.5 for s in sleeps if s != sent)
    assert {c.id: c.topic for c in slack.list_channels()}[channel.id] == "after a 429"


def retry_after(sandbox: Any) -> float:
    """The Retry-After the sandbox sends for a ratelimit fault, read with a raw request."""
    body = {"service": "slack", "method": "*", "path": "/api/auth.test", "mode": "ratelimit"}
    admin(sandbox, "POST", "/_sandbox/faults", {**body, "count": 1})
    request = urllib.request.Request(
        f"{sandbox.base_urls['slack']}auth.test",
        data=b"",
        method="POST",
        headers={"Authorization": f"Bearer {testing.issued(sandbox)['slack']['bot_token']}"},
    )
    try:
        _OPENER.open(request, timeout=10)
    except urllib.error.HTTPError as exc:
        assert exc.code == 429
        return float(exc.headers["Retry-After"])
    raise AssertionError("the ratelimit fault did not fire")


@pytest.mark.parametrize("token", ["", BOT_TOKEN, "xoxp-no-such-member-s3cr3t"])
def test_auth_error_names_the_setting(sandbox: Any, token: str) -> None:
    slack = connect(sandbox, token)
    with pytest.raises(AuthError) as caught:
        slack.identity()
    text = " ".join(caught.value.lines())
    assert "check slack.token (SLACK_BOT_TOKEN)" in text
    assert "refused" in str(caught.value) and caught.value.service == "slack"
    assert slack.calls == 1  # an auth failure is not retried
    if token:
        assert token not in text and "s3cr3t" not in text and "secret" not in text


def test_no_secret_in_errors(sandbox: Any, slack: SlackConnector) -> None:
    with pytest.raises(NotFoundError) as caught:
        slack.post_message("C000NOPE000", "lost")
    assert "channel_not_found" in str(caught.value)
    assert testing.issued(sandbox)["slack"]["bot_token"] not in " ".join(caught.value.lines())
