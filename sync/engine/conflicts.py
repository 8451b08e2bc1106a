"""Deciding a conflict that waits for the coordinator (``conflict_policy: ask``).

``mcm-sync sync`` records a conflict with every side's value and leaves the field alone. The
coordinator picks a side (or types the value); :func:`resolve` makes it the agreed value and
records, for every side, the value that side showed as that side's base — so the next sync
sees the chosen side as unchanged and writes the chosen value to the others.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from playbooks.model import STATUSES
from sync.core.errors import UserError
from sync.core.services import SERVICES
from sync.state.store import StateStore

# Field names in the sync's values and the item's columns.
ITEM_COLUMN = {"status": "status", "due": "due", "title": "title", "owners": "owner"}
# What ``take`` may name: the hub and the board and chat services (as a conflict records them).
SIDES = ("hub", *SERVICES.names(("board", "chat")))


@dataclass(frozen=True)
class Resolution:
    """What ``resolve`` decided: item, field, the chosen value and where it came from."""

    number: str
    field: str
    value: Any
    taken_from: str
    conflicts: int


def _choose(field: str, side_values: dict[str, Any], take: str,
            offered: dict[str, list[Any]]) -> tuple[Any, str]:
    if len(offered.get(take, ())) > 1:
        # Two people asked that side for different values (two members' reactions): the
        # side names no one value, the coordinator types the one they mean.
        values = " or ".join(repr(v) for v in offered[take])
        raise UserError(f"{take} asked for {values}",
                        hint=f"type the value: --take {offered[take][-1]}")
    if take in side_values:
        return side_values[take], take
    if take in SIDES:
        raise UserError(f"{take} has no value in this conflict",
                        hint=f"take one of: {', '.join(side_values)}, or type the value")
    if field == "status" and take not in STATUSES:
        raise UserError(f"{take!r} is not a status",
                        hint=f"use a side ({', '.join(side_values)}) or one of: "
                        f"{', '.join(STATUSES)}")
    return take, "coordinator"


def resolve(store: StateStore, number: str, take: str, field: str | None = None) -> Resolution:
    """Settle the open conflict(s) of one item's field with the value of ``take``.

    ``take`` is a side as the conflict records it (``trello``, ``slack``, ``hub``) or a
    value typed by the coordinator: the only way when two people asked one side for
    different values (two members' reactions in one run).
    """
    item = store.get_item_by_number(number)
    if item is None:
        raise UserError(f"no item {number}", hint="see `mcm-sync status` for the numbers")
    waiting = store.list_conflicts(item_id=item.id, unresolved=True)
    fields = sorted({c.field for c in waiting})
    if not waiting:
        raise UserError(f"{number} has no conflict waiting for a decision",
                        hint="`mcm-sync status` lists the conflicts")
    if field is None:
        if len(fields) > 1:
            raise UserError(f"{number} has conflicts on {', '.join(fields)}",
                            hint="say which with --field")
        field = fields[0]
    records = [c for c in waiting if c.field == field]
    if not records:
        raise UserError(f"{number} has no conflict on {field}",
                        hint=f"its open conflicts are on: {', '.join(fields)}")
    side_values: dict[str, Any] = {}
    offered: dict[str, list[Any]] = {}
    for record in records:
        side_values.update(record.side_values)
        for side, shown in record.offered():
            if shown not in offered.setdefault(side, []):
                offered[side].append(shown)
    value, source = _choose(field, side_values, take, offered)
    with store.transaction():
        old = getattr(item, ITEM_COLUMN[field])
        store.update_item(item.id, **{ITEM_COLUMN[field]: value})
        for side, shown in side_values.items():
            record_side = "file" if side == "hub" else side
            found = store.get_side(item.id, record_side)
            if found is not None:
                store.put_side(item.id, record_side, found.remote_id,
                               {**found.base, field: shown}, fingerprint=found.fingerprint)
        store.add_audit(item.id, "coordinator", "cli", field, old, value)
        for record in records:
            store.resolve_conflict(record.id)
    return Resolution(number, field, value, source, len(records))
