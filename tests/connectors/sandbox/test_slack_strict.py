"""Slack's delivery and validation rules in the sandbox (issue 22).

Events only from channels the bot is in; Block Kit and emoji validation; the retry schedule
and ``X-Slack-No-Retry``; ``message_changed``/``message_deleted``; ``response_url``; the
fields of slash commands, envelopes and message events; rate limits per app.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

import pytest
from slack_sdk.errors import SlackApiError

from connectors.sandbox.clients.testing import admin, member_token, slack_client
from connectors.sandbox.core.server import SandboxServer
from connectors.sandbox.slack import events as slack_events
from connectors.sandbox.slack.emulator import rate_bucket

ANA = "ana@example.org"


class Receiver:
    """The app's Request URLs: records posts; ``answer(data)`` -> (status, headers, delay)."""

    def __init__(self) -> None:
        self.got: list[dict[str, Any]] = []
        self.answer: Any = lambda data: (200, {}, 0.0)
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                headers = {k.lower(): v for k, v in self.headers.items()}
                data: Any = {}
                if headers.get("content-type", "").startswith("application/json"):
                    data = json.loads(body)
                receiver.got.append({"path": self.path, "body": body, "headers": headers,
                                     "data": data, "at": time.monotonic()})
                status, extra, delay = 200, {}, 0.0
                answer = b""
                if data.get("type") == "url_verification":
                    answer = json.dumps({"challenge": data["challenge"]}).encode()
                else:
                    status, extra, delay = receiver.answer(data)
                time.sleep(delay)
                self.send_response(status)
                for key, value in extra.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def events(self) -> list[dict[str, Any]]:
        return [g for g in self.got if g["data"].get("type") == "event_callback"]


@pytest.fixture
def receiver(sandbox: SandboxServer) -> Iterator[Receiver]:
    made = Receiver()
    admin(sandbox, "POST", "/_sandbox/slack/app", {
        "event_url": f"{made.url}/events", "interactivity_url": f"{made.url}/i",
        "command_url": f"{made.url}/c", "retry_delays": [0, 0, 0.3, 0.3]})
    yield made
    made.server.shutdown()


def wait_for(check: Any, timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while not (found := check()):
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)
    return found


def _channel(sandbox: SandboxServer, *, bot_joins: bool = True) -> tuple[Any, Any, str]:
    """A public channel Ana made, the bot in it or not: (bot client, Ana's client, id)."""
    bot = slack_client(sandbox)
    ana = slack_client(sandbox, member_token(sandbox, ANA, "slack"))
    channel = ana.conversations_create(name=f"c{time.monotonic_ns() % 10**8}")["channel"]["id"]
    if bot_joins:
        bot.conversations_join(channel=channel)
    return bot, ana, channel


# ---------------------------------------------------------------------- membership


def test_no_events_from_a_channel_the_bot_is_not_in(sandbox: SandboxServer,
                                                    receiver: Receiver) -> None:
    bot, ana, channel = _channel(sandbox, bot_joins=False)
    posted = ana.chat_postMessage(channel=channel, text="hello")
    ana.reactions_add(channel=channel, timestamp=posted["ts"], name="eyes")
    time.sleep(0.3)
    assert receiver.events() == []
    bot.conversations_join(channel=channel)
    ana.reactions_add(channel=channel, timestamp=posted["ts"], name="white_check_mark")
    got = wait_for(receiver.events)
    assert got[0]["data"]["event"]["type"] == "reaction_added"


# ---------------------------------------------------------------------- Block Kit


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


INVALID = {
    "section text over 3000": [_section("x" * 3001)],
    "more than 50 blocks": [_section("x")] * 51,
    "header not plain_text": [{"type": "header", "text": {"type": "mrkdwn", "text": "h"}}],
    "header text over 150": [{"type": "header",
                              "text": {"type": "plain_text", "text": "h" * 151}}],
    "section without text or fields": [{"type": "section"}],
    "more than 10 context elements": [{"type": "context", "elements": [
        {"type": "mrkdwn", "text": "c"}] * 11}],
    "unknown block type": [{"type": "banner", "text": "x"}],
}


@pytest.mark.parametrize("blocks", INVALID.values(), ids=INVALID.keys())
def test_invalid_blocks_are_refused(sandbox: SandboxServer, blocks: list[Any]) -> None:
    bot = slack_client(sandbox)
    channel = bot.conversations_create(name="blocks")["channel"]["id"]
    with pytest.raises(SlackApiError) as refused:
        bot.chat_postMessage(channel=channel, text="t", blocks=blocks)
    assert refused.value.response["error"] == "invalid_blocks"
    assert refused.value.response["response_metadata"]["messages"][0].startswith("[ERROR]")
    posted = bot.chat_postMessage(channel=channel, text="t", blocks=[_section("ok")])
    with pytest.raises(SlackApiError) as again:
        bot.chat_update(channel=channel, ts=posted["ts"], text="t", blocks=blocks)
    assert again.value.response["error"] == "invalid_blocks"


