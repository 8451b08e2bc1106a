"""serve answers where Slack expects it: a slow ``/alliance`` and a refused press through
their ``response_url`` (issue 22)."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest

from connectors.errors import FatalRemoteError
from connectors.slack.respond import respond
from sync.core.services import Secrets
from sync.serve import hooks
from sync.serve.hooks import HookApp
from sync.serve.server import Service
from sync.state.events import EventQueue
from tests.support.serving import SCOPE, start, wait_for
from tests.support.synced import Synced


def test_a_slow_command_is_acknowledged_and_answered_through_response_url(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hooks, "COMMAND_DEADLINE", 0.1)
    posted: list[tuple[str, str]] = []
    done = threading.Event()

    def slow(form: Any) -> str:
        time.sleep(0.4)
        return "Next plenary: ..."

    def record(url: str, text: str) -> None:
        posted.append((url, text))
        done.set()

    with EventQueue(tmp_path / "state.db") as queue:
        app = HookApp(queue, Secrets("", "", ""), SCOPE, lambda: None, command=slow,
                      respond=record)
        answer = app.on_command({"response_url": "http://127.0.0.1:9/r", "user_id": "U1"})
        assert answer.status_code == 200 and answer.get_data() == b""  # acknowledged at once
        assert done.wait(5)
        assert posted == [("http://127.0.0.1:9/r", "Next plenary: ...")]
        fast = HookApp(queue, Secrets("", "", ""), SCOPE, lambda: None,
                       command=lambda form: "now", respond=record)
        assert b'"now"' in fast.on_command({"response_url": "http://127.0.0.1:9/r"}).get_data()


def test_a_response_url_elsewhere_is_never_followed() -> None:
    with pytest.raises(FatalRemoteError):
        respond("https://evil.example.org/hook", "x")
    with pytest.raises(FatalRemoteError):
        respond("http://hooks.slack.com/actions/x", "x")  # not over HTTPS


def test_a_strangers_press_is_answered_privately(tmp_path: Any, synced_template: Any) -> None:
    """Buttons only with real time (issue 21): a sync puts them on, then a stranger presses."""
    alliance = Synced(tmp_path, copy_of=synced_template, real_time="serve")
    try:
        alliance.cli("sync")
        service = start(alliance)
        try:
            answer = alliance.admin("POST", "/_sandbox/slack/press", {
                "as": "stranger@example.org", "channel": alliance.resource("slack", "channel",
                                                                           "actions"),
                "ts": alliance.side("FRL-5", "slack"), "action_id": "mcm_status_blocked"})
            assert answer["ok"] is True
            said = wait_for(lambda: alliance.admin("GET", "/_sandbox/slack/responses"))
            assert said[0]["effect"] == "ephemeral" and "was not applied" in said[0]["text"]
            assert "Blocked" in said[0]["text"]
        finally:
            service.stop()
        assert alliance.item("FRL-5").status != "blocked"
    finally:
        alliance.close()


def test_a_slow_alliance_command_reaches_the_sandbox_through_its_response_url(
        alliance: Synced, monkeypatch: pytest.MonkeyPatch) -> None:
    """End to end: serve acknowledges the command empty and posts the answer, privately, to
    the ``response_url`` the sandbox's Slack gave it (no answer is ever ready at once)."""
    monkeypatch.setattr(hooks, "COMMAND_DEADLINE", 0)
    # A deadline of 0 alone races with a quick answer: the answer is made slower than that.
    answer_now = Service._command

    def answer_late(self: Service, form: Any) -> Any:
        time.sleep(0.3)
        return answer_now(self, form)

    monkeypatch.setattr(Service, "_command", answer_late)
    service = start(alliance)
    try:
        answer = alliance.admin("POST", "/_sandbox/slack/command",
                                {"as": "esra.yilmaz@example.org", "command": "/alliance"})
        assert answer["status"] == 200 and answer["response"] == ""  # acknowledged empty
        said = wait_for(lambda: alliance.admin("GET", "/_sandbox/slack/responses"))
    finally:
        service.stop()
    assert len(said) == 1 and said[0]["effect"] == "ephemeral"
    assert "Next plenary" in said[0]["text"]
