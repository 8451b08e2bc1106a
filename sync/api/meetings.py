"""The plenary cycle and the published documents: meetings, minutes, the report, the profile.

Reached from an alliance as ``alliance.meetings``::

    schedule = alliance.meetings.schedule()           # dates, reminders, cards
    text = alliance.meetings.calendar(schedule)       # the series as iCalendar
    minutes = alliance.meetings.check_minutes(Path("minutes-1.yaml"))
    alliance.meetings.import_minutes(minutes)         # agreed actions become items
    report = alliance.meetings.report()               # the action plan by step
    print(render_report(report, "markdown"))

Every file is read and checked before the state store is written; the meetings' dates come
from the alliance's start and the playbook, a moved date (``schedule(["2=2026-05-04"])``)
wins and is kept in the state store.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from sync.core.checks import chart_kind
from sync.reports.report import FORMATS

if TYPE_CHECKING:
    from sync.api.opened import OpenAlliance
    from sync.plenary.meetings import ScheduledMeeting
    from sync.plenary.minutes import ImportResult, Minutes
    from sync.reports.report import Report

__all__ = ["FORMATS", "Meetings", "chart_kind", "render_chart", "render_report"]


class Meetings:
    """The alliance's plenary meetings, their minutes and what is published from its state."""

    def __init__(self, alliance: OpenAlliance) -> None:
        self.alliance = alliance

    def schedule(self, moves: Sequence[str] = ()) -> list[ScheduledMeeting]:
        """The plenary series with its reminder days, under the lock (the series is kept in
        the state store); ``moves`` like ``"2=2026-05-04"`` move meeting 2 (number or key),
        checked against the alliance's start and end before anything is written."""
        from sync.plenary.meetings import apply_schedule, parse_adjustments

        config, book = self.alliance.config, self.alliance.playbook
        adjustments = parse_adjustments(moves, book, within=(config.alliance.start_date,
                                                             config.alliance.end_date))
        with self.alliance.writing(bind=True) as store:
            return apply_schedule(config, book, store, adjustments)

    def calendar(self, schedule: Sequence[ScheduledMeeting]) -> bytes:
        """The series as an iCalendar file (stable UIDs: a re-import updates the events)."""
        from sync.plenary.ics import schedule_ics

        return schedule_ics(self.alliance.config, schedule)

    def agenda(self, number: int) -> str:
        """The agenda of plenary ``number`` (Markdown), filled in from the state: the guide's
        agenda, the previous meeting's minutes, the open actions and the progress per step."""
        from sync.reports.agenda import render_agenda

        alliance = self.alliance
        book, rows = alliance.playbook, alliance.rows
        with alliance.store(bind=True) as store:
            return render_agenda(alliance.config, book, rows, store, number)

    def check_minutes(self, path: Path) -> Minutes:
        """Read and check the minutes in ``path`` (YAML, or the Markdown of the template);
        a person not in the alliance or a date that does not parse is an InputError."""
        from sync.plenary.minutes import load_minutes

        return load_minutes(path, self.alliance.config, self.alliance.playbook)

    def import_minutes(self, minutes: Minutes) -> ImportResult:
        """Make every agreed action of checked ``minutes`` an action item (under the lock);
        importing the same minutes again creates nothing new."""
        from sync.plenary.minutes import import_minutes

        with self.alliance.writing(bind=True) as store:
            return import_minutes(store, self.alliance.config, minutes)

    def report(self, today: dt.date | None = None) -> Report:
        """The Regional Alliance Action Plan as of ``today``: the guide's table by step, with
        progress, in the alliance's language."""
        from sync.reports.report import report_from_store

        alliance = self.alliance
        book, rows = alliance.playbook, alliance.rows  # validated before the store is opened
        with alliance.store(bind=True) as store:
            return report_from_store(alliance.config, book, rows, store,
                                     today or dt.date.today())

    def profile(self, report: Report | None = None) -> str:
        """The alliance's short public profile (guide, step 2), from ``report`` or today's."""
        from sync.reports.agenda import render_profile

        alliance = self.alliance
        return render_profile(alliance.config, alliance.playbook, report or self.report())


def render_chart(report: Report, kind: Literal["png", "svg"]) -> bytes:
    """The report's progress picture: completion per step, planned and done over time."""
    from sync.reports.report import report_chart

    return report_chart(report, kind)


def render_report(report: Report, fmt: str, *, chart_link: str = "") -> str:
    """The report as ``fmt`` (one of :data:`FORMATS`): Markdown (linking ``chart_link`` if
    given), one self-contained HTML page with the picture inlined, or one CSV table."""
    from sync.reports.report import render_csv, render_html, render_markdown, report_chart

    if fmt == "html":
        return render_html(report, report_chart(report, "png"))
    if fmt == "csv":
        return render_csv(report)
    return render_markdown(report, chart_path=chart_link)
