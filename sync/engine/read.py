"""The sync's reads: resolve the alliance's remote ids, read the state view and both services.

:func:`prepare` finds the recorded board, lists and channel (failing early if bootstrap is
due); :func:`state_view` reads the state store once into plain data; :func:`read_changes`
reads what changed remotely first: Trello's board actions since the bookmark and the actions
channel's history (paged), which is all a quiet run reads; :func:`read` then reads the rest:
the cards the actions touched (or the whole board on a full reconciliation), the thread
replies newer than each message's last seen reply, and, only when some item needs its card
made, the board's cards by token so that a card a crashed run made is adopted;
:func:`read_item` reads one item alone (the real-time path). Nothing here decides or writes
remotely.

A distributed Slack app (``slack.app_distribution: distributed``, held to one history call a
minute) does not read the channel whole: a run reads what :mod:`sync.engine.channel.spread`
says (the messages since the newest recorded one when it may post, else one page of the
reconciliation) and the items whose messages it did not read are *unread*, not gone.

The bot's Slack identity (``auth.test``) is kept in the state store between processes
(:func:`slack_identity`): a token's identity never changes, so it is recorded once, under a
fingerprint of the token (:meth:`connectors.roles.ChatService.identity_key`, a one-way digest,
never the token). A new token finds no record and asks again (the records of earlier tokens
are dropped), and a run that fails on a remote call forgets it
(:func:`forget_slack_identity`), so a revoked or replaced token, or an app reinstalled
elsewhere, is asked about afresh. No new table: it is a resource row (``slack``,
``identity``, <fingerprint>) whose remote id is ``"<user id> <bot id>"``. Our Trello member
(``GET /members/me``) is kept the same way (:func:`trello_identity`): a resource row
(``trello``, ``me``, <fingerprint of the Trello token>) whose remote id is the member's id; a
store of before kept it under the key ``me`` whatever the token, and asks once more.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from connectors.base import BoardAction, BoardCard, ChatMessage
from connectors.identity import NOTE_EVENT_TYPE, make_token, token_in, token_in_metadata
from connectors.roles import BoardService, ChatService
from playbooks.model import STATUSES, ActionRow, Playbook
from sync.core.config import Config
from sync.core.errors import UserError
from sync.engine.channel.spread import (
    SWEEP,
    THREADS_PER_RUN,
    ChannelRead,
    Stretch,
    Sweep,
    newest_recorded,
    unread_tokens,
)
from sync.engine.model import (
    DECISION,
    Settings,
    Snapshot,
    StateView,
    SyncContext,
    TrelloComment,
    inputs_digest,
)
from sync.state.rows import Item
from sync.state.store import StateStore

IDENTITY = "identity"  # the resource kind of the bot's recorded Slack identity
ME = "me"  # the resource kind of our recorded Trello member, keyed by the token's fingerprint
TRELLO_ACTION_TYPES = ("createCard", "updateCard", "deleteCard", "commentCard",
                       "addMemberToCard", "removeMemberFromCard", "moveCardToBoard")


def _resource(found: Mapping[tuple[str, str, str], str], service: str, kind: str,
              key: str) -> str:
    remote_id = found.get((service, kind, key))
    if remote_id is None:
        raise UserError(f"no {service} {kind} recorded for this alliance",
                        hint="run `mcm-sync bootstrap` first")
    return remote_id


def prepare(config: Config, book: Playbook, rows: Sequence[ActionRow], board: BoardService,
            chat: ChatService, store: StateStore, now: dt.datetime | None = None,
            inputs: str = "") -> SyncContext:
    """Resolve the recorded board, lists, channel and people; fail early if bootstrap is due.

    ``inputs``: the digest of config, playbook and rows when the caller keeps one (a worker
    computes it once per alliance); computed here otherwise.
    """
    # Two queries for every id the run needs: a scheduled run repeats this every few seconds.
    found = {("trello", *k): v for k, v in
             store.remote_ids("trello", ("board", "list", ME, "member")).items()}
    slack_ids = store.remote_ids("slack", ("channel", IDENTITY))
    found |= {("slack", *k): v for k, v in slack_ids.items()}
    board_id = _resource(found, "trello", "board", "board")
    status_list: dict[str, str] = {status: _resource(found, "trello", "list", status)
                                   for status in STATUSES}
    me_trello = trello_identity(board, store, {key: v for (service, kind, key), v in found.items()
                                                if (service, kind) == ("trello", ME)})
    members = {remote_id: key for (service, kind, key), remote_id in found.items()
               if (service, kind) == ("trello", "member")}
    settings = Settings(
        config=config, book=book, rows=tuple(rows), board_id=board_id,
        actions_channel=_resource(found, "slack", "channel", "actions"),
        list_status={v: k for k, v in status_list.items()}, status_list=status_list,
        member_emails=members, me_trello=me_trello,
        me_slack=slack_identity(chat, store, {key: v for (kind, key), v in slack_ids.items()
                                               if kind == IDENTITY}),
        now=now or dt.datetime.now(dt.UTC),
        inputs=inputs or inputs_digest(config, book, rows),
    )
    return SyncContext(settings=settings, board=board, chat=chat, store=store)


def slack_identity(slack: ChatService, store: StateStore,
                   recorded: Mapping[str, str] | None = None) -> tuple[str, str]:
    """(user id, bot id) of ``slack``'s token: from the store when recorded for this token,
    otherwise asked (``auth.test``) and recorded.

    ``recorded``: fingerprint -> remote id of the ``identity`` resources, when the caller has
    read them already (a scheduled run reads every id it needs in one query).
    """
    def ask() -> str:
        user, bot = slack.identity()
        return f"{user} {bot}"

    user, _, bot = _our_identity(store, "slack", IDENTITY, slack.identity_key(), ask,
                                 recorded).partition(" ")
    return user, bot


def forget_slack_identity(store: StateStore) -> None:
    """Drop every recorded identity: the next run asks Slack again."""
    _forget_identity(store, "slack", IDENTITY)


def trello_identity(trello: BoardService, store: StateStore,
                    recorded: Mapping[str, str] | None = None) -> str:
    """The member id of ``trello``'s token: from the store when recorded for this token,
    otherwise asked (``GET /members/me``) and recorded, the records of other tokens dropped.

    ``recorded``: fingerprint -> member id of the ``me`` resources, when the caller has read
    them already.
    """
    def ask() -> str:
        member_id: str = trello.me().id
        return member_id

    return _our_identity(store, "trello", ME, trello.identity_key(), ask, recorded)


def forget_trello_identity(store: StateStore) -> None:
    """Drop every recorded Trello member of ours: the next run asks Trello again."""
    _forget_identity(store, "trello", ME)


def _our_identity(store: StateStore, service: str, kind: str, key: str,
                  ask: Callable[[], str], recorded: Mapping[str, str] | None) -> str:
    """Who our token is on ``service``: recorded under the token's fingerprint ``key``, else
    asked once and recorded, the records of other tokens dropped (a new token asks again)."""
    if recorded is None:
        found = store.get_resource(service, kind, key)
        known = found.remote_id if found else None
    else:
        known = recorded.get(key)
    if known is not None:
        return known
    answer = ask()
    with store.transaction():
        _forget_identity(store, service, kind)
        store.put_resource(service, kind, key, answer)
    return answer


def _forget_identity(store: StateStore, service: str, kind: str) -> None:
    with store.transaction():
        for old in store.list_resources(service, kind):
            store.delete_resource(service, kind, old.logical_key)


def due_for_full(store: StateStore, every: dt.timedelta, now: dt.datetime) -> bool:
    """True when the last full reconciliation is older than ``every`` (or never happened)."""
    last = store.get_bookmark("trello", "full")
    if not last:
        return True
    return now - dt.datetime.fromisoformat(last) >= every


def state_view(store: StateStore, prefix: str) -> StateView:
    """The state store's items, sides and bookkeeping as plain data (a handful of queries)."""
    items = tuple(store.list_items())
    waiting: dict[str, set[str]] = {}
    for record in store.list_conflicts(unresolved=True):
        waiting.setdefault(record.item_id, set()).add(record.field)
    summary = store.audit_summary()
    return StateView(
        items=items,
        by_key={item.key: item for item in items},
        sides={(s.item_id, s.side): s for s in store.all_sides()},
        waiting={k: frozenset(v) for k, v in waiting.items()},
        slack_users={r.remote_id: r.logical_key for r in store.list_resources("slack", "user")},
        label_ids={r.logical_key: r.remote_id for r in store.list_resources("trello", "label")},
        next_number=store.peek_item_number(prefix),
        audit_counts={item_id: n for item_id, (n, _) in summary.items()},
        first_actors={item_id: actor for item_id, (_, actor) in summary.items()},
        pending=_pending(store),
    )


