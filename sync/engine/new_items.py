"""New items that start in the hub: action-plan rows added after bootstrap, minutes' actions.

The coordinator adds a row to the action-plan file, or imports minutes whose agreed actions
become items (``sync.plenary.minutes``): those items exist in the state store but have no card yet.
At the next sync each gets its card (journalled with the item's identity token first) and,
through ``post_missing_messages``, its Slack message. A card that a crashed run already made
is found by its token in one board read and adopted, never made twice.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from connectors.identity import make_token, with_marker
from sync.bootstrap.desired import row_card
from sync.bootstrap.plan import cards_by_token
from sync.state.journal import Journal

if TYPE_CHECKING:
    from sync.engine.run import Snapshot, SyncContext, SyncResult


def add_new_rows(ctx: SyncContext) -> list[str]:
    """Action-plan rows without an item become items (numbered); returns their numbers."""
    store = ctx.store
    added = []
    for row in ctx.rows:
        key = f"action:{row.key}"
        if store.get_item_by_key(key) is not None:
            continue
        card = row_card(ctx.config, ctx.book, row, "")
        item = store.ensure_item(
            key=key, number=store.next_item_number(ctx.config.alliance.item_prefix),
            kind="action", title=row.action, status=row.status, source="file", step=row.step,
            owner=",".join(sorted(card.owner_emails)),
            due=row.due.isoformat() if row.due else None)
        store.add_audit(item.id, "coordinator", "hub", "created", None, row.action)
        added.append(item.number)
    return added


def _body(ctx: SyncContext, item: Any) -> str:
    """The card description: the action-plan fields for a row, the source otherwise."""
    row = ctx.row_of(item)
    if row is not None:
        return row_card(ctx.config, ctx.book, row, item.number).body
    return ""


def create_missing_cards(ctx: SyncContext, snap: Snapshot, result: SyncResult) -> None:
    """Every item without a Trello side gets its card (or adopts the one a crash left)."""
    store = ctx.store
    missing = [item for item in store.list_items() if store.get_side(item.id, "trello") is None]
    if not missing:
        return
    # One board read, only when there is something to make: adopt what a crashed run made.
    existing = cards_by_token(ctx.trello.snapshot(ctx.board_id))
    labels = {r.logical_key: r.remote_id for r in store.list_resources("trello", "label")}
    member_ids = {email: member_id for member_id, email in ctx.member_emails.items()}
    for item in missing:
        token = make_token(ctx.config.alliance.slug, item.key)
        card = existing.get(token)
        if card is None:
            due = (dt.datetime.combine(dt.date.fromisoformat(item.due), dt.time(12), tzinfo=dt.UTC)
                   if item.due else None)
            card = Journal(store, result.run_id).create(
                "trello", "create_card", token,
                lambda item=item, token=token, due=due: ctx.trello.create_card(
                    ctx.status_list[item.status], f"{item.number} · {item.title}",
                    with_marker(_body(ctx, item), token, item.number), due=due,
                    label_ids=[labels[f"step:{item.step}"]] if f"step:{item.step}" in labels
                    else [],
                    member_ids=[member_ids[e] for e in item.owner.split(",") if e in member_ids]),
                lambda made: made.id, item_id=item.id)
            result.count("trello.create_card")
        store.put_side(item.id, "trello", card.id,
                       {"status": item.status, "due": item.due, "title": item.title,
                        "owners": item.owner}, fingerprint="")
        result.created_items.append(item.number)
