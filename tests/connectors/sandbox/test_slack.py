"""The Slack emulator through the real slack_sdk WebClient (no hand-built requests)."""

from __future__ import annotations

import re
import time
import urllib.request
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler

from connectors.sandbox.clients.testing import member_token, slack_client
from connectors.sandbox.core.server import SandboxServer
from connectors.sandbox.slack.limits import SlackLimits

ANA = "ana@example.org"
BEN = "ben@example.org"
TS = re.compile(r"^\d{10}\.\d{6}$")


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    # slack_sdk loads HTTP(S)_PROXY whenever no proxy is given and ignores NO_PROXY.
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def bot(sandbox: SandboxServer) -> WebClient:
    return slack_client(sandbox)


@pytest.fixture
def ana(sandbox: SandboxServer) -> WebClient:
    return slack_client(sandbox, member_token(sandbox, ANA, "slack"))


def error_of(call: Callable[[], Any]) -> str:
    """The Slack error code a call fails with (and it must fail with HTTP 200)."""
    with pytest.raises(SlackApiError) as caught:
        call()
    assert caught.value.response.status_code == 200
    assert caught.value.response["ok"] is False
    return str(caught.value.response["error"])


def new_channel(client: WebClient, name: str) -> str:
    return str(client.conversations_create(name=name)["channel"]["id"])


# ---------------------------------------------------------------------- auth


def test_auth_test_names_the_bot_and_a_member(bot: WebClient, ana: WebClient) -> None:
    me = bot.auth_test()
    assert re.match(r"^U[A-Z0-9]{10}$", me["user_id"])
    assert re.match(r"^B[A-Z0-9]{10}$", me["bot_id"])
    assert me["team_id"] == "TSANDBOX01"
    member = ana.auth_test()
    assert "bot_id" not in member.data
    assert member["user_id"] == bot.users_lookupByEmail(email=ANA)["user"]["id"]
    assert member["user_id"] != me["user_id"]


def test_missing_and_malformed_tokens(sandbox: SandboxServer) -> None:
    assert error_of(slack_client(sandbox, token=None).auth_test) == "not_authed"  # type: ignore[arg-type]
    anonymous = slack_client(sandbox, token=None)  # type: ignore[arg-type]
    empty = {"Authorization": "Bearer "}
    assert error_of(lambda: anonymous.api_call("auth.test", headers=empty)) == "invalid_auth"
    assert error_of(slack_client(sandbox, "sandbox-member:").auth_test) == "invalid_auth"
    # The form field works like the header.
    answer = anonymous.api_call("auth.test", params={"token": member_token(sandbox, BEN, "slack")})
    assert answer["user"] == "ben"


# ---------------------------------------------------------------------- channels


def test_create_info_and_name_rules(bot: WebClient) -> None:
    channel = bot.conversations_create(name="alliance-north_2")["channel"]
    assert re.match(r"^C[A-Z0-9]{10}$", channel["id"])
    assert channel["name"] == "alliance-north_2"
    assert channel["is_archived"] is False and channel["is_member"] is True
    assert bot.conversations_info(channel=channel["id"])["channel"]["name"] == "alliance-north_2"
    assert error_of(lambda: bot.conversations_create(name="alliance-north_2")) == "name_taken"
    assert error_of(lambda: bot.conversations_create(name="")) == "invalid_name_required"
    assert error_of(lambda: bot.conversations_create(name="x" * 81)) == "invalid_name_maxlength"
    assert bot.conversations_create(name="x" * 80)["ok"] is True
    for bad in ("Alliance", "a b", "é-t-é", "#general"):
        assert error_of(lambda bad=bad: bot.conversations_create(name=bad)) == (
            "invalid_name_specials"
        )
    assert error_of(lambda: bot.conversations_info(channel="CNOPE000000")) == "channel_not_found"


def test_name_taken_is_adopted_from_the_list(bot: WebClient) -> None:
    first = new_channel(bot, "plenary")
    assert error_of(lambda: bot.conversations_create(name="plenary")) == "name_taken"
    found = [
        c
        for page in bot.conversations_list(types="public_channel,private_channel", limit=1)
        for c in page["channels"]
        if c["name"] == "plenary"
    ]
    assert [c["id"] for c in found] == [first]


