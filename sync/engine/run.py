"""``mcm-sync sync``: keep every item's status in step between the hub, the board and the chat.

One run is read -> plan -> apply (pip-tools' ``diff()``/``sync()``): :mod:`sync.engine.read`
reads the state view and what changed remotely, :func:`sync.engine.plan.plan_sync` decides
everything as a pure function, and :mod:`sync.engine.apply` carries the plan out with every
create and append journalled. Bookmarks move only when the whole run succeeded, so a failed or
killed run is simply repeated: reads are at-least-once, updates are absolute, and appends are
made once per identity token.

``sync --dry-run`` is the same read and the same plan, printed (:func:`preview`): there is no
second implementation of the decisions.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from connectors.base import ChatMessage
from sync.engine.actions import SyncPlan
from sync.engine.channel.spread import ChannelRead, sweep_bookmark
from sync.engine.model import StateView, SyncContext, SyncResult, quiet_fingerprint
from sync.engine.read import RemoteChanges, due_for_full, prepare, read, read_changes, state_view
from sync.engine.texts import WHERE

if TYPE_CHECKING:  # the apply layer is imported only by a run that plans
    from sync.engine.writes.appends import Rest

__all__ = ["SyncResult", "due_for_full", "plan_run", "prepare", "preview", "run_sync"]


QUIET = ("sync", "quiet")  # the bookmark: the fingerprint of the last plan found empty


@dataclass
class RunPlan:
    """A run's plan and, for an incremental run that read no board action but our own
    echoes, the fingerprint of its inputs (recorded when the plan turns out empty); ``quiet``:
    planning was skipped."""

    plan: SyncPlan
    fingerprint: str | None = None
    quiet: bool = False
    # What the fingerprint is taken over besides the state's revision (to take it again
    # after a run that only moved reply marks).
    after: str | None = None
    history: tuple[ChatMessage, ...] = ()
    # A distributed Slack app's read of a stretch of the channel (None: all of it).
    channel: ChannelRead | None = None


def plan_run(ctx: SyncContext, *, full: bool = False,
             leave: frozenset[str] = frozenset()) -> RunPlan:
    """Read the state and both services, and plan the run (nothing written anywhere).

    The remote changes are read first. An incremental run with no board action since the
    bookmark whose fingerprint (state revision, facts, channel as read) is the one recorded
    after the last empty plan is *quiet*: the plan is empty without reading the state or
    planning, which is most scheduled runs of most alliances.

    ``leave``: items the run plans nothing for (:func:`sync.engine.plan.plan_sync`); the
    bookmark stays before the first board action on one of their cards, so the next run
    reads those actions again (reads are at-least-once: what was done is not done again),
    and an empty plan's fingerprint is not kept (the run did not plan everything).
    """
    settings, store = ctx.settings, ctx.store
    revision = store.revision()  # before the reads: a write after it makes the next run plan
    changes = read_changes(ctx, full=full)
    fingerprint = None
    after: str | None = None
    # Our own writes coming back are skipped by ``read`` (our comments included): the run
    # plans exactly what a run reading nothing after the last of them would, so its empty
    # plan's fingerprint is recorded for that bookmark and the very next run can be quiet.
    echoes = all(a.member_id == settings.me_board for a in changes.actions)
    if not full and echoes and not leave:
        after = changes.actions[-1].id if changes.actions else changes.since
        fingerprint = quiet_fingerprint(settings, revision, after, changes.history)
        if not changes.actions and fingerprint == store.get_bookmark(*QUIET):
            return RunPlan(SyncPlan(full=False, bookmark=changes.since), fingerprint, True,
                           channel=changes.channel)
    # Imported here: a quiet run, most scheduled runs, neither plans nor applies.
    from sync.engine.plan import plan_sync

    view = state_view(store, settings.config.alliance.item_prefix, ctx.names)
    snap = read(ctx, view, changes, full=full)
    plan = plan_sync(settings, view, snap, leave)
    if leave:
        plan.bookmark = _held_bookmark(view, changes, leave, plan.bookmark, settings.me_board)
    if fingerprint is None:
        return RunPlan(plan, channel=changes.channel)
    return RunPlan(plan, fingerprint, after=after, history=tuple(changes.history),
                   channel=changes.channel)


def _held_bookmark(view: StateView, changes: RemoteChanges, leave: frozenset[str],
                   bookmark: str | None, me: str) -> str | None:
    """The bookmark a run that left ``leave`` alone may move to: just before the first board
    action of a member (``me``'s own writes coming back are no change) on a left item's card
    (the action before it, or where the run started)."""
    cards = {side.remote_id for item_id in leave
             if (side := view.side(item_id, "board")) is not None}
    for index, action in enumerate(changes.actions):
        if action.card_id in cards and action.member_id != me:
            return changes.actions[index - 1].id if index else changes.since
    return bookmark


def run_sync(ctx: SyncContext, *, full: bool = False,
             leave: frozenset[str] = frozenset(),
             later: Callable[[Rest], None] | None = None) -> SyncResult:
    """One sync: read, plan, apply, then move the bookmarks. ``leave``: items another
    writer is carrying a decision out for, left alone (:func:`plan_run`); ``later``: takes
    what of a new item can wait, its note (:func:`sync.engine.apply.apply_plan`)."""
    result = SyncResult(run_id=uuid.uuid4().hex, full=full)
    planned = plan_run(ctx, full=full, leave=leave)
    result.quiet = planned.quiet
    if planned.quiet:
        _keep_channel_read(ctx, planned, result)  # a quiet page read is a page taken
        return result
    from sync.engine.apply import apply_plan

    plan = planned.plan
    apply_plan(ctx, plan, result, later)
    # Cursors last: only a run that got here without an exception moves them.
    if plan.bookmark:
        ctx.store.set_bookmark(ctx.names.board, "actions", plan.bookmark)
    if full:
        ctx.store.set_bookmark(ctx.names.board, "full", ctx.settings.now.isoformat())
    # An empty plan's fingerprint lets the next run with the same inputs skip planning; any
    # other plan clears it (what it wrote changes the inputs anyway).
    quiet = (planned.fingerprint or "") if plan.is_empty else ""
    if planned.fingerprint and plan.only_marks:
        # The run read our own notes back and only moved the marks past them: the state it
        # leaves (this revision) with the same remote inputs plans nothing either.
        quiet = quiet_fingerprint(ctx.settings, ctx.store.revision(), planned.after,
                                  planned.history)
    if quiet or ctx.store.get_bookmark(*QUIET):
        ctx.store.set_bookmark(*QUIET, quiet)
    _keep_channel_read(ctx, planned, result)
    return result


def _keep_channel_read(ctx: SyncContext, planned: RunPlan, result: SyncResult) -> None:
    """A distributed app's run: where the reconciliation goes on next run (kept only by a run
    that got this far), and what this run read, in its result."""
    channel = planned.channel
    if channel is None:
        return
    if channel.sweep is not None:
        ctx.store.set_bookmark(*sweep_bookmark(ctx.names), channel.sweep.dump())
    result.slack_read = channel.as_dict()


def preview(ctx: SyncContext, *, full: bool = False) -> SyncResult:
    """What a sync would do (``sync --dry-run``): the same reads and plan, no writes.

    ``created_items`` lists what would become new items (cards members added, new action-plan
    rows); ``writes`` counts the cards and messages that would be made, under the services'
    names (``trello.create_card``) as a run counts them.
    """
    plan = plan_run(ctx, full=full).plan
    result = SyncResult(run_id="dry-run", full=full)
    board, chat = ctx.names.board, ctx.names.chat
    for new in plan.new_items:
        result.created_items.append(f"card {new.title!r} ({WHERE.get(board, board)})"
                                    if new.card_id
                                    else f"row {new.key.removeprefix('action:')!r} (action plan)")
    result.changes = plan.changes()
    result.conflicts = plan.conflicts()
    made_cards = sum(1 for card in plan.cards if card.adopt is None)
    if made_cards:
        result.count(f"{board}.create_card", made_cards)
    posts = sum(1 for post in plan.messages if post.adopt is None)
    if posts:
        result.count(f"{chat}.post_message", posts)
    for kind, count in ((f"{board}.update_card", sum(1 for p in plan.items if p.card_changes)),
                        (f"{chat}.update_message",
                         sum(1 for p in plan.items if p.message_text is not None)),
                        (f"{chat}.thread_reply", sum(len(p.notes) for p in plan.items)),
                        (f"{board}.add_comment", sum(len(p.comments) for p in plan.items)),
                        (f"{chat}.delete_message", len(plan.duplicates)
                         + sum(len(p.repeated_notes) for p in plan.items))):
        if count:
            result.count(kind, count)
    return result
