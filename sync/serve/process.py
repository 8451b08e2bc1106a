"""Turn queued deliveries into the engine's plan for each item they touch, and apply it.

A batch of pending events is grouped by item (a burst of moves, reactions and presses on one
item becomes one read and one plan: coalescing). Per item, only that item is read: its card
(when Trello told us about it), its message (always: the plan compares against it) and its
thread's new replies (when Slack told us about a reply). The snapshot built from those reads
goes through :func:`sync.engine.item.plan_item`, the very decisions ``mcm-sync sync`` makes,
and :func:`sync.engine.apply.apply_item` carries it out with the same journal and tokens, so a
delivery processed twice, or processed and then seen again by the scheduled sync, writes
nothing twice.

What one item's plan cannot do, an incremental sync does: a card a member added, deleted or
moved in from another board, a card or message we do not know (yet), or an item message that
has gone. Mailchimp posts go to the consent ledger (an unsubscribe or a cleaned address is
recorded at once, so no later push subscribes the person again).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from connectors.identity import make_token
from sync.audience.store import StakeholderStore
from sync.engine.apply import apply_item
from sync.engine.item import plan_item
from sync.engine.model import Snapshot, SyncContext, SyncResult, TrelloComment
from sync.engine.read import state_view
from sync.engine.run import run_sync
from sync.state.events import EventQueue, QueuedEvent
from sync.state.rows import Item
from sync.state.store import StateStore

log = logging.getLogger("mcm_sync.serve")

# Trello actions one item's plan cannot handle: an incremental sync does.
WHOLE_SYNC_ACTIONS = ("createCard", "deleteCard", "moveCardToBoard", "moveCardFromBoard",
                      "copyCard", "convertToCardFromCheckItem")


@dataclass
class Target:
    """One item's coalesced deliveries: what to read for it, and what was pressed."""

    item: Item
    read_card: bool = False
    read_replies: bool = False
    actor: tuple[str, str] | None = None
    pressed: tuple[str, str] | None = None
    comments: list[TrelloComment] = field(default_factory=list)
    events: list[int] = field(default_factory=list)


@dataclass
class Processed:
    """What a batch did: events done or ignored, the items planned, whether a sync ran."""

    done: list[int] = field(default_factory=list)
    ignored: list[int] = field(default_factory=list)
    items: list[str] = field(default_factory=list)
    synced: bool = False
    result: SyncResult | None = None


@dataclass
class Drained:
    """What draining a queue did: events processed, batches, the failures (one line each)."""

    processed: int = 0
    batches: int = 0
    errors: list[str] = field(default_factory=list)


def drain(ctx: SyncContext, queue: EventQueue,
          stopped: Callable[[], bool] = lambda: False) -> Drained:
    """Process the queue's pending deliveries in batches until none is left (or ``stopped``).

    The caller holds the alliance's lock. A batch whose remote calls fail is counted
    (:meth:`EventQueue.retry_later`) and the drain ends there: its deliveries stay pending for
    the next drain, and after :data:`sync.state.events.MAX_ATTEMPTS` are left to the full
    reconciliation. Used by ``serve -c`` (its own worker thread) and by ``mcm-sync worker``.
    """
    out = Drained()
    while not stopped():
        events = queue.pending()
        if not events:
            break
        ctx.settings = dataclasses.replace(ctx.settings, now=dt.datetime.now(dt.UTC))
        try:
            done = process(ctx, events, uuid.uuid4().hex)
        except Exception as exc:  # a remote failure: counted, retried, then left to sync
            log.warning("processing %d events failed: %s", len(events), exc)
            out.errors.append(str(exc))
            queue.retry_later([e.id for e in events], str(exc))
            break
        queue.finish(done.done, "done")
        queue.finish(done.ignored, "ignored")
        out.processed += len(events)
        out.batches += 1
    return out


