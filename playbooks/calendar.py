"""The playbook's timing fitted to one alliance's calendar (pure; ground floor).

The structure file lays the tasks and plenaries out for the guide's reference plan of 18 months
(78 weeks). An alliance runs 12-18 months (``alliance.duration_months``) with 4 or 5 plenary
meetings (``alliance.plenaries``). :func:`fit_playbook` returns the playbook with every week
scaled to the alliance's length, nothing past its end, the optional plenary left out of a
series of 4, and the sustainability plan due at least ``sustainability_lead_months`` (6) before
the end, as the guide asks. Every date mcm-sync shows (cards, messages, templates, agenda,
report, schedule) is computed from the fitted playbook, so they agree.
"""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass

from playbooks.model import Meeting, Playbook, Timing

SUSTAINABILITY_TASK = "sustain.plan-sustainability"


def add_months(date: dt.date, months: int) -> dt.date:
    """``date`` moved by whole calendar months (negative: back), clamped to the month's end."""
    index = date.month - 1 + months
    year, month = date.year + index // 12, index % 12 + 1
    return dt.date(year, month, min(date.day, calendar.monthrange(year, month)[1]))


def sustainability_deadline(book: Playbook, end: dt.date) -> dt.date:
    """The latest due date of the sustainability plan: the end minus the guide's lead time."""
    return add_months(end, -book.facts.sustainability_lead_months)


def _weeks(days: int) -> int:
    """Whole weeks that fit in ``days`` (never past it)."""
    return max(days, 0) // 7


def fit_playbook(book: Playbook, start: dt.date, end: dt.date, plenaries: int = 5) -> Playbook:
    """``book`` with its timing scaled from the reference plan to ``start``..``end``.

    A week ``w`` of the reference plan becomes ``round(w * length / reference)`` weeks, never
    later than the last whole week before ``end``; a task keeps at least one week. With
    ``plenaries`` below the playbook's number of meetings the optional ones are left out and the
    rest renumbered.
    """
    length_days = (end - start).days
    reference_days = book.facts.plan_weeks * 7
    last_week = _weeks(length_days)
    deadline_week = _weeks((sustainability_deadline(book, end) - start).days)

    def scale(week: int) -> int:
        return min(round(week * length_days / reference_days), last_week)

    steps = []
    for step in book.steps:
        tasks = []
        for task in step.tasks:
            first = scale(task.timing.offset_weeks)
            due = scale(task.timing.offset_weeks + task.timing.duration_weeks)
            if task.id == SUSTAINABILITY_TASK:
                due = min(due, deadline_week)
            first = min(first, due - 1) if due >= 1 else 0
            timing = Timing(offset_weeks=max(first, 0), duration_weeks=max(due - first, 1))
            tasks.append(task.model_copy(update={"timing": timing}))
        steps.append(step.model_copy(update={"tasks": tasks}))
    meetings = _series(book.meetings.meetings, plenaries)
    meetings = [m.model_copy(update={"number": n, "offset_weeks": scale(m.offset_weeks)})
                for n, m in enumerate(meetings, start=1)]
    series = book.meetings.model_copy(update={"meetings": meetings})
    return book.model_copy(update={"steps": steps, "meetings": series})


def _series(meetings: list[Meeting], plenaries: int) -> list[Meeting]:
    """The first ``plenaries`` meetings once the optional ones are left out as needed."""
    kept = list(meetings)
    for meeting in reversed(meetings):
        if len(kept) <= plenaries:
            break
        if meeting.optional:
            kept.remove(meeting)
    return kept[:plenaries] if len(kept) > plenaries else kept


@dataclass(frozen=True)
class LateDate:
    """Something of the alliance dated after its end (a ``validate`` warning)."""

    what: str
    key: str
    date: dt.date


def dated_after_end(book: Playbook, start: dt.date, end: dt.date) -> list[LateDate]:
    """Tasks due and plenaries held after ``end`` when ``book``'s timing starts on ``start``."""
    late = [LateDate(f"task {task.id} ({task.title})", task.id, task.timing.due_date(start))
            for step in book.steps for task in step.tasks
            if task.timing.due_date(start) > end]
    late += [LateDate(f"plenary meeting {m.number} ({m.title})", m.key,
                      start + dt.timedelta(weeks=m.offset_weeks))
             for m in book.meetings.meetings
             if start + dt.timedelta(weeks=m.offset_weeks) > end]
    return late


__all__ = ["LateDate", "add_months", "dated_after_end", "fit_playbook",
           "sustainability_deadline"]
