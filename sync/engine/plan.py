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
from typing import Any

from connectors.base import ChatMessage
from connectors.identity import make_token, token_in, with_marker
from sync.bootstrap.desired import row_card
from sync.core.mrkdwn import escape
from sync.engine.actions import (
    Append,
    AuditLine,
    CardToMake,
    MessageToPost,
    NewItem,
    SyncPlan,
)
from sync.engine.item import item_values, plan_item
from sync.engine.model import Settings, Snapshot, StateView
from sync.engine.normalize import card_values
from sync.engine.texts import item_text, labels, place
from sync.state.rows import Item, ItemSide


def plan_sync(settings: Settings, view: StateView, snap: Snapshot,
              leave: frozenset[str] = frozenset()) -> SyncPlan:
    """Every decision of one run (see the module docstring); pure.

    ``leave``: ids of items another writer is carrying a decision out for (the real-time
    lane: its writes made in part, its bookkeeping to come): the run plans nothing for them
    (no card, no message, no update, no note), so nothing is done twice and their journal
    intents are closed by that writer alone. Their board actions are read again next run
    (:func:`sync.engine.run.plan_run` holds the bookmark before the first of them)."""
    plan = SyncPlan(full=snap.full, bookmark=snap.last_action_id)
    plan.new_items = _new_member_items(settings, view, snap)
    plan.new_items += _new_row_items(settings, view, len(plan.new_items))
    view = _with_items(settings, view, plan.new_items)
    plan.cards = _cards_to_make(settings, view, snap, leave)
    view = _with_card_sides(settings, view, plan.cards)
    text = labels(settings)
    plan.items = [plan_item(settings, view, snap, item, text) for item in view.items
                  if item.id not in leave]
    agreed = {p.key: p.decision.agreed for p in plan.items}
    plan.messages = _messages_to_post(settings, view, snap, agreed, text, leave)
    # Every run, not only a full one: a ✅ on a copy counts (sync.engine.read), then it goes.
    plan.duplicates = _duplicates(settings, view, snap, leave)
    return plan


# ---------------------------------------------------------------------- new items and cards


def _new_member_items(settings: Settings, view: StateView, snap: Snapshot) -> list[NewItem]:
    """Cards a member added become items, numbered and tokened (a crash's item is reused)."""
    found: list[NewItem] = []
    known = view.board_card_ids()
    prefix = settings.config.alliance.item_prefix
    for card_id in dict.fromkeys(snap.new_card_ids):
        card = snap.cards.get(card_id)
        copy_of = snap.copies.get(card_id, "")
        if card is None or (token_in(card.desc) and not copy_of) or card_id in known:
            continue
        key = f"{settings.names.board}:{card_id}"
        values = card_values(card, settings.list_status, settings.member_emails, "todo")
        made = view.item_by_key(key)
        number = made.number if made else f"{prefix}-{view.next_number + len(found)}"
        token = make_token(settings.config.alliance.slug, key)
        found.append(NewItem(
            key=key, number=number, kind="member", title=str(values["title"]),
            status=str(values["status"]), source=settings.names.board, step="",
            owner=str(values["owners"]), due=values["due"],  # type: ignore[arg-type]  # card_values: an ISO date or None
            created=AuditLine(snap.card_actors.get(card_id, ("", ""))[0], settings.names.board,
                              "created", None, values["title"]),
            card_id=card_id, card_name=f"{number} · {values['title']}",
            card_desc=with_marker(card.desc, token, number), board_base=values,
            copy_of=copy_of))
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


def _with_items(settings: Settings, view: StateView, new: list[NewItem]) -> StateView:
    """The view as it will be once the new items exist (ids are placeholders: ``new:<key>``)."""
    added = [Item(id=f"new:{n.key}", number=n.number, key=n.key, kind=n.kind, title=n.title,
                  step=n.step, owner=n.owner, due=n.due, status=n.status, revision=1,
                  created_at="", updated_at="", source=n.source)
             for n in new if view.item_by_key(n.key) is None]
    sides = dict(view.sides)
    for n in new:
        if n.board_base is not None:
            item = view.item_by_key(n.key) or next(a for a in added if a.key == n.key)
            sides[(item.id, "board")] = ItemSide(item.id, settings.names.board, n.card_id,
                                                 dict(n.board_base), "", "")
    items = (*view.items, *added)
    first = {**view.first_actors, **{f"new:{n.key}": n.created.actor for n in new}}
    return dataclasses.replace(view, items=items, by_key={i.key: i for i in items},
                               sides=sides, first_actors=first)


