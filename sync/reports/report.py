"""The published Regional Alliance Action Plan, from the playbook, the plan file and the state.

The guide's action table (number, action, local problem, description, budget, resources,
responsible partner, timeline, status, due date), grouped by step, in the alliance's language:
the playbook's tasks and the alliance's own rows as ``sync.documents.context`` lays them
out, with the number, status, due date and people the state store knows now, and after them
every other live item of the step (actions agreed in minutes, cards members added). Written as
Markdown, CSV (one flat table) or a self-contained HTML page with the progress picture of
:mod:`sync.reports.chart` embedded as a data-URI PNG.
"""

from __future__ import annotations

import base64
import datetime as dt
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

from playbooks.labels import fill, format_amount, format_date, labels
from playbooks.model import ActionRow, Playbook
from sync.actionplan.progress import StepProgress, step_progress
from sync.core.config import Config
from sync.core.csv_cells import writer as safe_csv_writer
from sync.documents.context import plan_groups
from sync.documents.render import environment
from sync.plenary.meetings import ScheduledMeeting, meeting_schedule
from sync.reports.chart import ChartFormat, StepBar, progress_chart
from sync.state.rows import AuditEntry, Item
from sync.state.store import StateStore

Format = Literal["markdown", "html", "csv"]
FORMATS: tuple[Format, ...] = ("markdown", "html", "csv")
_CLOSED = ("cancelled",)


@dataclass(frozen=True)
class ReportRow:
    """One row of the table: display cells, CSV cells, and what the progress picture needs."""

    cells: dict[str, str]
    csv: dict[str, str]
    status: str
    due: dt.date | None
    done_on: dt.date | None


@dataclass(frozen=True)
class ReportGroup:
    """The rows of one step (or of the last group, actions of no known step).

    Its figures are :func:`sync.actionplan.progress.step_progress`'s, the one count every output
    shows.
    """

    key: str
    number: int
    title: str
    rows: list[ReportRow]
    progress: StepProgress

    @property
    def live(self) -> list[ReportRow]:
        """Rows that are not cancelled."""
        return [r for r in self.rows if r.status not in _CLOSED]

    @property
    def done(self) -> int:
        """How many counted units of the step are done."""
        return self.progress.done

    @property
    def total(self) -> int:
        """How many units of the step count."""
        return self.progress.total

    @property
    def percent(self) -> int:
        """Completion in whole percent (100 for a step with nothing to do)."""
        return self.progress.percent


@dataclass(frozen=True)
class Report:
    """Everything the three formats show."""

    language: str
    title: str
    alliance: str
    region: str
    intro: str
    vision: str
    today: dt.date
    columns: list[tuple[str, str]]  # (key, localised title)
    groups: list[ReportGroup]
    meetings: list[ScheduledMeeting] = field(default_factory=list)
    total_budget: str = ""

    @property
    def rows(self) -> list[ReportRow]:
        """Every row, in table order."""
        return [row for group in self.groups for row in group.rows]


def _names(owner: str, config: Config) -> list[str]:
    by_email = {str(p.email).lower(): p.name for p in config.people}
    return [by_email.get(e.strip().lower(), e.strip()) for e in owner.split(",") if e.strip()]


def _done_dates(items: Sequence[Item], audit: Sequence[AuditEntry]) -> dict[str, dt.date]:
    """When each done item became done: its last status change to done, else its last update."""
    found: dict[str, dt.date] = {}
    for entry in audit:
        if entry.item_id and entry.field == "status" and entry.new == "done":
            found[entry.item_id] = dt.datetime.fromisoformat(entry.at).date()
    return {i.id: found.get(i.id) or dt.datetime.fromisoformat(i.updated_at).date()
            for i in items if i.status == "done"}


def _overlay(cells: dict[str, str], csv_cells: dict[str, str], item: Item | None,
             default_status: str, default_due: dt.date | None, config: Config, book: Playbook,
             done: Mapping[str, dt.date], today: dt.date) -> ReportRow:
    """A row of the plan with what the state knows about its item (number, status, due, who)."""
    status, due = default_status, default_due
    cells, csv_cells = dict(cells), dict(csv_cells)
    if item is not None:
        status = item.status
        due = dt.date.fromisoformat(item.due[:10]) if item.due else None
        cells["number"] = csv_cells["number"] = item.number
        names = _names(item.owner, config)
        if names and not all(name in cells.get("responsible", "") for name in names):
            cells["responsible"] = csv_cells["responsible"] = ", ".join(names)
    cells["status"] = csv_cells["status"] = book.action_plan.statuses[status]
    cells["due"] = format_date(due, book.language) if due else ""
    csv_cells["due"] = due.isoformat() if due else ""
    done_on = None
    if status == "done":
        done_on = done.get(item.id) if item is not None else None
        done_on = done_on or min(due or today, today)
    return ReportRow(cells, csv_cells, status, due, done_on)


def _extra_row(item: Item, config: Config, book: Playbook, done: Mapping[str, dt.date],
               meetings: Mapping[str, ScheduledMeeting], today: dt.date) -> ReportRow:
    """An item the plan does not list (agreed in minutes, added on Trello) as a table row."""
    description = ""
    if item.key.startswith("minutes:"):
        meeting = meetings.get(item.key.split(":")[1])
        if meeting is not None:
            description = fill(labels(book.language)["report"]["minutes_source"],
                               number=meeting.number,
                               date=format_date(meeting.date, book.language))
    keys = [column.key for column in book.action_plan.columns]
    cells = dict.fromkeys(keys, "")
    cells |= {"action": item.title, "description": description}
    return _overlay(cells, dict(cells), item, item.status, None, config, book, done, today)


