"""The sync's effect layer: carry out a :class:`sync.engine.plan.SyncPlan`, journalling each write.

Decides nothing (the plan did). Every create and every append is journalled with its identity
token before the call (:class:`sync.state.journal.Journal`); an append a failed or killed run
already made is found in the journal (or, after a lost answer, by its token remotely) and not
made again. Updates are absolute and therefore safe to repeat.

Per item, the remote writes come first and the item's bookkeeping (audit lines, the agreed
value, conflicts, each side's new base) is committed in one transaction after them: a run that
dies half-way leaves the old base, so the next run plans the item the same way and only makes
the writes that are still missing.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from connectors.base import ChatMessage
from connectors.identity import item_metadata, make_token
from sync.core.errors import NotFoundError
from sync.engine.actions import (
    AuditLine,
    CardToMake,
    ItemPlan,
    MessageToPost,
    NewItem,
    SyncPlan,
)
from sync.engine.buttons import buttons_on, item_blocks
from sync.engine.decide import Conflict
from sync.engine.model import DECISION, SyncContext, SyncResult
from sync.engine.texts import labels
from sync.engine.writes.appends import (
    Call,
    Rest,
    RestSteps,
    add_comment,
    append_calls,
    post_note,
)
from sync.state.journal import Journal
from sync.state.store import StateStore


def apply_plan(ctx: SyncContext, plan: SyncPlan, result: SyncResult,
               later: Callable[[Rest], None] | None = None) -> None:
    """Carry out ``plan`` in order: new items, cards, each item, messages, duplicates.

    ``later`` (the real-time lane's): a new message's thread note and its bookkeeping are
    handed to it as a :class:`Rest` instead of being made here, so a sync a delivery
    triggered makes only what members see (the card, the message) and waits for no note's
    slot in Slack's pacing. Until that rest is done the item's message is not recorded, as
    after a crash between the post and the note: a run meanwhile (or after a crash) adopts
    the message by its token and posts the note, once (its token)."""
    journal = Journal(ctx.store, result.run_id)
    for new in plan.new_items:
        _add_item(ctx, new, result)
    for card in plan.cards:
        _make_card(ctx, journal, card, result)
    for done, item_plan in enumerate(plan.items, 1):
        ctx.tick(done, len(plan.items), item_plan.number)
        if not item_plan.is_noop:  # a sync with nothing to do costs no statement per item
            _apply_item(ctx, journal, item_plan, result)
    for done, post in enumerate(plan.messages, 1):
        ctx.tick(done, len(plan.messages), f"message {post.number}")
        _post_message(ctx, journal, post, result, later)
    for message in plan.duplicates:
        ctx.chat.delete_message(ctx.settings.actions_channel, message.ts)
        result.count(f"{ctx.names.chat}.delete_message")
        result.duplicates_removed.append(message.ts)


def apply_item(ctx: SyncContext, plan: ItemPlan, result: SyncResult) -> None:
    """Carry out one item's plan alone (the real-time path of ``mcm-sync serve``)."""
    _apply_item(ctx, Journal(ctx.store, result.run_id), plan, result)


@dataclass(frozen=True)
class Shown:
    """An item whose visible writes are made (:func:`apply_visible`) and whose notes,
    comments and bookkeeping are still to come (:func:`apply_rest`)."""

    plan: ItemPlan
    item_id: str
    card_gone: bool
    decided: tuple[int, ...]
    message_left: bool = False  # the message's update is left to apply_rest too


def apply_visible(ctx: SyncContext, plan: ItemPlan, result: SyncResult, *,
                  message: bool = True) -> Shown:
    """The item's decision journalled, then the writes members see: the card's move or edit
    and (unless ``message`` is False) the message's update. Their thread notes and the
    bookkeeping follow in :func:`apply_rest`, which must come next for this item (real time
    defers it so that no item's visible change waits behind another item's notes).

    ``message=False``: the message's update (a ``chat.update``, paced at Slack's tier 3) is
    the rest's first write (:func:`rest_steps`), so a burst's card writes never wait behind
    the pacing of message updates; real time makes the update of a change made on the board
    before any note (the member is looking at that message).

    Safe to interrupt in between: the decision stays open in the journal and the item's old
    base stays committed, so the next run carries the decision out (:mod:`sync.engine.pending`)
    and makes only the writes still missing, as after a crash inside :func:`apply_item`.
    """
    store = ctx.store
    item_id = _item_id(ctx, plan.key)
    decided: tuple[int, ...] = ()
    if plan.record is not None:
        # Written ahead: a run that dies before the bookkeeping leaves this decision
        # open, and the next run carries it out as it was (sync.engine.pending).
        decided = (store.journal_open(result.run_id, "hub", DECISION,
                                      _token(ctx, f"decision:{plan.key}"), item_id=item_id,
                                      detail=plan.record),)
    card_gone = False
    if plan.card_changes:
        try:
            ctx.board.update_card(plan.card_id, **plan.card_changes)
            result.count(f"{ctx.names.board}.update_card")
        except NotFoundError:
            # Deleted in a way the board actions did not tell us (or since we read them):
            # same as a deletion we saw, never a run that fails forever.
            card_gone = True
    if message:
        _update_message(ctx, plan, result)
    return Shown(plan, item_id, card_gone, decided, message_left=not message)


def _update_message(ctx: SyncContext, plan: ItemPlan, result: SyncResult) -> None:
    if plan.message_text is not None:
        settings = ctx.settings
        ctx.chat.update_message(settings.actions_channel, plan.message_ts, plan.message_text,
                                 blocks=item_blocks(plan.message_text, plan.number,
                                                    labels(settings), plan.card_id,
                                                    buttons=buttons_on(ctx.config)),
                                 metadata=item_metadata(_token(ctx, plan.key), plan.number))
        result.count(f"{ctx.names.chat}.update_message")


def apply_rest(ctx: SyncContext, shown: Shown, result: SyncResult) -> None:
    """After :func:`apply_visible`: the comments and thread notes (journalled appends), then
    the item's bookkeeping in one transaction."""
    for _ in rest_steps(ctx, shown, result):
        pass


def rest_steps(ctx: SyncContext, shown: Shown, result: SyncResult) -> RestSteps:
    """:func:`apply_rest` one write at a time: before each write (the message's update, a
    comment, a note, a repeated note's removal) it yields the remote calls that write will
    make, and makes them when it is resumed; the bookkeeping comes after the last. A caller
    with other work (the real-time lane) asks the services' pacing about those calls first
    and resumes only when they can go, instead of sleeping inside the call while new
    deliveries wait. Given up half-way (not resumed, or a call failed), the rest is simply
    started again later: the update is absolute, the appends journalled (made ones are not
    made again), and the bookkeeping was not written.
    """
    return _rest_steps(ctx, Journal(ctx.store, result.run_id), shown, result)


@dataclass
class ItemRest:
    """An item's :class:`Rest` after :func:`apply_visible`: its message's update (when left
    to the rest), comments, notes and bookkeeping (:func:`rest_steps`). The update, once
    made, is marked so: a rest started again after a refusal does not make it again."""

    shown: Shown
    result: SyncResult

    @property
    def item_id(self) -> str:
        """The item it belongs to."""
        return self.shown.item_id

    def steps(self, ctx: SyncContext) -> RestSteps:
        """The rest from where it stands (see :func:`rest_steps`)."""
        return _rest_steps(ctx, Journal(ctx.store, self.result.run_id), self.shown,
                           self.result, updated=self._updated)

    def _updated(self) -> None:
        self.shown = dataclasses.replace(self.shown, message_left=False)


@dataclass
class NoteRest:
    """A new item message's :class:`Rest` (:func:`apply_plan`'s ``later``): its "new item"
    note, then the message recorded as the item's (the bookkeeping that follows the note in
    a sync that makes it whole, so a crash in between leaves the same state)."""

    post: MessageToPost
    message: ChatMessage
    result: SyncResult
    item: str

    @property
    def item_id(self) -> str:
        """The item it belongs to."""
        return self.item

    def steps(self, ctx: SyncContext) -> RestSteps:
        """The note's calls (none if it was made before), the note, the bookkeeping."""
        journal = Journal(ctx.store, self.result.run_id)
        channel = ctx.settings.actions_channel
        note = self.post.note
        if note is not None:
            if calls := append_calls(journal, note.token,
                                      Call("chat", "chat.postMessage", channel),
                                      Call("chat", "conversations.replies", channel)):
                yield calls
            if post_note(ctx, journal, self.item, self.message.ts, note) is not None:
                self.result.count(f"{ctx.names.chat}.thread_reply")
        _message_recorded(ctx, self.item, self.post, self.message)


def _item_id(ctx: SyncContext, key: str) -> str:
    item = ctx.store.get_item_by_key(key)
    assert item is not None, key
    return item.id


def _add_item(ctx: SyncContext, new: NewItem, result: SyncResult) -> None:
    """A member's card or a new row becomes an item; a member's card gets its number and token.

    The item and its "created" line are committed together before the card is touched, so a
    run that dies in between leaves an item whose creator is known (the next run names them).
    """
    store = ctx.store
    with store.transaction():
        made = store.get_item_by_key(new.key)
        item = made or store.ensure_item(key=new.key, number=new.number, kind=new.kind,
                                         title=new.title, status=new.status, source=new.source,
                                         step=new.step, owner=new.owner, due=new.due)
        if made is None:
            line = new.created
            store.add_audit(item.id, line.actor, line.source, line.field, line.old, line.new)
    if new.card_id:
        ctx.board.update_card(new.card_id, name=new.card_name, desc=new.card_desc)
        result.count(f"{ctx.names.board}.update_card")
        store.put_side(item.id, ctx.names.board, new.card_id, dict(new.board_base or {}),
                       fingerprint="")
        result.created_items.append(item.number)
        if new.copy_of:
            result.card_copies.append(f"{item.number} (a copy of {new.copy_of}'s card)")


def _make_card(ctx: SyncContext, journal: Journal, card: CardToMake, result: SyncResult) -> None:
    """Create an item's card (journalled with its token), or adopt the one a crash made."""
    item_id = _item_id(ctx, card.key)
    made = card.adopt
    if made is None:
        made = journal.create(
            ctx.names.board, "create_card", card.token,
            lambda: ctx.board.create_card(card.list_id, card.name, card.desc, due=card.due,
                                           label_ids=list(card.label_ids),
                                           member_ids=list(card.member_ids)),
            lambda created: created.id, item_id=item_id)
        result.count(f"{ctx.names.board}.create_card")
    ctx.store.put_side(item_id, ctx.names.board, made.id, dict(card.base), fingerprint="")
    result.created_items.append(card.number)


def _apply_item(ctx: SyncContext, journal: Journal, plan: ItemPlan, result: SyncResult) -> None:
    """One item: its remote writes, then its bookkeeping in one transaction."""
    for _ in _rest_steps(ctx, journal, apply_visible(ctx, plan, result), result):
        pass


def _rest_steps(ctx: SyncContext, journal: Journal, shown: Shown, result: SyncResult,
                updated: Callable[[], None] = lambda: None) -> RestSteps:
    store, settings = ctx.store, ctx.settings
    plan, item_id, card_gone = shown.plan, shown.item_id, shown.card_gone
    channel = settings.actions_channel
    post = Call("chat", "chat.postMessage", channel)
    look = Call("chat", "conversations.replies", channel)
    if shown.message_left and plan.message_text is not None:
        yield (Call("chat", "chat.update", channel),)
        _update_message(ctx, plan, result)
        updated()
    appended = []
    if not card_gone:
        for append, line in plan.comments:
            if calls := append_calls(journal, append.token, Call("board", "add_comment"),
                                      Call("board", "card_comments")):
                yield calls
            if add_comment(ctx, journal, item_id, plan.card_id, append) is not None:
                result.comments += 1
            appended.append(line)
    for note in plan.notes:
        if calls := append_calls(journal, note.token, post, look):
            yield calls
        if post_note(ctx, journal, item_id, plan.message_ts, note) is not None:
            result.count(f"{ctx.names.chat}.thread_reply")
    for note, line in plan.said_once:
        if calls := append_calls(journal, note.token, post, look):
            yield calls
        if post_note(ctx, journal, item_id, plan.message_ts, note) is not None:
            result.count(f"{ctx.names.chat}.thread_reply")
            appended.append(line)
    for ts in plan.repeated_notes:  # a second copy of a note of ours (it landed late)
        yield (Call("chat", "chat.delete", channel),)
        ctx.chat.delete_message(settings.actions_channel, ts)
        result.count(f"{ctx.names.chat}.delete_message")
    with store.transaction():
        _record(ctx, item_id, plan, result, card_gone, appended)
        for intent in (*plan.settles, *shown.decided):
            store.journal_close(intent, "done")


def _record(ctx: SyncContext, item_id: str, plan: ItemPlan, result: SyncResult,
            card_gone: bool, appended: list[AuditLine]) -> None:
    """The item's bookkeeping: audit, agreed value, conflicts, each side's base."""
    store = ctx.store
    for line in plan.audit:
        if line.field == "comment" and _audited(store, item_id, line):
            continue  # a Trello comment read again (a run that died before its bookmark)
        store.add_audit(item_id, line.actor, line.source, line.field, line.old, line.new)
    result.changes += plan.changes
    agreed = plan.decision.agreed
    if plan.decision.changes:
        store.update_item(item_id, status=agreed["status"], due=agreed.get("due"),
                          title=agreed["title"], owner=agreed.get("owners") or "")
    for conflict in plan.conflicts():  # as recorded: the sides under their services' names
        values: dict[str, Any] = conflict.side_values()  # one side's two requests: the winner's
        record = store.record_conflict(item_id, conflict.field, values,
                                       winner=conflict.winner_side,
                                       loser_value=conflict.loser_value,
                                       policy=ctx.config.sync.conflict_policy)
        # Settled by the policy (the winner is applied everywhere); kept for `status` and
        # posted in the item's thread, so the losing value is never silently dropped. Under
        # "ask" it stays open until `mcm-sync resolve`.
        if plan.resolve_conflicts:
            store.resolve_conflict(record.id)
        shown = plan.conflict(conflict)
        # The losing value in the audit trail, with who gave it: never silently dropped.
        store.add_audit(item_id, conflict.loser_actor, conflict.loser_side, "conflict", None,
                        conflict_entry(shown))
        result.conflicts.append(shown)
    trello_side = store.get_side(item_id, ctx.names.board)
    if trello_side is not None and (plan.mark_card_deleted or card_gone):
        store.put_side(item_id, ctx.names.board, trello_side.remote_id,
                       {**trello_side.base, "deleted": True}, fingerprint="")
    elif trello_side is not None and plan.board_base is not None:
        store.put_side(item_id, ctx.names.board, trello_side.remote_id, plan.board_base,
                       fingerprint="")
    for line in appended:
        store.add_audit(item_id, line.actor, line.source, line.field, line.old, line.new)
    side = store.get_side(item_id, ctx.names.chat) if plan.chat_base is not None else None
    if side is not None and plan.chat_base is not None:
        base = dict(plan.chat_base)
        if card_gone:  # the replies were not copied: read them again once the card is back
            base["latest_reply"] = side.base.get("latest_reply", "")
        if base != side.base:
            store.put_side(item_id, ctx.names.chat, side.remote_id, base, fingerprint="")
    if plan.file_side is not None:
        row_key, values = plan.file_side
        store.put_side(item_id, "file", row_key, values, fingerprint="")


def _audited(store: StateStore, item_id: str, line: AuditLine) -> bool:
    """Whether the item's audit trail already holds this line (same source, field, value)."""
    return any(e.source == line.source and e.field == line.field and e.new == line.new
               for e in store.list_audit(item_id))


def conflict_entry(conflict: Conflict) -> str:
    """A conflict as one line of the audit trail (the coordinator's language: English)."""
    lost = f"{conflict.field} {conflict.loser_value} ({conflict.loser_side})"
    other = f"{conflict.winner_value} ({conflict.winner_side})"
    if conflict.waiting:
        return f"{lost} or {other}: waiting for a decision"
    return f"{lost} not applied; kept {other}"


def _token(ctx: SyncContext, key: str) -> str:
    return make_token(ctx.config.alliance.slug, key)


def _post_message(ctx: SyncContext, journal: Journal, post: MessageToPost,
                  result: SyncResult, later: Callable[[Rest], None] | None = None) -> None:
    """Post an item's message (journalled with its token), or adopt the one found; then its
    note and its bookkeeping (handed to ``later`` when there is a note and a ``later``)."""
    store = ctx.store
    item_id = _item_id(ctx, post.key)
    channel = ctx.settings.actions_channel
    found = post.adopt
    if found is None:
        card = store.get_side(item_id, ctx.names.board)
        card_id = str(card.remote_id) if card is not None else ""
        found = journal.create(
            ctx.names.chat, "post_item", post.token,
            lambda: ctx.chat.post_message(channel, post.text,
                                           blocks=item_blocks(post.text, post.number,
                                                              labels(ctx.settings), card_id,
                                                              buttons=buttons_on(ctx.config)),
                                           metadata=item_metadata(post.token, post.number)),
            lambda message: message.ts, item_id=item_id)
        result.count(f"{ctx.names.chat}.post_message")
    if post.note is not None and later is not None:
        later(NoteRest(post, found, result, item_id))
        return
    if post.note is not None and post_note(ctx, journal, item_id, found.ts, post.note) is not None:
        result.count(f"{ctx.names.chat}.thread_reply")
    _message_recorded(ctx, item_id, post, found)


def _message_recorded(ctx: SyncContext, item_id: str, post: MessageToPost,
                      found: ChatMessage) -> None:
    """The posted (or adopted) message recorded as the item's, in one transaction."""
    store = ctx.store
    with store.transaction():
        if post.replaced_ts:
            store.add_audit(item_id, "mcm-sync", ctx.names.chat, "message", post.replaced_ts,
                            found.ts)
        # Reactions start empty even on an adopted message: any there are unprocessed requests.
        # No reply read yet either: an adopted message (a dying run's post) may already have
        # members' replies in its thread, and marking them seen (the thread's latest reply)
        # would drop them for good. The next run reads the whole thread; copies are journalled
        # by the reply's ts, so one made before is adopted, not repeated.
        store.put_side(item_id, ctx.names.chat, found.ts,
                       {"status": post.status, "text": found.text or post.text,
                        "reactions": {}, "latest_reply": ""}, fingerprint="")