def _cards_to_make(settings: Settings, view: StateView, snap: Snapshot,
                   leave: frozenset[str]) -> list[CardToMake]:
    """Every item without a board side gets its card, or adopts the one a crash left."""
    config = settings.config
    member_ids = {email: member_id for member_id, email in settings.member_emails.items()}
    cards = []
    for item in view.items:
        if item.id in leave or view.side(item.id, "board") is not None:
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
            base=item_values(item), adopt=snap.board_cards_by_token.get(token)))
    return cards


def _with_card_sides(settings: Settings, view: StateView, cards: list[CardToMake]) -> StateView:
    """The view once the cards exist: each new card's side holds the item's values."""
    sides = dict(view.sides)
    for card in cards:
        item = view.item_by_key(card.key)
        assert item is not None
        sides[(item.id, "board")] = ItemSide(item.id, settings.names.board, "", dict(card.base),
                                             "", "")
    return dataclasses.replace(view, sides=sides)


# ---------------------------------------------------------------------- messages


def _messages_to_post(settings: Settings, view: StateView, snap: Snapshot,
                      agreed: Mapping[str, Mapping[str, Any]], text: Mapping[str, str],
                      leave: frozenset[str]) -> list[MessageToPost]:
    """Every item gets its one message in the actions channel (adopted by token if it exists).

    An item whose message has gone (deleted in Slack, or hidden by a plan's history limit:
    the whole channel is read each run) gets it posted again with the agreed values; one whose
    message this run did not read (``snap.unread``) is left alone.
    """
    slug = settings.config.alliance.slug
    posts = []
    for item in view.items:
        if item.id in leave:
            continue
        token = make_token(slug, item.key)
        side = view.side(item.id, "chat")
        if side is not None and (token in snap.messages or token in snap.unread):
            continue  # read, or not read this run (a distributed app's stretch): not gone
        values = agreed.get(item.key) or item_values(item)
        found = snap.messages.get(token)
        note = None
        if item.kind == "member" and (found is None or side is None):
            # Said once, in the thread of the item's first message (or of its new one).
            who = view.first_actors.get(item.id, "") or "?"
            where = place(text, settings.names.board)
            note = Append(make_token(slug, f"new-item-note:{item.key}"),
                          escape(text["new_item_note"].format(number=item.number, who=who,
                                                              where=where,
                                                              title=values["title"])))
        posts.append(MessageToPost(
            key=item.key, number=item.number, token=token,
            text=item_text(settings, item.number, item.step, values), adopt=found,
            replaced_ts=side.remote_id if side is not None else "", note=note,
            status=str(values["status"])))
    return posts


def _duplicates(settings: Settings, view: StateView, snap: Snapshot,
                leave: frozenset[str]) -> list[ChatMessage]:
    """Second copies of our item messages (a post repeated after a lost answer): ours to remove.

    The copy an item's Slack side records is kept; every other one carrying the same token
    and posted by us goes.
    """
    slug = settings.config.alliance.slug
    recorded = {make_token(slug, item.key): view.side(item.id, "chat") for item in view.items}
    # A left item's copies wait for a run that plans it: the replies under them are copied
    # to the card by its plan first.
    left = {make_token(slug, item.key) for item in view.items if item.id in leave}
    extra: list[ChatMessage] = []
    for token, copies in snap.duplicate_messages.items():
        if token in left:
            continue
        side = recorded.get(token)
        every = [snap.messages[token], *copies]
        keep = next((m for m in every if side is not None and m.ts == side.remote_id), every[0])
        extra += [m for m in every if m is not keep
                  and (m.user in settings.me_chat or m.bot_id in settings.me_chat)]
    return extra
