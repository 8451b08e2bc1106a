"""An alliance channel that exists already as a private channel (issue 21, item 1).

The guide said to invite the bot to such a channel, but the manifest had no ``groups:*``
scopes, and Slack refuses a bot the history of a private channel without ``groups:history``
(the sandbox now does too). The manifest, the doctor and the sandbox share one scope list
that includes them; the Slack app manifest is generated from what mcm-sync uses, with or
without ``serve``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from slack_sdk.errors import SlackApiError

from connectors.sandbox.clients.testing import slack_client
from connectors.slack.scopes import REQUIRED_BOT_SCOPES
from sync.cli.main import cli
from sync.serve.manifest import PLACEHOLDER_URL, manifest_text, slack_manifest
from tests.support.alliance import Alliance
from tests.support.paths import ROOT

ANNA = "anna.devries@example.org"
PUBLIC_ONLY = [s for s in REQUIRED_BOT_SCOPES if not s.startswith("groups:")]


def _private_actions_channel(made: Alliance) -> str:
    """Anna made #frl-actions private before the alliance went live, and invited the bot."""
    anna = made.slack_member(ANNA)
    channel = anna.conversations_create(name="frl-actions", is_private=True)["channel"]["id"]
    anna.conversations_invite(channel=channel, users=_bot(made).auth_test()["user_id"])
    return str(channel)


def _bot(made: Alliance) -> Any:
    """A Slack client with the app's bot token, as mcm-sync uses it."""
    return slack_client(made.server)


def test_a_private_alliance_channel_works_with_the_manifests_scopes(tmp_path: Path) -> None:
    made = Alliance(tmp_path)
    try:
        channel = _private_actions_channel(made)
        made.cli("bootstrap")
        assert made.json("sync")["writes"].get("slack.post_message", 0) >= 30
        history = made.slack_member(ANNA).conversations_history(channel=channel)["messages"]
        assert any("FRL-1" in m["text"] for m in history)
        report = json.loads(made.cli("doctor", "--json").stdout)
        line = next(c for c in report["checks"] if c["name"] == "channel #frl-actions")
        assert line["status"] == "ok"
    finally:
        made.close()


def test_without_the_groups_scopes_slack_refuses_a_private_channels_history(
        tmp_path: Path) -> None:
    made = Alliance(tmp_path)
    try:
        channel = _private_actions_channel(made)
        made.admin("POST", "/_sandbox/settings", {"slack_bot_scopes": PUBLIC_ONLY})
        bot = _bot(made)
        with pytest.raises(SlackApiError) as refused:
            bot.conversations_history(channel=channel)
        assert refused.value.response["error"] == "missing_scope"
        assert refused.value.response["needed"] == "groups:history"
        report = json.loads(made.cli("doctor", "--json", expect=4).stdout)
        scopes = next(c for c in report["checks"] if c["name"] == "scopes")
        assert scopes["status"] == "fail" and "groups:history" in scopes["detail"]
    finally:
        made.close()


# ---------------------------------------------------------------------- the manifest


def test_the_committed_manifest_is_the_generated_one() -> None:
    committed = (ROOT / "slack-app-manifest.yaml").read_text(encoding="utf-8")
    assert committed == manifest_text("serve", PLACEHOLDER_URL), (
        "run: mcm-sync slack manifest --public-url https://mcm-sync.example.org "
        "-o slack-app-manifest.yaml")
    assert "groups:history" in yaml.safe_load(committed)["oauth_config"]["scopes"]["bot"]


def test_a_manifest_with_the_coordinators_public_url() -> None:
    result = CliRunner().invoke(cli, ["slack", "manifest", "--public-url",
                                      "https://mcm.roscommon.example/"])
    assert result.exit_code == 0, result.output
    data = yaml.safe_load(result.stdout)
    assert data["settings"]["event_subscriptions"]["request_url"] == \
        "https://mcm.roscommon.example/hooks/slack/events"
    assert data["features"]["slash_commands"][0]["url"].startswith("https://mcm.roscommon")
    assert "example.org" not in result.stdout.split("display_information")[1]


def test_a_manifest_without_serve_has_no_urls_to_replace() -> None:
    result = CliRunner().invoke(cli, ["slack", "manifest"])
    assert result.exit_code == 0
    data = yaml.safe_load(result.stdout)
    assert "https://" not in result.stdout.split("display_information")[1]
    assert "event_subscriptions" not in data["settings"]
    assert "interactivity" not in data["settings"] and "slash_commands" not in data["features"]
    assert data["oauth_config"]["scopes"]["bot"] == list(REQUIRED_BOT_SCOPES)


def test_a_socket_mode_manifest() -> None:
    data = slack_manifest("socket_mode")
    assert data["settings"]["socket_mode_enabled"] is True
    assert "request_url" not in data["settings"]["event_subscriptions"]
    assert "url" not in data["features"]["slash_commands"][0]


def test_slack_calls_https_only() -> None:
    result = CliRunner().invoke(cli, ["slack", "manifest", "--public-url", "http://a.example"])
    assert result.exit_code == 2 and "https://" in result.stderr
