"""A card carrying another card's marker line (Trello's "Copy card" copies the description).

It used to be ignored for good, even by ``sync --full``: it has a token, so it was not a
member's new card, and the token's item already had its card. A full reconciliation now makes
it an item of its own (new number, its own marker) and says so; the original keeps its item.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from connectors.identity import make_token, token_in
from tests.support.alliance import Alliance

MEMBER = "bram.visser@example.org"


@pytest.fixture
def alliance(tmp_path: Path) -> Iterator[Alliance]:
    made = Alliance(tmp_path)
    made.cli("bootstrap")
    made.cli("sync")
    yield made
    made.close()


def test_a_copied_card_becomes_an_item_of_its_own_and_is_reported(alliance: Alliance) -> None:
    with alliance.store() as store:
        original = store.get_item_by_number("FRL-3")
        card_id = store.get_side(original.id, "trello").remote_id
        count = len(store.list_items())
    trello = alliance.trello_member(MEMBER)
    card = trello.fetch_json(f"/cards/{card_id}")
    copy = trello.fetch_json("/cards", http_method="POST", post_args={
        "idList": card["idList"], "name": "Copy of " + card["name"], "desc": card["desc"]})
    assert token_in(copy["desc"]) == make_token("frl", original.key)

    outcome = alliance.json("sync", "--full")
    assert len(outcome["card_copies"]) == 1
    number = outcome["card_copies"][0].split()[0]
    assert outcome["card_copies"] == [f"{number} (a copy of FRL-3's card)"]
    with alliance.store() as store:
        assert len(store.list_items()) == count + 1
        made = store.get_item_by_number(number)
        assert store.get_side(made.id, "trello").remote_id == copy["id"]
        assert store.get_side(original.id, "trello").remote_id == card_id  # kept its card
    renamed = trello.fetch_json(f"/cards/{copy['id']}")
    assert token_in(renamed["desc"]) == make_token("frl", made.key)  # its own marker now
    assert renamed["name"].startswith(f"{number} · ")
    again = alliance.json("sync", "--full")
    assert again["card_copies"] == [] and again["created_items"] == []
    text = alliance.cli("sync", "--full").output
    assert "copied cards" not in text
