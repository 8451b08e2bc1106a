"""The sync's reads: the one real-time read of one item, and the names of every other read.

:func:`read_item` reads one item alone (the real-time path of ``serve`` and of the workers),
with :func:`prefetch` reading a batch's cards and messages once. A whole run's reads live in
:mod:`sync.engine.reading`, by what they read, and are imported from here:
:func:`prepare` and :func:`state_view` (:mod:`~sync.engine.reading.context`), our identities
on the services (:mod:`~sync.engine.reading.identity`), :func:`read_changes` and :func:`read`
(:mod:`~sync.engine.reading.changes`), the channel's item messages and threads
(:mod:`~sync.engine.reading.messages`). Nothing here decides or writes remotely.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from connectors.base import BoardCard, ChatMessage
from connectors.identity import make_token
from playbooks.model import STATUSES
from sync.engine.model import BoardComment, Snapshot, StateView, SyncContext
from sync.engine.reading.changes import (
    TRELLO_ACTION_TYPES,
    RemoteChanges,
    card_copies,
    read,
    read_changes,
)
from sync.engine.reading.context import due_for_full, prepare, state_view
from sync.engine.reading.identity import (
    IDENTITY,
    ME,
    board_identity,
    chat_identity,
    forget_board_identity,
    forget_chat_identity,
)
from sync.engine.reading.messages import repeated_notes, spread_read
from sync.engine.writes.appends import Call
from sync.state.rows import Item

__all__ = ["IDENTITY", "ME", "STATUSES", "TRELLO_ACTION_TYPES", "ItemReads", "Prefetched",
           "RemoteChanges", "board_identity", "card_copies", "chat_identity", "due_for_full",
           "forget_board_identity", "forget_chat_identity", "prefetch", "prepare", "read",
           "read_changes", "read_item", "repeated_notes", "spread_read", "state_view",
           "ts_micros"]


@dataclass(frozen=True)
class ItemReads:
    """What a queued delivery asks to read for one item (the real-time path)."""

    card: bool = False  # the board service told us about its card
    replies: bool = False  # the chat service told us about a reply in its thread
    actor: tuple[str, str] | None = None  # who changed the card, and when (the board action)
    comments: tuple[BoardComment, ...] = ()
    pressed: tuple[tuple[str, str, str], ...] = ()  # button presses: status, user, delivery


@dataclass(frozen=True)
class Prefetched:
    """Cards and item messages read once for a batch of items (by card id, by message ts):
    a burst on many items costs one read of each kind instead of one per item."""

    cards: Mapping[str, BoardCard] | None = None
    messages: Mapping[str, ChatMessage] | None = None


def prefetch_call(ctx: SyncContext) -> Call:
    """The call a batch's read of the channel makes (:func:`prefetch`, and an item's own
    read of its message): the chat's history, for a caller that asks its pacing first."""
    return Call("chat", "conversations.history", ctx.settings.actions_channel)


def prefetch(ctx: SyncContext, card_ids: Sequence[str], message_ts: Sequence[str]
             ) -> Prefetched:
    """One read of the cards and one of the channel's messages since the oldest of
    ``message_ts``, for a batch of more than one item (a single item reads its own)."""
    cards = ({c.id: c for c in ctx.board.cards(sorted(set(card_ids)))}
             if len(set(card_ids)) > 1 else None)
    messages = None
    if len(set(message_ts)) > 1:
        oldest = min(message_ts, key=ts_micros)
        since = ts_micros(oldest) - 1  # Slack's ``oldest`` is exclusive
        found = ctx.chat.history(ctx.settings.actions_channel,
                                  oldest=f"{since // 1_000_000}.{since % 1_000_000:06d}")
        messages = {m.ts: m for m in found}
    return Prefetched(cards, messages)


def ts_micros(ts: str) -> int:
    """A Slack ts (``"1712345678.000100"``) as an exact integer of microseconds."""
    seconds, _, fraction = ts.partition(".")
    return int(seconds) * 1_000_000 + int((fraction + "000000")[:6])


def read_item(ctx: SyncContext, view: StateView, item: Item, wanted: ItemReads,
              known: Prefetched | None = None) -> Snapshot | None:
    """The reads one item needs, as a :class:`Snapshot` of that item alone; None when an
    incremental sync must handle it instead (its card or its message has gone).

    Its card only when asked (one ``cards`` read), its message always (the plan compares
    against it; one ``conversations.history`` call), its thread's new replies only when asked;
    the card and the message come from ``known`` when the batch read them (:func:`prefetch`).
    The real-time path of ``serve`` and of the workers, which feeds
    :func:`sync.engine.item.plan_item` like :func:`read` feeds the whole sync's plan.
    """
    known = known or Prefetched()
    settings = ctx.settings
    token = make_token(settings.config.alliance.slug, item.key)
    board_side = view.side(item.id, "board")
    chat_side = view.side(item.id, "chat")
    cards: dict[str, BoardCard] = {}
    actors: dict[str, tuple[str, str]] = {}
    if wanted.card and board_side is not None:
        if known.cards is not None:
            found_card = known.cards.get(board_side.remote_id)
            cards = {found_card.id: found_card} if found_card is not None else {}
        else:
            cards = {card.id: card for card in ctx.board.cards([board_side.remote_id])}
        if board_side.remote_id not in cards:
            return None  # gone: a deletion the sync handles
        if wanted.actor is not None:
            actors[board_side.remote_id] = wanted.actor
    messages: dict[str, ChatMessage] = {}
    replies: dict[str, list[ChatMessage]] = {}
    if chat_side is not None:
        message = (known.messages.get(chat_side.remote_id) if known.messages is not None
                   else ctx.chat.message(settings.actions_channel, chat_side.remote_id))
        if message is None:
            return None  # the item's message has gone: the sync posts it again
        messages[token] = message
        if wanted.replies and board_side is not None:
            replies[token] = ctx.chat.replies(settings.actions_channel, message.ts,
                                               oldest=chat_side.base.get("latest_reply") or None)
    repeated = repeated_notes(ctx, replies.get(token, []))
    return Snapshot(cards=cards, card_actors=actors, new_card_ids=[], deleted_card_ids=set(),
                    comments=list(wanted.comments), messages=messages, last_action_id=None,
                    replies=replies,
                    pressed={token: list(wanted.pressed)} if wanted.pressed else {},
                    repeated_notes={token: repeated} if repeated else {})
