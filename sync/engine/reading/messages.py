"""The actions channel's reads: item messages by token, new thread replies, repeated notes.

A distributed Slack app (``slack.app_distribution: distributed``, held to one history call a
minute) does not read the channel whole: a run reads what :mod:`sync.engine.channel.spread`
says (:func:`spread_read`: the messages since the newest recorded one when it may post, else
one page of the reconciliation) and the items whose messages it did not read are *unread*,
not gone. Nothing here decides or writes remotely.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from connectors.base import ChatMessage
from connectors.identity import NOTE_EVENT_TYPE, make_token, token_in_metadata
from sync.engine.channel.spread import (
    THREADS_PER_RUN,
    ChannelRead,
    Stretch,
    Sweep,
    newest_recorded,
    sweep_bookmark,
)
from sync.engine.model import StateView, SyncContext


def spread_read(ctx: SyncContext) -> tuple[list[ChatMessage], ChannelRead]:
    """A distributed app's one history read of this run (:mod:`sync.engine.channel.spread`):
    every message newer than the newest recorded item message when the run may post one (a
    crashed run's post is adopted, not repeated), otherwise the reconciliation's next page."""
    settings, store = ctx.settings, ctx.store
    channel = settings.actions_channel
    items = store.list_items()
    recorded = {side.item_id: side.remote_id for side in store.all_sides()
                if side.side == ctx.names.chat}
    keys = {item.key for item in items}
    may_post = any(item.id not in recorded for item in items) or any(
        f"action:{row.key}" not in keys for row in settings.rows)
    if may_post:
        oldest = newest_recorded(list(recorded.values()))
        history = ctx.chat.history(channel, oldest=oldest)
        return history, ChannelRead("incremental", (Stretch(oldest or "", ""),))
    sweep = Sweep.load(store.get_bookmark(*sweep_bookmark(ctx.names)))
    page = ctx.chat.history_page(channel, before=sweep.before or None)
    following = sweep.after(page)
    return page.messages, ChannelRead("reconciliation", sweep.stretches(page), following,
                                      page=sweep.page + 1,
                                      finished_pass=following.passes > sweep.passes)


def item_messages(ctx: SyncContext, view: StateView, history: Sequence[ChatMessage]
                  ) -> tuple[dict[str, ChatMessage], dict[str, list[ChatMessage]]]:
    """The item messages of the channel by token, and the further copies of each.

    A post repeated after a lost answer (a client timeout while the service was slow) leaves
    two messages with one token. The one the item's chat side records is the item's; the
    reactions on every copy count as on it (a ✅ on the copy is a member's request like any),
    and the copies are removed by the run (:func:`sync.engine.plan._duplicates`).
    """
    slug = ctx.settings.config.alliance.slug
    recorded = {make_token(slug, item.key): side.remote_id for item in view.items
                if (side := view.side(item.id, "chat")) is not None}
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


def new_replies(ctx: SyncContext, view: StateView, messages: dict[str, ChatMessage],
                channel: ChannelRead | None = None) -> dict[str, list[ChatMessage]]:
    """Thread replies newer than each item message's last seen reply (one read per thread).

    A distributed app reads ``THREADS_PER_RUN`` threads a run (replies: one call a minute);
    the others keep their mark, counted in ``channel.threads_deferred``, and are read when a
    later run reads their message again (by event at once with ``serve``)."""
    slug = ctx.settings.config.alliance.slug
    found: dict[str, list[ChatMessage]] = {}
    for item in view.items:
        side = view.side(item.id, "chat")
        if side is None or view.side(item.id, "board") is None:
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
    me = ctx.settings.me_chat
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
