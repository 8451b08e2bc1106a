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
has gone. Mailchimp posts go to the stakeholder database and its consent ledger (an unsubscribe
or a cleaned address is recorded at once, so no later push subscribes the person again; an
address change moves the person's row; a profile update changes their name, organisation or
role).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from connectors.identity import make_token
from connectors.slack.respond import respond
from sync.audience.plan import profile_changes
from sync.audience.store import StakeholderStore
from sync.engine.apply import apply_item
from sync.engine.item import alliance_slack_ids, plan_item
from sync.engine.model import Snapshot, SyncContext, SyncResult, TrelloComment
from sync.engine.read import repeated_notes, state_view
from sync.engine.run import run_sync
from sync.engine.texts import labels
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
    pressed: list[tuple[str, str, str]] = field(default_factory=list)
    press_url: str = ""  # the press's response_url: a refusal is answered there, privately
    press_refused: bool = False
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
                found.pressed.append((str(payload["status"]), str(payload.get("user") or ""),
                                      event.dedup_key))
                found.press_url = str(payload.get("response_url") or "")
        found.events.append(event.id)

    for found in targets.values():
        if _item(ctx, found, result):
            out.items.append(found.item.number)
            out.done += found.events
            if found.press_refused and found.press_url:
                _answer_refused_press(ctx, found)
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
        cards = {card.id: card for card in ctx.board.cards([trello_side.remote_id])}
        if trello_side.remote_id not in cards:
            return False  # gone: a deletion the sync handles
        if found.actor is not None:
            actors[trello_side.remote_id] = found.actor
    messages = {}
    replies = {}
    if slack_side is not None:
        message = ctx.chat.message(settings.actions_channel, slack_side.remote_id)
        if message is None:
            return False  # the item's message has gone: the sync posts it again
        messages[token] = message
        if found.read_replies and trello_side is not None:
            replies[token] = ctx.chat.replies(settings.actions_channel, message.ts,
                                               oldest=slack_side.base.get("latest_reply") or None)
    allowed = alliance_slack_ids(settings, view)
    found.press_refused = bool(found.pressed and allowed is not None
                               and any(press[1] not in allowed for press in found.pressed))
    repeated = repeated_notes(ctx, replies.get(token, []))
    snap = Snapshot(cards=cards, card_actors=actors, new_card_ids=[], deleted_card_ids=set(),
                    comments=found.comments, messages=messages, last_action_id=None,
                    replies=replies, pressed={token: found.pressed} if found.pressed else {},
                    repeated_notes={token: repeated} if repeated else {})
    plan = plan_item(settings, view, snap, item)
    apply_item(ctx, plan, result)
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


def _consent(store: StateStore, event: QueuedEvent) -> bool:
    """A Mailchimp post in the stakeholder database and its consent ledger; False if the
    person is not in the database.

    - ``unsubscribe`` / ``cleaned``: the person left (or bounced); noted at once, so no
      later push subscribes them again;
    - ``subscribe``: they signed up again themselves;
    - ``upemail``: they changed their address; their row (and its bookkeeping) moves to the
      new address, so the next push updates the member Mailchimp now files under it and
      never makes one for the old address;
    - ``profile``: their own edit of name, organisation or role reaches their row.
    """
    people = StakeholderStore(store)
    payload = event.payload
    email = str(payload.get("email") or "")
    person = people.find_email(email)
    if person is None:
        log.info("mailchimp %s for someone not in the stakeholder database: ignored",
                 event.kind)
        return False
    fired = str(payload.get("fired_at") or event.received_at)
    if event.kind in ("unsubscribe", "cleaned"):
        people.mark_remote(person.key, "unsubscribed" if event.kind == "unsubscribe"
                           else "cleaned", fired)
    elif event.kind == "subscribe":
        people.mark_remote(person.key, "subscribed", fired)
    elif event.kind == "upemail":
        new_email = str(payload.get("new_email") or "")
        if not new_email or people.move_address(person.key, new_email) is None:
            log.warning("mailchimp upemail to an address that is invalid or already another "
                        "stakeholder's: the stakeholder database was not changed")
        else:
            log.info("mailchimp upemail: a stakeholder's address changed")
    elif event.kind == "profile":
        given = payload.get("merges")
        merges = given if isinstance(given, dict) else {}
        changes = profile_changes(person.person, {str(k): str(v) for k, v in merges.items()})
        try:
            changed = people.update_person(person.key, changes) if changes else False
        except ValueError as exc:  # a value our database refuses (too long, ...)
            log.warning("mailchimp profile update not taken: %s", exc)
            changed = False
        if changed:
            log.info("mailchimp profile: a stakeholder's %s changed", ", ".join(sorted(changes)))
    return True
