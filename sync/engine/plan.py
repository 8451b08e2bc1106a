"""The sync's plan: every decision of one run, as a pure function of what was read.

``plan_sync(settings, view, snapshot) -> SyncPlan`` holds everything a run will do: the cards
members added that become items, the action-plan rows that become items, the cards and item
messages to make, and per item the field changes, conflicts, card and message updates, thread
notes and copied comments. It reads nothing and writes nothing (pip-tools' ``diff()``);
:mod:`sync.engine.apply` only carries it out, and ``sync --dry-run`` prints it.

Every append (thread note, copied comment) carries an identity token derived from what caused
it (the item and its audit position, the reply's ts, the comment's action id), so that a run
repeated after a failure or a crash finds in the journal what it already wrote and never
writes it twice. :func:`plan_item` plans one item alone: the real-time path uses it.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from connectors.base import SlackMessage, TrelloCard
from connectors.identity import make_token, token_in, with_marker
from sync.bootstrap.desired import row_card
from sync.engine.decide import (
    Conflict,
    Decision,
    Observation,
    decide,
    hold_conflicts,
    without_fields,
)
from sync.engine.model import FIELDS, Settings, Snapshot, StateView
from sync.engine.normalize import card_values, reaction_set, slack_status
from sync.engine.texts import WHERE, change_note, display_name, item_text, labels, shown
from sync.state.rows import Item, ItemSide


@dataclass(frozen=True)
class Append:
    """A text to add (a thread note, a copied comment) and the token that makes it happen once."""

    token: str
    text: str
    # The reads already show it made (our own comment came back in the board actions).
    seen: bool = False


@dataclass(frozen=True)
class AuditLine:
    """One line of the audit trail to record with the item's state."""

    actor: str
    source: str
    field: str
    old: Any
    new: Any


@dataclass(frozen=True)
class NewItem:
    """An item this run adds: a card a member made in Trello, or a new action-plan row."""

    key: str
    number: str
    kind: str
    title: str
    status: str
    source: str
    step: str
    owner: str
    due: str | None
    created: AuditLine
    card_id: str = ""  # a member's card: named and tokened, its values the Trello base
    card_name: str = ""
    card_desc: str = ""
    trello_base: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class CardToMake:
    """An item's card to create, or to adopt where a crashed run already made it."""

    key: str
    number: str
    token: str
    list_id: str
    name: str
    desc: str
    due: dt.datetime | None
    label_ids: tuple[str, ...]
    member_ids: tuple[str, ...]
    base: Mapping[str, Any]
    adopt: TrelloCard | None = None


@dataclass
class ItemPlan:
    """Everything one item's sync does: decide, then the writes to each side and the state."""

    key: str
    number: str
    decision: Decision
    held: frozenset[str] = frozenset()
    audit: list[AuditLine] = field(default_factory=list)
    changes: list[dict[str, Any]] = field(default_factory=list)
    resolve_conflicts: bool = True
    card_id: str = ""
    card_changes: dict[str, Any] = field(default_factory=dict)
    mark_card_deleted: bool = False
    trello_base: dict[str, Any] | None = None
    message_ts: str = ""
    message_text: str | None = None
    notes: list[Append] = field(default_factory=list)
    comments: list[tuple[Append, AuditLine]] = field(default_factory=list)
    slack_base: dict[str, Any] | None = None
    seen_reply: str = ""
    file_side: tuple[str, dict[str, Any]] | None = None

    @property
    def writes_remotely(self) -> bool:
        """True when this item needs any remote write."""
        return bool(self.card_changes or self.message_text is not None or self.notes
                    or self.comments)


@dataclass(frozen=True)
class MessageToPost:
    """An item's message to post in the actions channel (or adopt by its token)."""

    key: str
    number: str
    token: str
    text: str
    adopt: SlackMessage | None = None
    replaced_ts: str = ""  # the message that went missing, for the audit trail
    note: Append | None = None  # "new item added by ... in Trello" for a member's card
    status: str = "todo"


@dataclass
class SyncPlan:
    """One run's decisions, in the order they are carried out."""

    full: bool
    new_items: list[NewItem] = field(default_factory=list)
    cards: list[CardToMake] = field(default_factory=list)
    items: list[ItemPlan] = field(default_factory=list)
    messages: list[MessageToPost] = field(default_factory=list)
    duplicates: list[SlackMessage] = field(default_factory=list)
    bookmark: str | None = None

    def changes(self) -> list[dict[str, Any]]:
        """Every field change, item by item."""
        return [change for item in self.items for change in item.changes]

    def conflicts(self) -> list[Conflict]:
        """Every conflict, item by item."""
        return [c for item in self.items for c in item.decision.conflicts]