def test_archive_unarchive_and_archived_names_stay_taken(bot: WebClient, ana: WebClient) -> None:
    channel = new_channel(bot, "old-working-group")
    assert bot.conversations_archive(channel=channel)["ok"] is True
    assert error_of(lambda: bot.conversations_archive(channel=channel)) == "already_archived"
    assert bot.conversations_info(channel=channel)["channel"]["is_archived"] is True
    assert error_of(lambda: bot.chat_postMessage(channel=channel, text="hi")) == "is_archived"
    assert error_of(lambda: bot.conversations_create(name="old-working-group")) == "name_taken"
    live = bot.conversations_list(exclude_archived=True)["channels"]
    every = bot.conversations_list(exclude_archived=False)["channels"]
    assert channel not in [c["id"] for c in live]
    assert channel in [c["id"] for c in every]
    # Bot tokens cannot unarchive (docs.slack.dev conversations.unarchive); a user token can.
    assert error_of(lambda: bot.conversations_unarchive(channel=channel)) == (
        "user_is_bot")
    assert ana.conversations_unarchive(channel=channel)["ok"] is True
    assert error_of(lambda: ana.conversations_unarchive(channel=channel)) == "not_archived"
    assert bot.chat_postMessage(channel=channel, text="back")["ok"] is True


def test_topic_and_purpose(bot: WebClient) -> None:
    channel = new_channel(bot, "topics")
    me = bot.auth_test()["user_id"]
    answer = bot.conversations_setTopic(channel=channel, topic="Step 2 <plan> & more")
    assert answer["channel"]["topic"]["value"] == "Step 2 <plan> & more"
    bot.conversations_setPurpose(channel=channel, purpose="Coordinate the alliance")
    info = bot.conversations_info(channel=channel)["channel"]
    assert info["topic"]["value"] == "Step 2 <plan> & more"
    assert info["topic"]["creator"] == me
    assert info["purpose"]["value"] == "Coordinate the alliance"


def test_private_channels_are_only_listed_for_members(bot: WebClient, ana: WebClient) -> None:
    secret = bot.conversations_create(name="steering", is_private=True)["channel"]
    assert secret["is_private"] is True
    public_only = [c["id"] for c in bot.conversations_list()["channels"]]
    both = [
        c["id"] for c in bot.conversations_list(types="public_channel,private_channel")["channels"]
    ]
    assert secret["id"] not in public_only and secret["id"] in both
    assert ana.conversations_list(types="private_channel")["channels"] == []
    assert error_of(lambda: ana.conversations_info(channel=secret["id"])) == "channel_not_found"


# ---------------------------------------------------------------------- people, invites


def test_invite_members_found_by_email(
    bot: WebClient, ana: WebClient, admin: Callable[..., Any]
) -> None:
    admin("POST", "/_sandbox/people", {"email": BEN, "name": "Ben Okafor"})
    ben = bot.users_lookupByEmail(email=BEN)["user"]
    assert re.match(r"^U[A-Z0-9]{10}$", ben["id"])
    assert ben["real_name"] == "Ben Okafor" and ben["profile"]["email"] == BEN
    assert bot.users_info(user=ben["id"])["user"]["id"] == ben["id"]
    assert error_of(lambda: bot.users_lookupByEmail(email="nobody@example.org")) == (
        "users_not_found"
    )
    assert error_of(lambda: bot.users_info(user="UNOPE000000")) == "user_not_found"

    channel = new_channel(bot, "partners")
    ana_id = ana.auth_test()["user_id"]
    assert error_of(lambda: ana.chat_postMessage(channel=channel, text="hi")) == "not_in_channel"
    answer = bot.conversations_invite(channel=channel, users=[ben["id"], ana_id])
    assert answer["channel"]["num_members"] == 3
    assert ana.chat_postMessage(channel=channel, text="hi")["ok"] is True
    assert error_of(lambda: bot.conversations_invite(channel=channel, users=ben["id"])) == (
        "already_in_channel"
    )
    me = bot.auth_test()["user_id"]
    assert error_of(lambda: bot.conversations_invite(channel=channel, users=me)) == (
        "cant_invite_self"
    )
    assert error_of(lambda: bot.conversations_invite(channel=channel, users="UNOPE000000")) == (
        "user_not_found"
    )
    ids = [u["id"] for u in bot.users_list()["members"]]
    assert {ben["id"], ana_id, me} <= set(ids)


# ---------------------------------------------------------------------- messages


