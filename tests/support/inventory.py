"""What exists on the sandbox's services after a bootstrap, counted so duplicates show."""

from __future__ import annotations

from collections import Counter
from typing import Any

from connectors.identity import token_in, token_in_metadata
from tests.support.alliance import Alliance

# The example alliance: 34 playbook tasks + 5 plenary meetings + 6 action-plan rows.
EXPECTED_CARDS = 45


def board_cards(alliance: Alliance) -> list[dict[str, Any]]:
    """Every open card on the alliance board, as the coordinator sees it through py-trello."""
    board_id = alliance.resource("trello", "board", "board")
    client = alliance.trello_member("bram.visser@example.org")
    return list(client.fetch_json(f"/boards/{board_id}/cards", query_params={"filter": "open"}))


def remote_inventory(alliance: Alliance) -> dict[str, Any]:
    """Counts of what exists remotely, with duplicates made visible."""
    coordinator = alliance.trello_member("anna.devries@example.org")
    boards = [b for b in coordinator.fetch_json("/members/me/boards") if not b["closed"]]
    board_tokens = Counter(token_in(b.get("desc", "")) for b in boards)
    cards = board_cards(alliance) if boards else []
    card_tokens = Counter(token_in(c["desc"]) for c in cards)
    slack = alliance.slack_member("anna.devries@example.org")
    channels = Counter(c["name"] for c in slack.conversations_list(types="public_channel",
                                                                   exclude_archived=False)
                       ["channels"])
    welcome = 0
    if "frl-alliance" in channels:
        general = next(c["id"] for c in slack.conversations_list()["channels"]
                       if c["name"] == "frl-alliance")
        welcome = sum(1 for m in slack.conversations_history(channel=general,
                                                             include_all_metadata=True)["messages"]
                      if token_in_metadata(m.get("metadata")))
    return {
        "boards": sum(board_tokens.values()),
        "cards": len(cards),
        "duplicate_cards": sum(n - 1 for n in card_tokens.values() if n > 1),
        "untokened_cards": card_tokens.get(None, 0),
        "channels": sorted(channels.elements()),
        "welcome_messages": welcome,
    }