def _pending(store: StateStore) -> dict[str, dict[str, Any]]:
    """Item decisions a dead run journalled and never committed (the latest per item)."""
    found: dict[str, dict[str, Any]] = {}
    for intent in store.open_intents("hub"):
        if intent.operation == DECISION and intent.item_id is not None:
            earlier = found.get(intent.item_id, {}).get("intent_ids", [])
            found[intent.item_id] = {**intent.detail, "intent_ids": [*earlier, intent.id]}
    return found


@dataclass(frozen=True)
class RemoteChanges:
    """The run's first two reads: board actions since the bookmark, the actions channel."""

    since: str | None
    actions: list[BoardAction]
    history: list[ChatMessage]
    # A distributed Slack app's read of a stretch of the channel (None: all of it was read).
    channel: ChannelRead | None = None


def read_changes(ctx: SyncContext, *, full: bool) -> RemoteChanges:
    """Trello's board actions since the bookmark (none on a full reconciliation, which reads
    the whole board instead) and the actions channel's history: all of it (paged), or for a
    distributed Slack app the one read :func:`spread_read` chooses."""
    settings = ctx.settings
    since = None if full else ctx.store.get_bookmark("trello", "actions")
    actions = ctx.board.board_actions(settings.board_id, since=since, types=TRELLO_ACTION_TYPES) \
        if since or not full else []
    if settings.config.slack.app_distribution == "distributed":
        history, channel = spread_read(ctx)
        return RemoteChanges(since, actions, history, channel)
    return RemoteChanges(since, actions, ctx.chat.history(settings.actions_channel))


