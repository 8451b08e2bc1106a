"""Newsletter drafts: content from the real state, in the alliance's language; one draft."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from playbooks import load_playbook
from sync.audience.newsletter import LABEL_KEYS, build, create_draft, labels, render_newsletter
from sync.audience.store import StakeholderStore
from sync.core.config import load_config
from sync.core.errors import UserError
from sync.state.store import StateStore
from tests.support.stores import StoreTarget

ROOT = Path(__file__).resolve().parents[2]
TODAY = dt.date(2027, 3, 1)


class Drafts:
    """Records campaign drafts like Mailchimp's POST /campaigns + PUT content."""

    def __init__(self) -> None:
        self.made: list[dict[str, Any]] = []

    def create_campaign_draft(self, audience_id: str, **fields: Any) -> str:
        self.made.append({"audience": audience_id, **fields})
        return f"c{len(self.made)}"


@pytest.fixture
def store(target: StoreTarget) -> StateStore:
    """A store with a few items, on SQLite and on PostgreSQL."""
    opened = target.open()
    item = opened.ensure_item
    item(
        key="task:a",
        number="FRL-1",
        kind="task",
        title="Define the region",
        status="done",
        source="playbook",
        step="scope",
        due="2027-01-20",
    )
    item(
        key="task:b",
        number="FRL-2",
        kind="task",
        title="Write the <briefing> document",
        status="doing",
        source="playbook",
        step="scope",
        due="2027-03-10",
    )
    item(
        key="task:c",
        number="FRL-3",
        kind="task",
        title="Map the gaps",
        status="todo",
        source="playbook",
        step="research",
        due="2027-09-01",
    )
    item(
        key="meeting:kickoff",
        number="FRL-4",
        kind="meeting",
        title="Kick-off workshop",
        status="done",
        source="playbook",
        step="start",
        due="2027-02-01",
    )
    item(
        key="meeting:gap",
        number="FRL-5",
        kind="meeting",
        title="Gap workshop",
        status="todo",
        source="playbook",
        step="research",
        due="2027-06-07",
    )
    done = opened.get_item_by_key("task:a")
    opened.add_audit(
        done.id, "anna", "trello", "status", "doing", "done", at="2027-02-20T10:00:00+00:00"
    )
    yield opened
    opened.close()


@pytest.fixture
def config() -> Any:
    return load_config(ROOT / "config.example.yaml")


def test_every_language_has_every_label() -> None:
    for language in ("en", "nl", "fr", "sv"):
        assert set(labels(language)) == set(LABEL_KEYS)


def test_newsletter_shows_progress_done_next_and_meeting(store: StateStore, config: Any) -> None:
    letter = build(config, load_playbook("en"), store, since=dt.date(2027, 2, 15), today=TODAY)
    html = letter.html
    assert letter.subject == "Friesland Newcomer Mediation Alliance: progress update, 1 March 2027"
    assert "Completed since 15 February 2027" in html and "Define the region" in html
    # scope: one of its two items done, and the playbook's scope tasks not synced yet count too
    scope = len(load_playbook("en").steps[0].tasks) + 2
    assert f"1 of {scope} done" in html
    assert "Write the &lt;briefing&gt; document" in html  # escaped, due within six weeks
    assert "Map the gaps" not in html  # due far later
    assert "Research and gap-finding workshop, planned for 7 June 2027" in html
    assert "*|UNSUB|*" in html
    assert (letter.completed, letter.upcoming) == (1, 1)


def test_dutch_newsletter(store: StateStore, config: Any) -> None:
    letter = render_newsletter(
        config,
        load_playbook("nl"),
        store.list_items(),
        store.list_audit(),
        since=dt.date(2027, 3, 1),
        today=TODAY,
    )
    assert letter.subject.endswith(": voortgang, 1 maart 2027")
    assert 'lang="nl"' in letter.html and "Volgende plenaire vergadering" in letter.html
    assert "In deze periode is geen actie afgerond." in letter.html
    assert "Reikwijdte van de alliantie" in letter.html


def test_since_defaults_to_the_last_draft_and_future_is_refused(
    store: StateStore, config: Any
) -> None:
    letter = build(config, load_playbook("en"), store, today=TODAY)
    assert letter.since == config.alliance.start_date
    with pytest.raises(UserError, match="in the future"):
        build(config, load_playbook("en"), store, since=dt.date(2027, 4, 1), today=TODAY)


def test_draft_is_made_once_per_content_and_recorded(store: StateStore, config: Any) -> None:
    book = load_playbook("en")
    drafts = Drafts()
    letter = build(config, book, store, since=dt.date(2027, 2, 15), today=TODAY)
    made = create_draft(config, store, drafts, "L1", letter)
    assert made.created and made.record.campaign_id == "c1"
    (call,) = drafts.made
    assert call["audience"] == "L1" and call["html"] == letter.html
    assert call["title"].startswith(letter.subject + " [") and call["reply_to"]
    again = create_draft(config, store, drafts, "L1", letter)
    assert not again.created and len(drafts.made) == 1
    record = StakeholderStore(store).last_newsletter()
    assert record.since == "2027-02-15" and record.campaign_id == "c1"
    assert [i.state for i in store.intents()] == ["done"]


def test_announcing_newsletter_before_the_start_date(store: StateStore, config: Any) -> None:
    before = config.alliance.start_date - dt.timedelta(days=30)
    letter = build(config, load_playbook("en"), store, today=before)
    assert letter.since == before
    with pytest.raises(UserError, match="in the future"):
        build(config, load_playbook("en"), store, since=before + dt.timedelta(days=1),
              today=before)


def test_newsletter_with_a_card_a_member_added(store: StateStore, config: Any) -> None:
    """A card a member added has no step: the newsletter shows it under "Other", no crash."""
    store.ensure_item(key="trello:c9", number="FRL-6", kind="task", title="Translate the flyer",
                      status="todo", source="trello", step="")
    letter = build(config, load_playbook("en"), store, since=dt.date(2027, 2, 15), today=TODAY)
    other = labels_common("en")
    assert f"<td style=\"font-size:14px;\">{other}</td>" in letter.html
    assert "0 of 1 done" in letter.html


def labels_common(language: str) -> str:
    """The title of the group of items of no step, in ``language``."""
    from playbooks.labels import labels as playbook_labels

    return str(playbook_labels(language)["common"]["other_step"])
