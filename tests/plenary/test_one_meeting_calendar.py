"""One meeting calendar: a moved plenary is moved in templates, minutes, cards and the digest."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.alliance import Alliance


@pytest.fixture
def alliance(tmp_path: Path) -> Iterator[Alliance]:
    made = Alliance(tmp_path)
    yield made
    made.close()


def test_a_meeting_moved_before_bootstrap_is_moved_everywhere(alliance: Alliance) -> None:
    alliance.cli("meeting", "schedule", "--date", "1=1-3-2027", "--date", "2=8-7-2027")
    # The templates read the calendar: the agenda of meeting 2, the next meeting in minutes 1.
    agenda = alliance.cli("template", "render", "agenda", "--meeting", "2").stdout
    assert "| Date | 8 July 2027 |" in agenda and "7 June 2027" not in agenda
    minutes = alliance.cli("template", "render", "minutes", "--meeting", "1").stdout
    assert "| Date | 1 March 2027 |" in minutes
    assert "next meeting is planned for 8 July 2027" in minutes
    # Bootstrap makes the cards on the new dates: nothing waits for a second sync.
    alliance.cli("bootstrap")
    with alliance.store() as store:
        dues = {i.key: i.due for i in store.list_items(kind="meeting")}
    assert dues["meeting:kickoff"] == "2027-03-01"
    assert dues["meeting:gap-workshop"] == "2027-07-08"
    board = alliance.trello_member("anna.devries@example.org").get_board(
        alliance.resource("trello", "board", "board"))
    cards = {c.name: c.due for c in board.open_cards()}
    assert [str(due)[:10] for name, due in cards.items() if "Research and gap" in name] == \
        ["2027-07-08"]
    # The first digest names the moved kick-off, as its reminder does.
    alliance.cli("sync")
    general = alliance.resource("slack", "channel", "general")
    history = alliance.slack_member("anna.devries@example.org").conversations_history(
        channel=general)
    digest = next(m["text"] for m in history["messages"] if "Next plenary" in m["text"]
                  or "next plenary" in m["text"].lower())
    assert "1 March 2027" in digest and "2027-02-22" not in digest


def test_a_meeting_moved_after_bootstrap_moves_its_card_in_the_next_sync(
        alliance: Alliance) -> None:
    alliance.cli("bootstrap")
    alliance.cli("sync")
    alliance.cli("meeting", "schedule", "--date", "2=8-7-2027")
    assert "8 July 2027" in alliance.cli("template", "render", "agenda", "--meeting", "2").stdout
    alliance.cli("sync")
    board = alliance.trello_member("anna.devries@example.org").get_board(
        alliance.resource("trello", "board", "board"))
    moved = [c for c in board.open_cards() if "Research and gap" in c.name]
    assert [str(c.due)[:10] for c in moved] == ["2027-07-08"]
