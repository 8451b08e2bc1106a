"""A whole run's remote reads: what changed on the board and in the channel, then the rest.

:func:`read_changes` reads what changed remotely first: the board's actions since the bookmark
and the actions channel's history (paged), which is all a quiet run reads; :func:`read` then
reads the rest: the cards the actions touched (or the whole board on a full reconciliation),
the thread replies newer than each message's last seen reply, and, only when some item needs
its card made, the board's cards by token so that a card a crashed run made is adopted.
Nothing here decides or writes remotely.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from connectors.base import BoardAction, BoardCard, ChatMessage
from connectors.identity import make_token, token_in
from sync.engine.channel.spread import ChannelRead, unread_tokens
from sync.engine.model import BoardComment, Snapshot, StateView, SyncContext
from sync.engine.reading.messages import item_messages, new_replies, repeated_notes, spread_read

# The board actions a run reads (Trello's action types, the vocabulary of BoardAction.type).
TRELLO_ACTION_TYPES = ("createCard", "updateCard", "deleteCard", "commentCard",
                       "addMemberToCard", "removeMemberFromCard", "moveCardToBoard")


@dataclass(frozen=True)
class RemoteChanges:
    """The run's first two reads: board actions since the bookmark, the actions channel."""

    since: str | None
    actions: list[BoardAction]
    history: list[ChatMessage]
    # A distributed Slack app's read of a stretch of the channel (None: all of it was read).
    channel: ChannelRead | None = None


def read_changes(ctx: SyncContext, *, full: bool) -> RemoteChanges:
    """The board's actions since the bookmark (none on a full reconciliation, which reads
    the whole board instead) and the actions channel's history: all of it (paged), or for a
    distributed Slack app the one read :func:`spread_read` chooses."""
    settings = ctx.settings
    since = None if full else ctx.store.get_bookmark(ctx.names.board, "actions")
    actions = ctx.board.board_actions(settings.board_id, since=since, types=TRELLO_ACTION_TYPES) \
        if since or not full else []
    if settings.config.slack.app_distribution == "distributed":
        history, channel = spread_read(ctx)
        return RemoteChanges(since, actions, history, channel)
    return RemoteChanges(since, actions, ctx.chat.history(settings.actions_channel))


def read(ctx: SyncContext, view: StateView, changes: RemoteChanges, *, full: bool) -> Snapshot:
    """The rest of the run's reads, after :func:`read_changes`: the cards the actions touched
    (or the whole board), thread replies, and the board's cards when some card is to be made.
    """
    settings = ctx.settings
    since, actions = changes.since, changes.actions
    touched: set[str] = set()
    actors: dict[str, tuple[str, str]] = {}
    new_ids: list[str] = []
    deleted: set[str] = set()
    comments: list[BoardComment] = []
    for action in actions:
        if action.member_id == settings.me_board:
            # Our own writes coming back: never a member's change (a copy a failed run made
            # is found on its card by the journal's adoption:
            # sync.engine.writes.appends.add_comment).
            continue
        if not action.card_id:
            continue
        if action.type == "deleteCard":
            deleted.add(action.card_id)
            actors[action.card_id] = (action.member_name, action.date)
            continue
        if action.type == "commentCard":
            comments.append(BoardComment(action.id, action.card_id, action.member_name,
                                          str(action.data.get("text", ""))))
            continue
        touched.add(action.card_id)
        actors[action.card_id] = (action.member_name, action.date)
        if action.type == "createCard":
            new_ids.append(action.card_id)
    by_token = {}
    copies: dict[str, str] = {}
    # Imported here: only a full read, or one with a card to make, indexes the board's cards
    # by token (a quiet sync never does).
    from sync.bootstrap.plan import cards_by_token

    if full:
        board = ctx.board.snapshot(settings.board_id)
        cards = {card.id: card for card in board.cards}
        known = view.board_card_ids()
        copies = card_copies(settings.config.alliance.slug, view, board.cards)
        new_ids = [c.id for c in board.cards if c.id not in known and not c.closed
                   and (token_in(c.desc) is None or c.id in copies)]
        deleted |= known - set(cards)
        by_token = cards_by_token(board)
    else:
        cards = {card.id: card for card in ctx.board.cards(sorted(touched))} if touched else {}
        if _cards_to_make(ctx, view):
            # One board read, only when some card is to be made: adopt what a crash made.
            by_token = cards_by_token(ctx.board.snapshot(settings.board_id))
    messages, duplicates = item_messages(ctx, view, changes.history)
    channel = changes.channel
    unread: frozenset[str] = frozenset()
    if channel is not None:
        unread = unread_tokens(settings.config.alliance.slug, view, messages, channel.stretches)
        channel.unread = len(unread)
    replies = new_replies(ctx, view, messages, channel)
    for token, repeated in duplicates.items():
        # Members may have replied under a second copy too: those replies are copied as well
        # (each once, by its own token) before the copy is removed.
        for copy in repeated:
            if copy.reply_count:
                replies.setdefault(token, []).extend(
                    ctx.chat.replies(settings.actions_channel, copy.ts))
    return Snapshot(cards, actors, new_ids, deleted, comments, messages,
                    actions[-1].id if actions else since, full=full,
                    replies=replies,
                    repeated_notes={token: found for token, thread in replies.items()
                                    if (found := repeated_notes(ctx, thread))},
                    board_cards_by_token=by_token,
                    duplicate_messages=duplicates, copies=copies, unread=unread)


def card_copies(slug: str, view: StateView, cards: Sequence[BoardCard]) -> dict[str, str]:
    """Open cards no item knows that carry the marker of an item whose own card is another
    card of the board (Trello's "Copy card" copies the description, our marker included):
    card id -> that item's number. Pure.

    A card with an item's marker and no known card is not a copy: it is the card a crashed
    run made, adopted by its token.
    """
    on_board = {card.id for card in cards}
    known = view.board_card_ids()
    owner = {make_token(slug, item.key): item for item in view.items}
    found: dict[str, str] = {}
    for card in cards:
        token = token_in(card.desc)
        item = owner.get(token) if token and not card.closed and card.id not in known else None
        side = view.side(item.id, "board") if item is not None else None
        if item is not None and side is not None and side.remote_id != card.id \
                and side.remote_id in on_board:
            found[card.id] = item.number
    return found


def _cards_to_make(ctx: SyncContext, view: StateView) -> bool:
    """True when an item (or an action-plan row not yet an item) has no card yet."""
    if any(view.side(item.id, "board") is None for item in view.items):
        return True
    return any(view.item_by_key(f"action:{row.key}") is None for row in ctx.settings.rows)