def process(ctx: SyncContext, events: Sequence[QueuedEvent], run_id: str) -> Processed:
    """Process one batch (see the module docstring); raises if a remote call fails."""
    out = Processed()
    result = SyncResult(run_id=run_id)
    out.result = result
    store = ctx.store
    targets: dict[str, Target] = {}
    whole: list[int] = []

    def target(item_id: str) -> Target:
        if item_id not in targets:
            targets[item_id] = Target(store.get_item(item_id))
        return targets[item_id]

    for event in events:
        payload = event.payload
        if event.source == "mailchimp":
            (out.done if _consent(store, event) else out.ignored).append(event.id)
            continue
        if event.source == "trello":
            side = store.find_side("trello", event.subject)
            if side is None or event.kind in WHOLE_SYNC_ACTIONS:
                whole.append(event.id)
                continue
            found = target(side.item_id)
            found.read_card = True
            found.actor = (str(payload.get("member") or ""), str(payload.get("date") or ""))
            if event.kind == "commentCard":
                found.comments.append(TrelloComment(
                    str(payload["action_id"]), event.subject, str(payload.get("member") or "?"),
                    str(payload.get("text") or "")))
        else:
            side = store.find_side("slack", event.subject)
            if side is None:
                out.ignored.append(event.id)  # not an item message
                continue
            found = target(side.item_id)
            if event.kind == "reply":
                found.read_replies = True
            elif event.kind == "button":
                found.pressed = (str(payload["status"]), str(payload.get("user") or ""))
        found.events.append(event.id)

    for found in targets.values():
        if _item(ctx, found, result):
            out.items.append(found.item.number)
            out.done += found.events
        else:
            whole += found.events
    if whole:
        # Once for the whole batch: the board's actions since the bookmark, every message.
        out.result = run_sync(ctx)
        out.synced = True
        out.done += whole
    return out


def _item(ctx: SyncContext, found: Target, result: SyncResult) -> bool:
    """Read, plan and apply one item; False when an incremental sync must do it instead."""
    settings, store = ctx.settings, ctx.store
    view = state_view(store, settings.config.alliance.item_prefix)
    item = view.by_key.get(found.item.key, found.item)
    token = make_token(settings.config.alliance.slug, item.key)
    trello_side = view.side(item.id, "trello")
    slack_side = view.side(item.id, "slack")
    cards = {}
    actors = {}
    if found.read_card and trello_side is not None:
        cards = {card.id: card for card in ctx.trello.cards([trello_side.remote_id])}
        if trello_side.remote_id not in cards:
            return False  # gone: a deletion the sync handles
        if found.actor is not None:
            actors[trello_side.remote_id] = found.actor
    messages = {}
    replies = {}
    if slack_side is not None:
        message = ctx.slack.message(settings.actions_channel, slack_side.remote_id)
        if message is None:
            return False  # the item's message has gone: the sync posts it again
        messages[token] = message
        if found.read_replies and trello_side is not None:
            replies[token] = ctx.slack.replies(settings.actions_channel, message.ts,
                                               oldest=slack_side.base.get("latest_reply") or None)
    snap = Snapshot(cards=cards, card_actors=actors, new_card_ids=[], deleted_card_ids=set(),
                    comments=found.comments, messages=messages, last_action_id=None,
                    replies=replies, pressed={token: found.pressed} if found.pressed else {})
    plan = plan_item(settings, view, snap, item)
    apply_item(ctx, plan, result)
    return True


def _consent(store: StateStore, event: QueuedEvent) -> bool:
    """A Mailchimp post in the consent ledger; False if the person is not in the database."""
    people = StakeholderStore(store)
    email = str(event.payload.get("email") or "")
    person = people.find_email(email)
    if person is None:
        log.info("mailchimp %s for someone not in the stakeholder database: ignored",
                 event.kind)
        return False
    fired = str(event.payload.get("fired_at") or event.received_at)
    if event.kind in ("unsubscribe", "cleaned"):
        people.mark_remote(person.key, "unsubscribed" if event.kind == "unsubscribe"
                           else "cleaned", fired)
    elif event.kind == "subscribe":
        people.mark_remote(person.key, "subscribed", fired)
    else:
        # upemail / profile: the stakeholder database stays the source of addresses and
        # profiles; the change is logged for the coordinator (``mcm-sync stakeholders``).
        log.warning("mailchimp %s for a stakeholder: update the stakeholder database if it "
                    "should stay", event.kind)
    return True
