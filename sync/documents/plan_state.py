"""The action-plan template with what the state store knows: numbers, statuses, due dates.

``template render action_plan`` and the published report must show one action plan: once the
sync has made an item for a playbook task or a plan row, the row shows the item's number
(``FRL-3``), status and due date instead of the plan's ``1.1`` / "To do", and each step carries
the shared progress figures of :func:`sync.actionplan.progress.step_progress`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence

from playbooks.labels import fill, format_date, labels
from playbooks.model import ActionRow, Playbook
from sync.actionplan.progress import step_progress
from sync.documents.context import PlanGroup
from sync.state.rows import Item


def plan_keys(book: Playbook, rows: Sequence[ActionRow]) -> dict[str, list[str]]:
    """Per group key (``""``: rows of no known step), the state keys of its rows, in order."""
    known = {step.key for step in book.steps}
    keys = {step.key: [f"task:{t.id}" for t in step.tasks]
            + [f"action:{r.key}" for r in rows if r.step == step.key] for step in book.steps}
    keys[""] = [f"action:{r.key}" for r in rows if r.step not in known]
    return keys


def with_state(groups: Sequence[PlanGroup], book: Playbook, rows: Sequence[ActionRow],
               items: Sequence[Item], *, for_csv: bool = False) -> list[PlanGroup]:
    """``groups`` with each synced row's number, status and due date taken from its item."""
    by_key = {item.key: item for item in items}
    keys = plan_keys(book, rows)
    result = []
    for group in groups:
        cells_out = []
        for key, cells in zip(keys.get(group.key, []), group.rows, strict=True):
            item = by_key.get(key)
            cells = dict(cells)
            if item is not None:
                cells["number"] = item.number
                cells["status"] = book.action_plan.statuses[item.status]
                if item.due:
                    due = dt.date.fromisoformat(item.due[:10])
                    cells["due"] = due.isoformat() if for_csv else format_date(due, book.language)
            cells_out.append(cells)
        result.append(dataclasses.replace(group, rows=cells_out))
    return result


def progress_lines(book: Playbook, rows: Sequence[ActionRow],
                   items: Sequence[Item]) -> dict[str, str]:
    """Per group key, the step's progress line (the report's words and figures)."""
    line = labels(book.language)["report"]["progress_line"]
    return {p.key: fill(line, title=p.title, done=p.done, total=p.total, percent=p.percent)
            for p in step_progress(items, book, rows)}
