"""The Block Kit buttons on every item message, and what a press of one means.

An item message is its text (a ``section`` block, cut to Slack's 3,000 characters with a link to
the card for the rest, so a long title never makes Slack answer ``invalid_blocks``; the
message's plain ``text`` keeps it whole) and one ``actions`` block of three buttons:
start (in progress), done and blocked, labelled with the localised status names. A press comes
back through Slack's interactivity endpoint (``mcm-sync serve``) as a ``block_actions``
payload whose ``action_id`` names the status; it is applied exactly like the matching
reaction.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

ACTION_PREFIX = "mcm_status_"
MAX_SECTION_TEXT = 3000  # Slack: "Maximum length for the text in this field is 3000"
MAX_BUTTON_TEXT = 75
TRELLO_CARD_URL = "https://trello.com/c/{card_id}"
BUTTONS = ("doing", "done", "blocked")
_STYLE = {"done": "primary", "blocked": "danger"}


def card_link(card_id: str) -> str:
    """The card's address in Trello (Trello resolves a card id in ``/c/``)."""
    return TRELLO_CARD_URL.format(card_id=card_id) if card_id else ""


def section_text(text: str, link: str, more: str) -> str:
    """``text`` as a section may carry it: cut before 3,000 characters with a link to the rest.

    The cut never splits an escape (``&amp;``) or a ``<link|label>``.
    """
    if len(text) <= MAX_SECTION_TEXT:
        return text
    tail = f"… <{link}|{more}>" if link else "…"
    cut = text[:MAX_SECTION_TEXT - len(tail)]
    # An entity is a few characters, a link a few hundred: only an opening that close to
    # the cut can be one that the cut splits.
    for opening, closing, reach in (("&", ";", 8), ("<", ">", 400)):
        at = cut.rfind(opening)
        if at > cut.rfind(closing) and at >= len(cut) - reach:
            cut = cut[:at]
    return cut.rstrip() + tail


def item_blocks(text: str, number: str, labels: Mapping[str, str],
                card_id: str = "") -> list[dict[str, Any]]:
    """The blocks of an item message: its text (cut, see :func:`section_text`), then the
    status buttons."""
    buttons: list[dict[str, Any]] = []
    for status in BUTTONS:
        button: dict[str, Any] = {
            "type": "button",
            "action_id": f"{ACTION_PREFIX}{status}",
            "text": {"type": "plain_text",
                     "text": labels.get(f"status:{status}", status)[:MAX_BUTTON_TEXT]},
            "value": f"{number}:{status}",
        }
        if status in _STYLE:
            button["style"] = _STYLE[status]
        buttons.append(button)
    return [
        {"type": "section", "block_id": "mcm_item_text", "text": {
            "type": "mrkdwn",
            "text": section_text(text, card_link(card_id), labels.get("more_on_card", "more"))}},
        {"type": "actions", "block_id": f"mcm_item_{number}", "elements": buttons},
    ]


def pressed_status(action_id: str) -> str | None:
    """The status a button's ``action_id`` sets, or None if it is not one of ours."""
    if not action_id.startswith(ACTION_PREFIX):
        return None
    status = action_id[len(ACTION_PREFIX):]
    return status if status in BUTTONS else None