def test_post_with_metadata_update_and_history(bot: WebClient, ana: WebClient) -> None:
    channel = new_channel(bot, "actions")
    metadata = {"event_type": "mcm_item", "event_payload": {"key": "step2-map", "rev": 1}}
    posted = bot.chat_postMessage(channel=channel, text="Map the services", metadata=metadata)
    assert posted["channel"] == channel and TS.match(posted["ts"])
    assert posted["message"]["text"] == "Map the services"
    assert posted["message"]["metadata"] == metadata
    assert posted["message"]["bot_id"] == bot.auth_test()["bot_id"]

    changed = {"event_type": "mcm_item", "event_payload": {"key": "step2-map", "rev": 2}}
    updated = bot.chat_update(channel=channel, ts=posted["ts"], text="Map it", metadata=changed)
    assert updated["ts"] == posted["ts"] and updated["text"] == "Map it"

    plain = bot.conversations_history(channel=channel)["messages"]
    assert [m["text"] for m in plain] == ["Map it"]
    assert "metadata" not in plain[0]
    assert TS.match(plain[0]["edited"]["ts"])
    full = bot.conversations_history(channel=channel, include_all_metadata=True)["messages"]
    assert full[0]["metadata"] == changed

    bot.conversations_invite(channel=channel, users=ana.auth_test()["user_id"])
    assert error_of(lambda: ana.chat_update(channel=channel, ts=posted["ts"], text="x")) == (
        "cant_update_message"
    )
    assert error_of(lambda: bot.chat_update(channel=channel, ts="1.000001", text="x")) == (
        "message_not_found"
    )
    with pytest.warns(UserWarning, match="text"):  # the SDK warns, the API refuses
        assert error_of(lambda: bot.chat_postMessage(channel=channel, text="")) == "no_text"
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "*bold*"}}]
    with_blocks = bot.chat_postMessage(channel=channel, text="fallback", blocks=blocks)
    assert with_blocks["message"]["blocks"] == blocks


def test_ts_strictly_increase(bot: WebClient) -> None:
    channel = new_channel(bot, "stamps")
    stamps = [bot.chat_postMessage(channel=channel, text=str(i))["ts"] for i in range(5)]
    keys = [tuple(int(p) for p in ts.split(".")) for ts in stamps]
    assert keys == sorted(keys) and len(set(stamps)) == 5


def test_member_reactions_read_back(bot: WebClient, ana: WebClient) -> None:
    channel = new_channel(bot, "reacting")
    ts = bot.chat_postMessage(channel=channel, text="Done?")["ts"]
    ana_id = ana.auth_test()["user_id"]
    assert ana.reactions_add(channel=channel, timestamp=ts, name="white_check_mark")["ok"]
    bot.reactions_add(channel=channel, timestamp=ts, name=":white_check_mark:")
    assert error_of(
        lambda: ana.reactions_add(channel=channel, timestamp=ts, name="white_check_mark")
    ) == ("already_reacted")
    me = bot.auth_test()["user_id"]
    want = [{"name": "white_check_mark", "users": [ana_id, me], "count": 2}]
    assert bot.conversations_history(channel=channel)["messages"][0]["reactions"] == want
    with pytest.raises(SlackApiError) as refused:  # the manifest's bot has no pins:read
        bot.pins_list(channel=channel)
    answer = refused.value.response
    assert (answer["error"], answer["needed"]) == ("missing_scope", "pins:read")
    assert "chat:write" in answer["provided"].split(",")
    assert bot.reactions_get(channel=channel, timestamp=ts)["ok"]  # reactions:read: serve
    got = ana.reactions_get(channel=channel, timestamp=ts, full=True)
    assert got["type"] == "message" and got["channel"] == channel
    assert got["message"]["reactions"] == want
    ana.reactions_remove(channel=channel, timestamp=ts, name="white_check_mark")
    assert error_of(
        lambda: ana.reactions_remove(channel=channel, timestamp=ts, name="white_check_mark")
    ) == ("no_reaction")
    after = ana.reactions_get(channel=channel, timestamp=ts)["message"]["reactions"]
    assert after == [{"name": "white_check_mark", "users": [me], "count": 1}]
    assert error_of(
        lambda: ana.reactions_add(channel=channel, timestamp="1.000001", name="eyes")
    ) == ("message_not_found")


