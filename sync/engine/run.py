"""``mcm-sync sync``: keep every item's status in step between the hub, Trello and Slack.

One run: read (Trello board actions since the bookmark, or the whole board on a full
reconciliation; the actions channel's history, paged), then per item build one observation
per side, let :func:`sync.engine.decide.decide` say what is agreed, and apply the writes through the
journalled effect layer (``sync.engine.apply``). Bookmarks move only when the whole run
succeeded, so a failed or killed run is simply repeated: reads are at-least-once and every
write is absolute (move card to list X, set message text to T), hence safe to repeat.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from connectors.base import SlackAPI, SlackMessage, TrelloAPI, TrelloCard
from connectors.identity import make_token, token_in, token_in_metadata
from playbooks.model import ActionRow, Playbook
from sync.core.config import Config
from sync.core.errors import UserError
from sync.engine.decide import (
    Conflict,
    Decision,
    Observation,
    decide,
    hold_conflicts,
    without_fields,
)
from sync.engine.normalize import card_values, reaction_set, slack_status, split_reactions
from sync.state.store import StateStore

TRELLO_ACTION_TYPES = ("createCard", "updateCard", "deleteCard", "commentCard",
                       "addMemberToCard", "removeMemberFromCard", "moveCardToBoard")
FIELDS = ("status", "due", "title", "owners")


@dataclass
class SyncResult:
    """What one sync did, for the summary, ``--json`` and the exit code."""

    run_id: str
    full: bool = False
    changes: list[dict[str, Any]] = field(default_factory=list)
    conflicts: list[Conflict] = field(default_factory=list)
    created_items: list[str] = field(default_factory=list)
    writes: dict[str, int] = field(default_factory=dict)
    comments: int = 0

    def count(self, what: str) -> None:
        """Count one write of kind ``what``."""
        self.writes[what] = self.writes.get(what, 0) + 1


@dataclass
class Snapshot:
    """What this run read: the cards it looked at and the actions channel's messages."""

    cards: dict[str, TrelloCard]
    card_actors: dict[str, tuple[str, str]]
    new_card_ids: list[str]
    deleted_card_ids: set[str]
    comments: list[tuple[str, str, str]]
    messages: dict[str, SlackMessage]
    last_action_id: str | None


@dataclass
class SyncContext:
    """Everything one run needs; built by :func:`prepare`."""

    config: Config
    book: Playbook
    rows: Sequence[ActionRow]
    trello: TrelloAPI
    slack: SlackAPI
    store: StateStore
    board_id: str
    actions_channel: str
    list_status: dict[str, str]
    status_list: dict[str, str]
    member_emails: dict[str, str]
    me_trello: str
    me_slack: tuple[str, str]
    now: dt.datetime
    # Called with (done, total, what) as the run goes, for a progress display; never required.
    progress: Callable[[int, int, str], None] | None = None
    _rows_by_key: dict[str, ActionRow] | None = field(default=None, repr=False)

    def row_of(self, item: Any) -> ActionRow | None:
        """The action-plan row an item comes from, if any (looked up by its ``action:`` key)."""
        if self._rows_by_key is None:
            self._rows_by_key = {f"action:{row.key}": row for row in self.rows}
        return self._rows_by_key.get(item.key)

    def tick(self, done: int, total: int, what: str) -> None:
        """Report progress, if anyone listens."""
        if self.progress is not None:
            self.progress(done, total, what)


def _resource(store: StateStore, service: str, kind: str, key: str) -> str:
    resource = store.get_resource(service, kind, key)
    if resource is None:
        raise UserError(f"no {service} {kind} recorded for this alliance",
                        hint="run `mcm-sync bootstrap` first")
    return str(resource.remote_id)


