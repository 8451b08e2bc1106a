"""The sync engine's data: what a run read, what the state store holds, and what it did.

Three kinds of value flow through one run (pip-tools' ``diff()``/``sync()`` shape):

- :class:`Snapshot`: what the run read from the board and the chat service
  (:mod:`sync.engine.read`);
- :class:`StateView`: the state store's items, sides and bookkeeping, read once as plain data;
- :class:`Settings`: the alliance's config, playbook, rows and the resolved remote ids.

:func:`sync.engine.plan.plan_sync` turns those into a :class:`sync.engine.plan.SyncPlan`
without touching anything; :mod:`sync.engine.apply` carries it out through a
:class:`SyncContext` (the services and the store) and fills in a :class:`SyncResult`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from connectors.base import BoardCard, ChatMessage
from connectors.roles import BoardService, ChatService
from playbooks.model import ActionRow, Playbook
from sync.core.config import Config
from sync.engine.decide import Conflict, SideNames
from sync.state.rows import Item, ItemSide
from sync.state.store import StateStore

FIELDS = ("status", "due", "title", "owners")
# The journal operation of an item's decision, written before its remote writes.
DECISION = "item_decision"


def iso_z(moment: dt.datetime) -> str:
    """A time as Trello writes its action dates (``2027-01-15T09:30:00.000Z``), so the times
    of changes from different sides compare as text."""
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.") + \
        f"{moment.microsecond // 1000:03d}Z"


@dataclass
class SyncResult:
    """What one sync did (or, for a dry run, would do), for the summary and ``--json``."""

    run_id: str
    full: bool = False
    changes: list[dict[str, Any]] = field(default_factory=list)
    conflicts: list[Conflict] = field(default_factory=list)
    created_items: list[str] = field(default_factory=list)
    writes: dict[str, int] = field(default_factory=dict)
    comments: int = 0
    # Second copies of our item messages found (and removed) by a full reconciliation.
    duplicates_removed: list[str] = field(default_factory=list)
    # Copies of an item's card (its marker line copied along) made items of their own:
    # "FRL-47 (a copy of FRL-3's card)".
    card_copies: list[str] = field(default_factory=list)
    # Nothing changed since the last empty plan: the state was not read, nothing planned.
    quiet: bool = False
    # A distributed Slack app's channel read (sync.engine.channel.spread.ChannelRead.as_dict):
    # what was read, how far the reconciliation got, what waits for a later run. None: the
    # whole channel was read (an internal app).
    slack_read: dict[str, Any] | None = None

    def count(self, what: str, n: int = 1) -> None:
        """Count ``n`` writes of kind ``what``."""
        self.writes[what] = self.writes.get(what, 0) + n


@dataclass(frozen=True)
class BoardComment:
    """A comment a member wrote on a card (from the board actions)."""

    action_id: str
    card_id: str
    who: str
    text: str


@dataclass
class Snapshot:
    """What this run read: cards, who touched them, comments, and the actions channel."""

    cards: dict[str, BoardCard]
    card_actors: dict[str, tuple[str, str]]
    new_card_ids: list[str]
    deleted_card_ids: set[str]
    comments: list[BoardComment]
    messages: dict[str, ChatMessage]
    last_action_id: str | None
    full: bool = False
    # Thread replies newer than each message's last seen reply, by item token.
    replies: dict[str, list[ChatMessage]] = field(default_factory=dict)
    # Cards carrying our token, read when some item needs its card made (crash adoption).
    board_cards_by_token: dict[str, BoardCard] = field(default_factory=dict)
    # Our thread notes read again as second copies (sync.engine.read.repeated_notes), by
    # item token: removed.
    repeated_notes: dict[str, list[str]] = field(default_factory=dict)
    # Further messages carrying an item's token (a post repeated after a lost answer).
    duplicate_messages: dict[str, list[ChatMessage]] = field(default_factory=dict)
    # Button presses on item messages (``mcm-sync serve``), by item token, in the order they
    # came: (status, user id, the press's delivery id); applied like the matching reaction.
    pressed: dict[str, list[tuple[str, str, str]]] = field(default_factory=dict)
    # Cards carrying the marker line of an item whose own card is another one (a copy), by
    # card id: the number of that item (found by a full reconciliation).
    copies: dict[str, str] = field(default_factory=dict)
    # Item tokens whose recorded message this run did not read (a distributed Slack app reads
    # a stretch of the channel per run): not gone, not changed (sync.engine.channel.spread).
    unread: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Settings:
    """The alliance's fixed facts for one run: config, playbook, rows and remote ids."""

    config: Config
    book: Playbook
    rows: Sequence[ActionRow]
    board_id: str
    actions_channel: str
    list_status: Mapping[str, str]
    status_list: Mapping[str, str]
    member_emails: Mapping[str, str]
    me_board: str
    me_chat: tuple[str, str]
    # What the board and chat sides are stored and reported under (their services' names).
    names: SideNames
    now: dt.datetime
    # A digest of config, playbook and rows (``sync.engine.run.inputs_digest``): what the
    # quiet check compares instead of the objects themselves.
    inputs: str = ""

    @cached_property
    def _rows_by_key(self) -> dict[str, ActionRow]:
        # Built once per run: every item asks, and a plan can have thousands of rows.
        return {f"action:{row.key}": row for row in self.rows}

    def row_of(self, key: str) -> ActionRow | None:
        """The action-plan row an item key (``action:<row key>``) comes from, if any."""
        return self._rows_by_key.get(key)


