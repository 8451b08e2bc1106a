"""A 200-item alliance on a distributed Slack app (outside the Marketplace): history and
replies at one call a window, 15 messages a page (``slack.app_distribution: distributed``).

The sandbox's window is shortened (``slack_app_window``) so the runs stay fast; the client
paces at the window the sandbox states. The runs are CLI runs on the alliance's config.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from connectors.identity import token_in_metadata
from sync.core.config import load_config
from sync.core.services import announce_sandbox
from tests.support.alliance import Alliance

ITEMS = 200
PLAYBOOK_ITEMS = 39  # the example playbook's tasks and meetings without action-plan rows
PEOPLE = ("bram.visser@example.org", "carla.mulder@example.org", "daan.bakker@example.org",
          "esra.yilmaz@example.org", "farah.haddad@example.org")
FARAH = "farah.haddad@example.org"
WINDOW = 0.1  # the sandbox's window for a distributed app's one history call (Slack: 60 s)
PAGES = -(-ITEMS // 15)  # a reconciliation pass: 14 pages of 15


def _rows(count: int) -> list[dict[str, Any]]:
    start = dt.date(2027, 3, 1)
    return [{"number": str(1000 + i), "key": f"row-{i:04d}", "action": f"Action {i:04d}",
             "local_problem": "Many items", "responsible": PEOPLE[i % len(PEOPLE)],
             "status": "todo", "due": (start + dt.timedelta(days=i)).isoformat(),
             "step": "research", "outcome": "Counted"} for i in range(count)]


class Distributed(Alliance):
    """The example alliance with 200 items, its Slack app distributed."""

    def __init__(self, folder: Path) -> None:
        super().__init__(folder)
        plan = folder / "action-plan.yaml"
        plan.write_text(yaml.safe_dump({"rows": _rows(ITEMS - PLAYBOOK_ITEMS)},
                                       sort_keys=False), encoding="utf-8")
        text = self.config_path.read_text(encoding="utf-8")
        text = "\n".join(f"action_plan: {plan}" if line.startswith("action_plan:") else line
                          for line in text.splitlines()) + "\n"
        text = text.replace("  digest_every: 7d", "  digest_every: 7d\n  max_items: 1000")
        text = text.replace("  reactions_from: alliance",
                            "  reactions_from: alliance\n  app_distribution: distributed")
        self.config_path.write_text(text, encoding="utf-8")
        self.config = load_config(self.config_path)
        self.admin("POST", "/_sandbox/settings",
                   {"slack_app": "distributed", "slack_app_window": WINDOW})

    def limits(self, on: bool) -> None:
        """The sandbox's rate limits on or off (the client paces when they are on)."""
        self.admin("POST", "/_sandbox/settings", {"rate_limits": on})
        announce_sandbox(self.config.state_path.parent / "sandbox", self.server.url,
                         rate_limits=on)

    def channel_messages(self) -> list[dict[str, Any]]:
        """The actions channel's top-level messages as the sandbox holds them."""
        workspace = self.server.app.service("slack").workspace  # type: ignore[attr-defined]
        return list(workspace.top_level(self.resource("slack", "channel", "actions")))

    def item_tokens(self) -> list[str]:
        """The item token of every item message in the channel (repeats show copies)."""
        return [token for m in self.channel_messages()
                if (token := token_in_metadata(m.get("metadata")))]

    def sync(self) -> dict[str, Any]:
        """One ``mcm-sync sync --json``, a window after the last (runs a minute apart with
        Slack's window: each CLI run paces alone; a closer run's 429 would be waited out)."""
        time.sleep(WINDOW * 1.5)
        return dict(self.json("sync"))

    def throttled(self) -> int:
        """The 429s the sandbox answered since the last reset."""
        stats = self.admin("GET", "/_sandbox/stats")
        return sum(codes.get("429", 0) for routes in stats.values() for codes in routes.values())


@pytest.fixture(scope="module")
def distributed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Distributed]:
    alliance = Distributed(tmp_path_factory.mktemp("distributed"))
    alliance.cli("bootstrap")
    first = alliance.sync()  # posts the items' messages (the channel read: none to adopt)
    assert first["slack_read"]["read"] == "incremental"
    alliance.limits(True)
    yield alliance
    alliance.close()


def test_a_200_item_alliance_syncs_page_by_page_with_every_item_correct(
        distributed: Distributed) -> None:
    alliance = distributed
    with alliance.store() as store:
        items = store.list_items()
        assert len(items) == ITEMS
        assert all(store.get_side(item.id, "slack") is not None for item in items)
    tokens = alliance.item_tokens()
    assert len(tokens) == ITEMS == len(set(tokens))
    alliance.reset_calls()
    pages = []
    for _ in range(PAGES):
        read = alliance.sync()["slack_read"]
        assert read["read"] == "reconciliation"
        pages.append((read["page"], read["reconciliation_finished"]))
    # One pass over the channel, a page a run, and said so: the last page ends the pass.
    assert pages == [(n, n == PAGES) for n in range(1, PAGES + 1)]
    stats = alliance.admin("GET", "/_sandbox/stats")["slack"]
    assert stats["POST /api/conversations.history"] == {"200": PAGES}
    assert alliance.throttled() == 0
    # Nothing reposted, nothing judged missing, nothing written: every item is as it was.
    assert alliance.item_tokens() == tokens
    assert "POST /api/chat.postMessage" not in stats and "POST /api/chat.update" not in stats


