"""Read minutes written in the rendered minutes template (``mcm-sync template render minutes``).

The coordinator renders the template, fills in the tables during or after the meeting and
imports the file. This module finds, in any of the four languages: the heading with the
meeting number, the header table (date, host, place), the attendance table (present /
absent per person) and the agenda-items table (subject, comment, agreed actions, person
responsible, delivery date), each value with its line. Rows still holding the template's
placeholders, or marked R/A or N/A, agree no action. Several actions in one cell are
separated by line breaks (``<br>``); their people and dates pair up when the counts match.
"""

from __future__ import annotations

import re
from functools import cache

from playbooks.labels import labels
from playbooks.model import Playbook
from sync.core.config import LANGUAGES
from sync.core.errors import Problem
from sync.plenary.minutes_read import RawAction, RawMinutes

_CELL_SPLIT = re.compile(r"(?<!\\)\|")
_SEPARATOR = re.compile(r"^\|?\s*:?-{3,}")
_NO_DELIVERY = {"r/a", "n/a", "-", "—"}
_YES = {"x", "yes", "ja", "oui", "✓", "✔"}
_NO = {"no", "nee", "non", "nej"}
_COLUMNS = {
    "col_name": "name",
    "col_present": "present",
    "col_subject": "subject",
    "col_comment": "comment",
    "col_actions": "actions",
    "col_responsible": "responsible",
    "col_delivery": "delivery",
}


@cache
def _vocabulary() -> dict[str, object]:
    """Every language's column titles, header labels, placeholders and present/absent words."""
    columns: dict[str, str] = {}
    header: dict[str, str] = {}
    placeholders: set[str] = set()
    present: set[str] = set(_YES)
    absent: set[str] = set(_NO)
    headings = []
    for lang in LANGUAGES:
        text = labels(lang)
        minutes, common = text["minutes"], text["common"]
        for key, role in _COLUMNS.items():
            columns[minutes[key].casefold()] = role
        for key in ("date", "host", "place"):
            header[common[key].casefold()] = key
        placeholders |= {minutes["actions_todo"].casefold(), minutes["responsible_todo"].casefold(),
                         common["date_todo"].casefold(), minutes["present_todo"].casefold()}
        yes, _, no = minutes["present_todo"].partition("/")
        present.add(yes.strip().casefold())
        absent.add(no.strip().casefold())
        pattern = re.escape(common["meeting_of"])
        pattern = pattern.replace(r"\{number\}", r"(?P<number>\d+)").replace(r"\{total\}", r"\d+")
        headings.append(re.compile(rf"^#+\s*{pattern}"))
    return {"columns": columns, "header": header, "placeholders": placeholders,
            "present": present, "absent": absent, "headings": headings}


def _cells(line: str) -> list[str]:
    parts = _CELL_SPLIT.split(line.strip())
    if parts and not parts[0].strip():
        parts = parts[1:]
    if parts and not parts[-1].strip():
        parts = parts[:-1]
    return [p.strip().replace("\\|", "|").replace("\\\\", "\\") for p in parts]


def _tables(text: str) -> list[tuple[list[str], list[tuple[int, list[str]]]]]:
    """Every Markdown table: its header cells and its rows with their (1-based) lines."""
    tables: list[tuple[list[str], list[tuple[int, list[str]]]]] = []
    lines = text.splitlines()
    index = 0
    while index < len(lines):
        line = lines[index]
        following = lines[index + 1] if index + 1 < len(lines) else ""
        if line.lstrip().startswith("|") and _SEPARATOR.match(following.strip()):
            header, rows = _cells(line), []
            index += 2
            while index < len(lines) and lines[index].lstrip().startswith("|"):
                rows.append((index + 1, _cells(lines[index])))
                index += 1
            tables.append((header, rows))
        else:
            index += 1
    return tables


def _split(cell: str) -> list[str]:
    return [part.strip() for part in re.split(r"<br\s*/?>", cell) if part.strip()]


