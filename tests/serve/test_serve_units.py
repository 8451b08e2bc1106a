"""Units of ``mcm-sync serve`` without servers: signatures, the queue, Socket Mode envelopes."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from pathlib import Path

import pytest

from sync.core.services import Secrets
from sync.serve.hooks import HookApp
from sync.serve.socket_mode import handle_envelope
from sync.serve.verify import (
    mailchimp_problem,
    slack_problem,
    slack_signature,
    trello_problem,
)
from sync.state.events import MAX_ATTEMPTS, EventQueue
from tests.support.serving import SCOPE


def test_trello_signature_covers_body_and_callback_url() -> None:
    body = b'{"action":{}}'
    good = base64.b64encode(hmac.new(b"s", body + SCOPE.trello_callback_url.encode(),
                                     hashlib.sha1).digest()).decode()
    assert trello_problem(body, SCOPE.trello_callback_url, "s", good) is None
    assert trello_problem(body, "https://other/hooks/trello", "s", good) is not None
    assert trello_problem(body + b" ", SCOPE.trello_callback_url, "s", good) is not None
    assert trello_problem(body, SCOPE.trello_callback_url, "", good) is not None  # no secret


def test_slack_signature_and_replay_window() -> None:
    body = b"payload"
    now = time.time()
    stamp = str(int(now))
    assert slack_problem(body, "k", stamp, slack_signature("k", stamp, body), now) is None
    assert "window" in str(slack_problem(body, "k", stamp, slack_signature("k", stamp, body),
                                         now + 301))
    assert slack_problem(body, "k", stamp, slack_signature("other", stamp, body), now)
    assert slack_problem(body, "", stamp, slack_signature("", stamp, body), now)
    assert mailchimp_problem("abc", "abc") is None
    assert mailchimp_problem("abd", "abc") and mailchimp_problem(None, "abc")


def test_the_queue_stores_a_delivery_once_and_gives_up_after_retries(tmp_path: Path) -> None:
    with EventQueue(tmp_path / "state.db") as queue:
        assert queue.put("slack", "Ev1", "reaction_added", "1.2", {"user": "U1"}) is True
        assert queue.put("slack", "Ev1", "reaction_added", "1.2", {"user": "U1"}) is False
        [event] = queue.pending()
        for _ in range(MAX_ATTEMPTS - 1):
            assert queue.retry_later([event.id], "down") == []
        assert queue.retry_later([event.id], "down") == [event.id]
        assert queue.pending() == [] and queue.counts() == {"failed": 1}
        with pytest.raises(ValueError):
            queue.put("slack", "Ev2", "x", "", {"token": "xoxb-secret"})  # never a credential


def test_socket_mode_envelopes_go_to_the_same_queue(tmp_path: Path) -> None:
    woken: list[int] = []
    with EventQueue(tmp_path / "state.db") as queue:
        app = HookApp(queue, Secrets("", "", ""), SCOPE, lambda: woken.append(1),
                      command=lambda form: f"hello {form['user_id']}")
        event = {"type": "event_callback", "event_id": "Ev9", "event": {
            "type": "reaction_added", "user": "U1", "reaction": "x",
            "item": {"type": "message", "channel": "C1", "ts": "1.5"}}}
        assert handle_envelope(app, "events_api", event) is None
        press = {"type": "block_actions", "user": {"id": "U2"}, "trigger_id": "t",
                 "container": {"channel_id": "C1", "message_ts": "1.5"},
                 "actions": [{"action_id": "mcm_status_done", "action_ts": "9.9"}]}
        assert handle_envelope(app, "interactive", press) is None
        answer = handle_envelope(app, "slash_commands", {"user_id": "U3", "command": "/alliance"})
        assert answer == {"response_type": "ephemeral", "text": "hello U3"}
        # Our own bot's reaction, another channel, a malformed envelope: nothing stored.
        handle_envelope(app, "events_api", {**event, "event_id": "Ev10", "event": {
            **event["event"], "user": "UBOT"}})
        handle_envelope(app, "events_api", {**event, "event_id": "Ev11", "event": {
            **event["event"], "item": {"type": "message", "channel": "C2", "ts": "1"}}})
        handle_envelope(app, "events_api", {"type": "event_callback"})
        stored = [(e.kind, e.subject, json.loads(json.dumps(dict(e.payload))).get("status"))
                  for e in queue.all()]
        assert stored == [("reaction_added", "1.5", None), ("button", "1.5", "done")]
        assert len(woken) == 2
