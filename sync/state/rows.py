"""Plain, immutable rows of the state store (what ``sync.state.store.StateStore`` returns).

JSON columns are decoded here into Python values, so callers never see serialised text.
Times are ISO 8601 strings in UTC (``2025-03-01T09:30:00.123456+00:00``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Literal, NotRequired, TypedDict

from sync.state.db import Record

IntentState = Literal["open", "done", "failed", "abandoned"]
INTENT_STATES: frozenset[str] = frozenset({"open", "done", "failed", "abandoned"})
ItemKind = Literal["task", "action", "meeting", "member"]
# Where an item side's view comes from, as the store names it: a remote service's name (its
# connector's ``service_name``: "trello", "slack", or any registered board or chat service's),
# or "file" (the action-plan row's last read). The store holds any name that matches its rule
# (``sync.state.schema.tables.name_rule``: 1-32 of a-z, 0-9 and _), not a list of vendors; the
# engine names sides by role (``sync.engine.decide.Side``) and maps them to these names.
Side = str


def _json(text: str | None) -> Any:
    return None if text is None else json.loads(text)


@dataclass(frozen=True)
class Alliance:
    """The one alliance a store belongs to."""

    slug: str
    name: str
    created_at: str
    mode: str = ""  # "sandbox" or "live": the services it was made against ("" not known yet)
    went_live_at: str = ""  # when `mcm-sync go-live` bound it to the real services


@dataclass(frozen=True)
class Resource:
    """A remote object we made or adopted: board, list, label, channel, audience, person..."""

    service: str
    kind: str
    logical_key: str
    remote_id: str
    url: str = ""
    identity_token: str = ""
    data: dict[str, Any] = field(default_factory=dict)
    updated_at: str = ""

    @classmethod
    def from_row(cls, row: Record) -> Resource:
        """Decode a ``resources`` row."""
        return cls(
            row["service"],
            row["kind"],
            row["logical_key"],
            row["remote_id"],
            row["url"],
            row["identity_token"],
            _json(row["data"]),
            row["updated_at"],
        )


@dataclass(frozen=True)
class Item:
    """An action item as the hub knows it (the agreed, current value)."""

    id: str
    number: str
    key: str
    kind: str
    title: str
    step: str
    owner: str
    due: str | None
    status: str
    revision: int
    created_at: str
    updated_at: str
    source: str

    @classmethod
    def from_row(cls, row: Record) -> Item:
        """Decode an ``items`` row."""
        return cls(**{name: row[name] for name in cls.__dataclass_fields__})


class ItemFields(TypedDict):
    """The item fields a caller may set (the others are kept by the store), as keywords of
    ``StateStore.ensure_item`` and ``upsert_item``: ``**fields: Unpack[ItemFields]``."""

    key: str
    number: str
    kind: str
    title: str
    status: str
    source: str
    step: NotRequired[str]
    owner: NotRequired[str]
    due: NotRequired[str | None]


ITEM_FIELDS: tuple[str, ...] = tuple(ItemFields.__annotations__)
# What a field a caller leaves out is on a new item.
ITEM_DEFAULTS: dict[str, Any] = {"step": "", "owner": "", "due": None}


@dataclass(frozen=True)
class ItemSide:
    """One side's view of an item: its remote id, the agreed base value, the seen fingerprint."""

    item_id: str
    side: Side
    remote_id: str
    base: dict[str, Any]
    fingerprint: str
    updated_at: str

    @classmethod
    def from_row(cls, row: Record) -> ItemSide:
        """Decode an ``item_sides`` row."""
        return cls(
            row["item_id"],
            row["side"],
            row["remote_id"],
            _json(row["base"]),
            row["fingerprint"],
            row["updated_at"],
        )


@dataclass(frozen=True)
class Intent:
    """A journal entry: a remote write we were about to make, and how it ended."""

    id: int
    run_id: str
    item_id: str | None
    service: str
    operation: str
    identity_token: str
    state: str
    detail: dict[str, Any]
    remote_id: str | None
    created_at: str
    closed_at: str | None

    @classmethod
    def from_row(cls, row: Record) -> Intent:
        """Decode a ``journal`` row."""
        return cls(
            row["id"],
            row["run_id"],
            row["item_id"],
            row["service"],
            row["operation"],
            row["identity_token"],
            row["state"],
            _json(row["detail"]),
            row["remote_id"],
            row["created_at"],
            row["closed_at"],
        )


@dataclass(frozen=True)
class Bookmark:
    """How far the incremental reads of one side and scope got (last action id, last ts)."""

    side: Side
    scope: str
    cursor: str
    updated_at: str


@dataclass(frozen=True)
class ConflictRecord:
    """Two sides changed one field to different values; the policy chose ``winner``. Or two
    people asked one side for different values (two members' reactions in one run): then
    ``side_values`` holds that side's winning value and ``loser_value`` the other."""

    id: int
    item_id: str
    field: str
    side_values: dict[str, Any]
    winner: str
    loser_value: Any
    policy: str
    created_at: str
    resolved_at: str | None
    announced: bool

    @property
    def loser_side(self) -> str:
        """The side the losing value came from (the winner's own when it gave both)."""
        return next((side for side in self.side_values if side != self.winner), self.winner)

    def offered(self) -> list[tuple[str, Any]]:
        """Every (side, value) the conflict is between, the losing one included."""
        found = list(self.side_values.items())
        if self.loser_side == self.winner:
            found.append((self.winner, self.loser_value))
        return found

    @classmethod
    def from_row(cls, row: Record) -> ConflictRecord:
        """Decode a ``conflicts`` row."""
        return cls(
            row["id"],
            row["item_id"],
            row["field"],
            _json(row["side_values"]),
            row["winner"],
            _json(row["loser_value"]),
            row["policy"],
            row["created_at"],
            row["resolved_at"],
            bool(row["announced"]),
        )


@dataclass(frozen=True)
class AuditEntry:
    """One change to an item: when, who, where from, which field, old -> new."""

    id: int
    at: str
    item_id: str | None
    actor: str
    source: str
    field: str
    old: Any
    new: Any

    @classmethod
    def from_row(cls, row: Record) -> AuditEntry:
        """Decode an ``audit`` row."""
        return cls(
            row["id"],
            row["at"],
            row["item_id"],
            row["actor"],
            row["source"],
            row["field"],
            _json(row["old"]),
            _json(row["new"]),
        )


@dataclass(frozen=True)
class Run:
    """One command run (bootstrap, sync...) and how it ended."""

    id: str
    command: str
    started_at: str
    finished_at: str | None
    outcome: str | None
