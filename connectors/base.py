"""The small interfaces the engine uses, one per service, and the plain data they exchange.

The engine (``sync/``) only ever sees these dataclasses and protocols, never an SDK type.
Each vendor package (``connectors/trello/``, ``slack/``, ``mailchimp/``) implements one
protocol on the vendor's SDK; tests may implement them in memory. Every method maps vendor
errors into ``connectors.errors`` (AuthError, NotFoundError, RetriableRemoteError,
FatalRemoteError) and is wrapped in the one retry policy of ``connectors.retry``.

Identity tokens: everything we create carries a short token (see ``connectors.identity``) so that a
crashed run finds it again instead of creating a duplicate: boards and cards in a marker line
at the end of their description, Slack messages in their metadata, the audience by name.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

# --------------------------------------------------------------------------- Trello


@dataclass(frozen=True)
class TrelloBoard:
    """A board: id, name, description (with our marker), URL."""

    id: str
    name: str
    desc: str
    url: str
    closed: bool = False


@dataclass(frozen=True)
class TrelloList:
    """A list (column) of a board."""

    id: str
    name: str
    closed: bool = False
    pos: float = 0.0


@dataclass(frozen=True)
class TrelloLabel:
    """A label of a board."""

    id: str
    name: str
    color: str | None


@dataclass(frozen=True)
class TrelloCheckItem:
    """An item of a checklist."""

    id: str
    name: str
    complete: bool
    pos: float = 0.0


@dataclass(frozen=True)
class TrelloChecklist:
    """A checklist on a card."""

    id: str
    card_id: str
    name: str
    items: tuple[TrelloCheckItem, ...] = ()


@dataclass(frozen=True)
class TrelloCard:
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
class TrelloMember:
    """A Trello member as far as Trello reveals it (no e-mail for others)."""

    id: str
    username: str
    full_name: str
    # False for a person invited by e-mail who has no Trello account yet (a placeholder).
    confirmed: bool = True


@dataclass(frozen=True)
class BoardSnapshot:
    """Everything on a board, read in one call (nested resources)."""

    board: TrelloBoard
    lists: tuple[TrelloList, ...]
    labels: tuple[TrelloLabel, ...]
    cards: tuple[TrelloCard, ...]
    checklists: tuple[TrelloChecklist, ...]
    members: tuple[TrelloMember, ...]


@dataclass(frozen=True)
class TrelloAction:
    """One board action (newest first in the API), flattened to what the sync needs."""

    id: str
    type: str
    date: str
    member_id: str
    member_name: str
    card_id: str = ""
    data: dict[str, Any] = field(default_factory=dict)


class TrelloAPI(Protocol):
    """What the engine needs from Trello."""

    def me(self) -> TrelloMember:
        """The member whose token we use."""
        ...

    def find_boards(self) -> list[TrelloBoard]:
        """Open boards of the token's member (one call, with descriptions)."""
        ...

    def create_board(self, name: str, desc: str, workspace_id: str = "") -> TrelloBoard:
        """A new board without default lists or labels, in ``workspace_id`` if given (else
        Trello's default workspace of the token's member)."""
        ...

    def snapshot(self, board_id: str, *, include_closed_cards: bool = True) -> BoardSnapshot:
        """The board with lists, labels, cards, checklists and members, in one call."""
        ...

    def cards(self, card_ids: Sequence[str]) -> list[TrelloCard]:
        """The current state of these cards (``/batch``, ten per call); missing ones left out."""
        ...

    def create_list(self, board_id: str, name: str, pos: str | float = "bottom") -> TrelloList:
        """A new list on the board."""
        ...

    def create_label(self, board_id: str, name: str, color: str | None) -> TrelloLabel:
        """A new label on the board."""
        ...

    def create_card(
        self,
        list_id: str,
        name: str,
        desc: str,
        *,
        due: dt.datetime | None = None,
        label_ids: Sequence[str] = (),
        member_ids: Sequence[str] = (),
        pos: str | float = "bottom",
    ) -> TrelloCard:
        """A new card."""
        ...

    def update_card(self, card_id: str, **changes: Any) -> TrelloCard:
        """Set fields absolutely: list_id, name, desc, closed, due, due_complete, member_ids,
        label_ids (replace)."""
        ...

    def create_checklist(self, card_id: str, name: str, items: Sequence[str]) -> TrelloChecklist:
        """A checklist with its items (one call for the list, one per item)."""
        ...

    def add_checkitem(self, checklist_id: str, name: str) -> TrelloCheckItem:
        """Add one item to an existing checklist (to complete a half-made one)."""
        ...

    def add_comment(self, card_id: str, text: str) -> str:
        """Comment on a card; returns the action id."""
        ...

    def card_comments(self, card_id: str) -> list[TrelloAction]:
        """A card's comments (``commentCard`` actions), newest first, up to 1,000."""
        ...

    def invite_member(self, board_id: str, email: str, full_name: str) -> TrelloMember | None:
        """Invite someone to the board by e-mail; the member if Trello reveals one."""
        ...

    def board_actions(
        self, board_id: str, *, since: str | None = None, types: Sequence[str] = ()
    ) -> list[TrelloAction]:
        """Board actions after ``since`` (an action id), oldest first, all pages."""
        ...


