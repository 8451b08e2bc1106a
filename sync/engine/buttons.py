"""The Block Kit buttons on every item message, and what a press of one means.

An item message is its text (a ``section`` block, cut to Slack's 3,000 characters with a link to
the card for the rest, so a long title never makes Slack answer ``invalid_blocks``; the
message's plain ``text`` keeps it whole) and one ``actions`` block of three buttons:
start (in progress), done and blocked, labelled with the localised status names. A press comes
back through Slack's interactivity endpoint (``mcm-sync serve``) as a ``block_actions``
payload whose ``action_id`` names the status; it is applied exactly like the matching
reaction.

Buttons only where a press is received: Slack delivers a press to the app's interactivity
URL (or its Socket Mode connection) once, and keeps it nowhere a later read could find it
(neither the message, its reactions nor the channel's history record it). So with
``real_time: none`` (only a scheduled ``sync``) the messages carry no buttons, and a sync
takes them off messages posted while they were on (and puts them back when real time is
configured again).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sync.core.config import Config

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


def buttons_on(config: Config) -> bool:
    """Whether item messages carry status buttons: only when a press can be received."""
    return config.real_time != "none"


def shows_buttons(actions: Sequence[str]) -> bool:
    """Whether a message's button ids include our status buttons."""
    return any(pressed_status(action) for action in actions)


def item_blocks(text: str, number: str, labels: Mapping[str, str], card_id: str = "", *,
                buttons: bool = True) -> list[dict[str, Any]]:
    """The blocks of an item message: its text (cut, see :func:`section_text`), then the
    status buttons (``buttons``)."""
    section = {"type": "section", "block_id": "mcm_item_text", "text": {
        "type": "mrkdwn",
        "text": section_text(text, card_link(card_id), labels.get("more_on_card", "more"))}}
    if not buttons:
        # Sent as a block list, not left out: chat.update keeps a message's previous blocks
        # when none are given, and a button that nothing receives must go.
        return [section]
    elements: list[dict[str, Any]] = []
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
        elements.append(button)
    return [section, {"type": "actions", "block_id": f"mcm_item_{number}", "elements": elements}]


def pressed_status(action_id: str) -> str | None:
    """The status a button's ``action_id`` sets, or None if it is not one of ours."""
    if not action_id.startswith(ACTION_PREFIX):
        return None
    status = action_id[len(ACTION_PREFIX):]
    return status if status in BUTTONS else None
