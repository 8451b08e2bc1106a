"""What the templates show: the alliance's people, meetings and action-plan rows as display text.

The renderer (:mod:`sync.documents.render`) gets everything a template needs from here, already
formatted in the playbook's language (labels and dates from :mod:`playbooks.labels`). Keeping this
logic in Python leaves the templates plain structure.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from playbooks.labels import fill, format_amount, format_date, labels
from playbooks.model import ActionRow, Meeting, Playbook, Step
from sync.actionplan.calendar import planned_meeting_date
from sync.core.config import Config, Person
from sync.documents.ladder import engagement_levels

# Agenda items whose minutes line records something without a delivery (R/A) and those where
# nothing can be due at all (N/A), as in the guide's sample minutes.
_RECORDED = frozenset({"welcome", "previous_minutes"})
_NOT_APPLICABLE = frozenset({"next_meeting", "close"})
# The agenda's first item is the header of the document (host, place, date), not a subject.
_HEADER_ITEM = "host"
_RSVP_DAYS = 14


@dataclass(frozen=True)
class PersonView:
    """A person of the config with localised role and sector labels."""

    name: str
    email: str
    organisation: str
    phone: str
    role: str
    role_label: str
    sector: str
    sector_label: str


@dataclass(frozen=True)
class MeetingView:
    """A plenary meeting with its date in the alliance's calendar."""

    number: int
    key: str
    title: str
    purpose: str
    date: str
    iso: str
    steps: list[str]
    host: str = ""
    place: str = ""
    time: str = ""


@dataclass(frozen=True)
class SectorGroup:
    """The people and organisations of one sector (or "other")."""

    key: str
    label: str
    people: list[PersonView]
    organisations: list[str]


def people_views(config: Config, book: Playbook, text: Mapping[str, Any]) -> list[PersonView]:
    """The config's people with role and sector in the playbook's language."""
    other = text["common"]["other_sector"]
    return [
        PersonView(
            name=p.name,
            email=str(p.email),
            organisation=p.organisation,
            phone=p.phone,
            role=p.role,
            role_label=book.roles.get(p.role, p.role),
            sector=p.sector,
            sector_label=book.facts.sectors.get(p.sector, other),
        )
        for p in config.people
    ]


def sector_groups(people: Sequence[PersonView], book: Playbook) -> list[SectorGroup]:
    """People by sector, in the guide's sector order; unknown or blank sectors last."""
    keys = [*book.facts.sectors, ""]
    groups = []
    for key in keys:
        if key:
            members = [p for p in people if p.sector == key]
        else:
            members = [p for p in people if p.sector not in book.facts.sectors]
        if not members:
            continue
        organisations = list(dict.fromkeys(p.organisation for p in members))
        groups.append(SectorGroup(key, members[0].sector_label, members, organisations))
    return groups


def meeting_views(config: Config, book: Playbook,
                  dates: Mapping[str, dt.date] | None = None) -> list[MeetingView]:
    """The plenary series with its dates: ``dates`` (meeting key -> date, the meeting
    calendar of :func:`sync.actionplan.calendar.meeting_calendar`), else the plan's.
    """
    titles = {step.key: step.title for step in book.steps}
    views = []
    for meeting in book.meetings.meetings:
        date = (dates or {}).get(meeting.key) or meeting_date(config, meeting)
        venue = config.meeting_venue(meeting.number)
        views.append(
            MeetingView(
                number=meeting.number,
                key=meeting.key,
                title=meeting.title,
                purpose=meeting.purpose,
                date=format_date(date, book.language),
                iso=date.isoformat(),
                steps=[titles.get(key, key) for key in meeting.steps],
                host=venue.host,
                place=venue.place,
                time=venue.start_time.strftime("%H:%M"),
            )
        )
    return views


def meeting_date(config: Config, meeting: Meeting) -> dt.date:
    """The planned date of a plenary: the alliance's start plus the meeting's offset in weeks."""
    return planned_meeting_date(config, meeting)


def _people_with_role(config: Config, role: str) -> list[Person]:
    return [p for p in config.people if p.role == role]


def _responsible(config: Config, book: Playbook, role: str) -> str:
    label = book.roles.get(role, role)
    names = [p.name for p in _people_with_role(config, role)]
    # Name the people only for a role one or two people hold; "Member: <everyone>" helps nobody.
    colon = labels(book.language)["common"]["colon"]
    return f"{label}{colon}{', '.join(names)}" if 0 < len(names) <= 2 else label