def test_valid_blocks_at_the_limits_pass(sandbox: SandboxServer) -> None:
    bot = slack_client(sandbox)
    channel = bot.conversations_create(name="limits")["channel"]["id"]
    blocks = [{"type": "header", "text": {"type": "plain_text", "text": "h" * 150}},
              _section("x" * 3000),
              {"type": "context", "elements": [{"type": "mrkdwn", "text": "c"}] * 10},
              {"type": "section", "fields": [{"type": "mrkdwn", "text": "f"}]}]
    blocks += [{"type": "divider"}] * (50 - len(blocks))
    assert bot.chat_postMessage(channel=channel, text="t", blocks=blocks)["ok"]


def test_an_unknown_emoji_is_invalid_name(sandbox: SandboxServer) -> None:
    bot = slack_client(sandbox)
    channel = bot.conversations_create(name="emoji")["channel"]["id"]
    ts = bot.chat_postMessage(channel=channel, text="t")["ts"]
    with pytest.raises(SlackApiError) as refused:
        bot.reactions_add(channel=channel, timestamp=ts, name="not_an_emoji_at_all")
    assert refused.value.response["error"] == "invalid_name"
    for name in ("white_check_mark", "+1", "thumbsup::skin-tone-3", "hourglass_flowing_sand"):
        assert bot.reactions_add(channel=channel, timestamp=ts, name=name)["ok"]


def test_post_to_a_channel_by_name(sandbox: SandboxServer) -> None:
    bot = slack_client(sandbox)
    channel = bot.conversations_create(name="by-name")["channel"]["id"]
    assert bot.chat_postMessage(channel="#by-name", text="t")["channel"] == channel
    assert bot.chat_postMessage(channel="by-name", text="t")["channel"] == channel
    with pytest.raises(SlackApiError) as refused:
        bot.chat_postMessage(channel="#no-such-channel", text="t")
    assert refused.value.response["error"] == "channel_not_found"


# ---------------------------------------------------------------------- delivery


def test_the_retry_schedule_is_slacks() -> None:
    assert slack_events.RETRY_DELAYS == (0.0, 0.0, 60.0, 300.0)  # original + 3 retries
    assert slack_events.TIMEOUT == 3.0


def test_a_failure_with_no_retry_is_not_retried(sandbox: SandboxServer,
                                                receiver: Receiver) -> None:
    _bot, ana, channel = _channel(sandbox)
    receiver.answer = lambda data: (500, {"X-Slack-No-Retry": "1"}, 0.0)
    ana.chat_postMessage(channel=channel, text="hi")
    wait_for(receiver.events)
    time.sleep(0.8)  # past the scaled-down schedule
    assert len(receiver.events()) == 1
    failed = admin(sandbox, "GET", "/_sandbox/slack/deliveries?failed=1")
    assert failed[-1]["reason"] == "no_retry"


def test_failures_are_retried_three_times(sandbox: SandboxServer, receiver: Receiver) -> None:
    _bot, ana, channel = _channel(sandbox)
    receiver.answer = lambda data: (503, {}, 0.0)
    ana.chat_postMessage(channel=channel, text="hi")
    got = wait_for(lambda: len(receiver.events()) >= 4 and receiver.events())
    time.sleep(0.5)
    assert len(receiver.events()) == 4
    assert [g["headers"].get("x-slack-retry-num") for g in got] == [None, "1", "2", "3"]
    assert got[1]["at"] - got[0]["at"] < 0.25  # the first retry is nearly immediate


