"""Minutes of a plenary meeting: read them (YAML or the rendered Markdown), check them, keep them.

The guide's minutes record the attendees and absentees and, per agenda item, the comment, the
agreed actions, the person responsible and the delivery date. ``mcm-sync minutes import`` turns
every agreed action into an action item of the state store (the next ``mcm-sync sync`` gives it
a Trello card and a Slack message). Both file forms are first read into the same raw records
with their line numbers (:mod:`sync.plenary.minutes_read`, :mod:`sync.plenary.minutes_markdown`),
then resolved
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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from playbooks.action_plan import MAX_ACTION
from playbooks.dates import DATE_HINT, date_problem, parse_date
from playbooks.model import Meeting, Playbook
from sync.core.config import Config, Person
from sync.core.errors import InputError, Problem
from sync.plenary.minutes_markdown import read_markdown
from sync.plenary.minutes_read import RawMinutes, read_yaml
from sync.state.rows import Item
from sync.state.store import StateStore

MINUTES_KIND = "minutes"  # resources ("hub", "minutes", <meeting key>) hold the imported record
# The items' ``source``: the store's schema allows playbook/file/trello/slack/cli, and minutes
# are a file the coordinator wrote; their ``minutes:`` keys tell them from action-plan rows.
MINUTES_SOURCE = "file"
_PARENTHESES = re.compile(r"\s*\([^)]*\)")


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
    # A reader that could not find the meeting at all has said so already.
    if meeting is None and (raw.meeting not in (None, "") or not problems):
        count = len(book.meetings.meetings)
        what = f"unknown meeting '{raw.meeting}'" if raw.meeting else "which meeting is this?"
        problems.append(Problem(source, f"line {raw.meeting_line}", what,
                                f"give the meeting number (1-{count}) or key"))
    date = parse_date(raw.date, book.language)
    wrong = date_problem(raw.date, book.language) if raw.date not in (None, "") else None
    if wrong is not None:
        problems.append(Problem(source, f"line {raw.date_line}", wrong.message, wrong.hint))
    people = config.people
    attendees = _people(raw.attendees, people, source, problems, "attendee")
    absentees = _people(raw.absentees, people, source, problems, "absentee")
    actions = []
    for index, action in enumerate(raw.actions, start=1):
        where = f"line {action.line}"
        if not action.title:
            problems.append(Problem(source, where, "an agreed action needs its text"))
        elif "\n" in action.title or len(action.title) > MAX_ACTION:
            problems.append(Problem(source, where, f"an agreed action is one line of at most "
                                    f"{MAX_ACTION} characters (it becomes a card's title)",
                                    "put the details under comment:"))
        if not action.responsible:
            problems.append(Problem(source, where, f"no person responsible for '{action.title}'",
                                    "name who does it (name or e-mail of the alliance)"))
        owners = _people(action.responsible, people, source, problems, "responsible person")
        value, line = action.due
        due = parse_date(value, book.language)
        if due is None:
            wrong = date_problem(value, book.language) if value not in (None, "") else None
            text = wrong.message if wrong else "no delivery date"
            problems.append(Problem(source, f"line {line}", f"{text} for '{action.title}'",
                                    wrong.hint if wrong else DATE_HINT))
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