def test_a_reaction_on_the_oldest_message_reaches_the_card_by_the_reconciliation(
        distributed: Distributed) -> None:
    alliance = distributed
    oldest = alliance.channel_messages()[0]
    token = token_in_metadata(oldest.get("metadata"))
    assert token is not None
    with alliance.store() as store:
        item = next(i for i in store.list_items()
                    if (side := store.get_side(i.id, "slack")) and side.remote_id == oldest["ts"])
    alliance.slack_member(FARAH).reactions_add(
        channel=alliance.resource("slack", "channel", "actions"), timestamp=oldest["ts"],
        name="white_check_mark")
    alliance.reset_calls()
    seen_at = None
    for run in range(1, PAGES + 1):
        read = alliance.sync()["slack_read"]
        with alliance.store() as store:
            status = store.get_item_by_number(item.number).status  # type: ignore[union-attr]
        if status == "done":
            seen_at = run
            assert read["reconciliation_finished"]  # the oldest message: the pass's last page
            break
        assert read["continues_next_run"]
    assert seen_at == PAGES
    assert alliance.throttled() == 0
    with alliance.store() as store:
        side = store.get_side(item.id, "trello")
    assert side is not None
    card = alliance.trello_member(FARAH).fetch_json(f"/cards/{side.remote_id}")
    assert card["idList"] == alliance.resource("trello", "list", "done")
    assert alliance.item_tokens().count(token) == 1


def test_a_deleted_message_is_posted_again_when_its_page_is_read(
        distributed: Distributed) -> None:
    alliance = distributed
    messages = alliance.channel_messages()
    gone = messages[len(messages) // 2]
    token = token_in_metadata(gone.get("metadata"))
    from connectors.sandbox.clients.testing import slack_client

    slack_client(alliance.server).chat_delete(
        channel=alliance.resource("slack", "channel", "actions"), ts=gone["ts"])
    posted_at = None
    for run in range(1, PAGES + 2):
        alliance.sync()
        if token in alliance.item_tokens():
            posted_at = run
            break
    assert posted_at is not None and posted_at > 1  # not at once: when its page came
    assert alliance.item_tokens().count(token) == 1
    assert len(alliance.item_tokens()) == ITEMS


def test_the_summary_line_says_the_reconciliation_continues(distributed: Distributed) -> None:
    output = distributed.cli("sync").output
    assert "Slack: reconciliation page" in output


def _app_class_line(alliance: Distributed) -> dict[str, Any]:
    report = json.loads(alliance.cli("doctor", "--json", expect=None).stdout)
    return next(c for c in report["checks"] if (c["service"], c["name"]) == ("slack",
                                                                            "app class"))


def test_doctor_says_the_class_and_sees_a_capped_page(distributed: Distributed) -> None:
    alliance = distributed
    line = _app_class_line(alliance)
    assert line["status"] == "ok" and line["detail"].startswith("distributed outside")
    config = alliance.config_path.read_text(encoding="utf-8")
    alliance.config_path.write_text(config.replace("app_distribution: distributed",
                                                   "app_distribution: internal"),
                                    encoding="utf-8")
    try:
        time.sleep(WINDOW * 1.5)
        line = _app_class_line(alliance)
    finally:
        alliance.config_path.write_text(config, encoding="utf-8")
    assert line["status"] == "warn" and line["detail"].startswith("Slack answered 15 messages")
    assert line["fix"] == "set slack.app_distribution: distributed (see docs/hosting.md)"


def test_with_serve_a_reaction_on_an_old_message_reaches_the_card_by_event(
        distributed: Distributed) -> None:
    from sync.api import Alliance as Library
    from sync.serve.server import ServeOptions, Service

    alliance = distributed
    old = alliance.channel_messages()[1]  # the second oldest: the pass's last page
    with alliance.store() as store:
        item = next(i for i in store.list_items()
                    if (side := store.get_side(i.id, "slack")) and side.remote_id == old["ts"])
        card_id = store.get_side(item.id, "trello").remote_id  # type: ignore[union-attr]
    alliance.reset_calls()
    service = Service(Library(alliance.config),
                      ServeOptions(port=0, reconcile_every=None)).start()
    try:
        alliance.slack_member(FARAH).reactions_add(
            channel=alliance.resource("slack", "channel", "actions"), timestamp=old["ts"],
            name="no_entry")
        deadline = time.monotonic() + 20
        blocked = alliance.resource("trello", "list", "blocked")
        while alliance.trello_member(FARAH).fetch_json(f"/cards/{card_id}")["idList"] != blocked:
            assert time.monotonic() < deadline, "the reaction did not reach the card"
            time.sleep(0.05)
    finally:
        service.stop()
    stats = alliance.admin("GET", "/_sandbox/stats")["slack"]
    # The event's message read by reactions.get (Tier 3), not by the one history call a minute.
    assert "POST /api/reactions.get" in stats
    assert "POST /api/conversations.history" not in stats
    assert alliance.throttled() == 0
