"""Turn queued deliveries into the engine's plan for each item they touch, and apply it.

A batch of pending events is grouped by item (a burst of moves, reactions and presses on one
item becomes one read and one plan: coalescing). Per item, only that item is read
(:func:`sync.engine.read.read_item`): its card (when Trello told us about it), its message
(always: the plan compares against it) and its thread's new replies (when Slack told us about
a reply). The snapshot goes through :func:`sync.engine.item.plan_item`, the very decisions
``mcm-sync sync`` makes, and is applied with the same journal and tokens, so a delivery
processed twice, or processed and then seen again by the scheduled sync, writes nothing twice.

:func:`drain` waits :data:`SETTLE_SECONDS` after the newest delivery before reading a batch,
so the deliveries of one change (Trello sends one action per field of one ``PUT``, a few ms
apart) are one batch; it makes every item's card write first and leaves the message updates
and thread notes to the lane (:mod:`sync.realtime.lane`), one write between batches, made
only when Slack's pacing lets it go at once: the drain never sleeps for Slack while
deliveries wait, it waits for the earlier of the next delivery and Slack being ready.

What one item's plan cannot do, an incremental sync does: a card a member added, deleted or
moved in from another board, a card or message we do not know (yet), or an item message that
has gone. Mailchimp posts go to the stakeholder database (:mod:`sync.realtime.consent`).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from connectors.retry import without_waiting
from connectors.slack.respond import respond
from sync.core.errors import RetriableRemoteError
from sync.engine.apply import ItemRest, apply_item, apply_visible
from sync.engine.item import alliance_chat_ids, plan_item
from sync.engine.model import BoardComment, StateView, SyncContext, SyncResult
from sync.engine.read import (
    ItemReads,
    Prefetched,
    prefetch,
    prefetch_call,
    read_item,
    state_view,
)
from sync.engine.run import run_sync
from sync.engine.texts import labels
from sync.engine.writes.appends import Rest
from sync.realtime.consent import file_consent
from sync.realtime.lane import MAX_REFUSALS, Deferred, NotesLane, Step, ready_in, wait_after
from sync.state.events import EventQueue, QueuedEvent
from sync.state.rows import Item

log = logging.getLogger("mcm_sync.serve")

# Trello actions one item's plan cannot handle: an incremental sync does.
WHOLE_SYNC_ACTIONS = ("createCard", "deleteCard", "moveCardToBoard", "moveCardFromBoard",
                      "copyCard", "convertToCardFromCheckItem")
# How long after the newest delivery a batch is read. Trello records one action per field of
# a PUT and delivers each (2-7 ms apart, measured): 25 ms gathers them into one batch, so one
# card read and one plan, and costs a change 25 ms against the second or more its visible
# write takes under Slack's limits. A constant: nothing a coordinator should have to tune.
SETTLE_SECONDS = 0.025
# How often a drain whose lane waits for Slack looks for new deliveries (they are stored by
# another thread or process: the queue is the one place to see them). A reaction waits at
# most this long before its batch is read; the look is one indexed query.
LOOK_SECONDS = 0.05
# A batch is read when Slack lets its read of the channel go: while the read would wait in
# the pacer, the deliveries that keep coming join the batch (one read for all of them, not a
# wait per batch). Longer waits than this (a distributed app's history, one call a minute:
# its items read their messages otherwise) are not held for.
READ_HOLD_SECONDS = 5.0
# A sync a delivery triggered (a new card) waits in the pacing for a call held this long at
# most (a post's slot in the channel: about a second); a longer hold, or a 429, is given
# back and the sync's deliveries are read again when the service is ready, other items
# served meanwhile.
SYNC_PACE_SECONDS = 1.5


@dataclass
class Target:
    """One item's coalesced deliveries: what to read for it, and what was pressed."""

    item: Item
    read_card: bool = False
    read_replies: bool = False
    actor: tuple[str, str] | None = None
    pressed: list[tuple[str, str, str]] = field(default_factory=list)
    press_url: str = ""  # the press's response_url: a refusal is answered there, privately
    press_refused: bool = False
    comments: list[BoardComment] = field(default_factory=list)
    events: list[int] = field(default_factory=list)
    deferred: Deferred | None = None  # its rest, in the lane