def _values(item: Item) -> dict[str, Any]:
    return {"status": item.status, "due": item.due, "title": item.title, "owners": item.owner}


def plan_sync(settings: Settings, view: StateView, snap: Snapshot) -> SyncPlan:
    """Every decision of one run (see the module docstring); pure."""
    plan = SyncPlan(full=snap.full, bookmark=snap.last_action_id)
    plan.new_items = _new_member_items(settings, view, snap)
    plan.new_items += _new_row_items(settings, view, len(plan.new_items))
    view = _with_items(view, plan.new_items)
    plan.cards = _cards_to_make(settings, view, snap)
    view = _with_card_sides(view, plan.cards)
    text = labels(settings)
    plan.items = [plan_item(settings, view, snap, item, text) for item in view.items]
    agreed = {p.key: p.decision.agreed for p in plan.items}
    plan.messages = _messages_to_post(settings, view, snap, agreed, text)
    if snap.full:
        plan.duplicates = _duplicates(settings, view, snap)
    return plan


# ---------------------------------------------------------------------- new items and cards


def _new_member_items(settings: Settings, view: StateView, snap: Snapshot) -> list[NewItem]:
    """Cards a member added become items, numbered and tokened (a crash's item is reused)."""
    found: list[NewItem] = []
    known = view.trello_card_ids()
    prefix = settings.config.alliance.item_prefix
    for card_id in dict.fromkeys(snap.new_card_ids):
        card = snap.cards.get(card_id)
        if card is None or token_in(card.desc) or card_id in known:
            continue
        key = f"trello:{card_id}"
        values = card_values(card, settings.list_status, settings.member_emails, "todo")
        made = view.item_by_key(key)
        number = made.number if made else f"{prefix}-{view.next_number + len(found)}"
        token = make_token(settings.config.alliance.slug, key)
        found.append(NewItem(
            key=key, number=number, kind="member", title=str(values["title"]),
            status=str(values["status"]), source="trello", step="",
            owner=str(values["owners"]), due=values["due"],  # type: ignore[arg-type]
            created=AuditLine(snap.card_actors.get(card_id, ("", ""))[0], "trello", "created",
                              None, values["title"]),
            card_id=card_id, card_name=f"{number} · {values['title']}",
            card_desc=with_marker(card.desc, token, number), trello_base=values))
    return found


def _new_row_items(settings: Settings, view: StateView, taken: int) -> list[NewItem]:
    """Action-plan rows without an item become items (numbered after the member cards)."""
    found: list[NewItem] = []
    prefix = settings.config.alliance.item_prefix
    for row in settings.rows:
        key = f"action:{row.key}"
        if view.item_by_key(key) is not None or any(n.key == key for n in found):
            continue
        card = row_card(settings.config, settings.book, row, "")
        found.append(NewItem(
            key=key, number=f"{prefix}-{view.next_number + taken + len(found)}", kind="action",
            title=row.action, status=row.status, source="file", step=row.step,
            owner=",".join(sorted(card.owner_emails)),
            due=row.due.isoformat() if row.due else None,
            created=AuditLine("coordinator", "hub", "created", None, row.action)))
    return found


def _with_items(view: StateView, new: list[NewItem]) -> StateView:
    """The view as it will be once the new items exist (ids are placeholders: ``new:<key>``)."""
    added = [Item(id=f"new:{n.key}", number=n.number, key=n.key, kind=n.kind, title=n.title,
                  step=n.step, owner=n.owner, due=n.due, status=n.status, revision=1,
                  created_at="", updated_at="", source=n.source)
             for n in new if view.item_by_key(n.key) is None]
    sides = dict(view.sides)
    for n in new:
        if n.trello_base is not None:
            item = view.item_by_key(n.key) or next(a for a in added if a.key == n.key)
            sides[(item.id, "trello")] = ItemSide(item.id, "trello", n.card_id,
                                                  dict(n.trello_base), "", "")
    items = (*view.items, *added)
    first = {**view.first_actors, **{f"new:{n.key}": n.created.actor for n in new}}
    return dataclasses.replace(view, items=items, by_key={i.key: i for i in items},
                               sides=sides, first_actors=first)


