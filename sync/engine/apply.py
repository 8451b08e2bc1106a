"""The sync's effect layer: apply one item's decision, adopt new cards, post missing messages.

Only does what ``sync.engine.run`` decided. Every create is journalled before the call with the
item's identity token; updates are absolute and therefore safe to repeat. State rows (the
item, each side's new base, audit lines, conflicts) are written right after each effect.
"""

from __future__ import annotations

import datetime as dt
from functools import partial
from typing import TYPE_CHECKING, Any

from connectors.identity import item_metadata, make_token, token_in, with_marker
from playbooks.messages import messages
from sync.core.errors import NotFoundError
from sync.engine.decide import Decision
from sync.engine.normalize import card_values, render_item_message
from sync.reports.progress import owner_names
from sync.state.journal import Journal

if TYPE_CHECKING:
    from sync.engine.run import Snapshot, SyncContext, SyncResult

WHERE = {"trello": "Trello", "slack": "Slack", "hub": "the action plan", "file": "the action plan"}


def token_of(ctx: SyncContext, item: Any) -> str:
    """The identity token of an item (derived from the alliance and the item's key)."""
    return make_token(ctx.config.alliance.slug, item.key)


def _labels(ctx: SyncContext) -> dict[str, str]:
    text = dict(messages(ctx.book.language))
    text.update({f"status:{k}": v for k, v in ctx.book.action_plan.statuses.items()})
    return text


def _step_title(ctx: SyncContext, key: str) -> str:
    return next((s.title for s in ctx.book.steps if s.key == key), key)


def item_text(ctx: SyncContext, item: Any, agreed: dict[str, Any]) -> str:
    """The item message's text for the agreed values."""
    labels = _labels(ctx)
    return render_item_message(labels["item_message"], labels, number=item.number,
                               title=agreed["title"], step=_step_title(ctx, item.step),
                               owner=owner_names(agreed.get("owners") or "",
                                                 {str(p.email): p.name
                                                  for p in ctx.config.people}),
                               due=agreed.get("due"),
                               status=agreed["status"])


def _card_changes(ctx: SyncContext, item: Any, agreed: dict[str, Any],
                  card_now: dict[str, Any]) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    if agreed["status"] != card_now.get("status"):
        changes["list_id"] = ctx.status_list[agreed["status"]]
        changes["closed"] = False
        changes["due_complete"] = agreed["status"] == "done"
    elif card_now.get("complete", agreed["status"] == "done") != (agreed["status"] == "done"):
        changes["due_complete"] = agreed["status"] == "done"
    if agreed.get("due") != card_now.get("due"):
        changes["due"] = (dt.datetime.combine(dt.date.fromisoformat(agreed["due"]), dt.time(12),
                                              tzinfo=dt.UTC) if agreed.get("due") else None)
    if agreed["title"] != card_now.get("title"):
        changes["name"] = f"{item.number} · {agreed['title']}"
    return changes