def prepare(config: Config, book: Playbook, rows: Sequence[ActionRow], trello: TrelloAPI,
            slack: SlackAPI, store: StateStore, now: dt.datetime | None = None) -> SyncContext:
    """Resolve the recorded board, lists, channel and people; fail early if bootstrap is due."""
    board_id = _resource(store, "trello", "board", "board")
    status_list = {status: _resource(store, "trello", "list", status)
                   for status in ("todo", "doing", "blocked", "done", "cancelled")}
    me = store.get_resource("trello", "me", "me")
    me_trello = me.remote_id if me else trello.me().id
    if me is None:
        store.put_resource("trello", "me", "me", me_trello)
    members = {r.remote_id: r.logical_key for r in store.list_resources("trello", "member")}
    return SyncContext(
        config=config, book=book, rows=rows, trello=trello, slack=slack, store=store,
        board_id=board_id, actions_channel=_resource(store, "slack", "channel", "actions"),
        list_status={v: k for k, v in status_list.items()}, status_list=status_list,
        member_emails=members, me_trello=me_trello, me_slack=slack.identity(),
        now=now or dt.datetime.now(dt.UTC),
    )


def due_for_full(store: StateStore, every: dt.timedelta, now: dt.datetime) -> bool:
    """True when the last full reconciliation is older than ``every`` (or never happened)."""
    last = store.get_bookmark("trello", "full")
    if not last:
        return True
    return now - dt.datetime.fromisoformat(last) >= every


def read(ctx: SyncContext, *, full: bool) -> Snapshot:
    """Read what changed: Trello incrementally (or everything), Slack's actions channel."""
    since = None if full else ctx.store.get_bookmark("trello", "actions")
    actions = ctx.trello.board_actions(ctx.board_id, since=since, types=TRELLO_ACTION_TYPES) \
        if since or not full else []
    touched: set[str] = set()
    actors: dict[str, tuple[str, str]] = {}
    new_ids: list[str] = []
    deleted: set[str] = set()
    comments: list[tuple[str, str, str]] = []
    for action in actions:
        if action.member_id == ctx.me_trello or not action.card_id:
            continue  # our own writes coming back: never a member's change
        if action.type == "deleteCard":
            deleted.add(action.card_id)
            actors[action.card_id] = (action.member_name, action.date)
            continue
        if action.type == "commentCard":
            comments.append((action.card_id, action.member_name, str(action.data.get("text", ""))))
            continue
        touched.add(action.card_id)
        actors[action.card_id] = (action.member_name, action.date)
        if action.type == "createCard":
            new_ids.append(action.card_id)
    if full:
        snapshot = ctx.trello.snapshot(ctx.board_id)
        cards = {card.id: card for card in snapshot.cards}
        known = {s.remote_id for s in ctx.store.list_sides("trello")}
        new_ids = [c.id for c in snapshot.cards if c.id not in known and not c.closed
                   and token_in(c.desc) is None]
        deleted |= known - set(cards)
    else:
        cards = {card.id: card for card in ctx.trello.cards(sorted(touched))} if touched else {}
    messages: dict[str, SlackMessage] = {}
    for message in ctx.slack.history(ctx.actions_channel):
        token = token_in_metadata(message.metadata)
        if token and token not in messages:
            messages[token] = message
    last_id = actions[-1].id if actions else since
    return Snapshot(cards, actors, new_ids, deleted, comments, messages, last_id)


