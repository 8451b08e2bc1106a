"""Minutes of a plenary meeting: read them (YAML or the rendered Markdown), check them, keep them.

The guide's minutes record the attendees and absentees and, per agenda item, the comment, the
agreed actions, the person responsible and the delivery date. ``mcm-sync minutes import`` turns
every agreed action into an action item of the state store (the next ``mcm-sync sync`` gives it
a Trello card and a Slack message). Both file forms are first read into the same raw records
with their line numbers (:mod:`sync.minutes_markdown` reads the Markdown form), then resolved
here against the alliance: every person must be one of the config's people (by name or
e-mail) and every delivery date must parse, or the whole file is refused with one
:class:`InputError` naming the file and line of each problem. Nothing is written before the
whole file has been checked.

Item keys are ``minutes:<meeting key>:<n>`` (the n-th agreed action of the file), so
importing the same minutes again creates nothing new.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from playbooks.labels import labels
from playbooks.model import Meeting, Playbook
from sync.config import LANGUAGES, Config, Person
from sync.errors import InputError, Problem
from sync.state import StateStore
from sync.state_rows import Item

MINUTES_KIND = "minutes"  # resources ("hub", "minutes", <meeting key>) hold the imported record
# The items' ``source``: the store's schema allows playbook/file/trello/slack/cli, and minutes
# are a file the coordinator wrote; their ``minutes:`` keys tell them from action-plan rows.
MINUTES_SOURCE = "file"
_NAME_SPLIT = re.compile(r"\s*(?:[,;&+]|<br>|\n)\s*")
_PARENTHESES = re.compile(r"\s*\([^)]*\)")
_DAY_FIRST = re.compile(r"^(\d{1,2})[./-](\d{1,2})[./-](\d{4})$")
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


@dataclass(frozen=True)
class AgreedAction:
    """One agreed action: its place in the file, text, owners (sorted e-mails), delivery date."""

    index: int
    title: str
    owners: tuple[str, ...]
    due: dt.date
    subject: str
    line: int

    def key(self, meeting_key: str) -> str:
        """The stable item key, e.g. ``minutes:gap-workshop:3``."""
        return f"minutes:{meeting_key}:{self.index}"


@dataclass(frozen=True)
class Minutes:
    """Checked minutes of one plenary meeting."""

    source: str
    meeting: Meeting
    step: str
    date: dt.date | None
    host: str
    place: str
    attendees: tuple[str, ...]
    absentees: tuple[str, ...]
    guests: tuple[str, ...]
    subjects: tuple[tuple[str, str], ...]
    actions: tuple[AgreedAction, ...]

    def record(self) -> dict[str, Any]:
        """What the store keeps of the minutes (for the next agenda): no secrets, plain JSON."""
        return {
            "meeting": self.meeting.key,
            "number": self.meeting.number,
            "date": self.date.isoformat() if self.date else None,
            "host": self.host,
            "place": self.place,
            "attendees": list(self.attendees),
            "absentees": list(self.absentees),
            "guests": list(self.guests),
            "subjects": [{"subject": s, "comment": c} for s, c in self.subjects],
            "actions": [a.key(self.meeting.key) for a in self.actions],
            "source": Path(self.source).name,
        }


@dataclass(frozen=True)
class ImportResult:
    """What an import did: the items it created and those that existed already.

    ``differing`` are existing items whose title is no longer the action's text at that place
    in the file: the item is kept as it is (members may have edited its card since), and the
    coordinator is told.
    """

    minutes: Minutes
    created: tuple[Item, ...]
    existing: tuple[Item, ...]
    differing: tuple[tuple[AgreedAction, Item], ...] = ()


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
    """The raw records of minutes written in YAML (see the README for the shape)."""
    raw = RawMinutes()
    try:
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
                                    "see the minutes example in the README"))
        return raw
    for key in sorted(set(map(str, data)) - _YAML_KEYS):
        raw.problems.append(Problem(source, f"line {_line_of(data, key)}", f"unknown key '{key}'",
                                    f"use {', '.join(sorted(_YAML_KEYS))}"))
    raw.meeting, raw.meeting_line = data.get("meeting"), _line_of(data, "meeting")
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
        flat.line, flat.key_lines = item.line, item.key_lines
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


# --------------------------------------------------------------------------- checks


def _plain(text: str) -> str:
    return " ".join(text.casefold().split())


def match_person(text: str, people: Sequence[Person]) -> list[Person]:
    """The people ``text`` names: by e-mail, full name, or name without a bracketed remark."""
    wanted = _plain(text)
    exact = [p for p in people if wanted in (_plain(str(p.email)), _plain(p.name))]
    if exact:
        return exact
    return [p for p in people if wanted == _plain(_PARENTHESES.sub("", p.name))]


def parse_date(value: Any, language: str = "en") -> dt.date | None:
    """A date from YAML or text: ISO, day-first ``7-6-2027``, or ``7 June 2027`` in any language.

    ``language`` is tried first for month names; None if nothing fits.
    """
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    text = " ".join(str(value or "").split())
    if not text:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        pass
    try:
        match = _DAY_FIRST.match(text)
        if match:
            return dt.date(int(match[3]), int(match[2]), int(match[1]))
        return _named_month(text, language)
    except ValueError:
        return None


def _named_month(text: str, language: str) -> dt.date | None:
    parts = text.casefold().replace(",", " ").split()
    if len(parts) != 3 or not parts[2].isdigit():
        return None
    for lang in (language, *LANGUAGES):
        spec = labels(lang)["date"]
        months = [m.casefold() for m in spec["months"]]
        day = "1" if parts[0] == spec["first_day"].casefold() else parts[0].rstrip(".")
        if parts[1] in months and day.isdigit():
            return dt.date(int(parts[2]), months.index(parts[1]) + 1, int(day))
    return None


def find_meeting(value: Any, book: Playbook) -> Meeting | None:
    """The plenary meeting named by its number (``2``) or key (``gap-workshop``)."""
    text = str(value or "").strip().casefold()
    for meeting in book.meetings.meetings:
        if text in (str(meeting.number), meeting.key, meeting.title.casefold()):
            return meeting
    return None


def _people(names: Sequence[tuple[str, int]], people: Sequence[Person], source: str,
            problems: list[Problem], what: str) -> tuple[str, ...]:
    found: set[str] = set()
    for name, line in names:
        matches = match_person(name, people)
        if len(matches) == 1:
            found.add(str(matches[0].email).lower())
        elif matches:
            problems.append(Problem(source, f"line {line}", f"'{name}' matches several people",
                                    "write the e-mail address instead"))
        else:
            problems.append(Problem(source, f"line {line}",
                                    f"{what} '{name}' is not a person of the alliance",
                                    "use a name or e-mail from the config's people"))
    return tuple(sorted(found))


def resolve(raw: RawMinutes, source: str, config: Config, book: Playbook) -> Minutes:
    """Check raw minutes against the alliance; :class:`InputError` lists every problem."""
    problems = list(raw.problems)
    meeting = find_meeting(raw.meeting, book)
    if meeting is None and not problems:
        count = len(book.meetings.meetings)
        what = f"unknown meeting '{raw.meeting}'" if raw.meeting else "which meeting is this?"
        problems.append(Problem(source, f"line {raw.meeting_line}", what,
                                f"give the meeting number (1-{count}) or key"))
    date = parse_date(raw.date, book.language)
    if raw.date not in (None, "") and date is None:
        problems.append(Problem(source, f"line {raw.date_line}", f"'{raw.date}' is not a date",
                                "write dates as YYYY-MM-DD"))
    people = config.people
    attendees = _people(raw.attendees, people, source, problems, "attendee")
    absentees = _people(raw.absentees, people, source, problems, "absentee")
    actions = []
    for index, action in enumerate(raw.actions, start=1):
        where = f"line {action.line}"
        if not action.title:
            problems.append(Problem(source, where, "an agreed action needs its text"))
        if not action.responsible:
            problems.append(Problem(source, where, f"no person responsible for '{action.title}'",
                                    "name who does it (name or e-mail of the alliance)"))
        owners = _people(action.responsible, people, source, problems, "responsible person")
        value, line = action.due
        due = parse_date(value, book.language)
        if due is None:
            text = f"'{value}' is not a date" if value not in (None, "") else "no delivery date"
            problems.append(Problem(source, f"line {line}", f"{text} for '{action.title}'",
                                    "write the delivery date as YYYY-MM-DD"))
        if due is not None and owners and action.title:
            actions.append(AgreedAction(index, action.title, owners, due, action.subject,
                                        action.line))
    if problems:
        raise InputError(problems)
    assert meeting is not None
    return Minutes(
        source=source,
        meeting=meeting,
        step=meeting.steps[0] if meeting.steps else "",
        date=date,
        host=raw.host,
        place=raw.place,
        attendees=attendees,
        absentees=tuple(e for e in absentees if e not in attendees),
        guests=tuple(raw.guests),
        subjects=tuple(raw.subjects),
        actions=tuple(actions),
    )


def load_minutes(path: Path, config: Config, book: Playbook) -> Minutes:
    """Read and check a minutes file (``.yaml``/``.yml`` or ``.md``); nothing is written."""
    from sync.minutes_markdown import read_markdown  # it builds on this module: import late

    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise InputError([Problem(source, "", "minutes file not found",
                                  "check the path")]) from None
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise InputError([Problem(source, "", f"cannot read: {reason}",
                                  "save it as UTF-8")]) from None
    suffix = Path(path).suffix.lower()
    if suffix in (".yaml", ".yml"):
        raw = read_yaml(text, source)
    elif suffix in (".md", ".markdown"):
        raw = read_markdown(text, source, book)
    else:
        raise InputError([Problem(source, "", f"unknown file type '{suffix}'",
                                  "use a .yaml or .md file")])
    return resolve(raw, source, config, book)


def import_minutes(store: StateStore, config: Config, minutes: Minutes) -> ImportResult:
    """Create an action item per agreed action (new keys only) and keep the minutes' record.

    Runs in one transaction: either every new item is created or none. The items have no
    Trello or Slack side yet; the next sync creates the card and the message.
    """
    created: list[Item] = []
    existing: list[Item] = []
    differing: list[tuple[AgreedAction, Item]] = []
    meeting_key = minutes.meeting.key
    with store.transaction():
        for action in minutes.actions:
            key = action.key(meeting_key)
            found = store.get_item_by_key(key)
            if found is not None:
                existing.append(found)
                if found.title != action.title:
                    differing.append((action, found))
                continue
            item = store.ensure_item(
                key=key,
                number=store.next_item_number(config.alliance.item_prefix),
                kind="action",
                source=MINUTES_SOURCE,
                title=action.title,
                owner=",".join(action.owners),
                due=action.due.isoformat(),
                status="todo",
                step=minutes.step,
            )
            store.add_audit(item.id, "minutes", "file", "created", None, action.title)
            created.append(item)
        record = minutes.record()
        digest = hashlib.sha256(repr(sorted(record.items())).encode()).hexdigest()[:16]
        store.put_resource("hub", MINUTES_KIND, meeting_key, digest, data=record)
    return ImportResult(minutes, tuple(created), tuple(existing), tuple(differing))
