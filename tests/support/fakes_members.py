"""A person acting in the fake Trello and Slack (``FakeWorld.as_member(email)``).

Members' writes are what the sync must pick up: they are recorded with the member as actor
(board actions, reactions, thread replies) and are neither counted nor ever failed by the
world's fault injection.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from connectors.base import ChatMessage

if TYPE_CHECKING:
    from tests.support.fakes import FakeWorld, Person


class MemberHandle:
    """``world.as_member(email).move_card(card_id, list_id)`` and friends."""

    def __init__(self, world: FakeWorld, person: Person) -> None:
        self.world = world
        self.person = person

    # ------------------------------------------------------------------ Trello

    def _change(self, card_id: str, **changes: Any) -> None:
        self.world.trello.change_card(self.person, card_id, changes)

    def move_card(self, card_id: str, list_id: str) -> None:
        """Drag the card to another list."""
        self._change(card_id, list_id=list_id)

    def archive_card(self, card_id: str) -> None:
        """Archive the card (the sync reads it as cancelled)."""
        self._change(card_id, closed=True)

    def unarchive_card(self, card_id: str) -> None:
        """Send the card back to the board."""
        self._change(card_id, closed=False)

    def set_due(self, card_id: str, due: dt.date | dt.datetime | None) -> None:
        """Change (or clear) the due date."""
        self._change(card_id, due=due)

    def mark_complete(self, card_id: str, complete: bool = True) -> None:
        """Tick (or untick) the due date's "complete" box."""
        self._change(card_id, due_complete=complete)

    def rename_card(self, card_id: str, name: str) -> None:
        """Rename the card."""
        self._change(card_id, name=name)

    def set_members(self, card_id: str, member_ids: list[str]) -> None:
        """Replace the card's members."""
        self._change(card_id, member_ids=member_ids)

    def add_card(self, list_id: str, name: str, desc: str = "", *,
                 due: dt.date | dt.datetime | None = None) -> str:
        """Add a new card to a list; its id."""
        return str(self.world.trello.new_card(self.person, list_id, name, desc, due=due)["id"])

    def delete_card(self, card_id: str) -> None:
        """Delete a card for good."""
        self.world.trello.delete_card(self.person, card_id)

    def comment(self, card_id: str, text: str) -> str:
        """Comment on a card; the action id."""
        return self.world.trello.comment(self.person, card_id, text)

    # ------------------------------------------------------------------ Slack

    def react(self, channel_id: str, ts: str, name: str) -> None:
        """Add a reaction to a message."""
        self.world.slack.react(self.person, channel_id, ts, name)

    def unreact(self, channel_id: str, ts: str, name: str) -> None:
        """Take a reaction back."""
        self.world.slack.unreact(self.person, channel_id, ts, name)

    def reply(self, channel_id: str, ts: str, text: str) -> ChatMessage:
        """Reply in a message's thread."""
        return self.world.slack.post(self.person, channel_id, text, thread_ts=ts)

    def post(self, channel_id: str, text: str) -> ChatMessage:
        """Post a top-level message."""
        return self.world.slack.post(self.person, channel_id, text)