def _row_cells(row: ActionRow, book: Playbook, *, for_csv: bool) -> dict[str, str]:
    """One alliance row as column key -> text."""
    lang = book.language
    budget = ""
    if row.budget_eur is not None:
        budget = str(row.budget_eur) if for_csv else format_amount(row.budget_eur, lang)
    due = ""
    if row.due is not None:
        due = row.due.isoformat() if for_csv else format_date(row.due, lang)
    return {
        "number": row.number,
        "action": row.action,
        "local_problem": row.local_problem,
        "description": row.description,
        "budget": budget,
        "resources": row.resources,
        "responsible": row.responsible,
        "timeline": row.timeline,
        "status": book.action_plan.statuses[row.status],
        "due": due,
    }


def _task_cells(
    config: Config, book: Playbook, step: Step, index: int, *, for_csv: bool
) -> dict[str, str]:
    """One playbook task as an action-plan row: owner, weeks and due date from the playbook."""
    task = step.tasks[index]
    timing = task.timing
    due = timing.due_date(config.alliance.start_date)
    common = labels(book.language)["common"]
    first, last = timing.offset_weeks + 1, timing.offset_weeks + timing.duration_weeks
    timeline = (
        fill(common["week"], week=first)
        if first == last
        else fill(common["weeks"], start=first, end=last)
    )
    return {
        "number": f"{step.number}.{index + 1}",
        "action": task.title,
        "local_problem": "",
        "description": task.description,
        "budget": "",
        "resources": "",
        "responsible": _responsible(config, book, task.owner_role),
        "timeline": timeline,
        "status": book.action_plan.statuses["todo"],
        "due": due.isoformat() if for_csv else format_date(due, book.language),
    }


@dataclass(frozen=True)
class PlanGroup:
    """The action-plan rows of one step: the playbook's tasks, then the alliance's rows."""

    key: str
    number: int
    title: str
    rows: list[dict[str, str]]


def plan_groups(
    config: Config, book: Playbook, rows: Sequence[ActionRow], *, for_csv: bool = False
) -> list[PlanGroup]:
    """Action-plan rows grouped by step; rows of an unknown step form a last group."""
    groups = []
    for step in book.steps:
        cells = [
            _task_cells(config, book, step, i, for_csv=for_csv) for i in range(len(step.tasks))
        ]
        cells += [_row_cells(r, book, for_csv=for_csv) for r in rows if r.step == step.key]
        groups.append(PlanGroup(step.key, step.number, step.title, cells))
    known = {step.key for step in book.steps}
    stray = [_row_cells(r, book, for_csv=for_csv) for r in rows if r.step not in known]
    if stray:
        other = labels(book.language)["common"]["other_step"]
        groups.append(PlanGroup("", len(book.steps) + 1, other, stray))
    return groups


def action_plan_table(
    config: Config, book: Playbook, rows: Sequence[ActionRow], *, for_csv: bool = True
) -> tuple[list[str], list[dict[str, str]]]:
    """The action plan as one table: header (column titles, then ``step``) and rows.

    Column titles are the playbook's in its language and the step is its key: both are what
    ``load_action_plan`` reads back, so the CSV can be edited in a spreadsheet and re-used.
    """
    columns = book.action_plan.columns
    header = [column.title for column in columns] + ["step"]
    table = []
    for group in plan_groups(config, book, rows, for_csv=for_csv):
        for cells in group.rows:
            record = {column.title: cells.get(column.key, "") for column in columns}
            record["step"] = group.key
            table.append(record)
    return header, table


def stakeholder_rows(config: Config, book: Playbook) -> list[dict[str, str]]:
    """The stakeholder database prefilled with the alliance's members.

    Consent is left blank on purpose: being in the config is not consent to a newsletter.
    """
    text = labels(book.language)["stakeholders"]
    return [
        {
            "organisation": p.organisation,
            "contact_person": p.name,
            "phone": p.phone,
            "email": str(p.email),
            "website": "",
            "address": "",
            "contribution": book.roles.get(p.role, p.role),
            "interests": "",
            "influence": "",
            "engagement_strategy": text["member_strategy"],
            "own_criteria": "",
            "sector": p.sector,
            "alliance_member": "yes",
            "consent_date": "",
            "consent_method": "",
            "engagement": p.engagement,
        }
        for p in config.people
    ]