@dataclass
class Processed:
    """What a batch did: events done, ignored, deferred to the lane, left waiting for a busy
    item, or held (a read or write the service's pacing or a 429 refused, or a transient
    failure: each read again so many seconds later, see :func:`drain`); the items planned,
    whether a sync ran."""

    done: list[int] = field(default_factory=list)
    ignored: list[int] = field(default_factory=list)
    deferred: list[int] = field(default_factory=list)
    waiting: list[int] = field(default_factory=list)
    held: dict[int, float] = field(default_factory=dict)
    items: list[str] = field(default_factory=list)
    synced: bool = False
    result: SyncResult | None = None


@dataclass
class Drained:
    """What draining a queue did: events processed, batches, the failures (one line each)."""

    processed: int = 0
    batches: int = 0
    errors: list[str] = field(default_factory=list)


def _settle(events: Sequence[QueuedEvent], seconds: float) -> None:
    """Sleep until ``seconds`` after the newest of ``events`` was received."""
    if seconds <= 0 or not events:
        return
    try:
        newest = max(dt.datetime.fromisoformat(e.received_at) for e in events)
    except ValueError:
        return
    age = (dt.datetime.now(dt.UTC) - newest).total_seconds()
    if 0 <= age < seconds:
        time.sleep(seconds - age)


