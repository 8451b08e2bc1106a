"""The action plan's progress, computed from the state store (pure over its rows).

One truth for every output: :func:`step_progress` is what ``mcm-sync status``, the weekly
digest, the newsletter, the meeting agenda, the report, the profile and ``template render
action_plan`` show. What counts is the guide's *action plan*: the playbook's tasks, the
alliance's own rows and the actions added since (minutes, cards members made). The plenary
meetings are the programme the work is reviewed in, not work of a step, so they never count
(:func:`counts`); cancelled items do not count either. An item's status is the state store's;
a planned task or row the sync has not made yet counts with the plan's own status.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from playbooks.labels import labels
from playbooks.model import OPEN_STATUSES, ActionRow, Playbook
from sync.core.errors import UserError
from sync.state.rows import Item


@dataclass(frozen=True)
class ItemRow:
    """One row of the status table."""

    number: str
    title: str
    step: str
    owner: str
    due: str | None
    status: str
    overdue: bool

    def as_dict(self) -> dict[str, object]:
        """JSON-ready form."""
        return dict(self.__dict__)


@dataclass(frozen=True)
class StepProgress:
    """Done / total (cancelled items left out) for one step."""

    key: str
    title: str
    done: int
    total: int

    @property
    def percent(self) -> int:
        """Completion in whole percent (100 for a step with nothing to do)."""
        return round(100 * self.done / self.total) if self.total else 100


def is_overdue(item: Item, today: dt.date) -> bool:
    """An open item whose due date has passed."""
    return item.status in OPEN_STATUSES and item.due is not None \
        and dt.date.fromisoformat(item.due[:10]) < today


def owner_names(owner: str, names: Mapping[str, str]) -> str:
    """Comma-joined owner e-mails as people's names (unknown e-mails stay e-mails)."""
    return ", ".join(names.get(email, email) for email in owner.split(",") if email)


def step_key(book: Playbook, value: str) -> str:
    """The key of the step ``value`` names: its number, key or name (the alliance's language
    or English). Case, ``_`` and ``-`` do not matter (``getting_started`` is "Getting
    started"); anything else is a UserError (exit 2) listing the valid steps.
    """
    def plain(text: str) -> str:
        return " ".join(text.replace("_", " ").replace("-", " ").casefold().split())

    from playbooks.loader import load_playbook  # the loader and its schemas only for --step

    english = {s.key: s.title for s in load_playbook("en").steps}
    for step in book.steps:
        if plain(value) in {str(step.number), plain(step.key), plain(step.title),
                            plain(english.get(step.key, step.key))}:
            return step.key
    valid = "; ".join(f"{s.number} = {s.key} = {s.title}" for s in book.steps)
    raise UserError(f"--step {value}: no such step",
                    hint=f"give a step's number, key or title: {valid}")


def item_rows(items: Sequence[Item], today: dt.date, *, step: str | None = None,
              owner: str | None = None, overdue_only: bool = False,
              names: Mapping[str, str] | None = None) -> list[ItemRow]:
    """The status table, filtered, ordered by due date then number.

    ``names`` maps e-mails to people's names: the table shows names, and ``owner`` matches
    either.
    """
    rows = []
    for item in items:
        shown = owner_names(item.owner, names or {})
        if step and item.step != step:
            continue
        if owner and owner.lower() not in f"{item.owner} {shown}".lower():
            continue
        late = is_overdue(item, today)
        if overdue_only and not late:
            continue
        rows.append(ItemRow(item.number, item.title, item.step, shown, item.due,
                            item.status, late))
    return sorted(rows, key=lambda r: (r.due or "9999", _number_key(r.number)))


def _number_key(number: str) -> tuple[str, int]:
    prefix, _, count = number.rpartition("-")
    return prefix, int(count) if count.isdigit() else 0


def counts(kind: str, status: str) -> bool:
    """Whether an item of this kind and status counts for progress (not meetings, not cancelled)."""
    return kind != "meeting" and status != "cancelled"


@dataclass(frozen=True)
class Unit:
    """One piece of work as progress sees it: its state key, step and status."""

    key: str
    step: str
    status: str


def planned_units(book: Playbook, rows: Sequence[ActionRow] = ()) -> list[Unit]:
    """The plan's work with the plan's own status: playbook tasks, then the alliance's rows."""
    units = [Unit(f"task:{task.id}", step.key, "todo") for step in book.steps
             for task in step.tasks]
    return units + [Unit(f"action:{row.key}", row.step, row.status) for row in rows]


def progress_units(items: Sequence[Item], book: Playbook,
                   rows: Sequence[ActionRow] = ()) -> list[Unit]:
    """Every unit of work that counts: the plan overlaid with the state, then other live items.

    A planned task or row takes its item's status once the sync made it; an item the plan does
    not list (agreed in minutes, a card a member added) counts in its own step.
    """
    by_key = {item.key: item for item in items}
    units = []
    for unit in planned_units(book, rows):
        item = by_key.get(unit.key)
        units.append(unit if item is None else Unit(unit.key, unit.step, item.status))
    planned = {unit.key for unit in units}
    units += [Unit(i.key, i.step, i.status) for i in items
              if i.key not in planned and counts(i.kind, i.status)]
    return [unit for unit in units if counts("planned", unit.status)]


def step_progress(items: Sequence[Item], book: Playbook,
                  rows: Sequence[ActionRow] = ()) -> list[StepProgress]:
    """Per step of the playbook: how many of its counted units are done (see the module doc).

    Units of no known step form a last group (key ``""``) when there are any.
    """
    units = progress_units(items, book, rows)
    known = {step.key for step in book.steps}
    groups = [(step.key, step.title) for step in book.steps]
    if any(unit.step not in known for unit in units):
        groups.append(("", labels(book.language)["common"]["other_step"]))
    result = []
    for key, title in groups:
        mine = [u for u in units if (u.step == key if key else u.step not in known)]
        result.append(StepProgress(key, title, sum(1 for u in mine if u.status == "done"),
                                   len(mine)))
    return result


def due_between(items: Sequence[Item], start: dt.date, end: dt.date) -> list[Item]:
    """Open items due in ``[start, end]``."""
    return [i for i in items if i.status in OPEN_STATUSES and i.due is not None
            and start <= dt.date.fromisoformat(i.due[:10]) <= end]