def observations(ctx: SyncContext, item: Any, snap: Snapshot) -> tuple[list[Observation],
                                                                         dict[str, Any]]:
    """The item's observations per side (only real changes count) and each side's current."""
    store = ctx.store
    agreed = {"status": item.status, "due": item.due, "title": item.title, "owners": item.owner}
    result: list[Observation] = []
    current: dict[str, Any] = {}
    trello_side = store.get_side(item.id, "trello")
    if (trello_side is not None and trello_side.remote_id in snap.deleted_card_ids
            and not trello_side.base.get("deleted")):
        # A member deleted the card (not archived): the item is cancelled, and its card is
        # not made again (the member meant it gone).
        actor, at = snap.card_actors.get(trello_side.remote_id, ("", ""))
        current["trello"] = {"deleted": True}
        result.append(Observation("trello", {**agreed, "status": "cancelled"}, actor=actor,
                                  at=at))
    elif trello_side is not None and trello_side.remote_id in snap.cards:
        card = snap.cards[trello_side.remote_id]
        values = card_values(card, ctx.list_status, ctx.member_emails, item.status)
        base = {**agreed, **trello_side.base}
        changed = {k: v for k, v in values.items() if v != base.get(k)}
        # The raw mark too, so a card reopened by a drag also loses its "complete" mark.
        current["trello"] = {**values, "complete": card.due_complete}
        actor, at = snap.card_actors.get(card.id, ("", ""))
        result.append(Observation("trello", {**agreed, **changed}, actor=actor, at=at))
    slack_side = store.get_side(item.id, "slack")
    message = snap.messages.get(make_token(ctx.config.alliance.slug, item.key))
    if slack_side is not None and message is not None:
        reactions = reaction_set(message, ignore_users=ctx.me_slack)
        seen = slack_side.base.get("reactions", {})
        counted, strangers = split_reactions(reactions, seen, ctx.config.slack.reactions,
                                             alliance_slack_ids(ctx))
        status, user = slack_status(counted, seen, ctx.config.slack.reactions,
                                    slack_side.base.get("status", item.status))
        current["slack"] = {"status": status, "reactions": reactions, "text": message.text,
                            "ts": message.ts, "strangers": strangers}
        changed_status = status if status != slack_side.base.get("status", item.status) \
            else item.status
        result.append(Observation("slack", {"status": changed_status}, actor=user))
    return result, current


def alliance_slack_ids(ctx: SyncContext) -> set[str] | None:
    """The Slack user ids of the config's people (``None`` when anyone's reactions count)."""
    if ctx.config.slack.reactions_from == "anyone":
        return None
    emails = {str(p.email).lower() for p in ctx.config.people}
    return {r.remote_id for r in ctx.store.list_resources("slack", "user")
            if r.logical_key.lower() in emails}


def run_sync(ctx: SyncContext, *, full: bool = False) -> SyncResult:
    """One sync: read, decide per item, apply, then move the bookmarks."""
    from sync.engine.apply import apply_item, ensure_new_items, post_missing_messages
    from sync.engine.new_items import add_new_rows, create_missing_cards

    result = SyncResult(run_id=uuid.uuid4().hex, full=full)
    snap = read(ctx, full=full)
    ensure_new_items(ctx, snap, result)
    add_new_rows(ctx)
    create_missing_cards(ctx, snap, result)
    waiting = _waiting(ctx)
    items = ctx.store.list_items()
    for done, item in enumerate(items, 1):
        ctx.tick(done, len(items), item.number)
        decision, current, held, file_obs = decide_item(ctx, item, snap, waiting)
        # The item's state rows commit together, after its remote writes: a run that dies
        # half-way leaves the old base, so the next run decides the item again the same way
        # (a half-applied value taken for the base turns a conflict's loser into the winner).
        with ctx.store.transaction():
            apply_item(ctx, item, decision, current, snap, result, held=held)
            if file_obs is not None and not held:
                _seen_file_row(ctx, item)
    post_missing_messages(ctx, snap, result)
    # Cursors last: only a run that got here without an exception moves them.
    if snap.last_action_id:
        ctx.store.set_bookmark("trello", "actions", snap.last_action_id)
    if full:
        ctx.store.set_bookmark("trello", "full", ctx.now.isoformat())
    return result


def _waiting(ctx: SyncContext) -> dict[str, set[str]]:
    """Per item, the fields whose conflict awaits the coordinator (``ask`` policy)."""
    waiting: dict[str, set[str]] = {}
    for record in ctx.store.list_conflicts(unresolved=True):
        waiting.setdefault(record.item_id, set()).add(record.field)
    return waiting


