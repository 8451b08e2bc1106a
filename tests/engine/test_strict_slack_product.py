"""mcm-sync on the stricter Slack of the sandbox: every Block Kit message it posts is valid.

A card title far over Slack's 3,000 characters for a section reaches the item message cut,
with a link to the card for the rest; the sandbox validates the blocks as Slack does.
"""

from __future__ import annotations

from connectors.sandbox.slack.blocks import MAX_SECTION_TEXT, check_blocks
from sync.engine.buttons import item_blocks, section_text
from tests.support.synced import ESRA, Synced

LABELS = {"status:doing": "In progress", "status:done": "Done", "status:blocked": "Blocked",
          "more_on_card": "the rest on the card"}


def test_item_blocks_are_valid_for_any_length() -> None:
    for length in (10, 2999, 3000, 3001, 40_000):
        blocks = item_blocks("x" * length, "FRL-1", LABELS, "c1")
        check_blocks(blocks)
        assert len(blocks[0]["text"]["text"]) <= MAX_SECTION_TEXT
    cut = item_blocks("y" * 5000, "FRL-1", LABELS, "c1")[0]["text"]["text"]
    assert cut.endswith("… <https://trello.com/c/c1|the rest on the card>")


def test_the_cut_never_splits_an_escape_or_a_link() -> None:
    text = "a" * 2950 + "&amp;" + "b" * 100
    for room in range(2940, 2960):
        cut = section_text(text[:room] + "&amp;" + "b" * 3000, "https://t/c/1", "more")
        body = cut.rsplit("… <", 1)[0]
        assert not body.endswith(("&", "&a", "&am", "&amp"))
    linked = "a" * 2900 + "<https://example.org/long|" + "l" * 200 + ">"
    body = section_text(linked, "https://t/c/1", "more").rsplit("… <", 1)[0]
    assert "<https://example.org" not in body


def test_a_long_card_title_reaches_slack_cut_with_a_link(alliance: Synced) -> None:
    card_id = alliance.side("FRL-14", "trello")
    title = "Weekly mediator call " + "with a very long agenda " * 250
    alliance.trello_member(ESRA).fetch_json(
        f"/cards/{card_id}", http_method="PUT", query_params={"name": f"FRL-14 · {title}"})
    result = alliance.json("sync")
    assert [c["field"] for c in result["changes"]] == ["title"]
    message = alliance.message("FRL-14")
    section = message["blocks"][0]["text"]["text"]
    assert len(section) <= MAX_SECTION_TEXT
    assert f"https://trello.com/c/{card_id}" in section
    assert title.strip() in message["text"]  # the plain text keeps it whole
