"""Bootstrap: observe, plan, then apply the plan with every create journalled first.

``observe()`` reads what exists (a handful of calls, whatever the size of the alliance),
``sync.bootstrap_plan.plan_bootstrap`` decides (pure), and :func:`apply_plan` makes it so.
Each create is preceded by an open journal intent carrying the object's identity token and
followed by closing it with the remote id, in the state store. A run that dies in between is
simply run again: the object is found by its token or name and adopted, never duplicated.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from connectors.base import MailchimpAPI, SlackAPI, TrelloAPI, TrelloCard
from playbooks.messages import messages
from playbooks.model import ActionRow, Playbook
from sync.bootstrap_plan import SERVICES, Change, Observed, Plan, find_board, plan_bootstrap
from sync.config import Config
from sync.desired import DesiredCard, DesiredState, desired_state, item_keys, reaction_legend
from sync.identity import item_metadata, token_in_metadata, with_marker
from sync.state import StateStore

T = TypeVar("T")
ProgressFn = Callable[[Change], None]


@dataclass
class Services:
    """The connectors of one run; a service left out (``--only``) is None."""

    trello: TrelloAPI | None = None
    slack: SlackAPI | None = None
    mailchimp: MailchimpAPI | None = None

    def selected(self) -> tuple[str, ...]:
        """Names of the services present, in the fixed order."""
        return tuple(name for name in SERVICES if getattr(self, name) is not None)


@dataclass
class BootstrapResult:
    """What a bootstrap did, for the summary and ``--json``."""

    plan: Plan
    links: dict[str, str] = field(default_factory=dict)
    unresolved: list[str] = field(default_factory=list)
    applied: dict[str, int] = field(default_factory=dict)

    def creates(self) -> int:
        """How many objects were created remotely."""
        return self.applied.get("create", 0)


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
    if services.trello is not None:
        boards = tuple(services.trello.find_boards())
        observed["boards"] = boards
        board = find_board(boards, desired.board.token)
        if board is not None:
            observed["board"] = services.trello.snapshot(board.id)
    if services.slack is not None:
        channels = tuple(services.slack.list_channels())
        observed["channels"] = channels
        observed["uninvited"] = tuple(
            email for email in desired.invite_emails
            if store.get_resource("slack", "invited", email) is None
        )
        general = next((c for c in channels if c.name == desired.channels[0].name), None)
        if general is not None:
            welcome = next((m for m in services.slack.history(general.id)
                            if token_in_metadata(m.metadata) == desired.welcome_token), None)
            observed["welcome_posted"] = welcome is not None
            # Recorded only once pinned: a run killed in between left it posted, not pinned.
            if welcome is not None and store.get_resource("slack", "message", "welcome") is None:
                observed["welcome_unpinned"] = welcome.ts
    if services.mailchimp is not None:
        audiences = tuple(services.mailchimp.list_audiences())
        observed["audiences"] = audiences
        wanted = desired.audience
        found = next((a for a in audiences if a.id == wanted.adopt_id
                      or (not wanted.adopt_id and a.name == wanted.name)), None)
        if found is not None:
            observed["merge_fields"] = frozenset(services.mailchimp.merge_fields(found.id))
            observed["tags"] = frozenset(services.mailchimp.tags(found.id))
    return Observed(**observed)


class _Journal:
    """Journals each create before the call and closes it after (the thin effect layer)."""

    def __init__(self, store: StateStore, run_id: str) -> None:
        self.store = store
        self.run_id = run_id

    def create(self, service: str, operation: str, token: str, call: Callable[[], T],
               remote_id: Callable[[T], str], item_id: str | None = None) -> T:
        intent = self.store.journal_open(self.run_id, service, operation, token, item_id=item_id)
        try:
            result = call()
        except BaseException:
            # Left "failed", not "done": the next run observes and adopts if it did happen.
            self.store.journal_close(intent, "failed")
            raise
        self.store.journal_close(intent, "done", remote_id(result))
        return result


@dataclass
class _Context:
    """Mutable facts gathered while applying (remote ids of what later steps need)."""

    board_id: str = ""
    board_url: str = ""
    lists: dict[str, str] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    trello_members: dict[str, str] = field(default_factory=dict)
    card_urls: dict[str, str] = field(default_factory=dict)
    channels: dict[str, str] = field(default_factory=dict)
    audience_id: str = ""


def apply_plan(config: Config, book: Playbook, desired: DesiredState, observed: Observed,
               plan: Plan, services: Services, store: StateStore, *,
               progress: ProgressFn | None = None) -> BootstrapResult:
    """Carry out ``plan``; returns what was done, links, and people who could not be mapped."""
    from sync.bootstrap_apply import apply_mailchimp, apply_slack, apply_trello

    run_id = uuid.uuid4().hex
    journal = _Journal(store, run_id)
    result = BootstrapResult(plan=plan)
    ctx = _Context()
    tick = progress or (lambda change: None)
    if services.trello is not None:
        apply_trello(config, desired, observed, plan, services.trello, store, journal, ctx,
                     result, tick)
    if services.slack is not None:
        apply_slack(config, book, desired, observed, plan, services.slack, store, journal, ctx,
                    result, tick)
    if services.mailchimp is not None:
        apply_mailchimp(desired, observed, plan, services.mailchimp, store, journal, ctx, result,
                        tick)
    return result


def welcome_text(config: Config, book: Playbook, desired: DesiredState, board_url: str,
                 charter_url: str) -> str:
    """The pinned welcome message of the general channel."""
    text = messages(book.language)
    return text["welcome"].format(
        alliance=config.alliance.name, board_url=board_url or "-", charter=charter_url or "-",
        actions_channel=desired.channels[1].name, legend=reaction_legend(config, book),
    )


def card_description(card: DesiredCard) -> str:
    """A card's description: its body, then our marker line with number and token."""
    return with_marker(card.body, card.token, card.number)


def item_base(card: DesiredCard | TrelloCard, status: str) -> dict[str, Any]:
    """The normalised value recorded as agreed after bootstrap (the sync's three-way base)."""
    due = card.due.isoformat() if getattr(card, "due", None) else None
    return {"status": status, "due": due}


def run_bootstrap(config: Config, book: Playbook, rows: Sequence[ActionRow], services: Services,
                  store: StateStore, *, dry_run: bool = False,
                  progress: ProgressFn | None = None) -> BootstrapResult:
    """Plan and (unless ``dry_run``) apply the bootstrap of the selected services."""
    numbers = item_numbers(store, config, book, rows, persist=not dry_run)
    desired = desired_state(config, book, rows, numbers)
    observed = observe(services, desired, store)
    plan = plan_bootstrap(desired, observed, services.selected())
    if dry_run:
        return BootstrapResult(plan=plan)
    return apply_plan(config, book, desired, observed, plan, services, store, progress=progress)


__all__ = ["BootstrapResult", "Services", "item_metadata", "run_bootstrap"]