def drain(ctx: SyncContext, queue: EventQueue, stopped: Callable[[], bool] = lambda: False,
          *, settle: float = SETTLE_SECONDS,
          sleep: Callable[[float], None] = time.sleep,
          clock: Callable[[], float] = time.monotonic) -> Drained:
    """Process the queue's pending deliveries until none is left (or ``stopped``).

    The caller holds the alliance's lock. Each turn reads the deliveries that came (after
    ``settle``: see :data:`SETTLE_SECONDS`), makes their items' card writes, then makes one
    write of the lane (:mod:`sync.realtime.lane`) that Slack's pacing lets go at once. A
    batch whose read of the channel Slack would hold back waits, gathering the deliveries
    that come meanwhile (:data:`READ_HOLD_SECONDS`). The batch's reads and card writes run
    under :func:`connectors.retry.without_waiting` too: an item whose read or write the
    pacing or a 429 refuses (or that meets a 5xx) is held, its deliveries read again when
    the service is ready (after the retry policy's backoff), on ``clock``, while the other
    items are served. When nothing can go yet, it sleeps until the read, a held delivery or
    the lane's next write could go, looking for new deliveries every :data:`LOOK_SECONDS`
    meanwhile: never in a pacer or a ``Retry-After`` while deliveries wait. The drain ends
    when the queue and the lane are empty. A turn whose remote calls fail otherwise (or a
    delivery refused :data:`sync.realtime.lane.MAX_REFUSALS` times) is counted
    (:meth:`EventQueue.retry_later`) and the drain ends there: its deliveries stay pending
    for the next drain, and after :data:`sync.state.events.MAX_ATTEMPTS` are left to the
    full reconciliation. Used by :meth:`sync.api.Alliance.work` (``serve`` and the workers).
    """
    out = Drained()
    lane = NotesLane(clock=clock)
    held: dict[int, float] = {}  # a held delivery -> when (on ``clock``) to read it again
    refusals: dict[int, int] = {}
    while not stopped():
        in_lane = lane.event_ids
        pending = queue.pending()
        ids = {e.id for e in pending}
        held = {event: until for event, until in held.items() if event in ids}
        events = _ready(pending, in_lane, held, clock())
        if not events and not lane and not held:
            break
        if events:
            _settle(events, settle)
            events = _ready(queue.pending(), in_lane, held, clock())
        ctx.settings = dataclasses.replace(ctx.settings, now=dt.datetime.now(dt.UTC))
        read_held = _read_wait(ctx, events)
        batch = events if read_held <= 0 else []
        failing: list[int] = [e.id for e in batch]
        step: Step | None = None
        served = False  # some of the batch's deliveries were served, not all waiting or held
        try:
            with without_waiting():
                done = process(ctx, batch, uuid.uuid4().hex, lane) if batch else Processed()
            queue.finish(done.done, "done")
            queue.finish(done.ignored, "ignored")
            served = bool(batch) and len(done.waiting) + len(done.held) < len(batch)
            if served:
                out.batches += 1
            out.processed += len(done.done) + len(done.ignored)
            failing = []
            for event, wait in done.held.items():
                refusals[event] = refusals.get(event, 0) + 1
                held[event] = clock() + wait
            if worn := [event for event in done.held if refusals[event] > MAX_REFUSALS]:
                failing = worn
                raise RetriableRemoteError("serve", f"{len(worn)} deliveries refused "
                                                    f"{MAX_REFUSALS} times")
            step = lane.step(ctx) if lane else None
            if step is not None and step.done is not None:
                queue.finish(step.done.events, "done")
                out.processed += len(step.done.events)
        except Exception as exc:  # a remote failure: counted, retried, then left to sync
            if lane.failed is not None:
                failing = list(dict.fromkeys([*failing, *lane.failed.events]))
            log.warning("processing %d events failed: %s", len(failing), exc)
            out.errors.append(str(exc))
            queue.retry_later(failing, str(exc))
            break
        made = step is not None and (step.made or step.done)
        if served or made or stopped():
            continue
        # Slack is not ready for the batch's read nor for any of the lane's writes, no held
        # delivery is due, and the batch's deliveries (if any) wait for their busy items:
        # until one can go, or a delivery comes (looked for every LOOK_SECONDS), instead of
        # reading the same waiting deliveries again at once.
        now = clock()
        waits = [w for w in (read_held, step.wait if step is not None else 0.0,
                             *(until - now for until in held.values())) if w > 0]
        sleep(min(max(min(waits, default=LOOK_SECONDS), 0.001), LOOK_SECONDS))
    return out


def _ready(pending: Sequence[QueuedEvent], in_lane: set[int], held: dict[int, float],
           now: float) -> list[QueuedEvent]:
    """The pending deliveries to read now: neither their item's rest in the lane nor held."""
    return [e for e in pending if e.id not in in_lane and held.get(e.id, now) <= now]


def _read_wait(ctx: SyncContext, events: Sequence[QueuedEvent]) -> float:
    """How long the batch's read of the channel would wait in Slack's pacer (0.0: it can go,
    or the batch needs none, or the wait is one not to hold for)."""
    if not any(e.source in (ctx.names.board, ctx.names.chat) for e in events):
        return 0.0
    wait = ready_in(ctx, prefetch_call(ctx))
    return wait if wait <= READ_HOLD_SECONDS else 0.0