def _figures(figures: Mapping[str, StepProgress], key: str, title: str) -> StepProgress:
    """The shared figures of a group (none counted: a group of cancelled rows only)."""
    return figures.get(key) or StepProgress(key, title, 0, 0)


def build_report(config: Config, book: Playbook, rows: Sequence[ActionRow],
                 items: Sequence[Item], audit: Sequence[AuditEntry],
                 meetings: Sequence[ScheduledMeeting], today: dt.date) -> Report:
    """The action plan as it stands on ``today``: pure over the config, rows and store rows."""
    lang = book.language
    text = labels(lang)
    by_key = {item.key: item for item in items}
    done = _done_dates(items, audit)
    by_meeting = {m.key: m for m in meetings}
    display, plain = plan_groups(config, book, rows), plan_groups(config, book, rows, for_csv=True)
    known = {step.key for step in book.steps}
    figures = {p.key: p for p in step_progress(items, book, rows)}
    used: set[str] = set()
    groups = []
    for group, csv_group in zip(display, plain, strict=True):
        step = next((s for s in book.steps if s.key == group.key), None)
        sources: list[tuple[str, str, dt.date | None]] = []
        if step is not None:
            sources += [(f"task:{t.id}", "todo", t.timing.due_date(config.alliance.start_date))
                        for t in step.tasks]
            sources += [(f"action:{r.key}", r.status, r.due) for r in rows if r.step == step.key]
        else:
            sources += [(f"action:{r.key}", r.status, r.due) for r in rows if r.step not in known]
        out = []
        for (key, status, due), cells, csv_cells in zip(sources, group.rows, csv_group.rows,
                                                        strict=True):
            used.add(key)
            out.append(_overlay(cells, csv_cells, by_key.get(key), status, due, config, book,
                                done, today))
        out += [_extra_row(i, config, book, done, by_meeting, today) for i in items
                if i.step == group.key and i.kind != "meeting" and i.key not in used
                and group.key]
        groups.append(ReportGroup(group.key, group.number, group.title, out,
                                  _figures(figures, group.key, group.title)))
    stray = [_extra_row(i, config, book, done, by_meeting, today) for i in items
             if i.kind != "meeting" and i.key not in used and i.step not in known]
    if stray:
        if groups and not groups[-1].key:
            last = groups.pop()
            groups.append(ReportGroup("", last.number, last.title, last.rows + stray,
                                      _figures(figures, "", last.title)))
        else:
            title = text["common"]["other_step"]
            groups.append(ReportGroup("", len(book.steps) + 1, title, stray,
                                      _figures(figures, "", title)))
    budgets = [r.budget_eur for r in rows if r.budget_eur is not None]
    alliance = config.alliance
    return Report(
        language=lang,
        title=f"{book.templates['action_plan']}{text['common']['colon']}{alliance.name}",
        alliance=alliance.name,
        region=alliance.region,
        intro=fill(text["action_plan"]["intro"], alliance=alliance.name, region=alliance.region,
                   start=format_date(alliance.start_date, lang),
                   end=format_date(alliance.end_date, lang)),
        vision=alliance.vision.strip(),
        today=today,
        columns=[(c.key, c.title) for c in book.action_plan.columns],
        groups=groups,
        meetings=list(meetings),
        total_budget=format_amount(sum(budgets, Decimal(0)), lang) if budgets else "",
    )


def report_from_store(config: Config, book: Playbook, rows: Sequence[ActionRow],
                      store: StateStore, today: dt.date) -> Report:
    """:func:`build_report` over what the state store holds now."""
    return build_report(config, book, rows, store.list_items(), store.list_audit(),
                        meeting_schedule(config, book, store), today)


def report_chart(report: Report, fmt: ChartFormat = "png") -> bytes:
    """The progress picture of ``report``: completion per step, planned vs done over time."""
    bars = [StepBar(group.title, group.done, group.total) for group in report.groups]
    live = [row for row in report.rows if row.status not in _CLOSED]
    planned = [row.due for row in live if row.due is not None]
    done = [row.done_on for row in live if row.done_on is not None]
    return progress_chart(bars, planned, done, report.today, report.language, fmt)


def _context(report: Report) -> dict[str, Any]:
    text = labels(report.language)
    return {"r": report, "t": text,
            "generated": fill(text["report"]["generated"],
                              date=format_date(report.today, report.language))}


def render_markdown(report: Report, *, chart_path: str = "") -> str:
    """The report as Markdown; ``chart_path`` links a progress picture saved beside it."""
    context = _context(report) | {"chart_path": chart_path}
    return environment(False).get_template("report.md.j2").render(context).rstrip() + "\n"


def render_html(report: Report, chart_png: bytes | None) -> str:
    """The report as one self-contained HTML page (the picture inlined as a data URI)."""
    uri = "data:image/png;base64," + base64.b64encode(chart_png).decode() if chart_png else ""
    context = _context(report) | {"chart_uri": uri}
    return environment(True).get_template("report.html.j2").render(context)


def render_csv(report: Report) -> str:
    """The report as one flat CSV table: step number and title, then the guide's columns."""
    text = labels(report.language)["report"]
    header = [text["col_step"], *[title for _, title in report.columns]]
    buffer = io.StringIO()
    writer = safe_csv_writer(buffer, lineterminator="\n")  # formulas neutralised
    writer.writerow(header)
    for group in report.groups:
        for row in group.rows:
            writer.writerow([f"{group.number}. {group.title}",
                             *[row.csv.get(key, "") for key, _ in report.columns]])
    return buffer.getvalue()