def test_threads(bot: WebClient, ana: WebClient) -> None:
    channel = new_channel(bot, "threads")
    parent = bot.chat_postMessage(channel=channel, text="Plenary on Monday?")["ts"]
    bot.conversations_invite(channel=channel, users=ana.auth_test()["user_id"])
    first = ana.chat_postMessage(channel=channel, text="Yes", thread_ts=parent)
    assert first["message"]["thread_ts"] == parent
    second = bot.chat_postMessage(channel=channel, text="Noted", thread_ts=parent)["ts"]
    thread = bot.conversations_replies(channel=channel, ts=parent)["messages"]
    assert [m["text"] for m in thread] == ["Plenary on Monday?", "Yes", "Noted"]
    assert thread[0]["reply_count"] == 2 and thread[0]["latest_reply"] == second
    assert all(m["thread_ts"] == parent for m in thread)
    # A reply's ts gives the same thread; replies stay out of the channel history.
    assert bot.conversations_replies(channel=channel, ts=second)["messages"] == thread
    top = bot.conversations_history(channel=channel)["messages"]
    assert [m["text"] for m in top] == ["Plenary on Monday?"]
    assert top[0]["reply_count"] == 2 and top[0]["thread_ts"] == parent
    later = bot.conversations_replies(channel=channel, ts=parent, oldest=first["ts"])
    assert [m["text"] for m in later["messages"]] == ["Plenary on Monday?", "Noted"]
    assert error_of(lambda: bot.conversations_replies(channel=channel, ts="1.000001")) == (
        "thread_not_found"
    )
    assert error_of(
        lambda: bot.chat_postMessage(channel=channel, text="x", thread_ts="1.000001")
    ) == ("thread_not_found")


def test_pins(bot: WebClient) -> None:
    channel = new_channel(bot, "pins")
    ts = bot.chat_postMessage(channel=channel, text="Action plan")["ts"]
    assert bot.pins_add(channel=channel, timestamp=ts)["ok"] is True
    assert error_of(lambda: bot.pins_add(channel=channel, timestamp=ts)) == "already_pinned"
    history = bot.conversations_history(channel=channel)
    assert history["pin_count"] == 1
    assert history["messages"][0]["pinned_to"] == [channel]


# ---------------------------------------------------------------------- paging


def test_conversations_list_pages_with_cursor(bot: WebClient) -> None:
    made = [new_channel(bot, f"page-{i}") for i in range(5)]
    first = bot.conversations_list(limit=2)
    assert len(first["channels"]) == 2 and first["response_metadata"]["next_cursor"]
    seen: list[list[str]] = []
    cursors: list[str] = []
    for page in bot.conversations_list(limit=2):  # slack_sdk follows next_cursor itself
        seen.append([c["id"] for c in page["channels"]])
        cursors.append(page["response_metadata"]["next_cursor"])
    assert [len(p) for p in seen] == [2, 2, 1]
    assert cursors[-1] == "" and all(cursors[:-1])
    assert [c for p in seen for c in p] == made
    assert error_of(lambda: bot.conversations_list(cursor="bm90LWEtY3Vyc29y")) == ("invalid_cursor")


def test_history_window_and_pages(bot: WebClient) -> None:
    channel = new_channel(bot, "window")
    stamps = [bot.chat_postMessage(channel=channel, text=f"m{i}")["ts"] for i in range(5)]
    page = bot.conversations_history(channel=channel, limit=2)
    assert [m["text"] for m in page["messages"]] == ["m4", "m3"]
    assert page["has_more"] is True
    texts = [
        m["text"]
        for p in bot.conversations_history(channel=channel, limit=2)
        for m in p["messages"]
    ]
    assert texts == ["m4", "m3", "m2", "m1", "m0"]
    between = bot.conversations_history(channel=channel, oldest=stamps[1], latest=stamps[3])
    assert [m["text"] for m in between["messages"]] == ["m2"]
    assert "response_metadata" not in between.data and between["has_more"] is False
    inclusive = bot.conversations_history(
        channel=channel, oldest=stamps[1], latest=stamps[3], inclusive=True
    )
    assert [m["text"] for m in inclusive["messages"]] == ["m3", "m2", "m1"]
    assert bot.conversations_history(channel=channel, oldest=stamps[4])["messages"] == []
    assert error_of(lambda: bot.conversations_history(channel=channel, oldest="soon")) == (
        "invalid_ts_oldest"
    )


# ---------------------------------------------------------------------- HTTP level


def test_unknown_method_and_stats(bot: WebClient, admin: Callable[..., Any]) -> None:
    with pytest.raises(SlackApiError) as caught:
        bot.api_call("conversations.rename")
    assert caught.value.response.status_code == 404
    assert caught.value.response["error"] == "unknown_method"
    admin("POST", "/_sandbox/stats/reset")
    channel = new_channel(bot, "counted")
    bot.chat_postMessage(channel=channel, text="one")
    stats = admin("GET", "/_sandbox/stats")["slack"]
    assert stats["POST /api/chat.postMessage"] == {"200": 1}
    assert stats["POST /api/conversations.create"] == {"200": 1}


