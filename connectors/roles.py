"""The services by role: what the engine needs from a board, a chat and an audience service.

The engine (``sync/``) types its connectors with these protocols, never with a vendor's
class, so that a second chat service (or board, or audience service) is one more
implementation of a protocol here and one entry in the registry of ``sync.core.services``,
not an edit across the engine. Each names itself (``service_name``): the engine's logic
speaks of the roles, what it stores and reports is under the service's own name. Today
Trello is the board service (``connectors.trello.connector.TrelloConnector``), Slack the
chat service (``connectors.slack.connector.SlackConnector``) and Mailchimp the audience
service (``connectors.mailchimp.connector.MailchimpConnector``); each module states so to
the type checker. Tests implement them in memory (``tests/fakes_*.py``).

The protocols exchange the plain dataclasses of :mod:`connectors.base`. Every method maps
the vendor's errors into ``connectors.errors`` and is wrapped in the one retry policy of
``connectors.retry``. ``runtime_checkable``: ``isinstance`` checks that the methods exist
(not their signatures; mypy checks those).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

from connectors.base import (
    Audience,
    AudienceMember,
    BatchResult,
    Board,
    BoardAction,
    BoardCard,
    BoardLabel,
    BoardList,
    BoardMember,
    BoardSnapshot,
    ChatChannel,
    ChatMessage,
    CheckItem,
    Checklist,
    HistoryPage,
)


@runtime_checkable
class BoardService(Protocol):
    """The board side: boards, lists, labels, cards, checklists, comments, members and the
    board's activity (what webhooks announce). Trello implements it."""

    @property
    def service_name(self) -> str:
        """The service's own name (``"trello"``): what the engine stores and reports this side
        under (state rows, journal, conflicts, ``--json``), and its key in the registry of
        ``sync.core.services``; the engine itself speaks of the board role."""
        ...

    def me(self) -> BoardMember:
        """The member whose token we use."""
        ...

    def ready_in(self, method: str) -> float:
        """Seconds until one call of ``method`` (an operation of this interface:
        ``add_comment``, ``card_comments``) could be made without waiting for the service's
        limits (no call, nothing booked; 0.0: at once). The real-time lane asks before each
        write."""
        ...

    def identity_key(self) -> str:
        """A fingerprint of our token (a one-way digest, no call): the member recorded under
        it holds for as long as the token is the same."""
        ...

    def find_boards(self) -> list[Board]:
        """Open boards of the token's member (one call, with descriptions)."""
        ...

    def create_board(self, name: str, desc: str, workspace_id: str = "") -> Board:
        """A new board without default lists or labels, in ``workspace_id`` if given (else
        Trello's default workspace of the token's member)."""
        ...

    def snapshot(self, board_id: str, *, include_closed_cards: bool = True) -> BoardSnapshot:
        """The board with lists, labels, cards, checklists and members, in one call."""
        ...

    def cards(self, card_ids: Sequence[str]) -> list[BoardCard]:
        """The current state of these cards (``/batch``, ten per call); missing ones left out."""
        ...

    def create_list(self, board_id: str, name: str, pos: str | float = "bottom") -> BoardList:
        """A new list on the board."""
        ...

    def create_label(self, board_id: str, name: str, color: str | None) -> BoardLabel:
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
    ) -> BoardCard:
        """A new card."""
        ...

    def update_card(self, card_id: str, **changes: Any) -> BoardCard:
        """Set fields absolutely: list_id, name, desc, closed, due, due_complete, member_ids,
        label_ids (replace)."""
        ...

    def create_checklist(self, card_id: str, name: str, items: Sequence[str]) -> Checklist:
        """A checklist with its items (one call for the list, one per item)."""
        ...

    def add_checkitem(self, checklist_id: str, name: str) -> CheckItem:
        """Add one item to an existing checklist (to complete a half-made one)."""
        ...

    def add_comment(self, card_id: str, text: str) -> str:
        """Comment on a card; returns the action id."""
        ...

    def card_comments(self, card_id: str) -> list[BoardAction]:
        """A card's comments (``commentCard`` actions), newest first, up to 1,000."""
        ...

    def invite_member(self, board_id: str, email: str, full_name: str) -> BoardMember | None:
        """Invite someone to the board by e-mail; the member if Trello reveals one."""
        ...

    def board_actions(
        self, board_id: str, *, since: str | None = None, types: Sequence[str] = ()
    ) -> list[BoardAction]:
        """Board actions after ``since`` (an action id), oldest first, all pages."""
        ...


@runtime_checkable
class ChatService(Protocol):
    """The chat side: identity, channels, posting and updating messages, thread replies,
    reactions (on the messages read back) and history. Slack implements it."""

    @property
    def service_name(self) -> str:
        """The service's own name (``"slack"``): what the engine stores and reports this side
        under (state rows, journal, conflicts, ``--json``), and its key in the registry of
        ``sync.core.services``; the engine itself speaks of the chat role."""
        ...

    def identity(self) -> tuple[str, str]:
        """(user id, bot id) of our token (auth.test)."""
        ...

    def identity_key(self) -> str:
        """A fingerprint of our token (a one-way digest, no call): the identity recorded
        under it holds for as long as the token is the same."""
        ...

    def ready_in(self, method: str, channel: str | None = None) -> float:
        """Seconds until one call of the service's ``method`` (``channel``: where a post
        goes) could be made without waiting for the service's limits (no call, nothing
        booked; 0.0: at once). The real-time lane asks before each write."""
        ...

    def list_channels(self) -> list[ChatChannel]:
        """Every public and private channel we can see, archived included (all pages)."""
        ...

    def create_channel(self, name: str) -> ChatChannel:
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
    ) -> ChatMessage:
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

    def history(self, channel_id: str, *, oldest: str | None = None) -> list[ChatMessage]:
        """Top-level messages after ``oldest``, with reactions and metadata, all pages."""
        ...

    def history_page(self, channel_id: str, *, before: str | None = None) -> HistoryPage:
        """One page (one call) of top-level messages older than ``before`` (None: the
        newest), as large a page as the app's class allows."""
        ...

    def message(self, channel_id: str, ts: str) -> ChatMessage | None:
        """One top-level message by its ts, with reactions and metadata, or None."""
        ...

    def replies(self, channel_id: str, ts: str, *, oldest: str | None = None) -> list[ChatMessage]:
        """Replies in a thread (without the parent), after ``oldest``."""
        ...


@runtime_checkable
class AudienceService(Protocol):
    """The audience side: audiences, merge fields, tags, members and campaign drafts.
    Mailchimp implements it."""

    @property
    def service_name(self) -> str:
        """The service's own name (``"mailchimp"``): what the engine stores and reports this side
        under (state rows, journal, conflicts, ``--json``), and its key in the registry of
        ``sync.core.services``; the engine itself speaks of the audience role."""
        ...

    def list_audiences(self) -> list[Audience]:
        """Every audience (all pages)."""
        ...

    def get_audience(self, audience_id: str) -> Audience:
        """One audience; NotFoundError if there is none."""
        ...

    def create_audience(self, spec: dict[str, Any]) -> Audience:
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
    ) -> AudienceMember:
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
    ) -> list[AudienceMember]:
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
