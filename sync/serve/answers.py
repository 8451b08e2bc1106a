"""The ``/alliance`` slash command's private answer: the member's open items, the next plenary.

Read from the state store only (no remote call), so it is answered well within Slack's three
seconds. The member is found by their Slack user id (recorded by bootstrap) and matched to
items by e-mail.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from playbooks.model import OPEN_STATUSES, Playbook
from sync.core.config import Config
from sync.plenary.meetings import meeting_schedule
from sync.state.store import StateStore

OPEN = OPEN_STATUSES
SHOWN = 10


def alliance_answer(config: Config, book: Playbook, store: StateStore, user_id: str,
                    today: dt.date | None = None) -> str:
    """The text of the private answer to ``/alliance`` for Slack user ``user_id``."""
    today = today or dt.date.today()
    users: Mapping[str, str] = {r.remote_id: r.logical_key
                                for r in store.list_resources("slack", "user")}
    email = users.get(user_id, "")
    lines = [f"*{config.alliance.name}*"]
    if not email:
        lines.append("I do not know you yet: ask the coordinator to add your e-mail to the "
                     "alliance's people.")
    else:
        mine = [i for i in store.list_items()
                if i.status in OPEN and email in [o.strip() for o in i.owner.split(",")]]
        mine.sort(key=lambda i: (i.due or "9999", i.number))
        if mine:
            lines.append(f"Your open items ({len(mine)}):")
            for item in mine[:SHOWN]:
                due = f" · due {item.due[:10]}" if item.due else ""
                lines.append(f"• *{item.number}* {item.title} ({item.status}{due})")
            if len(mine) > SHOWN:
                lines.append(f"… and {len(mine) - SHOWN} more (`mcm-sync status --owner`)")
        else:
            lines.append("You have no open items.")
    upcoming = [m for m in meeting_schedule(config, book, store)
                if m.date >= today and m.status not in ("done", "cancelled")]
    if upcoming:
        nxt = min(upcoming, key=lambda m: m.date)
        lines.append(f"Next plenary: {nxt.title}, {nxt.date.isoformat()}")
    return "\n".join(lines)