def _is_placeholder(cell: str) -> bool:
    placeholders = _vocabulary()["placeholders"]
    assert isinstance(placeholders, set)
    return not cell.strip() or cell.strip().casefold() in placeholders


def read_markdown(text: str, source: str, book: Playbook) -> RawMinutes:
    """The raw records of minutes in the rendered Markdown template (any language)."""
    vocabulary = _vocabulary()
    raw = RawMinutes()
    for number, line in enumerate(text.splitlines(), start=1):
        for heading in vocabulary["headings"]:  # type: ignore[attr-defined]  # a list of patterns
            match = heading.match(line.strip())
            if match and raw.meeting is None:
                raw.meeting, raw.meeting_line = match["number"], number
    if raw.meeting is None:
        raw.problems.append(Problem(source, "line 1", "no heading 'Plenary meeting N of M'",
                                    "keep the heading of the rendered minutes template"))
    columns = vocabulary["columns"]
    assert isinstance(columns, dict)
    for header, rows in _tables(text):
        roles = [columns.get(cell.casefold(), "") for cell in header]
        if not any(header):
            _header_table(rows, raw)
        elif "subject" in roles:
            _items_table(roles, rows, raw)
        elif "present" in roles and "name" in roles:
            _attendance_table(roles, rows, raw, source)
    return raw


def _header_table(rows: list[tuple[int, list[str]]], raw: RawMinutes) -> None:
    header = _vocabulary()["header"]
    assert isinstance(header, dict)
    for line, cells in rows:
        if len(cells) < 2:
            continue
        key = header.get(cells[0].casefold())
        if key == "date" and not _is_placeholder(cells[1]):
            raw.date, raw.date_line = cells[1], line
        elif key == "host":
            raw.host = cells[1]
        elif key == "place":
            raw.place = cells[1]


def _attendance_table(roles: list[str], rows: list[tuple[int, list[str]]], raw: RawMinutes,
                      source: str) -> None:
    present, absent = _vocabulary()["present"], _vocabulary()["absent"]
    assert isinstance(present, set) and isinstance(absent, set)
    name_at, present_at = roles.index("name"), roles.index("present")
    for line, cells in rows:
        if len(cells) <= max(name_at, present_at):
            continue
        name, mark = cells[name_at], cells[present_at].casefold()
        if not name or _is_placeholder(mark):
            continue  # attendance not filled in: recorded as neither
        if mark in present:
            raw.attendees.append((name, line))
        elif mark in absent:
            raw.absentees.append((name, line))
        else:
            raw.problems.append(Problem(source, f"line {line}",
                                        f"'{cells[present_at]}' says neither present nor absent",
                                        "write present or absent (in the minutes' language)"))


def _items_table(roles: list[str], rows: list[tuple[int, list[str]]], raw: RawMinutes) -> None:
    def get(cells: list[str], role: str) -> str:
        at = roles.index(role) if role in roles else -1
        return cells[at] if 0 <= at < len(cells) else ""

    for line, cells in rows:
        subject = get(cells, "subject")
        raw.subjects.append((subject, "\n".join(_split(get(cells, "comment")))))
        actions, delivery = get(cells, "actions"), get(cells, "delivery")
        if _is_placeholder(actions) or delivery.strip().casefold() in _NO_DELIVERY:
            continue
        titles = _split(actions)
        people = _split(get(cells, "responsible"))
        dates = _split(delivery)
        for position, title in enumerate(titles):
            # One person / date per action when the counts match; else they are shared.
            who = people[position] if len(people) == len(titles) else ", ".join(people)
            when = dates[position] if len(dates) == len(titles) else delivery
            names = [] if _is_placeholder(who) else re.split(r"\s*[,;&+]\s*", who)
            raw.actions.append(RawAction(
                title=title,
                responsible=[(name, line) for name in names if name],
                due=(None if _is_placeholder(when) else when, line),
                line=line,
                subject=subject,
            ))
