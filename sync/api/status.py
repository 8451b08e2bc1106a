"""The alliance's state as the coordinator reads it: ``status``, ``log`` and ``resolve``.

:func:`status` gathers the action plan's rows (filtered by step, owner or overdue), the
progress per step, the conflicts, the reactions and button presses ignored, the last sync and
the state store's schema into one :class:`Status`; ``as_dict()`` is what ``mcm-sync status
--json`` prints. :func:`log` reads the audit trail, :func:`resolve` decides a conflict that
waits for the coordinator (``conflict_policy: ask``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sync.core.errors import UserError

if TYPE_CHECKING:
    from sync.actionplan.progress import ItemRow, StepProgress
    from sync.api.opened import OpenAlliance
    from sync.core.config import Config
    from sync.engine.conflicts import Resolution
    from sync.state.rows import AuditEntry, ConflictRecord, Item


@dataclass(frozen=True)
class Status:
    """What ``mcm-sync status`` shows: rows, progress, conflicts, ignored acts, last sync."""

    items: list[ItemRow]
    progress: list[StepProgress]
    conflicts: list[ConflictRecord]
    ignored: list[AuditEntry]
    # Item id -> its number (FRL-7): conflicts and audit entries name items by id.
    numbers: dict[str, str]
    last_sync: dict[str, Any]
    state: dict[str, Any] = field(default_factory=dict)

    def number(self, item_id: str | None) -> str:
        """The item's number (its id if the item is gone, "" for none)."""
        return self.numbers.get(item_id or "", item_id or "")

    def as_dict(self) -> dict[str, Any]:
        """The JSON form (``status --json``): English keys, stable for scripts."""
        return {"items": [r.as_dict() for r in self.items],
                "progress": [{"step": p.key, "done": p.done, "total": p.total,
                              "percent": p.percent} for p in self.progress],
                "conflicts": [{"item": self.numbers.get(c.item_id, c.item_id), "field": c.field,
                               "values": c.side_values, "winner": c.winner,
                               "loser_side": c.loser_side, "loser_value": c.loser_value,
                               "at": c.created_at,
                               "waiting": c.resolved_at is None}
                              for c in self.conflicts],
                "ignored_reactions": [{"item": self.numbers.get(a.item_id or "", a.item_id),
                                       "kind": a.field.split(".")[0],
                                       "by": a.actor, "reaction": a.new, "at": a.at}
                                      for a in self.ignored],
                "last_sync": self.last_sync,
                "state": self.state}


def status(alliance: OpenAlliance, *, step: str | None = None, owner: str | None = None,
           overdue: bool = False, today: dt.date | None = None) -> Status:
    """The action plan's state from the state store (no service is contacted).

    ``step`` (its number, key or name), ``owner`` (part of a name or e-mail) and ``overdue``
    filter the rows; an owner that matches no one is a UserError rather than an empty table.
    """
    from sync.actionplan.progress import item_rows, step_key, step_progress

    config = alliance.config
    book = alliance.playbook
    wanted = step_key(book, step) if step is not None else None
    with alliance.store(required=True) as store:
        items = store.list_items()
        names = {str(p.email): p.name for p in config.people}
        rows = item_rows(items, today or dt.date.today(), step=wanted, owner=owner,
                         overdue_only=overdue, names=names)
        if owner is not None and not rows and not _anyone(owner, config, items):
            raise UserError(f"--owner {owner}: no one in the config's people or among the "
                            "items' owners matches it",
                            hint="give part of a name or e-mail, e.g. --owner "
                            f"{config.people[0].name.split()[0].lower()}")
        conflicts = store.list_conflicts()
        ignored = [a for a in store.list_audit()
                   if a.field in ("reaction.ignored", "button.ignored")]
        last_run = store.last_run("sync")
        last_quiet = store.get_bookmark("sync", "last_quiet")
        # Which schema the store is at (after any migration this open made): what a hosting
        # team compares across workers and versions.
        state = {"schema_version": store.schema_version,
                 "backend": "postgresql" if config.state_url else "sqlite"}
    last = {"run": last_run.finished_at or last_run.started_at if last_run else None,
            "outcome": last_run.outcome if last_run else None, "quiet_check": last_quiet}
    return Status(items=rows, progress=step_progress(items, book, alliance.rows),
                  conflicts=conflicts, ignored=ignored, numbers={i.id: i.number for i in items},
                  last_sync=last, state=state)


def _anyone(text: str, config: Config, items: Sequence[Item]) -> bool:
    """True if ``text`` is part of someone's name or e-mail (people, or an item's owner)."""
    wanted = text.strip().casefold()
    known = [p.name for p in config.people] + [str(p.email) for p in config.people]
    known += [i.owner or "" for i in items]
    return bool(wanted) and any(wanted in name.casefold() for name in known)


@dataclass(frozen=True)
class LogEntry:
    """One line of the audit trail, its item named by number ("" for none)."""

    entry: AuditEntry
    item: str

    def as_dict(self) -> dict[str, Any]:
        """The JSON form (``log --json``)."""
        e = self.entry
        return {"at": e.at, "item": self.item, "actor": e.actor, "source": e.source,
                "field": e.field, "old": e.old, "new": e.new}


def log(alliance: OpenAlliance, *, number: str | None = None,
        limit: int = 200) -> list[LogEntry]:
    """The audit trail, newest last as stored: every item's, or only item ``number``'s."""
    with alliance.store(required=True) as store:
        item_id = None
        if number:
            # Numbers are upper case (FRL-6); `log --item frl-6` means the same item.
            item = store.get_item_by_number(number.strip().upper())
            if item is None:
                raise UserError(f"no item {number}", hint="see `mcm-sync status` for the numbers")
            item_id = item.id
        entries = store.list_audit(item_id, limit=limit)
        numbers = {i.id: i.number for i in store.list_items()}
    return [LogEntry(e, numbers.get(e.item_id or "", "")) for e in entries]


def resolve(alliance: OpenAlliance, number: str, take: str,
            field: str | None = None) -> Resolution:
    """Settle a waiting conflict of item ``number`` with ``take`` (a side or a value), under
    the alliance's lock; the next sync writes the agreed value to Trello and Slack."""
    from sync.engine.conflicts import resolve as resolve_conflict

    with alliance.writing(required=True) as store:
        return resolve_conflict(store, number, take, field)
