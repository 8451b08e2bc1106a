"""The agenda of a plenary filled in from the state, and the alliance's public profile.

``mcm-sync meeting agenda N`` renders the guide's agenda (``playbooks/templates/agenda.md.j2``,
dated from the meeting schedule) followed by what the state store knows: the minutes of the
previous meeting as imported (attendance, comments, the actions agreed and where they stand),
the open actions with those due before the meeting marked, and the action plan's progress per
step for its review. ``mcm-sync profile`` renders the guide's short public profile (step 2)
with a paragraph on where the alliance stands.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from playbooks.labels import fill, format_date, labels
from playbooks.model import OPEN_STATUSES, ActionRow, Playbook
from sync.core.config import Config
from sync.core.errors import UserError
from sync.documents.context import base_context
from sync.documents.render import environment, render_template
from sync.plenary.meetings import ScheduledMeeting, meeting_schedule
from sync.plenary.minutes import MINUTES_KIND
from sync.reports.report import Report, report_from_store
from sync.state.rows import Item
from sync.state.store import StateStore

_OPEN_COLUMNS = ("number", "action", "responsible", "due", "status")


def _names(emails: Sequence[str] | str, config: Config) -> str:
    if isinstance(emails, str):
        emails = [e for e in emails.split(",") if e.strip()]
    by_email = {str(p.email).lower(): p.name for p in config.people}
    return ", ".join(by_email.get(e.strip().lower(), e.strip()) for e in emails)


def _action_row(item: Item, config: Config, book: Playbook, before: dt.date) -> dict[str, str]:
    text = labels(book.language)["meetings"]
    due = ""
    if item.due:
        date = dt.date.fromisoformat(item.due[:10])
        due = format_date(date, book.language)
        if date <= before and item.status in OPEN_STATUSES:
            due += f" ({text['due_by_meeting']})"
    return {
        "number": item.number,
        "action": item.title,
        "responsible": _names(item.owner, config) or text["nobody"],
        "due": due,
        "status": book.action_plan.statuses[item.status],
    }


def _previous(store: StateStore, config: Config, book: Playbook,
              meeting: ScheduledMeeting | None) -> dict[str, Any] | None:
    """The imported minutes of ``meeting`` (the one before), as the agenda shows them."""
    if meeting is None:
        return None
    found = store.get_resource("hub", MINUTES_KIND, meeting.key)
    if found is None:
        return None
    record = found.data
    none = labels(book.language)["meetings"]["none"]
    date = dt.date.fromisoformat(record["date"]) if record.get("date") else meeting.date
    items = [store.get_item_by_key(key) for key in record.get("actions", [])]
    return {
        "date": format_date(date, book.language),
        "present": _names(record.get("attendees", []), config) or none,
        "absent": _names(record.get("absentees", []), config) or none,
        "subjects": record.get("subjects", []),
        "actions": [_action_row(i, config, book, meeting.date) for i in items if i is not None],
    }


def render_agenda(config: Config, book: Playbook, rows: Sequence[ActionRow], store: StateStore,
                  number: int) -> str:
    """The agenda of plenary ``number`` (1-based) with the state's sections, as Markdown."""
    schedule = meeting_schedule(config, book, store)
    if not 1 <= number <= len(schedule):
        raise UserError(f"there is no plenary meeting {number}",
                        hint=f"choose a meeting number from 1 to {len(schedule)}")
    lang = book.language
    context = base_context(config, book, rows, number, {m.key: m.date for m in schedule})
    meeting = schedule[number - 1]
    # The review counts what the published report counts: plan tasks and rows, with their state.
    report = report_from_store(config, book, rows, store, dt.date.today())
    items = [i for i in store.list_items() if i.kind != "meeting"]
    open_items = sorted((i for i in items if i.status in OPEN_STATUSES),
                        key=lambda i: (i.due or "9999", i.number))
    titles = {c.key: c.title for c in book.action_plan.columns}
    text = labels(lang)["meetings"]
    context |= {
        "previous": _previous(store, config, book, schedule[number - 2] if number > 1 else None),
        "open_columns": [(key, titles[key]) for key in _OPEN_COLUMNS],
        "open_actions": [_action_row(i, config, book, meeting.date) for i in open_items],
        "review": [fill(text["review_line"], title=g.title, done=g.done, total=g.total,
                        percent=g.percent) for g in report.groups],
    }
    template = environment(False).get_template("meeting_agenda.md.j2")
    return template.render(context).rstrip() + "\n"


def render_profile(config: Config, book: Playbook, report: Report) -> str:
    """The public profile (guide, step 2) with a paragraph on where the alliance stands."""
    lang = book.language
    text = labels(lang)["report"]
    profile = render_template("profile", config, book).text.rstrip()
    done = sum(group.done for group in report.groups)
    total = sum(group.total for group in report.groups)
    held = [m for m in report.meetings if m.status == "done" or m.date < report.today]
    upcoming = [m for m in report.meetings if m not in held and m.status != "cancelled"]
    lines = [f"## {text['state_title']}", "",
             fill(text["state_text"], done=done, total=total, held=len(held),
                  count=len(report.meetings))]
    if upcoming:
        lines += ["", fill(text["next_meeting"], title=upcoming[0].title,
                           date=format_date(upcoming[0].date, lang))]
    state = "\n".join(lines) + "\n\n"
    # Where we stand goes before the contact section, which closes the profile.
    contact = f"## {labels(lang)['common']['contact']}"
    head, found, tail = profile.rpartition(contact)
    return (f"{head}{state}{found}{tail}" if found else f"{profile}\n\n{state}").rstrip() + "\n"
