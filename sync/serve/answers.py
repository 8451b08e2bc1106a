"""The ``/alliance`` slash command's private answer: the member's open items, the next plenary.

Read from the state store only (no remote call), so it is answered well within Slack's three
seconds. The member is found by their Slack user id (recorded by bootstrap) and matched to
items by e-mail.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from playbooks.labels import format_date, format_number
from playbooks.messages import messages
from playbooks.model import OPEN_STATUSES, Playbook
from sync.core.config import Config
from sync.plenary.meetings import meeting_schedule
from sync.state.store import StateStore

OPEN = OPEN_STATUSES
SHOWN = 10


def alliance_answer(config: Config, book: Playbook, store: StateStore, user_id: str,
                    today: dt.date | None = None) -> str:
    """The text of the private answer to ``/alliance`` for Slack user ``user_id``, in the
    alliance's language: its words, status names, dates and numbers (Babel)."""
    today = today or dt.date.today()
    language = book.language
    text = messages(language)
    statuses = book.action_plan.statuses
    users: Mapping[str, str] = {r.remote_id: r.logical_key
                                for r in store.list_resources("slack", "user")}
    email = users.get(user_id, "")
    lines = [f"*{config.alliance.name}*"]
    if not email:
        lines.append(text["answer_unknown"])
    else:
        mine = [i for i in store.list_items()
                if i.status in OPEN and email in [o.strip() for o in i.owner.split(",")]]
        mine.sort(key=lambda i: (i.due or "9999", i.number))
        if mine:
            lines.append(text["answer_items"].format(count=format_number(len(mine), language)))
            for item in mine[:SHOWN]:
                status = statuses.get(item.status, item.status)
                due = (" · " + text["answer_due"].format(
                    date=format_date(dt.date.fromisoformat(item.due[:10]), language))
                    if item.due else "")
                lines.append(f"• *{item.number}* {item.title} ({status}{due})")
            if len(mine) > SHOWN:
                more = text["answer_more"].format(count=format_number(len(mine) - SHOWN,
                                                                      language))
                # The rest where a member can see it: the board (a member cannot run the
                # coordinator's command line).
                board = store.get_resource("trello", "board", "board")
                if board is not None and board.url:
                    more += " · " + text["answer_board"].format(url=board.url)
                lines.append(more)
        else:
            lines.append(text["answer_none"])
    upcoming = [m for m in meeting_schedule(config, book, store)
                if m.date >= today and m.status not in ("done", "cancelled")]
    if upcoming:
        nxt = min(upcoming, key=lambda m: m.date)
        lines.append(text["answer_next"].format(title=nxt.title,
                                                date=format_date(nxt.date, language)))
    return "\n".join(lines)
