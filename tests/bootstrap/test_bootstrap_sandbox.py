"""``mcm-sync bootstrap`` end to end on the sandbox: what it makes, idempotence, crashes, errors."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from connectors.sandbox.clients.testing import mailchimp_client
from tests.support.alliance import Alliance
from tests.support.inventory import EXPECTED_CARDS, remote_inventory

STATUS_LISTS = 5
# Slack's Web API takes every method as a POST; these only read.
SLACK_READS = {"auth.test", "conversations.list", "conversations.history", "conversations.info",
               "conversations.replies", "users.lookupByEmail", "users.info", "reactions.get"}


@pytest.fixture
def alliance(tmp_path: Path) -> Iterator[Alliance]:
    made = Alliance(tmp_path)
    yield made
    made.close()


def test_bootstrap_creates_everything_once(alliance: Alliance) -> None:
    summary = alliance.json("bootstrap")
    assert summary["applied"]["create"] > EXPECTED_CARDS
    assert summary["links"]["trello_board"].startswith("https://trello.com/b/")
    assert summary["sandbox_page"].startswith("http://127.0.0.1:")
    # Nobody in the example has a Trello account yet: Trello hides their e-mails and makes
    # them unconfirmed placeholders; they are matched anyway and reported as pending.
    assert summary["unresolved"] == []
    assert len(summary["pending"]) == 10
    assert all("no Trello account yet" in line for line in summary["pending"])
    inventory = remote_inventory(alliance)
    assert inventory == {
        "boards": 1, "cards": EXPECTED_CARDS, "duplicate_cards": 0, "untokened_cards": 0,
        "channels": ["frl-actions", "frl-alliance"], "welcome_messages": 1,
    }
    with alliance.store() as store:
        items = store.list_items()
        assert len(items) == EXPECTED_CARDS
        assert sorted(int(i.number.split("-")[1]) for i in items) == list(
            range(1, EXPECTED_CARDS + 1))
        assert all(store.get_side(i.id, "trello") for i in items)
        # Every create was journalled first and closed with its remote id.
        assert store.open_intents() == []


def test_second_bootstrap_creates_nothing_and_reads_little(alliance: Alliance) -> None:
    alliance.cli("bootstrap")
    alliance.reset_calls()
    summary = alliance.json("bootstrap")
    assert "create" not in summary["applied"]
    assert "update" not in summary["applied"]
    calls = alliance.calls()
    # Reads only: boards + one board snapshot, channel list + history, audiences + fields + tags.
    assert sum(calls.values()) <= 12, calls
    assert remote_inventory(alliance)["cards"] == EXPECTED_CARDS


def test_plan_and_dry_run_write_nothing(alliance: Alliance) -> None:
    plan = alliance.json("plan")
    creates = [c for c in plan["changes"] if c["action"] == "create"]
    assert len([c for c in creates if c["kind"] == "card"]) == EXPECTED_CARDS
    alliance.reset_calls()
    dry = alliance.cli("bootstrap", "--dry-run")
    assert "+ trello    card" in dry.output
    stats = alliance.admin("GET", "/_sandbox/stats")
    writes = [route for routes in stats.values() for route in routes
              if not route.startswith("GET") and route.rsplit("/", 1)[-1] not in SLACK_READS]
    assert writes == []
    assert not alliance.config.state_path.exists() or alliance.store().list_items() == []


@pytest.mark.parametrize("skip", [0, 1, 2, 7, 20, 60, 150, 250, 281, 290, 300, 310, 320])
def test_crash_at_any_write_then_rerun_adopts(alliance: Alliance, skip: int) -> None:
    """Break the run at its k-th write (400: not retried), run again: nothing is duplicated."""
    alliance.fault(method="POST", mode="error", status=400, count=1, skip=skip)
    alliance.fault(method="PUT", mode="error", status=400, count=1, skip=skip)
    first = alliance.cli("bootstrap", expect=None)
    alliance.admin("DELETE", "/_sandbox/faults")
    assert first.exit_code in (0, 4), first.output
    if first.exit_code == 4:
        assert first.stderr.startswith("error: ")
    alliance.cli("bootstrap")
    inventory = remote_inventory(alliance)
    assert inventory["boards"] == 1
    assert inventory["cards"] == EXPECTED_CARDS
    assert inventory["duplicate_cards"] == 0
    assert inventory["channels"] == ["frl-actions", "frl-alliance"]
    assert inventory["welcome_messages"] == 1
    # And a third run has nothing left to do.
    assert "create" not in alliance.json("bootstrap")["applied"]


def test_lost_answers_are_adopted_not_repeated(alliance: Alliance) -> None:
    """A create that happened but whose answer was lost is found by its token, not re-sent."""
    alliance.fault(service="trello", method="POST", path="/1/cards", mode="drop_after_apply",
                   count=2, skip=3)
    alliance.fault(service="slack", method="POST", path="*chat.postMessage",
                   mode="drop_after_apply", count=1)
    alliance.cli("bootstrap")
    inventory = remote_inventory(alliance)
    assert inventory["cards"] == EXPECTED_CARDS
    assert inventory["duplicate_cards"] == 0
    assert inventory["welcome_messages"] == 1


def test_invalid_config_is_refused_before_any_call(alliance: Alliance) -> None:
    text = alliance.config_path.read_text(encoding="utf-8")
    alliance.config_path.write_text(text.replace("slug: frl", "slug: Not A Slug!"),
                                    encoding="utf-8")
    alliance.reset_calls()
    result = alliance.cli("bootstrap", expect=2)
    assert "alliance.slug" in result.stderr
    assert alliance.calls() == {}


def test_bad_action_plan_is_refused_before_any_call(alliance: Alliance, tmp_path: Path) -> None:
    bad = tmp_path / "plan.csv"
    bad.write_text("number,action\n1,\n", encoding="utf-8")
    text = alliance.config_path.read_text(encoding="utf-8")
    alliance.config_path.write_text(
        "\n".join(f"action_plan: {bad}" if line.startswith("action_plan:") else line
                  for line in text.splitlines()), encoding="utf-8")
    alliance.reset_calls()
    result = alliance.cli("bootstrap", expect=2)
    assert "plan.csv" in result.stderr
    assert alliance.calls() == {}


def test_only_one_service(alliance: Alliance) -> None:
    summary = alliance.json("bootstrap", "--only", "slack")
    assert set(summary["links"]) == {"slack_general_channel", "slack_actions_channel"}
    # Nobody has used this sandbox's Slack yet: every person is listed with what to fix, and
    # the run still completes.
    assert len(summary["unresolved"]) == 10
    assert "no Slack user with this e-mail" in summary["unresolved"][0]
    assert "slack_id" in summary["unresolved"][0]
    assert alliance.calls().get("trello", 0) == 0
    result = alliance.cli("bootstrap", "--only", "jira", expect=2)
    assert "unknown service jira" in result.stderr


def test_auth_failure_names_the_setting_and_hides_the_secret(tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch
                                                             ) -> None:
    secret = "0123456789abcdef0123456789abcdef"
    monkeypatch.setenv("TRELLO_API_KEY", "sandbox-key")
    monkeypatch.setenv("TRELLO_TOKEN", secret)
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-" + secret)
    monkeypatch.setenv("MAILCHIMP_API_KEY", secret + "-us1")
    made = Alliance(tmp_path, sandbox="false")
    try:
        text = made.config_path.read_text(encoding="utf-8")
        base = made.server.url
        text = text.replace("  # base_url: http://127.0.0.1:8765/trello",
                            f"  base_url: {base}/trello")
        made.config_path.write_text(text, encoding="utf-8")
        made.fault(service="trello", mode="error", status=401)
        result = made.cli("bootstrap", "--only", "trello", expect=4)
        assert "trello" in result.stderr.lower()
        assert secret not in result.output + result.stderr
        assert "TRELLO_TOKEN" in result.stderr or "trello.token" in result.stderr
    finally:
        made.close()


def test_transient_faults_are_retried_without_duplicates(alliance: Alliance) -> None:
    """503s, a 429 burst with Retry-After and a dropped answer: one of everything all the same."""
    alliance.fault(service="trello", method="POST", path="/1/cards", mode="error", status=503,
                   count=1, skip=5)
    alliance.fault(service="slack", path="*conversations.create", mode="ratelimit", count=1)
    alliance.fault(service="mailchimp", method="POST", mode="drop_after_apply", count=1)
    alliance.cli("bootstrap")
    inventory = remote_inventory(alliance)
    assert inventory["cards"] == EXPECTED_CARDS and inventory["duplicate_cards"] == 0
    assert inventory["channels"] == ["frl-actions", "frl-alliance"]
    lists = mailchimp_client(alliance.server).lists.get_all_lists()["lists"]
    assert [a["name"] for a in lists] == [alliance.config.mailchimp.audience_name]
    assert "create" not in alliance.json("bootstrap")["applied"]


def test_existing_channel_and_audience_are_adopted(tmp_path: Path) -> None:
    """An archived #frl-actions: the bot cannot unarchive it (Slack refuses bots), so bootstrap
    asks for an admin, makes no second channel, and adopts it once a person unarchived it;
    mailchimp.audience_id adopts that audience."""
    made = Alliance(tmp_path)
    try:
        slack = made.slack_member("anna.devries@example.org")
        channel = slack.conversations_create(name="frl-actions")["channel"]["id"]
        slack.conversations_archive(channel=channel)
        existing = mailchimp_client(made.server).lists.create_list({
            "name": "Learning Hub newsletter", "permission_reminder": "You signed up.",
            "email_type_option": False,
            "contact": {"company": "Learning Hub", "address1": "Street 1", "city": "Leeuwarden",
                        "zip": "8911 AA", "country": "NL"},
            "campaign_defaults": {"from_name": "Hub", "from_email": "hub@example.org",
                                  "subject": "News", "language": "en"}})["id"]
        text = made.config_path.read_text(encoding="utf-8")
        made.config_path.write_text(text.replace("  # audience_id: abc123def4",
                                                 f"  audience_id: {existing}"), encoding="utf-8")
        plan = made.json("plan")
        actions = {(c["kind"], c["key"]): c["action"] for c in plan["changes"]}
        assert actions[("channel", "actions")] == "update"  # unarchive
        assert actions[("audience", "audience")] == "adopt"
        summary = made.json("bootstrap")
        assert summary["links"]["mailchimp_audience"] == existing
        assert any("#frl-actions exists but is archived" in line and "admin" in line
                   for line in summary["unresolved"])
        assert remote_inventory(made)["channels"] == ["frl-actions", "frl-alliance"]  # no twin
        assert slack.conversations_info(channel=channel)["channel"]["is_archived"] is True
        slack.conversations_unarchive(channel=channel)  # what the admin does in Slack
        again = made.json("bootstrap")
        assert not any("archived" in line for line in again["unresolved"])
        assert remote_inventory(made)["channels"] == ["frl-actions", "frl-alliance"]
        info = slack.conversations_info(channel=channel)["channel"]
        assert info["is_archived"] is False and info["topic"]["value"]
        lists = mailchimp_client(made.server).lists.get_all_lists()["lists"]
        assert [a["id"] for a in lists] == [existing]
    finally:
        made.close()