def spread_read(ctx: SyncContext) -> tuple[list[ChatMessage], ChannelRead]:
    """A distributed app's one history read of this run (:mod:`sync.engine.channel.spread`):
    every message newer than the newest recorded item message when the run may post one (a
    crashed run's post is adopted, not repeated), otherwise the reconciliation's next page."""
    settings, store = ctx.settings, ctx.store
    channel = settings.actions_channel
    items = store.list_items()
    recorded = {side.item_id: side.remote_id for side in store.all_sides()
                if side.side == "slack"}
    keys = {item.key for item in items}
    may_post = any(item.id not in recorded for item in items) or any(
        f"action:{row.key}" not in keys for row in settings.rows)
    if may_post:
        oldest = newest_recorded(list(recorded.values()))
        history = ctx.chat.history(channel, oldest=oldest)
        return history, ChannelRead("incremental", (Stretch(oldest or "", ""),))
    sweep = Sweep.load(store.get_bookmark(*SWEEP))
    page = ctx.chat.history_page(channel, before=sweep.before or None)
    following = sweep.after(page)
    return page.messages, ChannelRead("reconciliation", sweep.stretches(page), following,
                                      page=sweep.page + 1,
                                      finished_pass=following.passes > sweep.passes)


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
    comments: list[TrelloComment] = []
    for action in actions:
        if action.member_id == settings.me_trello:
            # Our own writes coming back: never a member's change (a copy a failed run made
            # is found on its card by the journal's adoption, sync.engine.apply._comment).
            continue
        if not action.card_id:
            continue
        if action.type == "deleteCard":
            deleted.add(action.card_id)
            actors[action.card_id] = (action.member_name, action.date)
            continue
        if action.type == "commentCard":
            comments.append(TrelloComment(action.id, action.card_id, action.member_name,
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
        known = view.trello_card_ids()
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
    messages, duplicates = _item_messages(ctx, view, changes.history)
    channel = changes.channel
    unread: frozenset[str] = frozenset()
    if channel is not None:
        unread = unread_tokens(settings.config.alliance.slug, view, messages, channel.stretches)
        channel.unread = len(unread)
    replies = _new_replies(ctx, view, messages, channel)
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


@dataclass(frozen=True)
class ItemReads:
    """What a queued delivery asks to read for one item (the real-time path)."""

    card: bool = False  # Trello told us about its card
    replies: bool = False  # Slack told us about a reply in its thread
    actor: tuple[str, str] | None = None  # who changed the card, and when (Trello's action)
    comments: tuple[TrelloComment, ...] = ()
    pressed: tuple[tuple[str, str, str], ...] = ()  # button presses: status, user, delivery


@dataclass(frozen=True)
class Prefetched:
    """Cards and item messages read once for a batch of items (by card id, by message ts):
    a burst on many items costs one read of each kind instead of one per item."""

    cards: Mapping[str, BoardCard] | None = None
    messages: Mapping[str, ChatMessage] | None = None


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
    trello_side = view.side(item.id, "trello")
    slack_side = view.side(item.id, "slack")
    cards: dict[str, BoardCard] = {}
    actors: dict[str, tuple[str, str]] = {}
    if wanted.card and trello_side is not None:
        if known.cards is not None:
            found_card = known.cards.get(trello_side.remote_id)
            cards = {found_card.id: found_card} if found_card is not None else {}
        else:
            cards = {card.id: card for card in ctx.board.cards([trello_side.remote_id])}
        if trello_side.remote_id not in cards:
            return None  # gone: a deletion the sync handles
        if wanted.actor is not None:
            actors[trello_side.remote_id] = wanted.actor
    messages: dict[str, ChatMessage] = {}
    replies: dict[str, list[ChatMessage]] = {}
    if slack_side is not None:
        message = (known.messages.get(slack_side.remote_id) if known.messages is not None
                   else ctx.chat.message(settings.actions_channel, slack_side.remote_id))
        if message is None:
            return None  # the item's message has gone: the sync posts it again
        messages[token] = message
        if wanted.replies and trello_side is not None:
            replies[token] = ctx.chat.replies(settings.actions_channel, message.ts,
                                               oldest=slack_side.base.get("latest_reply") or None)
    repeated = repeated_notes(ctx, replies.get(token, []))
    return Snapshot(cards=cards, card_actors=actors, new_card_ids=[], deleted_card_ids=set(),
                    comments=list(wanted.comments), messages=messages, last_action_id=None,
                    replies=replies,
                    pressed={token: list(wanted.pressed)} if wanted.pressed else {},
                    repeated_notes={token: repeated} if repeated else {})


def card_copies(slug: str, view: StateView, cards: Sequence[BoardCard]) -> dict[str, str]:
    """Open cards no item knows that carry the marker of an item whose own card is another
    card of the board (Trello's "Copy card" copies the description, our marker included):
    card id -> that item's number. Pure.

    A card with an item's marker and no known card is not a copy: it is the card a crashed
    run made, adopted by its token.
    """
    on_board = {card.id for card in cards}
    known = view.trello_card_ids()
    owner = {make_token(slug, item.key): item for item in view.items}
    found: dict[str, str] = {}
    for card in cards:
        token = token_in(card.desc)
        item = owner.get(token) if token and not card.closed and card.id not in known else None
        side = view.side(item.id, "trello") if item is not None else None
        if item is not None and side is not None and side.remote_id != card.id \
                and side.remote_id in on_board:
            found[card.id] = item.number
    return found


def _item_messages(ctx: SyncContext, view: StateView, history: Sequence[ChatMessage]
                   ) -> tuple[dict[str, ChatMessage], dict[str, list[ChatMessage]]]:
    """The item messages of the channel by token, and the further copies of each.

    A post repeated after a lost answer (a client timeout while the service was slow) leaves
    two messages with one token. The one the item's Slack side records is the item's; the
    reactions on every copy count as on it (a ✅ on the copy is a member's request like any),
    and the copies are removed by the run (:func:`sync.engine.plan._duplicates`).
    """
    slug = ctx.settings.config.alliance.slug
    recorded = {make_token(slug, item.key): side.remote_id for item in view.items
                if (side := view.side(item.id, "slack")) is not None}
    every: dict[str, list[ChatMessage]] = {}
    for message in history:
        token = token_in_metadata(message.metadata)
        if token:
            every.setdefault(token, []).append(message)
    messages: dict[str, ChatMessage] = {}
    duplicates: dict[str, list[ChatMessage]] = {}
    for token, copies in every.items():
        keep = next((m for m in copies if m.ts == recorded.get(token)), copies[0])
        others = [m for m in copies if m is not keep]
        if others:
            reactions: dict[str, list[str]] = {}
            for message in (keep, *others):
                for name, users in message.reactions.items():
                    seen = reactions.setdefault(name, [])
                    seen.extend(u for u in users if u not in seen)
            keep = dataclasses.replace(keep, reactions={k: tuple(v) for k, v in
                                                        reactions.items()})
            duplicates[token] = others
        messages[token] = keep
    return messages, duplicates


def _cards_to_make(ctx: SyncContext, view: StateView) -> bool:
    """True when an item (or an action-plan row not yet an item) has no card yet."""
    if any(view.side(item.id, "trello") is None for item in view.items):
        return True
    return any(view.item_by_key(f"action:{row.key}") is None for row in ctx.settings.rows)


def _new_replies(ctx: SyncContext, view: StateView, messages: dict[str, ChatMessage],
                 channel: ChannelRead | None = None) -> dict[str, list[ChatMessage]]:
    """Thread replies newer than each item message's last seen reply (one read per thread).

    A distributed app reads ``THREADS_PER_RUN`` threads a run (replies: one call a minute);
    the others keep their mark, counted in ``channel.threads_deferred``, and are read when a
    later run reads their message again (by event at once with ``serve``)."""
    slug = ctx.settings.config.alliance.slug
    found: dict[str, list[ChatMessage]] = {}
    for item in view.items:
        side = view.side(item.id, "slack")
        if side is None or view.side(item.id, "trello") is None:
            continue
        token = make_token(slug, item.key)
        message = messages.get(token)
        seen = side.base.get("latest_reply", "")
        if message is None or not message.latest_reply or message.latest_reply <= seen:
            continue
        if channel is not None and len(found) >= THREADS_PER_RUN:
            channel.threads_deferred += 1
            continue
        found[token] = ctx.chat.replies(ctx.settings.actions_channel, message.ts,
                                         oldest=seen or None)
    return found


def repeated_notes(ctx: SyncContext, thread: Sequence[ChatMessage]) -> list[str]:
    """Our thread notes in ``thread`` (replies as read) that repeat a note already made: the
    ts of each copy to remove.

    A post can land after its run gave up on it (a worker killed with it in flight, a client
    timeout while the service was slow) and after the next run looked for it, found nothing
    and posted it again. The journal names the copy that counts (the done intent's remote
    id); any other copy with the same token, and a second copy read in the same thread, go.
    """
    me = ctx.settings.me_slack
    first: dict[str, str] = {}
    extra: list[str] = []
    for reply in thread:
        token = token_in_metadata(reply.metadata, (NOTE_EVENT_TYPE,))
        if token is None or not (reply.user in me or (reply.bot_id and reply.bot_id in me)):
            continue
        if token in first:
            extra.append(reply.ts)
            continue
        made = {intent.remote_id for intent in ctx.store.intents(identity_token=token)
                if intent.state == "done" and intent.remote_id}
        if made and reply.ts not in made:
            extra.append(reply.ts)
            continue
        first[token] = reply.ts
    return extra
