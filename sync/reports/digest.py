"""The digest message in the general channel: overdue, due this week, progress, next meeting."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from playbooks.labels import format_date, format_number, format_percent
from playbooks.messages import messages
from playbooks.model import ActionRow, Playbook
from sync.actionplan.progress import due_between, is_overdue, step_progress
from sync.plenary.meetings import ScheduledMeeting
from sync.state.rows import Item


def digest_text(alliance: str, book: Playbook, items: Sequence[Item], today: dt.date,
                rows: Sequence[ActionRow] = (),
                schedule: Sequence[ScheduledMeeting] = ()) -> str:
    """The digest in the alliance's language (Slack mrkdwn); ``rows``: the alliance's plan rows.

    The next plenary is the meeting calendar's (``schedule``, as the reminders see it).
    """
    text = messages(book.language)
    statuses = book.action_plan.statuses

    language = book.language

    def when(item: Item) -> str:
        return format_date(dt.date.fromisoformat(item.due[:10]), language) if item.due else "-"

    def line(item: Item) -> str:
        return f"• *{item.number}* {item.title} ({when(item)}, {statuses[item.status]})"

    overdue = [i for i in items if is_overdue(i, today) and i.kind != "meeting"]
    week = [i for i in due_between(items, today, today + dt.timedelta(days=7))
            if i.kind != "meeting"]
    coming = [(m.date, m.title) for m in schedule
              if m.status not in ("done", "cancelled") and m.date >= today]
    parts = [text["digest_title"].format(alliance=alliance, date=format_date(today, language)),
             "",
             f"*{text['digest_overdue']}*"]
    parts += [line(i) for i in overdue] or [text["digest_none"]]
    parts += ["", f"*{text['digest_due_week']}*"]
    parts += [line(i) for i in week] or [text["digest_none"]]
    parts += ["", f"*{text['digest_progress']}*"]
    parts += [f"• {p.title}: {format_number(p.done, language)}/{format_number(p.total, language)}"
              f" ({format_percent(p.percent, language)})"
              for p in step_progress(items, book, rows)]
    parts += ["", f"*{text['digest_next_meeting']}*",
              f"• {min(coming)[1]} ({format_date(min(coming)[0], book.language)})"
              if coming else text["digest_none"]]
    return "\n".join(parts)


def digest_due(last_posted: str | None, every: dt.timedelta, now: dt.datetime) -> bool:
    """True when the previous digest is older than ``every`` (or there was none)."""
    return last_posted is None or now - dt.datetime.fromisoformat(last_posted) >= every
