"""The sandbox's Slack app classes: ``internal`` (the tiers) and ``distributed`` (outside the
Marketplace: conversations.history and .replies at 1 call a minute, ``limit`` capped at 15)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from connectors.sandbox.clients.testing import admin, slack_client
from connectors.sandbox.core.server import SandboxServer


def _channel_with(bot: WebClient, count: int) -> tuple[str, list[str]]:
    channel = bot.conversations_create(name="many")["channel"]["id"]
    stamps = [bot.chat_postMessage(channel=channel, text=f"m{i}")["ts"] for i in range(count)]
    return channel, stamps


def test_internal_app_pages_as_asked_and_settings_show_the_class(
        sandbox: SandboxServer) -> None:
    bot = slack_client(sandbox)
    channel, _ = _channel_with(bot, 20)
    assert len(bot.conversations_history(channel=channel, limit=200)["messages"]) == 20
    settings = admin(sandbox, "GET", "/_sandbox/settings")
    assert settings["slack_app"] == "internal" and settings["slack_app_window"] == 60.0


def test_distributed_app_gets_at_most_15_a_page_silently(sandbox: SandboxServer) -> None:
    bot = slack_client(sandbox)
    channel, stamps = _channel_with(bot, 20)
    thread = stamps[0]
    for i in range(18):
        bot.chat_postMessage(channel=channel, text=f"r{i}", thread_ts=thread)
    answer = admin(sandbox, "POST", "/_sandbox/settings", {"slack_app": "distributed"})
    assert answer["slack_app"] == "distributed"
    page = bot.conversations_history(channel=channel, limit=200)
    assert page["ok"] is True and len(page["messages"]) == 15  # no error: capped
    assert page["has_more"] is True and page["response_metadata"]["next_cursor"]
    assert len(bot.conversations_history(channel=channel)["messages"]) == 15  # the default
    assert len(bot.conversations_history(channel=channel, limit=4)["messages"]) == 4
    replies = bot.conversations_replies(channel=channel, ts=thread, limit=1000)
    assert len(replies["messages"]) == 1 + 15 and replies["has_more"] is True  # parent + 15
    # The next page by the cursor carries on where the capped page stopped.
    rest = bot.conversations_history(channel=channel, limit=200,
                                     cursor=page["response_metadata"]["next_cursor"])
    assert [m["text"] for m in rest["messages"]] == [f"m{i}" for i in range(4, -1, -1)]


def test_distributed_app_history_and_replies_at_one_per_window(
        sandbox_rl: SandboxServer) -> None:
    bot = slack_client(sandbox_rl)
    channel, stamps = _channel_with(bot, 3)
    admin(sandbox_rl, "POST", "/_sandbox/settings", {"slack_app": "distributed"})
    assert bot.conversations_history(channel=channel)["ok"] is True
    with pytest.raises(SlackApiError) as caught:
        bot.conversations_history(channel=channel)
    response = caught.value.response
    assert response.status_code == 429 and response["error"] == "ratelimited"
    assert 1 <= int(response.headers["Retry-After"]) <= 60
    # Per method: replies has its own one call; other methods keep their tiers.
    assert bot.conversations_replies(channel=channel, ts=stamps[0])["ok"] is True
    assert bot.conversations_info(channel=channel)["ok"] is True
    sandbox_rl.clock.advance(int(response.headers["Retry-After"]))  # type: ignore[attr-defined]
    assert bot.conversations_history(channel=channel)["ok"] is True
    # Back to internal: the Tier 3 allowance again.
    admin(sandbox_rl, "POST", "/_sandbox/settings", {"slack_app": "internal"})
    for _ in range(5):
        assert bot.conversations_history(channel=channel)["ok"] is True


def test_window_is_settable_for_tests_and_shown_on_the_page(sandbox_rl: SandboxServer) -> None:
    bot = slack_client(sandbox_rl)
    channel, _ = _channel_with(bot, 1)
    admin(sandbox_rl, "POST", "/_sandbox/settings",
          {"slack_app": "distributed", "slack_app_window": 2})
    bot.conversations_history(channel=channel)
    with pytest.raises(SlackApiError) as caught:
        bot.conversations_history(channel=channel)
    assert int(caught.value.response.headers["Retry-After"]) <= 2
    sandbox_rl.clock.advance(2)  # type: ignore[attr-defined]
    assert bot.conversations_history(channel=channel)["ok"] is True
    with urllib.request.urlopen(f"{sandbox_rl.url}/") as page:
        html = page.read().decode()
    assert "Slack app: distributed" in html and "1 call per 2 s" in html
    with pytest.raises(urllib.error.HTTPError):
        admin(sandbox_rl, "POST", "/_sandbox/settings", {"slack_app": "marketplace"})


def test_sandbox_serve_starts_a_distributed_app(tmp_path: Path) -> None:
    mcm_sync = Path(sys.executable).parent / "mcm-sync"
    if not mcm_sync.exists():
        pytest.skip("the mcm-sync console script is not installed")
    data = tmp_path / "data"
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    process = subprocess.Popen(
        [str(mcm_sync), "sandbox", "serve", "--port", "0", "--data", str(data),
         "--slack-app", "distributed"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path, env=env)
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        url = first.split("sandbox page: ", 1)[1].strip().rstrip("/")
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with opener.open(f"{url}/_sandbox/settings", timeout=5) as answer:
            assert json.loads(answer.read())["slack_app"] == "distributed"
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            process.kill()
