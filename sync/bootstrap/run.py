"""Bootstrap: observe, plan, then apply the plan with every create journalled first.

``observe()`` reads what exists (a handful of calls, whatever the size of the alliance),
``sync.bootstrap.plan.plan_bootstrap`` decides (pure), and :func:`apply_plan` makes it so.
Each create is preceded by an open journal intent carrying the object's identity token and
followed by closing it with the remote id, in the state store. A run that dies in between is
simply run again: the object is found by its token or name and adopted, never duplicated.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from connectors.identity import item_metadata, token_in_metadata
from playbooks.model import ActionRow, Playbook
from sync.actionplan.calendar import item_keys, meeting_calendar
from sync.bootstrap.apply import apply_mailchimp, apply_slack, apply_trello
from sync.bootstrap.desired import DesiredState, desired_state
from sync.bootstrap.plan import Change, Observed, Plan, find_board, plan_bootstrap
from sync.bootstrap.results import ApplyContext, BootstrapResult, Services
from sync.core.config import Config
from sync.plenary.meetings import stored_adjustments
from sync.state.journal import Journal
from sync.state.store import StateStore

T = TypeVar("T")
# (done, total, what): what in words ("Trello card FRL-3 · Define the region"), not our keys.
ProgressFn = Callable[[int, int, str], None]
_SERVICE_NAMES = {"trello": "Trello", "slack": "Slack", "mailchimp": "Mailchimp"}


def describe(change: Change) -> str:
    """A planned change as a coordinator reads it: the service, the kind, the object's name."""
    name = change.detail or change.key
    return f"{_SERVICE_NAMES.get(change.service, change.service)} {change.kind.replace('_', ' ')}" \
        f" {name}"


def item_numbers(store: StateStore, config: Config, book: Playbook,
                 rows: Sequence[ActionRow], *, persist: bool) -> dict[str, str]:
    """Human numbers for every item: existing ones from the store, new ones allocated.

    With ``persist=False`` (plan, dry run) nothing is written: new numbers are only predicted.
    A number handed out is recorded against its key at once (resource ``hub/number``): a run
    killed before the item was recorded gets the same number again, so the card it may
    already have made (its name and marker carry the number) still matches.
    """
    prefix = config.alliance.item_prefix
    numbers: dict[str, str] = {}
    predicted = store.peek_item_number(prefix)
    for key in item_keys(book, rows):
        item = store.get_item_by_key(key)
        reserved = store.get_resource("hub", "number", key) if item is None else None
        if item is not None:
            numbers[key] = item.number
        elif reserved is not None:
            numbers[key] = str(reserved.remote_id)
        elif persist:
            with store.transaction():  # handed out and recorded together, or neither
                numbers[key] = store.next_item_number(prefix)
                store.put_resource("hub", "number", key, numbers[key])
        else:
            numbers[key] = f"{prefix}-{predicted}"
            predicted += 1
    return numbers


def observe(services: Services, desired: DesiredState, store: StateStore) -> Observed:
    """Read what exists remotely for the selected services (read-only)."""
    observed: dict[str, Any] = {}
    if services.board is not None:
        boards = tuple(services.board.find_boards())
        observed["boards"] = boards
        board = find_board(boards, desired.board.token)
        if board is not None:
            observed["board"] = services.board.snapshot(board.id)
    if services.chat is not None:
        channels = tuple(services.chat.list_channels())
        observed["channels"] = channels
        observed["uninvited"] = tuple(
            email for email in desired.invite_emails
            if store.get_resource("slack", "invited", email) is None
        )
        general = next((c for c in channels if c.name == desired.channels[0].name), None)
        if general is not None:
            welcome = next((m for m in services.chat.history(general.id)
                            if token_in_metadata(m.metadata) == desired.welcome_token), None)
            observed["welcome_posted"] = welcome is not None
            # Recorded only once pinned: a run killed in between left it posted, not pinned.
            if welcome is not None and store.get_resource("slack", "message", "welcome") is None:
                observed["welcome_unpinned"] = welcome.ts
    if services.audience is not None:
        audiences = tuple(services.audience.list_audiences())
        observed["audiences"] = audiences
        wanted = desired.audience
        found = next((a for a in audiences if a.id == wanted.adopt_id
                      or (not wanted.adopt_id and a.name == wanted.name)), None)
        if found is not None:
            observed["merge_fields"] = frozenset(services.audience.merge_fields(found.id))
            observed["tags"] = frozenset(services.audience.tags(found.id))
    return Observed(**observed)


def apply_plan(config: Config, book: Playbook, desired: DesiredState, observed: Observed,
               plan: Plan, services: Services, store: StateStore, *,
               progress: ProgressFn | None = None) -> BootstrapResult:
    """Carry out ``plan``; returns what was done, links, and people who could not be mapped."""
    run_id = uuid.uuid4().hex
    journal = Journal(store, run_id)
    result = BootstrapResult(plan=plan)
    ctx = ApplyContext()
    total, done = len(plan.changes), 0

    def tick(change: Change) -> None:
        nonlocal done
        done += 1
        if progress is not None:
            progress(min(done, total), total, describe(change))

    if services.board is not None:
        apply_trello(config, desired, observed, plan, services.board, store, journal, ctx,
                     result, tick)
    if services.chat is not None:
        apply_slack(config, book, desired, observed, plan, services.chat, store, journal, ctx,
                    result, tick)
    if services.audience is not None:
        apply_mailchimp(desired, observed, plan, services.audience, store, journal, ctx, result,
                        tick)
    return result


def run_bootstrap(config: Config, book: Playbook, rows: Sequence[ActionRow], services: Services,
                  store: StateStore, *, dry_run: bool = False,
                  progress: ProgressFn | None = None) -> BootstrapResult:
    """Plan and (unless ``dry_run``) apply the bootstrap of the selected services."""
    numbers = item_numbers(store, config, book, rows, persist=not dry_run)
    # The meeting calendar: a meeting moved before bootstrap gets its card on the new date.
    calendar = meeting_calendar(config, book, stored_adjustments(store),
                                store.list_items(kind="meeting"))
    desired = desired_state(config, book, rows, numbers,
                            {key: when.date for key, when in calendar.items()})
    observed = observe(services, desired, store)
    plan = plan_bootstrap(desired, observed, services.selected())
    if dry_run:
        return BootstrapResult(plan=plan)
    return apply_plan(config, book, desired, observed, plan, services, store, progress=progress)


__all__ = ["BootstrapResult", "Services", "item_metadata", "run_bootstrap"]