def _cards_to_make(settings: Settings, view: StateView, snap: Snapshot) -> list[CardToMake]:
    """Every item without a Trello side gets its card, or adopts the one a crash left."""
    config = settings.config
    member_ids = {email: member_id for member_id, email in settings.member_emails.items()}
    cards = []
    for item in view.items:
        if view.side(item.id, "trello") is not None:
            continue
        token = make_token(config.alliance.slug, item.key)
        row = settings.row_of(item.key)
        body = row_card(config, settings.book, row, item.number).body if row else ""
        label = view.label_ids.get(f"step:{item.step}")
        cards.append(CardToMake(
            key=item.key, number=item.number, token=token,
            list_id=settings.status_list[item.status], name=f"{item.number} · {item.title}",
            desc=with_marker(body, token, item.number),
            due=(dt.datetime.combine(dt.date.fromisoformat(item.due), dt.time(12), tzinfo=dt.UTC)
                 if item.due else None),
            label_ids=(label,) if label else (),
            member_ids=tuple(member_ids[e] for e in item.owner.split(",") if e in member_ids),
            base=_values(item), adopt=snap.board_cards_by_token.get(token)))
    return cards


def _with_card_sides(view: StateView, cards: list[CardToMake]) -> StateView:
    """The view once the cards exist: each new card's side holds the item's values."""
    sides = dict(view.sides)
    for card in cards:
        item = view.item_by_key(card.key)
        assert item is not None
        sides[(item.id, "trello")] = ItemSide(item.id, "trello", "", dict(card.base), "", "")
    return dataclasses.replace(view, sides=sides)


# ---------------------------------------------------------------------- one item


def _observations(settings: Settings, view: StateView, snap: Snapshot, item: Item
                  ) -> tuple[list[Observation], dict[str, Any]]:
    """The item's observations per side (only real changes count) and each side's current."""
    agreed = _values(item)
    result: list[Observation] = []
    current: dict[str, Any] = {}
    trello_side = view.side(item.id, "trello")
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
        values = card_values(card, settings.list_status, settings.member_emails, item.status)
        base = {**agreed, **trello_side.base}
        changed = {k: v for k, v in values.items() if v != base.get(k)}
        # The raw mark too, so a card reopened by a drag also loses its "complete" mark.
        current["trello"] = {**values, "complete": card.due_complete}
        actor, at = snap.card_actors.get(card.id, ("", ""))
        result.append(Observation("trello", {**agreed, **changed}, actor=actor, at=at))
    slack_side = view.side(item.id, "slack")
    message = snap.messages.get(make_token(settings.config.alliance.slug, item.key))
    if slack_side is not None and message is not None:
        reactions = reaction_set(message, ignore_users=settings.me_slack)
        seen = slack_side.base.get("reactions", {})
        status, user = slack_status(reactions, seen, settings.config.slack.reactions,
                                    slack_side.base.get("status", item.status))
        pressed = snap.pressed.get(make_token(settings.config.alliance.slug, item.key))
        if pressed is not None:  # a button press counts like the matching reaction
            status, user = pressed
        current["slack"] = {"status": status, "reactions": reactions, "text": message.text,
                            "ts": message.ts}
        changed_status = status if status != slack_side.base.get("status", item.status) \
            else item.status
        result.append(Observation("slack", {"status": changed_status}, actor=user))
    return result, current


def _row_values(settings: Settings, key: str) -> dict[str, Any] | None:
    row = settings.row_of(key)
    if row is None:
        return None
    return {"status": row.status, "due": row.due.isoformat() if row.due else None,
            "title": row.action}


def _file_observation(settings: Settings, view: StateView, item: Item
                      ) -> tuple[Observation | None, dict[str, Any] | None]:
    """The coordinator's edit of an action-plan row since it was last read, and the row."""
    values = _row_values(settings, item.key)
    if values is None:
        return None, None
    side = view.side(item.id, "file")
    base = side.base if side is not None else values
    changed = {k: v for k, v in values.items() if v != base.get(k)}
    if not changed:
        return None, values
    agreed = {"status": item.status, "due": item.due, "title": item.title}
    return (Observation("hub", {**agreed, **changed}, actor="coordinator",
                        at=settings.now.isoformat()), values)