@dataclass(frozen=True)
class StateView:
    """The state store as plain data, read once per run before planning.

    ``sides`` is keyed by (item id, role): ``board``, ``chat``, or ``file`` (the hub's record
    of the item's action-plan row); each :class:`ItemSide` keeps the name it is stored under.
    """

    items: tuple[Item, ...]
    by_key: Mapping[str, Item]
    sides: Mapping[tuple[str, str], ItemSide]
    waiting: Mapping[str, frozenset[str]]
    chat_users: Mapping[str, str]
    label_ids: Mapping[str, str]
    next_number: int
    audit_counts: Mapping[str, int]
    first_actors: Mapping[str, str]
    # Decisions a run journalled and died before committing (item id -> the decision): the
    # next run carries them out as they were, instead of deciding again from what its own
    # half-made writes show.
    pending: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    def side(self, item_id: str, role: str) -> ItemSide | None:
        """One side's record of an item (``board``, ``chat`` or ``file``), or None."""
        return self.sides.get((item_id, role))

    def item_by_key(self, key: str) -> Item | None:
        """The item with ``key``, or None."""
        return self.by_key.get(key)

    def board_card_ids(self) -> set[str]:
        """Every card id an item's board side holds."""
        return {s.remote_id for (_, role), s in self.sides.items() if role == "board"}


@dataclass
class SyncContext:
    """One run's services and store beside its settings; built by ``read.prepare``."""

    settings: Settings
    board: BoardService
    chat: ChatService
    store: StateStore
    # Called with (done, total, what) as the run goes, for a progress display; never required.
    progress: Callable[[int, int, str], None] | None = None

    @property
    def config(self) -> Config:
        """The alliance's config."""
        return self.settings.config

    @property
    def names(self) -> SideNames:
        """What the board and chat sides are stored and reported under."""
        return self.settings.names

    def tick(self, done: int, total: int, what: str) -> None:
        """Report progress, if anyone listens."""
        if self.progress is not None:
            self.progress(done, total, what)


# ---------------------------------------------------------------------- the quiet check


def inputs_digest(config: Config, book: Playbook, rows: Sequence[ActionRow]) -> str:
    """A digest of everything a plan takes from config, playbook and action-plan rows.

    ``repr`` of the pydantic config masks its secrets, which no decision depends on.
    """
    text = repr((config, book, tuple(rows)))
    return hashlib.sha256(text.encode()).hexdigest()


def quiet_fingerprint(settings: Settings, revision: int, since: str | None,
                      history: Sequence[ChatMessage]) -> str:
    """What an incremental plan is a function of, when Trello reported no action since
    ``since``: the run's fixed facts, the state's revision and the actions channel as read.

    A sync that planned on a fingerprint, found nothing to do and recorded it can skip
    reading the state and planning next time the fingerprint is the same: the plan is a pure
    function of the same inputs, so it would again be empty (vdirsyncer's "unchanged etag"
    short cut, with the state's revision as our own etag). Pure.
    """
    facts = (settings.inputs, settings.board_id, settings.actions_channel,
             sorted(settings.status_list.items()), sorted(settings.member_emails.items()),
             settings.me_board, settings.me_chat, revision, since, tuple(history))
    return hashlib.sha256(repr(facts).encode()).hexdigest()
