"""Minutes as written, before any check: the raw records both file forms are read into.

:func:`read_yaml` reads minutes written in YAML (``meeting``, ``date``, ``host``, ``place``,
``attendees``, ``absentees``, ``guests``, ``items`` of ``subject``, ``comment`` and
``actions`` of ``action``, ``responsible``, ``due``); :mod:`sync.plenary.minutes_markdown` reads the
rendered Markdown template into the same :class:`RawMinutes`. Every value keeps its line, so
:mod:`sync.plenary.minutes` can name the line of each problem.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import yaml

from playbooks.yaml_text import check_shape
from sync.core.errors import Problem

_NAME_SPLIT = re.compile(r"\s*(?:[,;&+]|<br>|\n)\s*")
_YAML_KEYS = {"meeting", "date", "host", "place", "attendees", "absentees", "guests", "items"}
_ITEM_KEYS = {"subject", "comment", "actions", "action", "responsible", "delivery", "due"}
_ACTION_KEYS = {"action", "responsible", "due", "delivery"}


@dataclass
class RawAction:
    """An agreed action as written: text, responsible names, delivery date, line."""

    title: str
    responsible: list[tuple[str, int]]
    due: Any
    line: int
    subject: str = ""


@dataclass
class RawMinutes:
    """Minutes as written, before people and dates are checked; every value has its line."""

    meeting: Any = None
    meeting_line: int = 1
    date: Any = None
    date_line: int = 1
    host: str = ""
    place: str = ""
    attendees: list[tuple[str, int]] = field(default_factory=list)
    absentees: list[tuple[str, int]] = field(default_factory=list)
    guests: list[str] = field(default_factory=list)
    subjects: list[tuple[str, str]] = field(default_factory=list)
    actions: list[RawAction] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)


# --------------------------------------------------------------------------- YAML


class _Map(dict[Any, Any]):
    """A YAML mapping that knows its line and the line of each key."""

    line = 1
    key_lines: dict[Any, int]


class _Seq(list[Any]):
    """A YAML sequence that knows the line of each item."""

    line = 1
    item_lines: list[int]


class _LineLoader(yaml.SafeLoader):
    """A safe YAML loader whose mappings and sequences remember their lines."""


def _construct_map(loader: _LineLoader, node: yaml.MappingNode) -> _Map:
    mapping = _Map(loader.construct_mapping(node, deep=True))
    mapping.line = node.start_mark.line + 1
    mapping.key_lines = {k.value: k.start_mark.line + 1 for k, _ in node.value}
    return mapping


def _construct_seq(loader: _LineLoader, node: yaml.SequenceNode) -> _Seq:
    sequence = _Seq(loader.construct_sequence(node, deep=True))
    sequence.line = node.start_mark.line + 1
    sequence.item_lines = [child.start_mark.line + 1 for child in node.value]
    return sequence


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_map)
# Dates stay text, so a bad one ("2027-13-45") is reported with its line by parse_date
# instead of failing inside the YAML parser.
_LineLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_seq)


def _line_of(data: Any, key: str) -> int:
    lines = getattr(data, "key_lines", {})
    return int(lines.get(key, getattr(data, "line", 1)))


def _names(value: Any, line: int) -> list[tuple[str, int]]:
    """People as a list or a comma-separated text, each with its line."""
    if value is None:
        return []
    if isinstance(value, list):
        lines = getattr(value, "item_lines", [line] * len(value))
        return [(str(v).strip(), n) for v, n in zip(value, lines, strict=False) if str(v).strip()]
    return [(part, line) for part in _NAME_SPLIT.split(str(value)) if part.strip()]


def read_yaml(text: str, source: str) -> RawMinutes:
    """The raw records of minutes written in YAML (see docs/commands/meetings.md for the shape)."""
    raw = RawMinutes()
    try:
        check_shape(text)  # duplicate keys, alias bombs, nesting: refused with the line
        data = yaml.load(text, Loader=_LineLoader)  # a SafeLoader subclass: safe
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark else ""
        detail = getattr(exc, "problem", None) or exc
        raw.problems.append(Problem(source, where, f"not valid YAML: {detail}",
                                    "check indentation and quoting"))
        return raw
    if not isinstance(data, dict):
        raw.problems.append(Problem(source, "line 1", "expected a mapping with meeting: and items:",
                                    "see the minutes example in docs/commands/meetings.md"))
        return raw
    for key in sorted(set(map(str, data)) - _YAML_KEYS):
        raw.problems.append(Problem(source, f"line {_line_of(data, key)}", f"unknown key '{key}'",
                                    f"use {', '.join(sorted(_YAML_KEYS))}"))
    raw.meeting, raw.meeting_line = data.get("meeting"), _line_of(data, "meeting")
    if raw.meeting in (None, ""):
        raw.problems.append(Problem(source, "line 1", "which meeting is this?",
                                    "add meeting: with its number or key, e.g. meeting: 2"))
    raw.date, raw.date_line = data.get("date"), _line_of(data, "date")
    raw.host, raw.place = str(data.get("host") or ""), str(data.get("place") or "")
    raw.attendees = _names(data.get("attendees"), _line_of(data, "attendees"))
    raw.absentees = _names(data.get("absentees"), _line_of(data, "absentees"))
    raw.guests = [name for name, _ in _names(data.get("guests"), _line_of(data, "guests"))]
    items = data.get("items") or []
    if not isinstance(items, list):
        raw.problems.append(Problem(source, f"line {_line_of(data, 'items')}",
                                    "items must be a list of agenda items"))
        return raw
    for item in items:
        _yaml_item(item, raw, source)
    return raw


def _yaml_item(item: Any, raw: RawMinutes, source: str) -> None:
    if not isinstance(item, dict):
        raw.problems.append(Problem(source, f"line {getattr(item, 'line', 1)}",
                                    "an agenda item must be a mapping (subject:, comment:...)"))
        return
    for key in sorted(set(map(str, item)) - _ITEM_KEYS):
        raw.problems.append(Problem(source, f"line {_line_of(item, key)}", f"unknown key '{key}'",
                                    f"use {', '.join(sorted(_ITEM_KEYS))}"))
    subject = str(item.get("subject") or "").strip()
    raw.subjects.append((subject, str(item.get("comment") or "").strip()))
    actions = item.get("actions")
    if isinstance(item.get("action"), str):  # the flat form: one row of the minutes table
        flat = _Map({k: item[k] for k in _ACTION_KEYS if k in item})
        flat.line, flat.key_lines = getattr(item, "line", 1), getattr(item, "key_lines", {})
        actions = [flat]
    if actions is None:
        return
    if not isinstance(actions, list):
        raw.problems.append(Problem(source, f"line {_line_of(item, 'actions')}",
                                    "actions must be a list of {action, responsible, due}"))
        return
    item_lines = getattr(actions, "item_lines", [getattr(actions, "line", 1)] * len(actions))
    for action, action_line in zip(actions, item_lines, strict=False):
        if isinstance(action, str):  # an action without a person or date: reported below
            action = _Map({"action": action})
            action.line, action.key_lines = action_line, {}
        if not isinstance(action, dict):
            raw.problems.append(Problem(source, f"line {action_line}",
                                        "an action must be a mapping: action, responsible, due"))
            continue
        line = _line_of(action, "action")
        for key in sorted(set(map(str, action)) - _ACTION_KEYS):
            raw.problems.append(Problem(source, f"line {_line_of(action, key)}",
                                        f"unknown key '{key}'", "use action, responsible, due"))
        due_key = "due" if "due" in action else "delivery"
        raw.actions.append(RawAction(
            title=str(action.get("action") or "").strip(),
            responsible=_names(action.get("responsible"), _line_of(action, "responsible")),
            due=(action.get(due_key), _line_of(action, due_key)),
            line=line,
            subject=subject,
        ))