def apply_item(ctx: SyncContext, item: Any, decision: Decision, current: dict[str, Any],
               snap: Snapshot, result: SyncResult, *, held: set[str] | None = None) -> None:
    """Write the agreed value where it is missing, record changes, conflicts and comments.

    ``held`` fields await the coordinator's decision: no side is written for them, and each
    side keeps its base, so whatever a member set stays visible until it is resolved.
    """
    held = held or set()
    store = ctx.store
    agreed = decision.agreed
    labels = _labels(ctx)
    for change in decision.changes:
        # People by name (a Slack user id means nothing to the coordinator reading the log).
        actor = _display_name(ctx, change.actor) if change.actor else ""
        store.add_audit(item.id, actor or WHERE[change.side], change.side, change.field,
                        change.old, change.new)
        result.changes.append({"item": item.number, "field": change.field, "old": change.old,
                               "new": change.new, "side": change.side, "actor": actor})
    if decision.changes:
        store.update_item(item.id, status=agreed["status"], due=agreed.get("due"),
                          title=agreed["title"], owner=agreed.get("owners") or "")
    for conflict in decision.conflicts:
        values = {conflict.winner_side: conflict.winner_value,
                  conflict.loser_side: conflict.loser_value}
        record = store.record_conflict(item.id, conflict.field, values,
                                       winner=conflict.winner_side,
                                       loser_value=conflict.loser_value,
                                       policy=ctx.config.sync.conflict_policy)
        # Settled by the policy (the winner is applied everywhere); kept for `status` and
        # posted in the item's thread below, so the losing value is never silently dropped.
        # Under "ask" it stays open until `mcm-sync resolve`.
        if ctx.config.sync.conflict_policy != "ask":
            store.resolve_conflict(record.id)
        result.conflicts.append(conflict)

    trello_side = store.get_side(item.id, "trello")
    if trello_side is not None and (trello_side.base.get("deleted")
                                    or (current.get("trello") or {}).get("deleted")):
        if not trello_side.base.get("deleted"):
            store.put_side(item.id, "trello", trello_side.remote_id,
                           {**trello_side.base, "deleted": True}, fingerprint="")
        trello_side = None  # gone from the board: nothing to write there any more
    if trello_side is not None:
        card_now = current.get("trello") or {**agreed, **trello_side.base}
        wanted = {**agreed, **{f: card_now.get(f) for f in held if f in card_now}}
        changes = _card_changes(ctx, item, wanted, card_now)
        if changes:
            try:
                ctx.trello.update_card(trello_side.remote_id, **changes)
                result.count("trello.update_card")
            except NotFoundError:
                # Deleted in a way the board actions did not tell us (or since we read them):
                # same as a deletion we saw, never a run that fails forever.
                store.put_side(item.id, "trello", trello_side.remote_id,
                               {**trello_side.base, "deleted": True}, fingerprint="")
                trello_side = None
    if trello_side is not None:
        new_base = {k: trello_side.base.get(k, agreed.get(k)) if k in held else agreed.get(k)
                    for k in ("status", "due", "title", "owners")}
        # Written only when it changed: a sync with nothing to do writes nothing locally either.
        if new_base != trello_side.base:
            store.put_side(item.id, "trello", trello_side.remote_id, new_base, fingerprint="")

    slack_side = store.get_side(item.id, "slack")
    now = current.get("slack")
    if slack_side is None or now is None:
        # No message, or it was deleted (the whole channel is read each run, so missing means
        # gone): post_missing_messages posts it again with the agreed text.
        return
    text = item_text(ctx, item, agreed)
    base = dict(slack_side.base)
    if now is not None and now["text"] != text or now is None and base.get("text") != text:
        ctx.slack.update_message(ctx.actions_channel, slack_side.remote_id, text,
                                 metadata=item_metadata(token_of(ctx, item), item.number))
        result.count("slack.update_message")
    # Who changed what where, then any conflict (the losing value is shown, never dropped).
    notes = [_note(labels, ctx, c.field, c.new, c.actor, c.side) for c in decision.changes]
    note_key = "conflict_waiting" if ctx.config.sync.conflict_policy == "ask" else "conflict_note"
    notes += [labels[note_key].format(
        number=item.number, field=c.field, winner_value=_shown(labels, c.field, c.winner_value),
        winner_side=WHERE[c.winner_side], loser_value=_shown(labels, c.field, c.loser_value),
        loser_side=WHERE[c.loser_side],
        loser=_display_name(ctx, c.loser_actor) if c.loser_actor else labels["unknown_person"])
        for c in decision.conflicts]
    notes += _stranger_notes(ctx, item, labels, now.get("strangers", []))
    copied, newest_seen = _copy_comments(ctx, item, slack_side, snap, trello_side, result)
    notes += copied
    last_reply = max(base.get("latest_reply", ""), newest_seen)
    for note in notes:
        reply = ctx.slack.post_message(ctx.actions_channel, note, thread_ts=slack_side.remote_id)
        last_reply = max(last_reply, reply.ts)
        result.count("slack.thread_reply")
    base.update(status=agreed["status"], text=text, latest_reply=last_reply)
    if now is not None:
        base["reactions"] = now["reactions"]
    if base != slack_side.base:
        store.put_side(item.id, "slack", slack_side.remote_id, base, fingerprint="")


def _shown(labels: dict[str, str], field: str, value: Any) -> str:
    """A value as people read it: the localised status name, '-' for nothing."""
    if field == "status":
        return labels.get(f"status:{value}", str(value))
    return "-" if value is None else str(value)


def _note(labels: dict[str, str], ctx: SyncContext, field: str, new: Any, actor: str,
          side: str) -> str:
    who = _display_name(ctx, actor)
    if field == "status":
        return labels["moved_by"].format(new=labels.get(f"status:{new}", new), who=who,
                                         where=WHERE[side])
    return labels["changed_by"].format(field=field, new=new if new is not None else "-", who=who,
                                       where=WHERE[side])


def _display_name(ctx: SyncContext, actor: str) -> str:
    """A person's name for a Slack user id or a Trello name; the raw value otherwise."""
    for resource in ctx.store.list_resources("slack", "user"):
        if resource.remote_id == actor:
            person = next((p for p in ctx.config.people
                           if str(p.email).lower() == resource.logical_key.lower()), None)
            if person is not None:
                return person.name
    return actor or "?"


def _stranger_notes(ctx: SyncContext, item: Any, labels: dict[str, str],
                    strangers: list[tuple[str, str]]) -> list[str]:
    """Status reactions of people outside the alliance: audited, and a note for the thread."""
    notes = []
    for emoji, user in strangers:
        who = labels["outsider"].format(user=user)
        new = ctx.config.slack.reactions.get(emoji, "")
        ctx.store.add_audit(item.id, who, "slack", "reaction.ignored", None,
                            {"emoji": emoji, "status": new})
        notes.append(labels["stranger_reaction"].format(
            emoji=emoji, new=labels.get(f"status:{new}", new), who=who))
    return notes