def decide_item(settings: Settings, view: StateView, snap: Snapshot, item: Item
                ) -> tuple[Decision, dict[str, Any], frozenset[str], Observation | None,
                           dict[str, Any] | None]:
    """One item's decision from what every side shows, with the fields held for the coordinator.

    Returns the decision, each side's current values, the held fields, the action-plan
    observation (if its row was edited) and the row's values (if the item has a row).
    """
    policy = settings.config.sync.conflict_policy
    obs, current = _observations(settings, view, snap, item)
    file_obs, row_values = _file_observation(settings, view, item)
    if file_obs is not None:
        obs.insert(0, file_obs)
    base = _values(item)
    waiting = set(view.waiting.get(item.id, frozenset()))
    # A field whose conflict awaits the coordinator is left alone until it is resolved.
    obs = without_fields(obs, waiting)
    decision = decide(base, obs, "newest" if policy == "ask" else policy)
    held = set(waiting)
    if policy == "ask":
        decision = hold_conflicts(decision, base)
        held |= {c.field for c in decision.conflicts}
    return decision, current, frozenset(held), file_obs, row_values


def _card_changes(settings: Settings, number: str, agreed: Mapping[str, Any],
                  card_now: Mapping[str, Any]) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    if agreed["status"] != card_now.get("status"):
        changes["list_id"] = settings.status_list[agreed["status"]]
        changes["closed"] = False
        changes["due_complete"] = agreed["status"] == "done"
    elif card_now.get("complete", agreed["status"] == "done") != (agreed["status"] == "done"):
        changes["due_complete"] = agreed["status"] == "done"
    if agreed.get("due") != card_now.get("due"):
        changes["due"] = (dt.datetime.combine(dt.date.fromisoformat(agreed["due"]), dt.time(12),
                                              tzinfo=dt.UTC) if agreed.get("due") else None)
    if agreed["title"] != card_now.get("title"):
        changes["name"] = f"{number} · {agreed['title']}"
    return changes


def plan_item(settings: Settings, view: StateView, snap: Snapshot, item: Item,
              text: Mapping[str, str] | None = None) -> ItemPlan:
    """Everything the sync does for one item (pure; the real-time path plans one at a time)."""
    text = text or labels(settings)
    slug = settings.config.alliance.slug
    policy = settings.config.sync.conflict_policy
    decision, current, held, file_obs, row_values = decide_item(settings, view, snap, item)
    agreed = decision.agreed
    plan = ItemPlan(key=item.key, number=item.number, decision=decision, held=held,
                    resolve_conflicts=policy != "ask")
    for change in decision.changes:
        # People by name (a Slack user id means nothing to the coordinator reading the log).
        actor = display_name(settings, view, change.actor) if change.actor else ""
        plan.audit.append(AuditLine(actor or WHERE[change.side], change.side, change.field,
                                    change.old, change.new))
        plan.changes.append({"item": item.number, "field": change.field, "old": change.old,
                             "new": change.new, "side": change.side, "actor": actor})
    if row_values is not None and (view.side(item.id, "file") is None
                                   or (file_obs is not None and not held)):
        # Remember the row as read: the same edit is not taken again (else a member's later
        # change would be reverted by the coordinator's old one).
        row = settings.row_of(item.key)
        assert row is not None
        plan.file_side = (row.key, row_values)

    trello_side = view.side(item.id, "trello")
    if trello_side is not None and (trello_side.base.get("deleted")
                                    or (current.get("trello") or {}).get("deleted")):
        plan.mark_card_deleted = not trello_side.base.get("deleted")
        trello_side = None  # gone from the board: nothing to write there any more
    if trello_side is not None:
        card_now = current.get("trello") or {**agreed, **trello_side.base}
        wanted = {**agreed, **{f: card_now.get(f) for f in held if f in card_now}}
        plan.card_id = trello_side.remote_id
        plan.card_changes = _card_changes(settings, item.number, wanted, card_now)
        new_base = {k: trello_side.base.get(k, agreed.get(k)) if k in held else agreed.get(k)
                    for k in FIELDS}
        # Written only when it changed: a sync with nothing to do writes nothing locally either.
        if new_base != trello_side.base:
            plan.trello_base = new_base

    slack_side = view.side(item.id, "slack")
    now = current.get("slack")
    if slack_side is None or now is None:
        # No message, or it was deleted: the message step posts it again.
        return plan
    message_text = item_text(settings, item.number, item.step, agreed)
    plan.message_ts = slack_side.remote_id
    if now["text"] != message_text:
        plan.message_text = message_text
    # Who changed what where, then any conflict (the losing value is shown, never dropped).
    position = view.audit_counts.get(item.id, 0)
    notes = [change_note(text, c.field, c.new, display_name(settings, view, c.actor), c.side)
             for c in decision.changes]
    note_key = "conflict_waiting" if policy == "ask" else "conflict_note"
    notes += [text[note_key].format(
        number=item.number, field=c.field, winner_value=shown(text, c.field, c.winner_value),
        winner_side=WHERE[c.winner_side], loser_value=shown(text, c.field, c.loser_value),
        loser_side=WHERE[c.loser_side]) for c in decision.conflicts]
    plan.notes = [Append(make_token(slug, f"note:{item.key}:{position}:{i}"), note)
                  for i, note in enumerate(notes)]
    if trello_side is not None:
        plan.notes += [Append(make_token(slug, f"trello-comment:{c.action_id}"),
                              text["comment_from"].format(who=c.who, where="Trello",
                                                          text=c.text))
                       for c in snap.comments if c.card_id == trello_side.remote_id]
    seen = slack_side.base.get("latest_reply", "")
    newest = seen
    token = make_token(slug, item.key)
    message = snap.messages.get(token)
    if trello_side is not None and message is not None:
        for reply in snap.replies.get(token, ()):
            newest = max(newest, reply.ts)
            if reply.ts <= seen or reply.ts == message.ts or reply.user in settings.me_slack \
                    or reply.bot_id:
                continue
            who = display_name(settings, view, reply.user)
            plan.comments.append((
                _comment(slug, item.key, reply, trello_side.remote_id,
                         text["comment_from"].format(who=who, where="Slack", text=reply.text),
                         snap),
                AuditLine(who, "slack", "comment", None, reply.text)))
    plan.seen_reply = newest
    base = dict(slack_side.base)
    base.update(status=agreed["status"], text=message_text,
                latest_reply=max(base.get("latest_reply", ""), newest),
                reactions=now["reactions"])
    plan.slack_base = base
    return plan


