"""The action plan's progress, computed from the state store (pure over its rows).

Used by ``mcm-sync status``, the weekly digest, the newsletter and the reports.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from playbooks.model import Playbook
from sync.core.errors import UserError
from sync.state.rows import Item

OPEN_STATUSES = ("todo", "doing", "blocked")


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
    """The key of the step ``value`` names: its number, key or title (any case).

    UserError (exit 2) listing the valid ones for anything else (``--step party``).
    """
    wanted = value.strip().casefold()
    for step in book.steps:
        if wanted in (str(step.number), step.key.casefold(), step.title.casefold()):
            return step.key
    valid = ", ".join(f"{step.number} {step.key} ({step.title})" for step in book.steps)
    raise UserError(f"--step {value!r} is not a step of the playbook",
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


def step_progress(items: Sequence[Item], book: Playbook) -> list[StepProgress]:
    """Per step of the playbook: how many of its live items are done."""
    result = []
    for step in book.steps:
        live = [i for i in items if i.step == step.key and i.status != "cancelled"]
        result.append(StepProgress(step.key, step.title,
                                   sum(1 for i in live if i.status == "done"), len(live)))
    return result


def due_between(items: Sequence[Item], start: dt.date, end: dt.date) -> list[Item]:
    """Open items due in ``[start, end]``."""
    return [i for i in items if i.status in OPEN_STATUSES and i.due is not None
            and start <= dt.date.fromisoformat(i.due[:10]) <= end]