def test_injected_error_fault_uses_slack_envelope(
    bot: WebClient, admin: Callable[..., Any]
) -> None:
    fault = {"service": "slack", "method": "POST", "path": "/api/chat.*", "mode": "error"}
    admin("POST", "/_sandbox/faults", {**fault, "status": 503, "count": 1})
    channel = new_channel(bot, "faulty")
    with pytest.raises(SlackApiError) as caught:
        bot.chat_postMessage(channel=channel, text="x")
    assert caught.value.response.status_code == 503
    assert caught.value.response["error"] == "service_unavailable"
    assert bot.conversations_history(channel=channel)["messages"] == []
    assert bot.chat_postMessage(channel=channel, text="x")["ok"] is True


def test_page_shows_channels_messages_reactions_threads_escaped(
    sandbox: SandboxServer, bot: WebClient, ana: WebClient
) -> None:
    channel = new_channel(bot, "shown")
    ts = bot.chat_postMessage(channel=channel, text="<script>alert(1)</script> & co")["ts"]
    ana.reactions_add(channel=channel, timestamp=ts, name="tada")
    bot.chat_postMessage(channel=channel, text="a reply", thread_ts=ts)
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    html = opener.open(sandbox.url + "/", timeout=10).read().decode()
    assert "#shown" in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; co" in html
    assert "<script>alert" not in html
    assert ":tada: 1 (Ana)" in html
    assert 'class="thread"' in html and "a reply" in html


# ---------------------------------------------------------------------- rate limits


def test_tier_limit_answers_429_until_the_window_passes(sandbox_rl: SandboxServer) -> None:
    client = slack_client(sandbox_rl)
    for i in range(20):  # conversations.create is Tier 2: 20 per minute
        client.conversations_create(name=f"burst-{i}")
    with pytest.raises(SlackApiError) as caught:
        client.conversations_create(name="one-too-many")
    response = caught.value.response
    assert response.status_code == 429
    assert response["error"] == "ratelimited"
    assert 1 <= int(response.headers["Retry-After"]) <= 60
    # Other methods have their own allowance; a member's token its own bucket.
    assert client.conversations_list()["ok"] is True
    member = slack_client(sandbox_rl, member_token(sandbox_rl, ANA, "slack"))
    assert member.conversations_create(name="members-own")["ok"] is True
    sandbox_rl.clock.advance(int(response.headers["Retry-After"]))  # type: ignore[attr-defined]
    assert client.conversations_create(name="one-too-many")["ok"] is True


def test_posts_are_limited_per_channel_with_a_short_burst(sandbox_rl: SandboxServer) -> None:
    client = slack_client(sandbox_rl)
    busy, quiet = new_channel(client, "busy"), new_channel(client, "quiet")
    for i in range(5):
        client.chat_postMessage(channel=busy, text=f"burst {i}")
    with pytest.raises(SlackApiError) as caught:
        client.chat_postMessage(channel=busy, text="too fast")
    assert caught.value.response.status_code == 429
    assert int(caught.value.response.headers["Retry-After"]) <= 5
    assert client.chat_postMessage(channel=quiet, text="elsewhere")["ok"] is True
    sandbox_rl.clock.advance(5)  # type: ignore[attr-defined]
    assert client.chat_postMessage(channel=busy, text="later")["ok"] is True
    texts = [m["text"] for m in client.conversations_history(channel=busy)["messages"]]
    assert "too fast" not in texts and texts[0] == "later"


def test_sdk_rate_limit_handler_recovers(sandbox_rl: SandboxServer) -> None:
    # A one-second real-time window, so the SDK's own sleep (Retry-After + jitter) lets it in.
    slack = sandbox_rl.app.service("slack")
    slack.limits = SlackLimits(time.time, per_window={"auth.test": 2}, window=1.0)  # type: ignore[attr-defined]
    client = slack_client(sandbox_rl)
    client.retry_handlers.append(RateLimitErrorRetryHandler(max_retry_count=3))
    started = time.monotonic()
    answers = [client.auth_test()["ok"] for _ in range(3)]
    assert answers == [True, True, True]
    assert time.monotonic() - started >= 1.0  # the third call was held back by a 429
    stats = sandbox_rl.app.stats()["slack"]["POST /api/auth.test"]
    assert stats == {"200": 3, "429": 1}


