"""One item's plan: decide from what every side shows, then say what to write where (pure).

:func:`plan_item` is used for every item by :func:`sync.engine.plan.plan_sync`, and alone by
the real-time path (one event, one item). It reads nothing and writes nothing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from connectors.identity import make_token
from sync.core.mrkdwn import escape, slack_to_trello
from sync.engine import pending
from sync.engine.actions import Append, AuditLine, ItemPlan
from sync.engine.buttons import buttons_on, shows_buttons
from sync.engine.decide import (
    Decision,
    Observation,
    Request,
    decide,
    hold_conflicts,
    without_fields,
)
from sync.engine.model import FIELDS, Settings, Snapshot, StateView, iso_z
from sync.engine.normalize import card_values, reaction_set, split_reactions, status_requests
from sync.engine.texts import (
    WHERE,
    change_note,
    display_name,
    item_text,
    labels,
    place,
    shown,
)
from sync.state.rows import Item


def item_values(item: Item) -> dict[str, Any]:
    """The fields the sync compares, as the hub holds them."""
    return {"status": item.status, "due": item.due, "title": item.title, "owners": item.owner}


def _observations(settings: Settings, view: StateView, snap: Snapshot, item: Item
                  ) -> tuple[list[Observation], dict[str, Any]]:
    """The item's observations per side (only real changes count) and each side's current."""
    agreed = item_values(item)
    result: list[Observation] = []
    current: dict[str, Any] = {}
    board_side = view.side(item.id, "board")
    if (board_side is not None and board_side.remote_id in snap.deleted_card_ids
            and not board_side.base.get("deleted")):
        # A member deleted the card (not archived): the item is cancelled, and its card is
        # not made again (the member meant it gone).
        actor, at = snap.card_actors.get(board_side.remote_id, ("", ""))
        current["board"] = {"deleted": True}
        result.append(Observation("board", {**agreed, "status": "cancelled"}, actor=actor,
                                  at=at))
    elif board_side is not None and board_side.remote_id in snap.cards:
        card = snap.cards[board_side.remote_id]
        values = card_values(card, settings.list_status, settings.member_emails, item.status)
        base = {**agreed, **board_side.base}
        changed = {k: v for k, v in values.items() if v != base.get(k)}
        # The raw mark too, so a card reopened by a drag also loses its "complete" mark.
        current["board"] = {**values, "complete": card.due_complete}
        actor, at = snap.card_actors.get(card.id, ("", ""))
        result.append(Observation("board", {**agreed, **changed}, actor=actor, at=at))
    chat_side = view.side(item.id, "chat")
    message = snap.messages.get(make_token(settings.config.alliance.slug, item.key))
    if chat_side is not None and message is not None:
        reactions = reaction_set(message, ignore_users=settings.me_chat)
        seen = chat_side.base.get("reactions", {})
        counted, strangers = split_reactions(reactions, seen, settings.config.slack.reactions,
                                             alliance_chat_ids(settings, view))
        allowed = alliance_chat_ids(settings, view)
        presses = snap.pressed.get(make_token(settings.config.alliance.slug, item.key), ())
        # A button press counts like the matching reaction; an outsider's is noted and
        # audited like their reaction.
        outsiders = [p for p in presses if allowed is not None and p[1] not in allowed]
        shown_status = chat_side.base.get("status", item.status)
        requests = status_requests(counted, seen, settings.config.slack.reactions,
                                   shown_status, [p[:2] for p in presses if p not in outsiders])
        status, user = requests[0] if requests else (shown_status, "")
        current["chat"] = {"status": status, "reactions": reactions, "text": message.text,
                           "ts": message.ts, "strangers": strangers,
                           "buttons": shows_buttons(message.actions),
                           "outsider_presses": outsiders}
        # No request is no value at all, not the item's stored status: an open decision a
        # dead run left is decided on from its own agreed values, and the item's older
        # status would read as a change back (a press, seen only by the batch that died,
        # was reverted on the next run with the card left showing it).
        # A reaction carries no time: the best one we have is when a sync first saw it.
        # Everyone else's request that the first outranked: a loser unless agreed, by name.
        result.append(Observation("chat", {"status": status} if requests else {}, actor=user,
                                  at=iso_z(settings.now) if user else "",
                                  outranked=tuple(Request("status", asked, who)
                                                  for asked, who in requests[1:])))
    elif chat_side is not None and make_token(settings.config.alliance.slug,
                                              item.key) in snap.unread:
        # Not read this run (a distributed app reads a stretch of the channel per run): no
        # news from Slack, and the message is as we last wrote it, so a change made elsewhere
        # still updates it and is said in its thread.
        base = chat_side.base
        current["chat"] = {"status": base.get("status", item.status),
                           "reactions": base.get("reactions", {}),
                           "text": base.get("text", ""), "ts": chat_side.remote_id,
                           "strangers": [], "buttons": buttons_on(settings.config),
                           "outsider_presses": []}
    return result, current


def alliance_chat_ids(settings: Settings, view: StateView) -> set[str] | None:
    """The chat user ids of the config's people (``None`` when anyone's reactions count)."""
    if settings.config.slack.reactions_from == "anyone":
        return None
    emails = {str(p.email).lower() for p in settings.config.people}
    return {user for user, email in view.chat_users.items() if email.lower() in emails}


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
                        at=iso_z(settings.now)), values)


def decide_item(settings: Settings, view: StateView, snap: Snapshot, item: Item
                ) -> tuple[Decision, dict[str, Any], frozenset[str], Observation | None,
                           dict[str, Any] | None, dict[str, Any]]:
    """One item's decision from what every side shows, with the fields held for the coordinator.

    Returns the decision, each side's current values, the held fields, the action-plan
    observation (if its row was edited), the row's values (if the item has a row) and the
    decision's journal record (:mod:`sync.engine.pending`). An open decision a dead run left
    is carried out as it was; only what the sides show beyond it is decided now.
    """
    policy = settings.config.sync.conflict_policy
    obs, current = _observations(settings, view, snap, item)
    file_obs, row_values = _file_observation(settings, view, item)
    if file_obs is not None:
        obs.insert(0, file_obs)
    base = item_values(item)
    waiting = set(view.waiting.get(item.id, frozenset()))
    # A field whose conflict awaits the coordinator is left alone until it is resolved.
    obs = without_fields(obs, waiting)
    open_one = view.pending.get(item.id)
    considered = obs
    earlier = pending.decision_of(open_one) if open_one is not None else None
    if open_one is not None and earlier is not None:
        base = dict(earlier.agreed)
        obs = pending.unseen(obs, open_one.get("seen", {}))
        waiting |= set(open_one.get("held", ()))
    decision = decide(base, obs, settings.names.policy(policy))
    held = set(waiting)
    if policy == "ask":
        decision = hold_conflicts(decision, base)
        held |= {c.field for c in decision.conflicts}
    seen = pending.seen_by(considered)
    if open_one is not None and earlier is not None:
        decision = pending.then(earlier, decision)
        seen = pending.merged_seen(open_one.get("seen", {}), seen)
    return (decision, current, frozenset(held), file_obs, row_values,
            pending.record(decision, sorted(held), seen, settings.names))


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
    decision, current, held, file_obs, row_values, record = decide_item(settings, view, snap,
                                                                         item)
    agreed = decision.agreed
    names = settings.names
    plan = ItemPlan(key=item.key, number=item.number, decision=decision, names=names, held=held,
                    resolve_conflicts=policy != "ask",
                    record=record if decision.changes or decision.conflicts else None,
                    settles=tuple(view.pending.get(item.id, {}).get("intent_ids", ())),
                    people={c.loser_actor: display_name(settings, view, c.loser_actor)
                            for c in decision.conflicts if c.loser_actor})
    for change in decision.changes:
        # People by name (a Slack user id means nothing to the coordinator reading the log).
        actor = display_name(settings, view, change.actor) if change.actor else ""
        side = names.stored(change.side)
        plan.audit.append(AuditLine(actor or WHERE[side], side, change.field,
                                    change.old, change.new))
        plan.changes.append({"item": item.number, "field": change.field, "old": change.old,
                             "new": change.new, "side": side, "actor": actor})
    if row_values is not None and (view.side(item.id, "file") is None
                                   or (file_obs is not None and not held)):
        # Remember the row as read: the same edit is not taken again (else a member's later
        # change would be reverted by the coordinator's old one).
        row = settings.row_of(item.key)
        assert row is not None
        plan.file_side = (row.key, row_values)

    board_side = view.side(item.id, "board")
    if board_side is not None and (board_side.base.get("deleted")
                                   or (current.get("board") or {}).get("deleted")):
        plan.mark_card_deleted = not board_side.base.get("deleted")
        board_side = None  # gone from the board: nothing to write there any more
    if board_side is not None:
        card_now = current.get("board") or {**agreed, **board_side.base}
        wanted = {**agreed, **{f: card_now.get(f) for f in held if f in card_now}}
        plan.card_id = board_side.remote_id
        plan.card_changes = _card_changes(settings, item.number, wanted, card_now)
        new_base = {k: board_side.base.get(k, agreed.get(k)) if k in held else agreed.get(k)
                    for k in FIELDS}
        # Written only when it changed: a sync with nothing to do writes nothing locally either.
        if new_base != board_side.base:
            plan.board_base = new_base

    chat_side = view.side(item.id, "chat")
    now = current.get("chat")
    if chat_side is None or now is None:
        # No message, or it was deleted: the message step posts it again.
        return plan
    message_text = item_text(settings, item.number, item.step, agreed)
    plan.message_ts = chat_side.remote_id
    # The buttons follow real_time too: on only where a press is received (engine.buttons).
    if now["text"] != message_text or now["buttons"] != buttons_on(settings.config):
        plan.message_text = message_text
    # Who changed what where, then any conflict (the losing value is shown, never dropped).
    position = view.audit_counts.get(item.id, 0)
    notes = [change_note(text, c.field, c.new, display_name(settings, view, c.actor),
                         names.stored(c.side)) for c in decision.changes]
    note_key = "conflict_waiting" if policy == "ask" else "conflict_note"
    notes += [text[note_key].format(
        number=item.number, field=text.get(f"field_{c.field}", c.field),
        winner_value=shown(text, c.field, c.winner_value),
        winner_side=place(text, names.stored(c.winner_side)),
        loser_value=shown(text, c.field, c.loser_value),
        loser_side=place(text, names.stored(c.loser_side)),
        loser=display_name(settings, view, c.loser_actor) if c.loser_actor
        else text["unknown_person"]) for c in decision.conflicts]
    # Status reactions of people outside the alliance: audited, and said in the thread.
    for emoji, user in now.get("strangers", []):
        who = text["outsider"].format(user=user)
        new = settings.config.slack.reactions.get(emoji, "")
        plan.audit.append(AuditLine(who, names.chat, "reaction.ignored", None,
                                    {"emoji": emoji, "status": new}))
        notes.append(text["stranger_reaction"].format(
            emoji=emoji, new=text.get(f"status:{new}", new), who=who))
    # Slack mrkdwn: names, values and comments are what people wrote (sync.core.mrkdwn).
    plan.notes = [Append(make_token(slug, f"note:{item.key}:{position}:{i}"), escape(note))
                  for i, note in enumerate(notes)]
    # Button presses of people outside the alliance: the same, tokened by the press itself
    # (a delivery processed twice says it once).
    for new, user, press_id in now.get("outsider_presses", []):
        who = text["outsider"].format(user=user)
        plan.said_once.append((
            Append(make_token(slug, f"press:{item.key}:{press_id}"),
                   text["stranger_press"].format(new=text.get(f"status:{new}", new), who=who)),
            AuditLine(who, names.chat, "button.ignored", None, {"status": new})))
    if board_side is not None:
        copied = [c for c in snap.comments if c.card_id == board_side.remote_id]
        plan.notes += [Append(make_token(slug, f"{names.board}-comment:{c.action_id}"),
                              escape(text["comment_from"].format(
                                  who=c.who, where=place(text, names.board), text=c.text)))
                       for c in copied]
        # In the audit trail too, as a Slack reply copied to the card is.
        plan.audit += [AuditLine(c.who, names.board, "comment", None, c.text) for c in copied]
    # The "latest reply seen" mark moves only past replies this run read (ours included):
    # never past one because a note of ours came later (a member's reply posted while we
    # wrote would be skipped for good), so a thread we wrote in is read once more next run.
    seen = chat_side.base.get("latest_reply", "")
    newest = seen
    token = make_token(slug, item.key)
    message = snap.messages.get(token)
    if board_side is not None and message is not None:
        for reply in snap.replies.get(token, ()):
            newest = max(newest, reply.ts)
            # A reply under a second copy of the message (removed by this run) is copied
            # whatever the mark: the mark is the kept thread's.
            under_copy = bool(reply.thread_ts) and reply.thread_ts != message.ts
            if (reply.ts <= seen and not under_copy) or reply.ts == message.ts \
                    or reply.user in settings.me_chat or reply.bot_id:
                continue
            who = display_name(settings, view, reply.user)
            plan.comments.append((
                Append(make_token(slug, f"comment:{item.key}:{reply.ts}"),
                       slack_to_trello(text["comment_from"].format(
                           who=who, where=place(text, names.chat), text=reply.text))),
                AuditLine(who, names.chat, "comment", None, reply.text)))
    plan.seen_reply = newest
    plan.repeated_notes = list(snap.repeated_notes.get(token, ()))
    base = dict(chat_side.base)
    base.update(status=agreed["status"], text=message_text,
                latest_reply=max(base.get("latest_reply", ""), newest),
                reactions=now["reactions"])
    # Written only when it changed: nothing to do, no write.
    if base != chat_side.base:
        plan.chat_base = base
        plan.marks_only = {**base, "latest_reply": ""} == {**chat_side.base, "latest_reply": ""} \
            and not (plan.writes_remotely or plan.audit or plan.decision.changes
                     or plan.decision.conflicts or plan.mark_card_deleted
                     or plan.board_base is not None or plan.file_side is not None
                     or plan.record is not None or plan.settles)
    return plan

