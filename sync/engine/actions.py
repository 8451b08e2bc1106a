"""What a sync plan is made of: the actions of one run, as plain data.

Built by :mod:`sync.engine.plan` and :mod:`sync.engine.item` (pure), carried out by
:mod:`sync.engine.apply`, printed by ``sync --dry-run``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from connectors.base import BoardCard, ChatMessage
from sync.engine.decide import Conflict, Decision, SideNames


@dataclass(frozen=True)
class Append:
    """A text to add (a thread note, a copied comment) and the token that makes it happen once."""

    token: str
    text: str


@dataclass(frozen=True)
class AuditLine:
    """One line of the audit trail to record with the item's state."""

    actor: str
    source: str
    field: str
    old: Any
    new: Any


@dataclass(frozen=True)
class NewItem:
    """An item this run adds: a card a member made in Trello, or a new action-plan row."""

    key: str
    number: str
    kind: str
    title: str
    status: str
    source: str
    step: str
    owner: str
    due: str | None
    created: AuditLine
    card_id: str = ""  # a member's card: named and tokened, its values the Trello base
    card_name: str = ""
    card_desc: str = ""
    board_base: Mapping[str, Any] | None = None
    # A copy of an item's card (a member's "Copy card" keeps our marker line): the number of
    # the item it was copied from. It becomes an item of its own, and the run says so.
    copy_of: str = ""


@dataclass(frozen=True)
class CardToMake:
    """An item's card to create, or to adopt where a crashed run already made it."""

    key: str
    number: str
    token: str
    list_id: str
    name: str
    desc: str
    due: dt.datetime | None
    label_ids: tuple[str, ...]
    member_ids: tuple[str, ...]
    base: Mapping[str, Any]
    adopt: BoardCard | None = None


@dataclass
class ItemPlan:
    """Everything one item's sync does: decide, then the writes to each side and the state."""

    key: str
    number: str
    decision: Decision  # its sides by role (board, chat, hub)
    names: SideNames  # what they are stored and reported under
    held: frozenset[str] = frozenset()
    # Who lost a conflict, by name: the decision's actor (a Slack user id) -> the person's
    # name, for the audit trail and --json (the coordinator reads names, not ids).
    people: Mapping[str, str] = field(default_factory=dict)
    audit: list[AuditLine] = field(default_factory=list)
    changes: list[dict[str, Any]] = field(default_factory=list)
    resolve_conflicts: bool = True
    card_id: str = ""
    card_changes: dict[str, Any] = field(default_factory=dict)
    mark_card_deleted: bool = False
    board_base: dict[str, Any] | None = None
    message_ts: str = ""
    message_text: str | None = None
    notes: list[Append] = field(default_factory=list)
    comments: list[tuple[Append, AuditLine]] = field(default_factory=list)
    # Notes whose audit line is kept only when the note is made now (or adopted after a
    # crash): an outsider's button press, which a delivery processed twice brings twice.
    said_once: list[tuple[Append, AuditLine]] = field(default_factory=list)
    # Second copies of our notes in the item's thread (a post that landed late): removed.
    repeated_notes: list[str] = field(default_factory=list)
    chat_base: dict[str, Any] | None = None
    seen_reply: str = ""
    file_side: tuple[str, dict[str, Any]] | None = None
    # The decision journalled before the remote writes (None: nothing decided), and the
    # open decisions of a dead run that this plan carries out (closed with the bookkeeping).
    record: dict[str, Any] | None = None
    settles: tuple[int, ...] = ()
    # The only write is the "latest reply seen" mark, moved past replies read that needed
    # nothing (ours coming back): the state after it plans nothing for this item.
    marks_only: bool = False

    @property
    def writes_remotely(self) -> bool:
        """True when this item needs any remote write."""
        return bool(self.card_changes or self.message_text is not None or self.notes
                    or self.comments or self.said_once or self.repeated_notes)

    def conflict(self, conflict: Conflict) -> Conflict:
        """``conflict`` of this item as it is recorded and shown: its number, waiting or
        settled, its sides under their services' names (``trello``, not ``board``), its
        loser by name."""
        return dataclasses.replace(conflict, item=self.number, waiting=not self.resolve_conflicts,
                                   winner_side=self.names.stored(conflict.winner_side),
                                   loser_side=self.names.stored(conflict.loser_side),
                                   loser_actor=self.people.get(conflict.loser_actor,
                                                               conflict.loser_actor))

    def conflicts(self) -> list[Conflict]:
        """Every conflict of this item as it is recorded and shown (:meth:`conflict`)."""
        return [self.conflict(c) for c in self.decision.conflicts]

    @property
    def is_noop(self) -> bool:
        """True when the item needs no write at all, remote or local (most items, most runs)."""
        return not (self.writes_remotely or self.audit or self.changes
                    or self.decision.changes or self.decision.conflicts
                    or self.mark_card_deleted or self.board_base is not None
                    or self.chat_base is not None or self.file_side is not None
                    or self.record is not None or bool(self.settles))


@dataclass(frozen=True)
class MessageToPost:
    """An item's message to post in the actions channel (or adopt by its token)."""

    key: str
    number: str
    token: str
    text: str
    adopt: ChatMessage | None = None
    replaced_ts: str = ""  # the message that went missing, for the audit trail
    note: Append | None = None  # "new item added by ... in Trello" for a member's card
    status: str = "todo"


@dataclass
class SyncPlan:
    """One run's decisions, in the order they are carried out."""

    full: bool
    new_items: list[NewItem] = field(default_factory=list)
    cards: list[CardToMake] = field(default_factory=list)
    items: list[ItemPlan] = field(default_factory=list)
    messages: list[MessageToPost] = field(default_factory=list)
    duplicates: list[ChatMessage] = field(default_factory=list)
    bookmark: str | None = None

    @property
    def is_empty(self) -> bool:
        """True when carrying the plan out would write nothing (the bookmark aside)."""
        return not (self.new_items or self.cards or self.messages or self.duplicates) and all(
            item.is_noop for item in self.items)

    @property
    def only_marks(self) -> bool:
        """True when the plan's one kind of write is moving reply marks past replies that
        needed nothing (our own notes read back): after it, the same inputs plan nothing."""
        return not (self.new_items or self.cards or self.messages or self.duplicates) and all(
            item.is_noop or item.marks_only for item in self.items) and any(
            item.marks_only for item in self.items)

    def changes(self) -> list[dict[str, Any]]:
        """Every field change, item by item."""
        return [change for item in self.items for change in item.changes]

    def conflicts(self) -> list[Conflict]:
        """Every conflict, item by item, with its item's number and whether it waits."""
        return [c for item in self.items for c in item.conflicts()]