def test_a_slow_answer_overlaps_its_quick_retry(sandbox: SandboxServer, receiver: Receiver,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(slack_events, "TIMEOUT", 0.3)
    _bot, ana, channel = _channel(sandbox)
    receiver.answer = lambda data: (200, {}, 0.6 if len(receiver.events()) == 1 else 0.0)
    ana.chat_postMessage(channel=channel, text="hi")
    got = wait_for(lambda: len(receiver.events()) >= 2 and receiver.events())
    assert got[1]["headers"]["x-slack-retry-reason"] == "http_timeout"
    assert got[1]["at"] - got[0]["at"] < 0.6  # sent while the first was still being answered


def test_update_and_delete_send_message_changed_and_deleted(
        sandbox: SandboxServer, receiver: Receiver) -> None:
    bot, _ana, channel = _channel(sandbox)
    ts = bot.chat_postMessage(channel=channel, text="v1")["ts"]
    wait_for(receiver.events)
    receiver.got.clear()
    bot.chat_update(channel=channel, ts=ts, text="v2")
    changed = wait_for(receiver.events)[0]["data"]["event"]
    assert changed["subtype"] == "message_changed"
    assert changed["message"]["text"] == "v2" and changed["previous_message"]["text"] == "v1"
    assert changed["message"]["ts"] == ts and changed["message"]["edited"]
    receiver.got.clear()
    bot.chat_delete(channel=channel, ts=ts)
    deleted = wait_for(receiver.events)[0]["data"]["event"]
    assert deleted["subtype"] == "message_deleted" and deleted["deleted_ts"] == ts
    assert deleted["previous_message"]["text"] == "v2"


def test_envelope_and_message_event_fields(sandbox: SandboxServer, receiver: Receiver) -> None:
    _bot, ana, channel = _channel(sandbox)
    ana.chat_postMessage(channel=channel, text="typed")
    envelope = wait_for(receiver.events)[0]["data"]
    assert envelope["authorizations"][0]["is_enterprise_install"] is False
    assert envelope["is_ext_shared_channel"] is False
    assert envelope["event_context"]
    event = envelope["event"]
    assert event["client_msg_id"]
    assert event["blocks"][0]["type"] == "rich_text"


# ---------------------------------------------------------------------- interactivity


def _post(url: str, body: Any) -> tuple[int, Any]:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(request, timeout=5) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_a_press_has_a_working_response_url(sandbox: SandboxServer, receiver: Receiver) -> None:
    bot, _ana, channel = _channel(sandbox)
    posted = bot.chat_postMessage(channel=channel, text="item", blocks=[
        {"type": "actions", "block_id": "b", "elements": [
            {"type": "button", "action_id": "go", "value": "x",
             "text": {"type": "plain_text", "text": "Go"}}]}])
    admin(sandbox, "POST", "/_sandbox/slack/press",
          {"as": ANA, "channel": channel, "ts": posted["ts"], "action_id": "go"})
    press = [g for g in receiver.got if g["path"] == "/i"][0]
    payload = json.loads(parse_qs(press["body"].decode())["payload"][0])
    url = payload["response_url"]
    assert url.startswith(sandbox.url)
    assert payload["is_enterprise_install"] is False
    assert _post(url, {"text": "only you see this"}) == (200, {"ok": True})
    assert _post(url, {"text": "bad", "blocks": [{"type": "section"}]})[0] == 400
    assert _post(url, {"replace_original": True, "text": "replaced"}) == (200, {"ok": True})
    history = bot.conversations_history(channel=channel)["messages"]
    assert history[0]["text"] == "replaced"
    assert _post(url, {"response_type": "in_channel", "text": "for all"})[0] == 200
    assert bot.conversations_history(channel=channel)["messages"][0]["text"] == "for all"
    assert _post(url, {"text": "fifth"})[0] == 200
    assert _post(url, {"text": "sixth"}) == (404, {"ok": False, "error": "used_url"})
    recorded = admin(sandbox, "GET", "/_sandbox/slack/responses")
    assert [r["effect"] for r in recorded] == ["ephemeral", "replaced", "posted", "ephemeral"]


def test_a_slash_command_carries_slacks_fields(sandbox: SandboxServer,
                                               receiver: Receiver) -> None:
    _bot, _ana, channel = _channel(sandbox)
    admin(sandbox, "POST", "/_sandbox/slack/command",
          {"as": ANA, "command": "/alliance", "text": "", "channel": channel})
    form = {k: v[0] for k, v in parse_qs(
        [g for g in receiver.got if g["path"] == "/c"][0]["body"].decode()).items()}
    assert form["team_domain"] and form["channel_name"].startswith("c")
    assert form["is_enterprise_install"] == "false"
    assert _post(form["response_url"], {"text": "later"}) == (200, {"ok": True})


# ---------------------------------------------------------------------- rate limits


def test_rate_limits_are_per_app_not_per_token() -> None:
    bot = {"is_bot": True, "slack_id": "UBOT1"}
    rotated = {"is_bot": True, "slack_id": "UBOT1", "token": "another"}
    assert rate_bucket(bot) == rate_bucket(rotated)
    assert rate_bucket({"slack_id": "UANA"}) != rate_bucket(bot)
    assert rate_bucket({"slack_id": "UANA"}, through_app=True) == rate_bucket(bot)


def test_a_second_token_of_the_app_gets_no_fresh_allowance(sandbox_rl: SandboxServer) -> None:
    """Slack's tiers are "per API method per workspace per app": a member's user token that
    our app was given shares the bot's allowance; their own client's token does not."""
    bot = slack_client(sandbox_rl)
    through_app = slack_client(sandbox_rl, member_token(sandbox_rl, ANA, "slack_app"))
    own_client = slack_client(sandbox_rl, member_token(sandbox_rl, ANA, "slack"))
    me = through_app.auth_test()  # the app's user token acts as the member
    assert me["user_id"] == own_client.auth_test()["user_id"] and "bot_id" not in me
    for i in range(20):  # conversations.create is Tier 2: 20 per minute
        bot.conversations_create(name=f"burst-{i}")
    with pytest.raises(SlackApiError) as caught:
        through_app.conversations_create(name="through-the-app")
    assert caught.value.response.status_code == 429
    assert caught.value.response["error"] == "ratelimited"
    assert own_client.conversations_create(name="own-client")["ok"] is True
    wait = int(caught.value.response.headers["Retry-After"])
    sandbox_rl.clock.advance(wait)  # type: ignore[attr-defined]
    for i in range(19):  # the window passed: the app's calls count together again
        through_app.conversations_create(name=f"app-{i}")
    bot.conversations_create(name="bot-20th")
    with pytest.raises(SlackApiError):
        bot.conversations_create(name="bot-21st")