def _minutes_items(
    book: Playbook,
    text: Mapping[str, Any],
    meeting: MeetingView,
    next_meeting: MeetingView | None,
    plan_summary: str,
) -> list[dict[str, str]]:
    """The minutes' table: one row per agenda item with the guide's sample comment."""
    minutes = text["minutes"]
    comments = minutes["comments"]
    items = []
    for item in book.meetings.agenda:
        if item.key == _HEADER_ITEM:
            continue
        comment = comments.get(item.key, comments["default"])
        if item.key == "next_meeting":
            comment = (
                fill(comments["next_meeting"], date=next_meeting.date)
                if next_meeting
                else comments["last_meeting"]
            )
        if item.key == "previous_minutes" and meeting.number == 1:
            comment = comments["no_previous"]
        if item.key == "updates_action_plan" and plan_summary:
            comment = f"{comment}\n{plan_summary}"
        if item.key in _RECORDED or item.key in _NOT_APPLICABLE:
            code = minutes["recorded"] if item.key in _RECORDED else minutes["not_applicable"]
            actions, responsible, delivery = "", "", code
        else:
            actions, responsible = minutes["actions_todo"], minutes["responsible_todo"]
            delivery = text["common"]["date_todo"]
        items.append(
            {
                "subject": item.title,
                "comment": comment,
                "actions": actions,
                "responsible": responsible,
                "delivery": delivery,
            }
        )
    return items


def _plan_summary(book: Playbook, rows: Sequence[ActionRow], text: Mapping[str, Any]) -> str:
    if not rows:
        return ""
    counts = [
        f"{label}: {sum(1 for r in rows if r.status == key)}"
        for key, label in book.action_plan.statuses.items()
        if any(r.status == key for r in rows)
    ]
    return fill(text["minutes"]["plan_summary"], summary="; ".join(counts))


def _communication_rows(
    text: Mapping[str, Any], book: Playbook, groups: Sequence[SectorGroup], members: int
) -> list[dict[str, str]]:
    """The communication plan's table: members, each sector, newcomers, policy, media."""
    plan = text["communication_plan"]
    rows: list[dict[str, str]] = []
    organisations = {g.key: g.organisations for g in groups}
    for key in ["members", *book.facts.sectors, "newcomers", "policy_makers", "media"]:
        row = dict(plan["rows"].get(key, plan["rows"]["sector_default"]))
        sector = book.facts.sectors.get(key, "")
        row["stakeholder"] = fill(row["stakeholder"], sector=sector, count=members)
        if organisations.get(key):
            row["stakeholder"] += f" ({', '.join(organisations[key])})"
        rows.append(row)
    return rows


def base_context(
    config: Config, book: Playbook, rows: Sequence[ActionRow], meeting_number: int,
    meeting_dates: Mapping[str, dt.date] | None = None,
) -> dict[str, Any]:
    """Every variable the Markdown templates use; ``meeting_dates``: the meeting calendar
    (meeting key -> date) when the state store is known, else the plan's dates."""
    lang = book.language
    text = labels(lang)
    alliance = config.alliance
    people = people_views(config, book, text)
    coordinators = [p for p in people if p.role == "coordinator"]
    coordinator = coordinators[0] if coordinators else people[0]
    communications = [p for p in people if p.role == "communications"]
    meetings = meeting_views(config, book, meeting_dates)
    meeting = meetings[meeting_number - 1]
    next_meeting = meetings[meeting_number] if meeting_number < len(meetings) else None
    first_date = dt.date.fromisoformat(meetings[0].iso)
    groups = sector_groups(people, book)
    summary = _plan_summary(book, rows, text)
    plan = plan_groups(config, book, rows)
    budgets = [r.budget_eur for r in rows if r.budget_eur is not None]
    return {
        "t": text,
        "pb": book,
        "language": lang,
        "alliance": {
            "name": alliance.name,
            "slug": alliance.slug,
            "region": alliance.region,
            "host": alliance.host_organisation or coordinator.organisation,
            "website": alliance.website,
            "vision": alliance.vision.strip(),
            "start": format_date(alliance.start_date, lang),
            "end": format_date(alliance.end_date, lang),
            "duration_months": alliance.duration_months,
        },
        "people": people,
        "coordinator": coordinator,
        "communications": communications[0] if communications else None,
        "sectors": groups,
        "organisation_count": len({p.organisation for p in people}),
        "meetings": meetings,
        "meeting": meeting,
        "first_meeting": meetings[0],
        "next_meeting": next_meeting,
        "rsvp_date": format_date(first_date - dt.timedelta(days=_RSVP_DAYS), lang),
        "agenda": [item for item in book.meetings.agenda if item.key != _HEADER_ITEM],
        "minutes_items": _minutes_items(book, text, meeting, next_meeting, summary),
        "communication_rows": _communication_rows(text, book, groups, len(people)),
        "engagement": engagement_levels(config, book),
        "plan_columns": book.action_plan.columns,
        "plan_groups": plan,
        "plan_total": format_amount(sum(budgets, Decimal(0)), lang) if budgets else "",
    }
