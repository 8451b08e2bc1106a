"""The Block Kit buttons on every item message, and what a press of one means.

An item message is its text (a ``section`` block) and one ``actions`` block of three buttons:
start (in progress), done and blocked, labelled with the localised status names. A press comes
back through Slack's interactivity endpoint (``mcm-sync serve``) as a ``block_actions``
payload whose ``action_id`` names the status; it is applied exactly like the matching
reaction.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

ACTION_PREFIX = "mcm_status_"
BUTTONS = ("doing", "done", "blocked")
_STYLE = {"done": "primary", "blocked": "danger"}


def item_blocks(text: str, number: str, labels: Mapping[str, str]) -> list[dict[str, Any]]:
    """The blocks of an item message: its text, then the status buttons."""
    buttons: list[dict[str, Any]] = []
    for status in BUTTONS:
        button: dict[str, Any] = {
            "type": "button",
            "action_id": f"{ACTION_PREFIX}{status}",
            "text": {"type": "plain_text", "text": labels.get(f"status:{status}", status)[:75]},
            "value": f"{number}:{status}",
        }
        if status in _STYLE:
            button["style"] = _STYLE[status]
        buttons.append(button)
    return [
        {"type": "section", "block_id": "mcm_item_text", "text": {"type": "mrkdwn", "text": text}},
        {"type": "actions", "block_id": f"mcm_item_{number}", "elements": buttons},
    ]


def pressed_status(action_id: str) -> str | None:
    """The status a button's ``action_id`` sets, or None if it is not one of ours."""
    if not action_id.startswith(ACTION_PREFIX):
        return None
    status = action_id[len(ACTION_PREFIX):]
    return status if status in BUTTONS else None