def process(ctx: SyncContext, events: Sequence[QueuedEvent], run_id: str,
            lane: NotesLane | None = None) -> Processed:
    """Process one batch (see the module docstring); raises if a remote call fails.

    Without a ``lane`` every item is applied whole, its notes included. With one, only the
    visible writes are made; each item's rest joins the lane, its deliveries in
    :attr:`Processed.deferred` (pending until the lane has done it), and deliveries for an
    item already busy in the lane are left waiting (:attr:`Processed.waiting`).
    """
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

    if any(event.kind == "button" and store.find_side(event.source, event.subject) is None
           for event in events if event.source != "mailchimp"):
        # A press on a message the store does not know: one a dying run posted and never
        # recorded, maybe. Slack keeps a press nowhere a later read finds it, so ignoring it
        # loses it: an incremental sync first adopts that message by its token (as the next
        # run would), then the press is its item's like any other. None left: not ours.
        # Its new items are applied whole (their notes not handed to the lane): a message is
        # recorded as its item's once its note is posted, and the press must find it.
        try:
            out.result = _whole_sync(ctx, lane, notes_to_lane=False)
        except RetriableRemoteError as exc:
            if lane is None:
                raise
            _held(out, exc, [event.id for event in events])
            return out
        out.synced = True
    for event in events:
        payload = event.payload
        if event.source == "mailchimp":
            (out.done if file_consent(store, event) else out.ignored).append(event.id)
            continue
        side = store.find_side(event.source, event.subject)
        if side is not None and lane is not None and lane.busy(side.item_id):
            out.waiting.append(event.id)  # after that item's notes: order kept per item
            continue
        if event.source == ctx.names.board:
            if side is None or event.kind in WHOLE_SYNC_ACTIONS:
                whole.append(event.id)
                continue
            found = target(side.item_id)
            found.read_card = True
            found.actor = (str(payload.get("member") or ""), str(payload.get("date") or ""))
            if event.kind == "commentCard":
                found.comments.append(BoardComment(
                    str(payload["action_id"]), event.subject, str(payload.get("member") or "?"),
                    str(payload.get("text") or "")))
        else:
            if side is None:
                out.ignored.append(event.id)  # not an item message
                continue
            found = target(side.item_id)
            if event.kind == "reply":
                found.read_replies = True
            elif event.kind == "button":
                found.pressed.append((str(payload["status"]), str(payload.get("user") or ""),
                                      event.dedup_key))
                found.press_url = str(payload.get("response_url") or "")
        found.events.append(event.id)

    try:
        known = _prefetch(ctx, targets.values())
    except RetriableRemoteError as exc:  # refused or failed for now: the batch's items wait
        if lane is None:
            raise
        _held(out, exc, [event for found in targets.values() for event in found.events])
        targets.clear()
        known = None
    # With the lane, no item's bookkeeping is written during the batch (only its decision,
    # which the view does not need again): one view of the state serves every item of it.
    # Reading it per item cost a burst of 100 changes most of its wait.
    view = (state_view(store, ctx.settings.config.alliance.item_prefix, ctx.names)
            if lane is not None and targets else None)
    for found in targets.values():
        try:
            planned = _item(ctx, found, result, lane, known, view)
        except RetriableRemoteError as exc:
            if lane is None:
                raise
            _held(out, exc, found.events)  # the others are served meanwhile
            continue
        if planned:
            out.items.append(found.item.number)
            (out.done if lane is None else out.deferred).extend(found.events)
            if found.press_refused and found.press_url:
                _answer_refused_press(ctx, found)
        else:
            whole += found.events
    # The messages' updates are the lane's (its first write per item; a change made on the
    # board first of all): Slack paces chat.update at its tier 3, Trello's writes cost
    # little, and a reaction's card must not wait behind a move's message.
    if whole:
        # Once for the whole batch: the board's actions since the bookmark, every message.
        # Items with a rest in the lane (this batch's included) are left to it, not waited
        # for: the sync plans nothing for them (their decisions are open, their bookkeeping
        # is the lane's to write, their journal intents the lane's to close) and reads their
        # board actions again next run (see sync.engine.run.plan_run). A new item's note is
        # handed to the lane too (``later``): the sync makes only what members see.
        try:
            out.result = _whole_sync(ctx, lane)
        except RetriableRemoteError as exc:
            if lane is None:
                raise
            _held(out, exc, whole)
            return out
        out.synced = True
        out.done += whole
    return out