def decide_item(ctx: SyncContext, item: Any, snap: Snapshot, waiting: dict[str, set[str]],
                *, record: bool = True
                ) -> tuple[Decision, dict[str, Any], set[str], Observation | None]:
    """One item's decision from what every side shows (no remote call, no remote write).

    Returns the decision, each side's current values, the fields held for the coordinator and
    the action-plan observation. ``record=False`` (a dry run) writes nothing locally either.
    """
    policy = ctx.config.sync.conflict_policy
    obs, current = observations(ctx, item, snap)
    file_obs = _file_observation(ctx, item, record=record)
    if file_obs is not None:
        obs.insert(0, file_obs)
    base = {"status": item.status, "due": item.due, "title": item.title, "owners": item.owner}
    # A field whose conflict awaits the coordinator is left alone until it is resolved.
    obs = without_fields(obs, waiting.get(item.id, set()))
    decision = decide(base, obs, "newest" if policy == "ask" else policy)
    held = set(waiting.get(item.id, set()))
    if policy == "ask":
        decision = hold_conflicts(decision, base)
        held |= {c.field for c in decision.conflicts}
    return decision, current, held, file_obs


def preview(ctx: SyncContext, *, full: bool = False) -> SyncResult:
    """What a sync would do (``sync --dry-run``): the same reads and decisions, no writes.

    ``created_items`` lists what would become new items (cards members added, new action-plan
    rows); ``writes`` counts the cards and messages that would be made.
    """
    result = SyncResult(run_id="dry-run", full=full)
    snap = read(ctx, full=full)
    store = ctx.store
    for card_id in snap.new_card_ids:
        card = snap.cards.get(card_id)
        if card is not None and not token_in(card.desc) and not store.find_side("trello", card_id):
            result.created_items.append(f"card {card.name!r} (Trello)")
    for row in ctx.rows:
        if store.get_item_by_key(f"action:{row.key}") is None:
            result.created_items.append(f"row {row.key!r} (action plan)")
    waiting = _waiting(ctx)
    for item in store.list_items():
        decision, _current, _held, _file = decide_item(ctx, item, snap, waiting, record=False)
        result.changes += [{"item": item.number, "field": c.field, "old": c.old, "new": c.new,
                            "side": c.side, "actor": c.actor} for c in decision.changes]
        result.conflicts += decision.conflicts
        if store.get_side(item.id, "trello") is None:
            result.count("trello.create_card")
        if store.get_side(item.id, "slack") is None:
            result.count("slack.post_message")
    return result


def _file_observation(ctx: SyncContext, item: Any, *, record: bool = True
                      ) -> Observation | None:
    """The coordinator's edit of an action-plan row since it was last read, if any."""
    if not item.key.startswith("action:"):
        return None
    row = ctx.row_of(item)
    if row is None:
        return None
    values = _row_values(row)
    side = ctx.store.get_side(item.id, "file")
    base = side.base if side is not None else values
    changed = {k: v for k, v in values.items() if v != base.get(k)}
    if side is None and record:
        ctx.store.put_side(item.id, "file", row.key, values, fingerprint="")
    if not changed:
        return None
    agreed = {"status": item.status, "due": item.due, "title": item.title}
    return Observation("hub", {**agreed, **changed}, actor="coordinator", at=ctx.now.isoformat())


def _row_values(row: ActionRow) -> dict[str, Any]:
    """The fields an action-plan row carries, as the sync compares them."""
    return {"status": row.status, "due": row.due.isoformat() if row.due else None,
            "title": row.action}


def _seen_file_row(ctx: SyncContext, item: Any) -> None:
    """Remember the row as read once its edit is applied: the same edit is not taken again
    (else a member's later change would be reverted by the coordinator's old one)."""
    row = ctx.row_of(item)
    if row is not None:
        ctx.store.put_side(item.id, "file", row.key, _row_values(row), fingerprint="")
