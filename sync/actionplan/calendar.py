"""The alliance's playbook on its own calendar, and what is dated after the alliance's end.

:func:`alliance_playbook` is the playbook every command works with: the guide's timing scaled
to ``alliance.duration_months`` and ``alliance.plenaries``
(:func:`playbooks.calendar.fit_playbook`), so cards, messages, templates, the agenda, the
report and the schedule show the same dates.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from playbooks.calendar import dated_after_end, fit_playbook
from playbooks.model import ActionRow, Meeting, Playbook
from sync.core.config import Config
from sync.core.errors import Problem
from sync.core.kept import kept_folder
from sync.core.kept.playbook import playbook_key, playbook_sources, read_playbook, write_playbook
from sync.state.rows import Item


def alliance_playbook(config: Config, language: str | None = None) -> Playbook:
    """The playbook in ``language`` (default the alliance's), fitted to the alliance's calendar.

    Kept between runs beside the state store under a digest of what it is made from
    (:mod:`sync.core.kept.playbook`): a scheduled run reads it back instead of building it.
    """
    alliance = config.alliance
    language = language or alliance.language
    calendar = (alliance.start_date, alliance.end_date, alliance.plenaries)
    folder = kept_folder(config)
    key = fitted_playbook_key(config, language) if folder else None
    if folder is not None and key is not None:
        kept = read_playbook(folder, language, key)
        if kept is not None:
            return kept
    # Imported here: the loader, its schemas and checks only when the playbook is built.
    from playbooks.loader import load_playbook

    book = fit_playbook(load_playbook(language), *calendar)
    if folder is not None and key is not None:
        write_playbook(folder, key, book)
    return book


def fitted_playbook_key(config: Config, language: str | None = None) -> str | None:
    """The key :func:`alliance_playbook` keeps the playbook in ``language`` (default the
    alliance's) under (:func:`sync.core.kept.playbook.playbook_key`)."""
    alliance = config.alliance
    language = language or alliance.language
    return playbook_key(language, alliance.start_date, alliance.end_date, alliance.plenaries,
                        playbook_sources(language))


def item_keys(playbook: Playbook, rows: Sequence[ActionRow]) -> list[str]:
    """The logical keys of every item, in the order they are numbered (bootstrap numbers
    them; every run counts them against ``sync.max_items``)."""
    keys = [f"task:{task.id}" for task in playbook.all_tasks()]
    keys += [f"meeting:{meeting.key}" for meeting in playbook.meetings.meetings]
    keys += [f"action:{row.key}" for row in rows]
    return keys


@dataclass(frozen=True)
class MeetingDate:
    """When a plenary takes place, when the plan put it, and which of the two rules said so."""

    date: dt.date
    planned: dt.date
    origin: str  # "plan", "board" (the item's due date, moved on Trello) or "adjusted"


def planned_meeting_date(config: Config, meeting: Meeting) -> dt.date:
    """The playbook's date of a plenary: the alliance's start plus its offset in weeks."""
    return config.alliance.start_date + dt.timedelta(weeks=meeting.offset_weeks)


def meeting_calendar(config: Config, book: Playbook, adjusted: Mapping[str, dt.date],
                     items: Sequence[Item] = ()) -> dict[str, MeetingDate]:
    """The one meeting calendar: meeting key -> its date (pure).

    A meeting's date is, in order: the coordinator's adjustment (``meeting schedule --date``),
    else the due date of its item (a member may have moved its card), else the plan. Cards,
    the schedule, agendas, minutes, templates, digests, reminders and ``/alliance`` all read
    their dates from here, so a moved meeting is moved everywhere at once.
    """
    dues = {item.key: item.due for item in items if item.kind == "meeting" and item.due}
    found = {}
    for meeting in book.meetings.meetings:
        planned = planned_meeting_date(config, meeting)
        due = dues.get(f"meeting:{meeting.key}")
        if meeting.key in adjusted:
            found[meeting.key] = MeetingDate(adjusted[meeting.key], planned, "adjusted")
        elif due:
            board = dt.date.fromisoformat(due[:10])
            found[meeting.key] = MeetingDate(board, planned,
                                             "plan" if board == planned else "board")
        else:
            found[meeting.key] = MeetingDate(planned, planned, "plan")
    return found


def after_end(config: Config, book: Playbook, rows: Sequence[ActionRow],
              items: Sequence[Item] = (), *, source: str = "") -> list[Problem]:
    """Warnings naming every task, plenary, plan row or item dated after the alliance's end."""
    alliance = config.alliance
    end = alliance.end_date
    hint = (f"the alliance ends on {end.isoformat()}: move the date earlier or lengthen "
            "alliance.duration_months")
    found = [Problem(source, "playbook", f"{late.what} is dated {late.date.isoformat()}, after "
                     "the end", hint) for late in dated_after_end(book, alliance.start_date, end)]
    plan = config.action_plan or "action_plan"
    found += [Problem(str(plan), f"row {row.number or row.key}",
                      f"'{row.action}' is due {row.due.isoformat()}, after the end", hint)
              for row in rows if row.due is not None and row.due > end]
    found += [Problem("state", item.number,
                      f"'{item.title}' is dated {item.due[:10]}, after the end", hint)
              for item in items if item.due and item.status not in ("done", "cancelled")
              and dt.date.fromisoformat(item.due[:10]) > end]
    return found
