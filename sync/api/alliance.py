"""The alliance: its config, playbook and rows, its state store and its services.

:class:`Alliance` opens an alliance from its config and runs what touches the services:
validate, plan, bootstrap, sync, a worker's turn, doctor, go-live. What the other commands do
(stakeholders, meetings, the report, status, the audit log, resolve) is reached from it too,
through the sibling modules of :mod:`sync.api` (imported when first used).

One writer at a time: every operation that writes remotely or to the state store opens the
store through :meth:`Alliance.writing` (or ``store(lock=True)``), which takes the alliance's
lock (:mod:`sync.state.lock`); a second writer is refused (exit 2) naming the holder's pid,
command and start time. The state file itself is checked before it is opened
(:mod:`sync.state.presence`): an empty or foreign file is refused, never taken as a new store.
On PostgreSQL (``state.url``) the lock is an advisory lock on the alliance's schema and a
schema that does not exist yet is "no state yet".
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from playbooks.model import ActionRow, Playbook
from sync.actionplan.calendar import alliance_playbook, fitted_playbook_key, item_keys
from sync.api.runs import BootstrapRun, ProgressFn, alliance_rows
from sync.audience.store import StakeholderStore
from sync.core.config import Config, default_config_path, load_config
from sync.core.errors import StateError, UserError
from sync.core.services import ALL_SERVICES, SERVICES, Connected, connect, sandbox_data_dir
from sync.engine.model import inputs_digest
from sync.engine.run import SyncResult, prepare, preview
from sync.runner import SyncOutcome, sync_once
from sync.state.binding import check_binding
from sync.state.db import DatabaseError
from sync.state.kept.reads import KeptReads
from sync.state.presence import (
    ADOPT_HINT,
    check_integrity,
    check_state_file,
    check_state_schema,
    damage,
    damaged_database,
    schema_exists,
    set_aside,
)
from sync.state.store import StateStore

if TYPE_CHECKING:  # imported where used: a sync needs neither bootstrap, doctor nor serve
    from sync.api.meetings import Meetings
    from sync.api.stakeholders import Newsletters, Stakeholders
    from sync.api.status import LogEntry, Status
    from sync.bootstrap.run import BootstrapResult
    from sync.doctor.report import DoctorReport
    from sync.engine.conflicts import Resolution
    from sync.realtime.hosted import WorkOutcome
    from sync.state.transfer import GoLive

class Alliance:
    """One alliance: its config, playbook and action-plan rows, its state and its services."""

    def __init__(self, config: Config, command: str = "mcm-sync", *,
                 keep_connections: bool = False) -> None:
        self.config = config
        # Written into the lock file while this alliance writes, so a second writer is told.
        self.command = command
        # A worker runs the same alliance every few seconds: its SDK clients (and, on the
        # sandbox, the server lookup and issued credentials) are made once and kept until a
        # run fails or :meth:`close`; a one-off command connects afresh.
        self.keep_connections = keep_connections
        # Past the bound on the number of items (``sync.max_items``): --allow-large.
        self.allow_large = False
        self._validated = False  # validate() passed (its inputs are cached properties)
        self._kept: dict[tuple[tuple[str, ...], bool | None], tuple[ExitStack, Connected]] = {}
        # A worker's next run of the alliance starts from what its last one read of the state
        # store, while nobody wrote the store since (``sync.state.kept``).
        self._kept_reads = KeptReads() if keep_connections else None

    @classmethod
    def open(cls, path: Path | str | None = None) -> Alliance:
        """The alliance of the config at ``path`` (default: ./mcm-sync.yaml or the env's)."""
        return cls(load_config(path or default_config_path()))

    @cached_property
    def playbook(self) -> Playbook:
        """The guide's playbook in the alliance's language, fitted to its calendar."""
        return alliance_playbook(self.config)

    def playbook_in(self, language: str | None) -> Playbook:
        """The alliance's playbook in ``language`` (its own if None or the same): the words
        (status names, step titles) the coordinator reads in another language."""
        if language is None or language == self.playbook.language:
            return self.playbook
        return alliance_playbook(self.config, language)

    @cached_property
    def rows(self) -> list[ActionRow]:
        """The alliance's own action-plan rows (InputError naming file and row if bad), kept
        beside the state store under the key of its fitted playbook (:attr:`playbook`)."""
        return alliance_rows(self.config, self.playbook, fitted_playbook_key(self.config))

    @cached_property
    def inputs(self) -> str:
        """The digest of config, playbook and rows the quiet check compares (computed once:
        the playbook's text is long, and a worker's alliance object lives across runs)."""
        return inputs_digest(self.config, self.playbook, self.rows)

    def validate(self) -> None:
        """Read and check every input a run needs; raises before anything remote is touched.

        The number of items is bounded (``sync.max_items``, unless :attr:`allow_large`): each
        is a card and a message, and a file of thousands of rows is more likely a mistake
        than an alliance.
        """
        if self._validated:
            return  # config, playbook and rows are read once per object (a worker's lives on)
        _ = self.playbook, self.rows
        count = len(item_keys(self.playbook, self.rows))
        limit = self.config.sync.max_items
        if count > limit and not self.allow_large:
            where = self.config.action_plan or "the playbook"
            raise UserError(
                f"{where}: {len(self.rows):,} action-plan rows make {count:,} items (a card "
                f"and a message each), over sync.max_items ({limit:,})",
                hint="check the file; if the alliance really has that many, raise "
                "sync.max_items in the config or pass --allow-large")
        self._validated = True

    @contextmanager
    def store(self, *, lock: bool = False, bind: bool = False, required: bool = False,
              sandbox: bool | None = None) -> Iterator[StateStore]:
        """The alliance's state store; ``lock`` waits for no other writer and lets none start.

        An empty or foreign state file is refused (StateError naming it, exit 2); with
        ``required`` a missing one too ("no state yet: run mcm-sync bootstrap"). A store of
        another alliance, or made against the other kind of services than the config's (or
        ``sandbox``'s) is refused too (:mod:`sync.state.binding`); a writer (``lock`` or
        ``bind``) binds a store that is not bound yet.
        """
        url = self.config.state_url
        if url:
            check_state_schema(url, self.config.state_schema, required=required)
        else:
            check_state_file(self.config.state_path, required=required)
            check_integrity(self.config.state_path)
        kept = self._kept_reads if lock else None
        try:
            store = StateStore.open(self.config.state_location, lock=lock, command=self.command,
                                    schema=self.config.state_schema, kept=kept)
        except BaseException:
            if kept is not None:
                kept.drop()
            raise
        try:
            self.check_binding(store, write=lock or bind, sandbox=sandbox)
            yield store
        except BaseException as exc:
            if kept is not None:
                kept.drop()  # a failed run: the next one reads everything afresh
            if not isinstance(exc, DatabaseError):
                raise
            # Only if the state file is the damaged one.
            found = damage(self.config.state_path) if not url and damaged_database(exc) else ""
            if not found:
                raise
            raise StateError(f"{self.config.state_path}: state store {found}",
                             hint=ADOPT_HINT) from exc
        finally:
            store.close()

    def check_binding(self, store: StateStore, *, write: bool,
                      sandbox: bool | None = None) -> None:
        """Refuse a store of another alliance or of the other services (exit 2, with the fix);
        with ``write``, bind a store that is not bound yet."""
        config = self.config
        check_binding(store, slug=config.alliance.slug, name=config.alliance.name,
                      prefix=config.alliance.item_prefix,
                      sandbox=config.sandbox if sandbox is None else sandbox, write=write,
                      sandbox_dir=None if config.state_url else sandbox_data_dir(config))

    @contextmanager
    def writing(self, *, bind: bool = False, required: bool = False,
                sandbox: bool | None = None) -> Iterator[StateStore]:
        """The state store under the alliance's lock: for every command that writes.

        A second writer (another command, another process) is refused at once with exit 2,
        naming who holds the lock: pid, command and since when.
        """
        with self.store(lock=True, bind=bind, required=required, sandbox=sandbox) as store:
            yield store

    @contextmanager
    def connect(self, services: Sequence[str] = ALL_SERVICES, *,
                sandbox: bool | None = None) -> Iterator[Connected]:
        """The connectors of ``services``, on the real services or the sandbox."""
        self.validate()
        if not self.keep_connections:
            with connect(self.config, tuple(services), sandbox=sandbox) as connected:
                yield connected
            return
        key = (tuple(services), sandbox)
        if key not in self._kept:
            stack = ExitStack()
            self._kept[key] = stack, stack.enter_context(
                connect(self.config, key[0], sandbox=sandbox))
        try:
            yield self._kept[key][1]
        except BaseException:
            # Refused credentials, a sandbox gone, a server moved: the next run reconnects.
            self.close()
            raise

    def close(self) -> None:
        """Close the connections kept for the next run (see ``keep_connections``)."""
        kept, self._kept = self._kept, {}
        for stack, _ in kept.values():
            stack.close()
        if self._kept_reads is not None:
            self._kept_reads.drop()  # and its store's connection

    def go_live(self, *, dry_run: bool = False, sandbox: bool | None = None) -> GoLive:
        """Move the state store to the services the config points at (``mcm-sync go-live``):
        keep the alliance's own records, set the old services' ids aside, bind the store.

        Under the alliance's lock (unless ``dry_run``); a full copy of the store is made first.
        No remote call: ``doctor`` and ``bootstrap`` come next.
        """
        from sync.api.golive import go_live

        return go_live(self, dry_run=dry_run, sandbox=sandbox)

    def doctor(self, *, only: Sequence[str] = ALL_SERVICES,
               sandbox: bool | None = None) -> DoctorReport:
        """Read-only checks of the services before going live (``mcm-sync doctor``)."""
        from sync.doctor.run import diagnose

        self.validate()
        with ExitStack() as stack:
            # What serve recorded (the board webhook's id) is read on either backend; with no
            # state yet nothing is created: the doctor only reads.
            # One of another alliance or of the other services is refused before any check
            # (a sandbox board is "not visible" live).
            store = (stack.enter_context(self.store(sandbox=sandbox)) if self.has_state()
                     else None)
            connected = stack.enter_context(self.connect(only, sandbox=sandbox))
            return diagnose(self.config, connected, store)

    def has_state(self) -> bool:
        """Whether the alliance has a state store yet (a state file, or its PostgreSQL schema),
        asked without creating one."""
        if self.config.state_url:
            return schema_exists(self.config.state_url, self.config.state_schema)
        return self.config.state_path.exists()

    def plan(self, *, only: Sequence[str] = ALL_SERVICES,
             sandbox: bool | None = None) -> BootstrapResult:
        """What bootstrap would do, per service, reading only."""
        return self._bootstrap(only, sandbox, dry_run=True, progress=None).result

    def bootstrap(self, *, only: Sequence[str] = ALL_SERVICES, sandbox: bool | None = None,
                  progress: ProgressFn | None = None,
                  adopt: bool = False) -> BootstrapRun:
        """Create what the alliance should have and does not; adopt what exists.

        Under the alliance's lock. ``adopt``: an empty or corrupt state file is set aside
        (renamed ``*.broken-<time>``) and the state rebuilt by adopting what exists remotely;
        without it such a file is refused.
        """
        return self._bootstrap(only, sandbox, dry_run=False, progress=progress, adopt=adopt)

    def _bootstrap(self, only: Sequence[str], sandbox: bool | None, *, dry_run: bool,
                   progress: ProgressFn | None,
                   adopt: bool = False) -> BootstrapRun:
        from sync.bootstrap.run import Services, run_bootstrap

        self.validate()
        path = self.config.state_path
        with ExitStack() as stack:
            aside = None
            if not dry_run:
                stack.enter_context(StateStore.lock(self.config.state_location, self.command,
                                                    schema=self.config.state_schema))
                if adopt and not self.config.state_url and damage(path):
                    aside = set_aside(path)
            store = stack.enter_context(self.store(bind=not dry_run, sandbox=sandbox))
            connected = stack.enter_context(self.connect(only, sandbox=sandbox))
            services = Services(connected.board, connected.chat, connected.audience)
            result = run_bootstrap(self.config, self.playbook, self.rows, services, store,
                                   dry_run=dry_run, progress=progress)
            # The digest's bookmark is the chat service's (the registered one when this
            # bootstrap left the chat out: ``--only trello``).
            chat = (connected.chat.service_name if connected.chat is not None
                    else SERVICES.names(("chat",))[0])
            if aside is not None and store.get_bookmark(chat, "digest") is None:
                # The lost state knew when the last digest went out; the rebuilt one starts
                # the period now rather than posting a digest again at the next sync.
                store.set_bookmark(chat, "digest", dt.datetime.now(dt.UTC).isoformat())
            # An in-process sandbox is gone when the command ends: no page to point at.
            page = "" if connected.embedded else connected.sandbox_url
            return BootstrapRun(result, page, aside, embedded_sandbox=connected.embedded)

    def sync_services(self, store: StateStore) -> tuple[str, ...]:
        """The board and chat services always; the audience service (Mailchimp) when an
        audience exists and has people to get."""
        audience = store.get_resource("mailchimp", "audience", "audience")
        if (audience or self.config.mailchimp.audience_id) and StakeholderStore(store).has_people():
            return SERVICES.names()
        return SERVICES.names(("board", "chat"))

    def _bootstrapped(self, store: StateStore) -> tuple[str, ...]:
        """:meth:`sync_services`, once the store knows the board; StateError before any call.

        A store that only holds local data (stakeholders or minutes imported before the first
        bootstrap) has no board or channel to sync with yet.
        """
        if store.get_resource("trello", "board", "board") is None:
            raise StateError(f"{store.path}: no Trello board in the state yet",
                             hint="run `mcm-sync bootstrap` first (it creates the board, "
                             "channels and audience, or adopts them if they exist)")
        return self.sync_services(store)

    def sync(self, *, full: bool = False, sandbox: bool | None = None,
             progress: ProgressFn | None = None) -> SyncOutcome:
        """One sync run under the alliance's lock: read, decide, apply, digest, reminders."""
        self.validate()
        with self.writing(required=True, sandbox=sandbox) as store, \
                self.connect(self._bootstrapped(store), sandbox=sandbox) as connected:
            return self._sync_once(store, connected, full=full, progress=progress)

    def _sync_once(self, store: StateStore, connected: Connected, *, full: bool = False,
                   progress: ProgressFn | None = None) -> SyncOutcome:
        """The runner's sync with this alliance's inputs, store and connectors."""
        return sync_once(self.config, self.playbook, self.rows,
                         connected.need_board(), connected.need_chat(),
                         store, full=full, audience=connected.audience,
                         progress=progress, inputs=self.inputs)

    def work(self, *, scheduled: bool, sandbox: bool | None = None,
             stopped: Callable[[], bool] = lambda: False) -> WorkOutcome:
        """A worker's turn at the alliance, under its lock: first the deliveries waiting in
        its queue (stored by ``serve`` or ``serve --alliances``), then, if ``scheduled``, the
        sync as :meth:`sync` runs it. The turn ``serve`` and ``mcm-sync worker`` both take;
        ``stopped``: a server stopping ends the drain between batches.

        With nothing waiting and nothing scheduled, no service is contacted.
        """
        from sync.realtime.hosted import WorkOutcome
        from sync.realtime.process import Drained, drain
        from sync.state.events import EventQueue

        self.validate()
        with self.writing(required=True, sandbox=sandbox) as store:
            queue = EventQueue.over(store)
            waiting = bool(queue.pending(1))
            if not (waiting or scheduled):
                return WorkOutcome(Drained())
            services = self._bootstrapped(store)
            services = services if scheduled else services[:2]  # a drain: Trello and Slack
            with self.connect(services, sandbox=sandbox) as connected:
                drained = Drained()
                if waiting:
                    ctx = prepare(self.config, self.playbook, self.rows,
                                  connected.need_board(), connected.need_chat(), store)
                    drained = drain(ctx, queue, stopped)
                if not scheduled:
                    return WorkOutcome(drained)
                return WorkOutcome(drained, self._sync_once(store, connected))

    def preview_sync(self, *, full: bool = False, sandbox: bool | None = None) -> SyncResult:
        """The same reads and decisions as :meth:`sync`, with nothing written anywhere."""
        self.validate()
        with self.store(required=True, sandbox=sandbox) as store, \
                self.connect(self._bootstrapped(store)[:2], sandbox=sandbox) as connected:
            ctx = prepare(self.config, self.playbook, self.rows,
                          connected.need_board(), connected.need_chat(), store)
            return preview(ctx, full=full)

    # The other commands' work, by concept in the sibling modules (imported when first used).

    @cached_property
    def stakeholders(self) -> Stakeholders:
        """The stakeholder database and its Mailchimp audience: import, list, export, push,
        forget (:mod:`sync.api.stakeholders`)."""
        from sync.api.stakeholders import Stakeholders

        return Stakeholders(self)

    @cached_property
    def newsletter(self) -> Newsletters:
        """Progress newsletters from the alliance's state: previews and Mailchimp drafts."""
        from sync.api.stakeholders import Newsletters

        return Newsletters(self)

    @cached_property
    def meetings(self) -> Meetings:
        """The plenary meetings, their minutes, the report and the profile
        (:mod:`sync.api.meetings`)."""
        from sync.api.meetings import Meetings

        return Meetings(self)

    def status(self, *, step: str | None = None, owner: str | None = None,
               overdue: bool = False, today: dt.date | None = None) -> Status:
        """The action plan's state from the store (``mcm-sync status``; no remote call)."""
        from sync.api.status import status

        return status(self, step=step, owner=owner, overdue=overdue, today=today)

    def log(self, *, number: str | None = None, limit: int = 200) -> list[LogEntry]:
        """The audit trail (``mcm-sync log``): every item's, or item ``number``'s."""
        from sync.api.status import log

        return log(self, number=number, limit=limit)

    def resolve(self, number: str, take: str, field: str | None = None) -> Resolution:
        """Decide a waiting conflict of item ``number`` (``mcm-sync resolve``)."""
        from sync.api.status import resolve

        return resolve(self, number, take, field)
