"""``mcm-sync doctor``: all ok on the example alliance's sandbox; one wrong secret fails that
service only (the others are still checked), exit 4, and no secret is ever printed; a missing
Slack scope is named; the manifest asks for exactly the scopes the doctor checks."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from connectors.sandbox.clients.testing import trello_client
from connectors.slack.scopes import REQUIRED_BOT_SCOPES
from tests.support.alliance import Alliance
from tests.support.doctoring import real_mode
from tests.support.paths import ROOT


@pytest.fixture
def alliance(tmp_path: Path, template: Path) -> Iterator[Alliance]:
    made = Alliance(tmp_path, copy_of=template)
    yield made
    made.close()


def by_name(report: dict[str, Any]) -> dict[tuple[str, str], str]:
    return {(c["service"], c["name"]): c["status"] for c in report["checks"]}


def test_doctor_on_the_example_sandbox_is_all_ok(alliance: Alliance) -> None:
    result = alliance.cli("doctor")
    assert "doctor: " in result.stdout and " 0 warn, 0 fail" in result.stdout
    report = alliance.json("doctor")
    assert report["status"] == "ok"
    statuses = by_name(report)
    for key in [("trello", "credentials"), ("trello", "token permissions"),
                ("trello", "board"), ("slack", "scopes"), ("slack", "channel #frl-actions"),
                ("mailchimp", "audience"), ("trello", "rate limits")]:
        assert statuses[key] == "ok", key
    people = [c for c in report["checks"] if c["name"].startswith("person ")]
    assert len(people) == 20  # ten people, on Trello and on Slack


@pytest.mark.parametrize("variable", ["SLACK_BOT_TOKEN", "TRELLO_TOKEN", "MAILCHIMP_API_KEY"])
def test_one_wrong_secret_fails_that_service_only(
    alliance: Alliance, monkeypatch: pytest.MonkeyPatch, variable: str
) -> None:
    wrong = {"SLACK_BOT_TOKEN": "xoxb-1234-5678-WRONGsecretWRONG",
             "TRELLO_TOKEN": "ATTA" + "f" * 64, "MAILCHIMP_API_KEY": "0" * 32 + "-us1"}[variable]
    secrets = real_mode(alliance, monkeypatch, **{variable: wrong})
    result = alliance.cli("doctor", expect=4)
    report = json.loads(alliance.cli("doctor", "--json", expect=4).stdout)
    service = {"SLACK_BOT_TOKEN": "slack", "TRELLO_TOKEN": "trello",
               "MAILCHIMP_API_KEY": "mailchimp"}[variable]
    statuses = by_name(report)
    assert statuses[(service, "credentials")] == "fail"
    assert [c["status"] for c in report["checks"] if c["service"] == service] == ["fail"]
    for other in {"trello", "slack", "mailchimp"} - {service}:
        assert statuses[(other, "credentials")] == "ok"  # the others were checked
    line = next(c for c in report["checks"] if c["service"] == service)
    assert "refused" in line["detail"] and line["fix"]
    printed = result.output + json.dumps(report)
    for secret in secrets.values():
        assert secret not in printed
    assert "WRONGsecret" not in printed and "f" * 64 not in printed


def test_a_missing_slack_scope_is_named_with_its_fix(alliance: Alliance) -> None:
    scopes = [s for s in REQUIRED_BOT_SCOPES if s != "pins:write"]
    alliance.admin("POST", "/_sandbox/settings", {"slack_bot_scopes": scopes})
    report = json.loads(alliance.cli("doctor", "--json", expect=4).stdout)
    line = next(c for c in report["checks"] if c["name"] == "scopes")
    assert line["status"] == "fail" and "pins:write" in line["detail"]
    assert "slack-app-manifest.yaml" in line["fix"]


def test_a_missing_secret_is_a_config_error(
    alliance: Alliance, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_mode(alliance, monkeypatch)
    monkeypatch.delenv("SLACK_BOT_TOKEN")
    result = alliance.cli("doctor", expect=2)
    assert "SLACK_BOT_TOKEN" in result.stderr


def test_the_manifest_asks_for_exactly_the_scopes_the_doctor_checks() -> None:
    manifest = yaml.safe_load((ROOT / "slack-app-manifest.yaml").read_text(encoding="utf-8"))
    assert manifest["oauth_config"]["scopes"]["bot"] == list(REQUIRED_BOT_SCOPES)
    assert manifest["features"]["bot_user"]["display_name"]


def test_channels_the_bot_is_not_in_or_cannot_unarchive(tmp_path: Path) -> None:
    made = Alliance(tmp_path)
    try:
        anna = made.slack_member("anna.devries@example.org")
        anna.conversations_create(name="frl-actions")
        general = anna.conversations_create(name="frl-alliance")["channel"]["id"]
        anna.conversations_archive(channel=general)
        report = json.loads(made.cli("doctor", "--json", expect=4).stdout)
        lines = {c["name"]: c for c in report["checks"]}
        # No events reach a bot from a channel it is not in: for the actions channel that
        # means nothing live at all, so it fails (and names both fixes).
        assert lines["channel #frl-actions"]["status"] == "fail"
        assert "no reactions, replies or button presses" in lines["channel #frl-actions"]["detail"]
        assert "/invite @mcm-sync" in lines["channel #frl-actions"]["fix"]
        assert "mcm-sync bootstrap" in lines["channel #frl-actions"]["fix"]
        assert lines["channel #frl-alliance"]["status"] == "fail"
        assert "unarchive" in lines["channel #frl-alliance"]["fix"]
        assert lines["board"]["status"] == "warn"  # not bootstrapped yet: advice, not failure
    finally:
        made.close()


def test_little_trello_headroom_is_a_warning(alliance: Alliance) -> None:
    """Trello's x-rate-limit headers show another program using the same token."""
    alliance.admin("POST", "/_sandbox/settings", {"rate_limits": True})
    busy = trello_client(alliance.server)
    for _ in range(85):
        busy.fetch_json("/members/me", query_params={"fields": "username"})
    report = json.loads(alliance.cli("doctor", "--only", "trello", "--json").stdout)
    line = next(c for c in report["checks"] if c["name"] == "rate limits")
    assert line["status"] == "warn" and "token " in line["detail"] and line["fix"]


def test_the_manifest_subscribes_to_what_serve_handles() -> None:
    """Events, interactivity and the command point at serve's endpoints (issue 14)."""
    from sync.serve.hooks import (
        SLACK_COMMANDS_PATH,
        SLACK_EVENTS,
        SLACK_EVENTS_PATH,
        SLACK_INTERACTIVE_PATH,
    )

    manifest = yaml.safe_load((ROOT / "slack-app-manifest.yaml").read_text(encoding="utf-8"))
    events = manifest["settings"]["event_subscriptions"]
    assert events["request_url"].endswith(SLACK_EVENTS_PATH)
    # Slack names the message event of public channels `message.channels`.
    assert {e.split(".")[0] for e in events["bot_events"]} == set(SLACK_EVENTS)
    assert manifest["settings"]["interactivity"]["request_url"].endswith(SLACK_INTERACTIVE_PATH)
    (command,) = manifest["features"]["slash_commands"]
    assert command["command"] == "/alliance" and command["url"].endswith(SLACK_COMMANDS_PATH)
