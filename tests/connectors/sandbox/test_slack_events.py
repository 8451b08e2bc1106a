"""The sandbox's Slack app: url_verification, signed events, Slack's retries, button presses.

A small loopback HTTP server stands for the app's Request URLs and records what it gets.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

import pytest

from connectors.sandbox.clients.testing import admin, issued, member_token, slack_client
from connectors.sandbox.core.server import SandboxServer
from sync.serve.verify import slack_problem

ANA = "ana@example.org"


class Receiver:
    """Records requests; answers the challenge; fails the first ``fail`` event posts."""

    def __init__(self, fail: int = 0) -> None:
        self.got: list[dict[str, Any]] = []
        self.fail = fail
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                headers = {k.lower(): v for k, v in self.headers.items()}
                receiver.got.append({"path": self.path, "body": body, "headers": headers})
                data: Any = {}
                if headers.get("content-type", "").startswith("application/json"):
                    data = json.loads(body)
                answer = b""
                status = 200
                if data.get("type") == "url_verification":
                    answer = json.dumps({"challenge": data["challenge"]}).encode()
                elif data.get("type") == "event_callback" and receiver.fail > 0:
                    receiver.fail -= 1
                    status = 500
                self.send_response(status)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def events(self) -> list[dict[str, Any]]:
        return [g for g in self.got if json.loads(g["body"] or b"{}").get("type")
                == "event_callback"]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    made = Receiver()
    yield made
    made.server.shutdown()


def wait_for(check: Any, timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while not (found := check()):
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)
    return found


def test_events_are_signed_and_retried_on_slacks_schedule(
        sandbox: SandboxServer, receiver: Receiver) -> None:
    answer = admin(sandbox, "POST", "/_sandbox/slack/app", {
        "event_url": f"{receiver.url}/events", "interactivity_url": f"{receiver.url}/i",
        "retry_delays": [0, 0.2, 0.2]})
    assert answer["ok"] is True
    assert json.loads(receiver.got[0]["body"])["type"] == "url_verification"
    bot = slack_client(sandbox)
    channel = bot.conversations_create(name="events")["channel"]["id"]
    posted = bot.chat_postMessage(channel=channel, text="item", blocks=[
        {"type": "actions", "block_id": "b", "elements": [
            {"type": "button", "action_id": "mcm_status_done", "value": "x",
             "text": {"type": "plain_text", "text": "Done"}}]}])
    ana = slack_client(sandbox, member_token(sandbox, ANA, "slack"))
    ana.conversations_join(channel=channel)
    wait_for(receiver.events)  # the message event of the post itself
    receiver.got.clear()
    receiver.fail = 1  # the reaction's first delivery fails: Slack retries it
    ana.reactions_add(channel=channel, timestamp=posted["ts"], name="white_check_mark")
    wait_for(lambda: len(receiver.events()) >= 2)
    first, retry = receiver.events()[:2]
    assert first["body"] == retry["body"]  # the same event_id, again
    assert "x-slack-retry-num" not in first["headers"]
    assert retry["headers"]["x-slack-retry-num"] == "1"
    assert retry["headers"]["x-slack-retry-reason"] == "http_error"
    for got in (first, retry):
        assert slack_problem(got["body"], issued(sandbox)["slack"]["signing_secret"],
                             got["headers"]["x-slack-request-timestamp"],
                             got["headers"]["x-slack-signature"]) is None
    event = json.loads(first["body"])["event"]
    assert event["item"] == {"type": "message", "channel": channel, "ts": posted["ts"]}
    failed = admin(sandbox, "GET", "/_sandbox/slack/deliveries?failed=1")
    assert [f["reason"] for f in failed] == ["http_error"]
    page = _page(sandbox)
    assert "failed deliveries (1)" in page

    receiver.got.clear()
    pressed = admin(sandbox, "POST", "/_sandbox/slack/press", {
        "as": ANA, "channel": channel, "ts": posted["ts"], "action_id": "mcm_status_done"})
    assert pressed["ok"] is True
    form = parse_qs(receiver.got[0]["body"].decode())
    payload = json.loads(form["payload"][0])
    assert payload["type"] == "block_actions"
    assert payload["actions"][0]["action_id"] == "mcm_status_done"
    assert payload["container"]["message_ts"] == posted["ts"]


def test_an_event_url_that_fails_the_challenge_is_refused(sandbox: SandboxServer) -> None:
    import urllib.error

    with pytest.raises(urllib.error.HTTPError) as refused:
        admin(sandbox, "POST", "/_sandbox/slack/app", {"event_url": "http://127.0.0.1:9/x"})
    assert refused.value.code == 400


def _page(sandbox: SandboxServer) -> str:
    import urllib.request

    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(f"{sandbox.url}/", timeout=5) as answer:
        return str(answer.read().decode())
