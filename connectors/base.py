"""The plain data the services exchange with the engine: boards, cards, messages, members.

The engine (``sync/``) only ever sees these dataclasses and the role protocols of
:mod:`connectors.roles` (board, chat, audience), never an SDK type. Each vendor package
(``connectors/trello/``, ``slack/``, ``mailchimp/``) implements one protocol on the vendor's
SDK; tests may implement them in memory. The chat-side data (:class:`ChatChannel`,
:class:`ChatMessage`) is named by role: another chat service returns the same objects.

Identity tokens: everything we create carries a short token (see ``connectors.identity``) so that a
crashed run finds it again instead of creating a duplicate: boards and cards in a marker line
at the end of their description, Slack messages in their metadata, the audience by name.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

# --------------------------------------------------------------------------- Trello


@dataclass(frozen=True)
class Board:
    """A board: id, name, description (with our marker), URL."""

    id: str
    name: str
    desc: str
    url: str
    closed: bool = False


@dataclass(frozen=True)
class BoardList:
    """A list (column) of a board."""

    id: str
    name: str
    closed: bool = False
    pos: float = 0.0


@dataclass(frozen=True)
class BoardLabel:
    """A label of a board."""

    id: str
    name: str
    color: str | None


@dataclass(frozen=True)
class CheckItem:
    """An item of a checklist."""

    id: str
    name: str
    complete: bool
    pos: float = 0.0


@dataclass(frozen=True)
class Checklist:
    """A checklist on a card."""

    id: str
    card_id: str
    name: str
    items: tuple[CheckItem, ...] = ()


@dataclass(frozen=True)
class BoardCard:
    """A card, with the fields the sync compares."""

    id: str
    name: str
    desc: str
    list_id: str
    closed: bool = False
    due: dt.datetime | None = None
    due_complete: bool = False
    member_ids: tuple[str, ...] = ()
    label_ids: tuple[str, ...] = ()
    url: str = ""
    last_activity: str = ""
    pos: float = 0.0


@dataclass(frozen=True)
class BoardMember:
    """A Trello member as far as Trello reveals it (no e-mail for others)."""

    id: str
    username: str
    full_name: str
    # False for a person invited by e-mail who has no Trello account yet (a placeholder).
    confirmed: bool = True


@dataclass(frozen=True)
class BoardSnapshot:
    """Everything on a board, read in one call (nested resources)."""

    board: Board
    lists: tuple[BoardList, ...]
    labels: tuple[BoardLabel, ...]
    cards: tuple[BoardCard, ...]
    checklists: tuple[Checklist, ...]
    members: tuple[BoardMember, ...]


@dataclass(frozen=True)
class BoardAction:
    """One board action (newest first in the API), flattened to what the sync needs."""

    id: str
    type: str
    date: str
    member_id: str
    member_name: str
    card_id: str = ""
    data: dict[str, Any] = field(default_factory=dict)


# --------------------------------------------------------------------------- Chat (Slack)


@dataclass(frozen=True)
class ChatChannel:
    """A channel."""

    id: str
    name: str
    is_archived: bool = False
    topic: str = ""
    purpose: str = ""
    is_member: bool = True  # is our bot in it (a channel someone else made may lack us)


@dataclass(frozen=True)
class ChatMessage:
    """A message with the parts the sync compares (reactions, thread, metadata)."""

    ts: str
    text: str
    user: str = ""
    bot_id: str = ""
    thread_ts: str = ""
    reply_count: int = 0
    latest_reply: str = ""
    metadata: dict[str, Any] | None = None
    reactions: dict[str, tuple[str, ...]] = field(default_factory=dict)
    edited_ts: str = ""
    # The ``action_id`` of every button in the message's blocks (in order).
    actions: tuple[str, ...] = ()


@dataclass(frozen=True)
class HistoryPage:
    """One page of a channel's history read back from ``before`` (exclusive), newest first
    as Slack pages it: its top-level messages (oldest first), whether older ones remain, and
    the oldest ts the page held (thread broadcasts included): the page covers every message
    from ``lowest`` up to ``before``, and when nothing older remains, the channel's start."""

    messages: list[ChatMessage]
    has_more: bool
    lowest: str = ""


# --------------------------------------------------------------------------- Mailchimp


@dataclass(frozen=True)
class Audience:
    """An audience (list)."""

    id: str
    name: str
    member_count: int = 0


@dataclass(frozen=True)
class AudienceMember:
    """An audience member as Mailchimp reports it."""

    email: str
    subscriber_hash: str
    status: str
    merge_fields: dict[str, Any] = field(default_factory=dict)
    tags: tuple[str, ...] = ()
    last_changed: str = ""


@dataclass(frozen=True)
class BatchOperationResult:
    """The outcome of one operation of a batch (``response``: parsed JSON where possible)."""

    operation_id: str
    status_code: int
    response: Any = None

    @property
    def ok(self) -> bool:
        """True for a 2xx answer."""
        return 200 <= self.status_code < 300

    @property
    def message(self) -> str:
        """Mailchimp's reason for a refusal: title, detail and field errors, on one line."""
        body = self.response
        if not isinstance(body, Mapping):
            return str(body or f"HTTP {self.status_code}")[:300]
        parts = [str(body.get("title") or ""), str(body.get("detail") or "")]
        parts += [f"{e.get('field')}: {e.get('message')}" for e in body.get("errors") or []]
        return " - ".join(p for p in parts if p) or f"HTTP {self.status_code}"


@dataclass(frozen=True)
class BatchResult:
    """A finished batch: its counts and each operation's outcome (iterable over them)."""

    id: str
    status: str
    total_operations: int
    finished_operations: int
    errored_operations: int
    results: tuple[BatchOperationResult, ...] = ()

    @property
    def errors(self) -> tuple[BatchOperationResult, ...]:
        """The operations that failed."""
        return tuple(r for r in self.results if not r.ok)

    def __iter__(self) -> Iterator[BatchOperationResult]:
        return iter(self.results)

    def __len__(self) -> int:
        return len(self.results)