def _copy_comments(ctx: SyncContext, item: Any, slack_side: Any, snap: Snapshot,
                   trello_side: Any, result: SyncResult) -> tuple[list[str], str]:
    """Slack thread replies -> Trello comments; Trello comments -> notes for the thread.

    Returns the notes to post and the newest reply ts read, so each reply is copied once.
    """
    labels = _labels(ctx)
    notes = [labels["comment_from"].format(who=who, where="Trello", text=text)
             for card_id, who, text in snap.comments
             if trello_side is not None and card_id == trello_side.remote_id]
    message = snap.messages.get(token_of(ctx, item))
    seen = slack_side.base.get("latest_reply", "")
    if trello_side is None or message is None or not message.latest_reply \
            or message.latest_reply <= seen:
        return notes, seen
    newest = seen
    for reply in ctx.slack.replies(ctx.actions_channel, message.ts, oldest=seen or None):
        newest = max(newest, reply.ts)
        if reply.ts <= seen or reply.ts == message.ts or reply.user in ctx.me_slack \
                or reply.bot_id:
            continue
        ctx.trello.add_comment(trello_side.remote_id, labels["comment_from"].format(
            who=_display_name(ctx, reply.user), where="Slack", text=reply.text))
        ctx.store.add_audit(item.id, _display_name(ctx, reply.user), "slack", "comment", None,
                            reply.text)
        result.comments += 1
    return notes, newest


def ensure_new_items(ctx: SyncContext, snap: Snapshot, result: SyncResult) -> None:
    """Cards a member added become items (tokened and numbered); new file rows get cards."""
    store = ctx.store
    for card_id in snap.new_card_ids:
        card = snap.cards.get(card_id)
        if card is None or token_in(card.desc) or store.find_side("trello", card_id):
            continue
        key = f"trello:{card_id}"
        values = card_values(card, ctx.list_status, ctx.member_emails, "todo")
        # A run killed before the card was tokened already made the item: keep its number.
        made = store.get_item_by_key(key)
        number = made.number if made else store.next_item_number(ctx.config.alliance.item_prefix)
        item = store.ensure_item(key=key, number=number, kind="member", title=values["title"],
                                 step="", owner=values["owners"], due=values["due"],
                                 status=values["status"], source="trello")
        token = make_token(ctx.config.alliance.slug, key)
        ctx.trello.update_card(card_id, name=f"{number} · {values['title']}",
                               desc=with_marker(card.desc, token, number))
        result.count("trello.update_card")
        store.put_side(item.id, "trello", card_id, values, fingerprint="")
        actor = snap.card_actors.get(card_id, ("", ""))[0]
        store.add_audit(item.id, actor, "trello", "created", None, values["title"])
        result.created_items.append(number)


def post_missing_messages(ctx: SyncContext, snap: Snapshot, result: SyncResult) -> None:
    """Every item gets its one message in the actions channel (adopted by token if it exists).

    An item whose message has gone (deleted in Slack, or hidden by a plan's history limit:
    the whole channel is read each run) gets it posted again with the agreed values.
    """
    store = ctx.store
    labels = _labels(ctx)
    items = store.list_items()
    for done, item in enumerate(items, 1):
        token = token_of(ctx, item)
        side = store.get_side(item.id, "slack")
        if side is not None and token in snap.messages:
            continue
        ctx.tick(done, len(items), f"message {item.number}")
        agreed = {"status": item.status, "due": item.due, "title": item.title,
                  "owners": item.owner}
        text = item_text(ctx, item, agreed)
        found = snap.messages.get(token)
        if found is None:
            found = Journal(store, result.run_id).create(
                "slack", "post_item", token,
                partial(ctx.slack.post_message, ctx.actions_channel, text,
                        metadata=item_metadata(token, item.number)),
                lambda message: message.ts, item_id=item.id)
            result.count("slack.post_message")
            if item.kind == "member":
                actor = store.list_audit(item.id)[0].actor if store.list_audit(item.id) else ""
                note = labels["new_item_note"].format(number=item.number, who=actor or "?",
                                                      where="Trello", title=item.title)
                ctx.slack.post_message(ctx.actions_channel, note, thread_ts=found.ts)
                result.count("slack.thread_reply")
        if side is not None:
            store.add_audit(item.id, "mcm-sync", "slack", "message", side.remote_id, found.ts)
        # Reactions start empty even on an adopted message: any there are unprocessed requests.
        store.put_side(item.id, "slack", found.ts,
                       {"status": item.status, "text": found.text or text, "reactions": {},
                        "latest_reply": found.latest_reply}, fingerprint="")