# --------------------------------------------------------------------------- Slack


@dataclass(frozen=True)
class SlackChannel:
    """A channel."""

    id: str
    name: str
    is_archived: bool = False
    topic: str = ""
    purpose: str = ""
    is_member: bool = True  # is our bot in it (a channel someone else made may lack us)


@dataclass(frozen=True)
class SlackMessage:
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

    messages: list[SlackMessage]
    has_more: bool
    lowest: str = ""


class SlackAPI(Protocol):
    """What the engine needs from Slack."""

    def identity(self) -> tuple[str, str]:
        """(user id, bot id) of our token (auth.test)."""
        ...

    def identity_key(self) -> str:
        """A fingerprint of our token (a one-way digest, no call): the identity recorded
        under it holds for as long as the token is the same."""
        ...

    def list_channels(self) -> list[SlackChannel]:
        """Every public and private channel we can see, archived included (all pages)."""
        ...

    def create_channel(self, name: str) -> SlackChannel:
        """A new channel; an existing name is adopted (returned), never an error."""
        ...

    def join(self, channel_id: str) -> None:
        """Join a public channel (already a member is fine)."""
        ...

    def unarchive(self, channel_id: str) -> bool:
        """Unarchive (already unarchived is fine); False when this token may not.

        Slack bot tokens cannot unarchive (docs.slack.dev, conversations.unarchive): a
        workspace admin or member must do it in Slack.
        """
        ...

    def set_topic(self, channel_id: str, topic: str) -> None:
        """Set the channel topic."""
        ...

    def set_purpose(self, channel_id: str, purpose: str) -> None:
        """Set the channel purpose."""
        ...

    def lookup_user(self, email: str) -> str | None:
        """The user id for an e-mail address, None if there is none."""
        ...

    def invite(self, channel_id: str, user_ids: Sequence[str]) -> None:
        """Invite users (already in the channel is fine)."""
        ...

    def post_message(
        self,
        channel_id: str,
        text: str,
        *,
        blocks: list[dict[str, Any]] | None = None,
        metadata: dict[str, Any] | None = None,
        thread_ts: str | None = None,
    ) -> SlackMessage:
        """Post a message (metadata: {"event_type", "event_payload"})."""
        ...

    def update_message(
        self,
        channel_id: str,
        ts: str,
        text: str,
        *,
        blocks: list[dict[str, Any]] | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        """Replace a message's text (and blocks, metadata)."""
        ...

    def delete_message(self, channel_id: str, ts: str) -> None:
        """Delete one of our messages (a second copy of an item's message)."""
        ...

    def pin(self, channel_id: str, ts: str) -> None:
        """Pin a message (already pinned is fine)."""
        ...

    def history(self, channel_id: str, *, oldest: str | None = None) -> list[SlackMessage]:
        """Top-level messages after ``oldest``, with reactions and metadata, all pages."""
        ...

    def history_page(self, channel_id: str, *, before: str | None = None) -> HistoryPage:
        """One page (one call) of top-level messages older than ``before`` (None: the
        newest), as large a page as the app's class allows."""
        ...

    def message(self, channel_id: str, ts: str) -> SlackMessage | None:
        """One top-level message by its ts, with reactions and metadata, or None."""
        ...

    def replies(self, channel_id: str, ts: str, *, oldest: str | None = None) -> list[SlackMessage]:
        """Replies in a thread (without the parent), after ``oldest``."""
        ...


# --------------------------------------------------------------------------- Mailchimp


@dataclass(frozen=True)
class MailchimpAudience:
    """An audience (list)."""

    id: str
    name: str
    member_count: int = 0


@dataclass(frozen=True)
class MailchimpMember:
    """An audience member as Mailchimp reports it."""

    email: str
    subscriber_hash: str
    status: str
    merge_fields: dict[str, Any] = field(default_factory=dict)
    tags: tuple[str, ...] = ()
    last_changed: str = ""


class MailchimpAPI(Protocol):
    """What the engine needs from Mailchimp."""

    def list_audiences(self) -> list[MailchimpAudience]:
        """Every audience (all pages)."""
        ...

    def get_audience(self, audience_id: str) -> MailchimpAudience:
        """One audience; NotFoundError if there is none."""
        ...

    def create_audience(self, spec: dict[str, Any]) -> MailchimpAudience:
        """A new audience from the API's create body."""
        ...

    def merge_fields(self, audience_id: str) -> dict[str, str]:
        """Existing merge fields: tag -> name."""
        ...

    def create_merge_field(self, audience_id: str, tag: str, name: str, kind: str) -> None:
        """Add a merge field."""
        ...

    def tags(self, audience_id: str) -> set[str]:
        """Names of the audience's tags (static segments)."""
        ...

    def create_tag(self, audience_id: str, name: str) -> None:
        """Create a tag (an empty static segment)."""
        ...

    # ----------------------------------------------------------- stakeholder sync (issue 6)
    # Added for the audience push, erasure and newsletter drafts. ``upsert_member`` and
    # ``set_tags`` accept both the keyword form and the body/mapping form that
    # ``sync.audience.apply`` sends (a ready member PUT body; tag name -> active).

    def upsert_member(
        self,
        audience_id: str,
        email: str,
        body: Mapping[str, Any] | None = None,
        *,
        status_if_new: str | None = None,
        status: str | None = None,
        merge_fields: Mapping[str, Any] | None = None,
        language: str = "",
    ) -> MailchimpMember:
        """Create or update one member (idempotent PUT by subscriber hash)."""
        ...

    def set_tags(
        self,
        audience_id: str,
        email: str,
        active: Sequence[str] | Mapping[str, bool] = (),
        inactive: Sequence[str] = (),
    ) -> None:
        """Set tags active / inactive on one member (absolute, safe to repeat)."""
        ...

    def members(
        self, audience_id: str, *, since_last_changed: str | None = None, since: str | None = None
    ) -> list[MailchimpMember]:
        """Every member (changed after ``since_last_changed``, ISO 8601), all pages."""
        ...

    def delete_permanent(self, audience_id: str, email: str) -> None:
        """Erase a member for good (GDPR); NotFoundError if there is none."""
        ...

    def run_batch(self, operations: list[dict[str, Any]]) -> BatchResult:
        """Run batch operations to the end; the outcome of every operation."""
        ...

    def create_campaign_draft(
        self,
        audience_id: str,
        subject: str,
        title: str,
        from_name: str,
        reply_to: str,
        html: str,
        segment_opts: dict[str, Any] | None = None,
    ) -> str:
        """A regular campaign draft with this HTML (never sent); returns its id."""
        ...


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