def _comment(slug: str, key: str, reply: SlackMessage, card_id: str, comment: str,
             snap: Snapshot) -> Append:
    """A Slack reply's copy on the card, tokened by the reply (once per reply, ever)."""
    return Append(make_token(slug, f"comment:{key}:{reply.ts}"), comment,
                  seen=(card_id, comment) in snap.own_comments)


# ---------------------------------------------------------------------- messages


def _messages_to_post(settings: Settings, view: StateView, snap: Snapshot,
                      agreed: Mapping[str, Mapping[str, Any]], text: Mapping[str, str]
                      ) -> list[MessageToPost]:
    """Every item gets its one message in the actions channel (adopted by token if it exists).

    An item whose message has gone (deleted in Slack, or hidden by a plan's history limit:
    the whole channel is read each run) gets it posted again with the agreed values.
    """
    slug = settings.config.alliance.slug
    posts = []
    for item in view.items:
        token = make_token(slug, item.key)
        side = view.side(item.id, "slack")
        if side is not None and token in snap.messages:
            continue
        values = agreed.get(item.key) or _values(item)
        found = snap.messages.get(token)
        note = None
        if item.kind == "member" and (found is None or side is None):
            # Said once, in the thread of the item's first message (or of its new one).
            who = view.first_actors.get(item.id, "") or "?"
            note = Append(make_token(slug, f"new-item-note:{item.key}"),
                          text["new_item_note"].format(number=item.number, who=who,
                                                       where="Trello", title=values["title"]))
        posts.append(MessageToPost(
            key=item.key, number=item.number, token=token,
            text=item_text(settings, item.number, item.step, values), adopt=found,
            replaced_ts=side.remote_id if side is not None else "", note=note,
            status=str(values["status"])))
    return posts


def _duplicates(settings: Settings, view: StateView, snap: Snapshot) -> list[SlackMessage]:
    """Second copies of our item messages (a post repeated after a lost answer): ours to remove.

    The copy an item's Slack side records is kept; every other one carrying the same token
    and posted by us goes.
    """
    slug = settings.config.alliance.slug
    recorded = {make_token(slug, item.key): view.side(item.id, "slack") for item in view.items}
    extra: list[SlackMessage] = []
    for token, copies in snap.duplicate_messages.items():
        side = recorded.get(token)
        every = [snap.messages[token], *copies]
        keep = next((m for m in every if side is not None and m.ts == side.remote_id), every[0])
        extra += [m for m in every if m is not keep
                  and (m.user in settings.me_slack or m.bot_id in settings.me_slack)]
    return extra