def _whole_sync(ctx: SyncContext, lane: NotesLane | None, *,
                notes_to_lane: bool = True) -> SyncResult:
    """An incremental sync from within a batch; with the lane, it leaves the lane's items to
    it and (``notes_to_lane``) hands a new item's note to it: the sync makes only what
    members see.

    A post's slot is waited for (about a second); a longer hold or a 429 is raised as a
    :class:`RetriableRemoteError`: the caller holds the sync's deliveries and the run is
    repeated then (its journalled writes are adopted, not made again)."""
    if lane is None:
        return run_sync(ctx)
    leave = frozenset(d.rest.item_id for d in lane.waiting)

    def later(rest: Rest) -> None:
        lane.add(Deferred(rest, []))

    with without_waiting(tolerate=SYNC_PACE_SECONDS):
        return run_sync(ctx, leave=leave, later=later if notes_to_lane else None)


def _held(out: Processed, exc: RetriableRemoteError, events: Sequence[int]) -> None:
    """Hold ``events`` until the refused or failed call could be tried again."""
    if not events:
        return
    wait = wait_after(exc, 1)
    out.held.update(dict.fromkeys(events, wait))
    log.info("%d deliveries held for %.2f s: %s", len(events), wait, exc)


def _prefetch(ctx: SyncContext, targets: Iterable[Target]) -> Prefetched:
    """The batch's cards and item messages in one read each (when it has several items)."""
    cards: list[str] = []
    messages: list[str] = []
    for found in targets:
        trello_side = ctx.store.get_side(found.item.id, ctx.names.board)
        slack_side = ctx.store.get_side(found.item.id, ctx.names.chat)
        if found.read_card and trello_side is not None:
            cards.append(trello_side.remote_id)
        if slack_side is not None:
            messages.append(slack_side.remote_id)
    return prefetch(ctx, cards, messages)


def _item(ctx: SyncContext, found: Target, result: SyncResult, lane: NotesLane | None,
          known: Prefetched | None = None, view: StateView | None = None) -> bool:
    """Read, plan and apply one item (into the lane: its visible writes); False when an
    incremental sync must do it instead."""
    settings = ctx.settings
    view = view or state_view(ctx.store, settings.config.alliance.item_prefix, ctx.names)
    item = view.by_key.get(found.item.key, found.item)
    snap = read_item(ctx, view, item, ItemReads(
        card=found.read_card, replies=found.read_replies, actor=found.actor,
        comments=tuple(found.comments), pressed=tuple(found.pressed)), known)
    if snap is None:
        return False
    allowed = alliance_chat_ids(settings, view)
    found.press_refused = bool(found.pressed and allowed is not None
                               and any(press[1] not in allowed for press in found.pressed))
    plan = plan_item(settings, view, snap, item)
    if lane is None:
        apply_item(ctx, plan, result)
        return True
    wait = ctx.board.ready_in("update_card") if plan.card_changes else 0.0
    if wait > 0:  # asked first: a refusal would leave the decision open (it is journalled)
        raise RetriableRemoteError(ctx.names.board, f"update_card: paced, ready in {wait:.2f} s",
                                   retry_after=wait)
    # The message's update in the lane: urgent for a change made on the board (the member
    # looks at the message), with the notes for one made in Slack (it shows there already).
    found.deferred = Deferred(ItemRest(apply_visible(ctx, plan, result, message=False), result),
                              found.events, urgent=found.read_card)
    lane.add(found.deferred)
    return True


def _answer_refused_press(ctx: SyncContext, found: Target) -> None:
    """Tell the person whose press counted for nothing, privately (Slack expects an answer
    to an interaction through its ``response_url``); a failure is only logged."""
    if not found.pressed:
        return
    text = labels(ctx.settings)
    status = found.pressed[-1][0]  # the latest press is the one the person sees answered
    new = text.get(f"status:{status}", status)
    try:
        respond(found.press_url, text["stranger_press_answer"].format(new=new))
    except Exception as exc:
        log.info("the answer to a refused press could not be posted: %s", exc)