# ---------------------------------------------------------------------- concurrency, restart


def test_concurrent_posters_get_unique_ordered_ts(sandbox: SandboxServer, bot: WebClient) -> None:
    channel = new_channel(bot, "crowded")
    clients = [slack_client(sandbox) for _ in range(4)]

    def post_ten(client: WebClient) -> list[str]:
        return [client.chat_postMessage(channel=channel, text="x")["ts"] for _ in range(10)]

    with ThreadPoolExecutor(max_workers=4) as pool:
        stamps = [ts for batch in pool.map(post_ten, clients) for ts in batch]
    assert len(set(stamps)) == 40
    history = [m["ts"] for m in bot.conversations_history(channel=channel)["messages"]]
    assert sorted(history) == sorted(stamps)
    assert history == sorted(history, key=lambda ts: tuple(map(int, ts.split("."))), reverse=True)


def test_channels_messages_and_ts_order_survive_a_restart(tmp_path: Path) -> None:
    with SandboxServer(port=0, data_dir=tmp_path, rate_limits=False) as first:
        client = slack_client(first)
        channel = new_channel(client, "durable")
        before = client.chat_postMessage(channel=channel, text="before")["ts"]
    with SandboxServer(port=0, data_dir=tmp_path, rate_limits=False) as second:
        client = slack_client(second)
        assert client.conversations_info(channel=channel)["channel"]["name"] == "durable"
        after = client.chat_postMessage(channel=channel, text="after")["ts"]
        texts = [m["text"] for m in client.conversations_history(channel=channel)["messages"]]
    assert texts == ["after", "before"]
    assert tuple(map(int, after.split("."))) > tuple(map(int, before.split(".")))


# ---------------------------------------------------------------------- what Slack refuses


def test_made_up_tokens_are_refused_and_issued_ones_accepted(sandbox: SandboxServer) -> None:
    for made_up in ("xoxb-1234-5678-madeup", "xoxp-1234-5678-madeup", "sandbox-member:a@b.org"):
        assert error_of(slack_client(sandbox, made_up).auth_test) == "invalid_auth"
    assert slack_client(sandbox).auth_test()["bot_id"]
    assert slack_client(sandbox, member_token(sandbox, ANA, "slack")).auth_test()["user_id"]


def test_a_bot_reads_only_channels_it_is_in(bot: WebClient, ana: WebClient) -> None:
    channel = new_channel(ana, "members-only-talk")
    ana.chat_postMessage(channel=channel, text="hello")
    ts = ana.conversations_history(channel=channel)["messages"][0]["ts"]
    assert error_of(lambda: bot.conversations_history(channel=channel)) == "not_in_channel"
    assert error_of(lambda: bot.conversations_replies(channel=channel, ts=ts)) == (
        "not_in_channel")
    bot.conversations_join(channel=channel)
    assert [m["text"] for m in bot.conversations_history(channel=channel)["messages"]] == [
        "hello"]


def test_scopes_are_in_the_header_and_missing_ones_named(
    sandbox: SandboxServer, bot: WebClient, admin: Callable[..., Any]
) -> None:
    scopes = bot.auth_test().headers["x-oauth-scopes"].split(",")
    assert "chat:write" in scopes and "pins:read" not in scopes
    admin("POST", "/_sandbox/settings", {"slack_bot_scopes": ["channels:read"]})
    with pytest.raises(SlackApiError) as refused:
        bot.conversations_create(name="no-scope")
    answer = refused.value.response
    assert (answer["error"], answer["needed"], answer["provided"]) == (
        "missing_scope", "channels:manage", "channels:read")


def test_slackbot_is_listed_and_pins_can_be_read(bot: WebClient, ana: WebClient) -> None:
    members = bot.users_list()["members"]
    slackbot = next(m for m in members if m["id"] == "USLACKBOT")
    assert slackbot["name"] == "slackbot" and "email" not in slackbot["profile"]
    channel = new_channel(bot, "pinned")
    ts = bot.chat_postMessage(channel=channel, text="Welcome")["ts"]
    bot.pins_add(channel=channel, timestamp=ts)
    bot.conversations_invite(channel=channel, users=ana.auth_test()["user_id"])
    pins = ana.pins_list(channel=channel)["items"]
    assert [(p["type"], p["message"]["text"]) for p in pins] == [("message", "Welcome")]
    assert error_of(lambda: bot.pins_list(channel=channel)) == "missing_scope"  # no pins:read
