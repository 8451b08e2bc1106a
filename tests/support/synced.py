"""The bootstrapped, once-synced example alliance the end-to-end tests start from: its
members' names, shortcuts to an item's card and message, and a dump of its state store."""

from __future__ import annotations

from typing import Any

from sync.state.schema.tables import TABLES
from tests.support.alliance import Alliance

ESRA = "esra.yilmaz@example.org"
FARAH = "farah.haddad@example.org"


class Synced(Alliance):
    """A bootstrapped and once-synced alliance, with shortcuts to an item's card and message."""

    def side(self, number: str, side: str) -> str:
        """The remote id of an item's card (``trello``) or message ts (``slack``)."""
        with self.store() as store:
            item = store.get_item_by_number(number)
            assert item is not None, number
            found = store.get_side(item.id, side)
        assert found is not None, (number, side)
        return str(found.remote_id)

    def item(self, number: str) -> Any:
        """The item as the state store holds it."""
        with self.store() as store:
            return store.get_item_by_number(number)

    def card(self, number: str) -> dict[str, Any]:
        """The item's card as Trello shows it."""
        client = self.trello_member(ESRA)
        return dict(client.fetch_json(f"/cards/{self.side(number, 'trello')}"))

    def message(self, number: str) -> dict[str, Any]:
        """The item's message in the actions channel, with its thread replies."""
        slack = self.slack_member(ESRA)
        channel = self.resource("slack", "channel", "actions")
        ts = self.side(number, "slack")
        replies = slack.conversations_replies(channel=channel, ts=ts)["messages"]
        return {**replies[0], "thread": [m["text"] for m in replies[1:]]}

    def move(self, number: str, status: str, who: str = ESRA) -> None:
        """A member drags the item's card to the list of ``status``."""
        self.trello_member(who).fetch_json(
            f"/cards/{self.side(number, 'trello')}",
            http_method="PUT",
            query_params={"idList": self.resource("trello", "list", status)},
        )

    def react(self, number: str, emoji: str, who: str = FARAH) -> None:
        """A member adds a reaction to the item's message."""
        self.slack_member(who).reactions_add(
            channel=self.resource("slack", "channel", "actions"),
            timestamp=self.side(number, "slack"),
            name=emoji,
        )


def state_dump(alliance: Alliance) -> list[str]:
    """Every row of every table of the state store, in order (on either backend)."""
    with alliance.store() as store:
        return [f"{table.name}: {tuple(row)}" for table in TABLES
                for row in store._conn.execute(f"SELECT * FROM {table.name}").fetchall()]


def until_quiet(alliance: Synced) -> dict[str, Any]:
    """Sync until a run is quiet (our own writes come back once, then a plan is empty)."""
    for _ in range(4):
        result = alliance.json("sync")
        if result["quiet"]:
            return result
    raise AssertionError("no run became quiet")
