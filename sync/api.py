"""The library face of mcm-sync: open an alliance from its config, then plan, bootstrap, sync.

In the manner of sqlite-utils' ``Database``: one object that holds what a run needs and hands
out the state store and the connected services. The CLI only parses, calls this and prints;
scripts and tests use it the same way::

    alliance = Alliance.open("mcm-sync.yaml")
    alliance.validate()                     # every input checked, nothing remote yet
    print(alliance.bootstrap().result.links)
    print(alliance.sync().result.changes)

Every input (config, playbook, action-plan file) is read and checked by :meth:`validate`
before the first remote call of any operation, so a bad input never leaves half a bootstrap.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from playbooks import load_action_plan, load_playbook
from playbooks.model import ActionRow, Playbook
from sync.audience.store import StakeholderStore
from sync.bootstrap.plan import Change
from sync.bootstrap.run import BootstrapResult, Services, run_bootstrap
from sync.core.config import Config, default_config_path, load_config
from sync.core.services import ALL_SERVICES, Connected, connect
from sync.doctor.report import DoctorReport
from sync.engine.run import SyncResult, prepare, preview
from sync.runner import SyncOutcome, sync_once
from sync.state.store import StateStore

ProgressFn = Callable[[int, int, str], None]


def alliance_rows(config: Config, book: Playbook) -> list[ActionRow]:
    """The rows of the config's ``action_plan`` file (none without one); InputError if bad."""
    if not config.action_plan:
        return []
    return list(load_action_plan(config.resolve_path(config.action_plan), book,
                                 config.people).rows)


@dataclass(frozen=True)
class BootstrapRun:
    """A bootstrap's result and, on the sandbox, the address of its page."""

    result: BootstrapResult
    sandbox_url: str = ""


class Alliance:
    """One alliance: its config, playbook and action-plan rows, its state and its services."""

    def __init__(self, config: Config) -> None:
        self.config = config

    @classmethod
    def open(cls, path: Path | str | None = None) -> Alliance:
        """The alliance of the config at ``path`` (default: ./mcm-sync.yaml or the env's)."""
        return cls(load_config(path or default_config_path()))

    @cached_property
    def playbook(self) -> Playbook:
        """The guide's playbook in the alliance's language."""
        return load_playbook(self.config.alliance.language)

    @cached_property
    def rows(self) -> list[ActionRow]:
        """The alliance's own action-plan rows (InputError naming file and row if bad)."""
        return alliance_rows(self.config, self.playbook)

    def validate(self) -> None:
        """Read and check every input a run needs; raises before anything remote is touched."""
        _ = self.playbook, self.rows

    @contextmanager
    def store(self, *, lock: bool = False, bind: bool = False) -> Iterator[StateStore]:
        """The alliance's state store; ``lock`` waits for no other writer and lets none start."""
        store = StateStore.open(self.config.state_path, lock=lock)
        try:
            if bind:
                store.bind_alliance(self.config.alliance.slug, self.config.alliance.name)
            yield store
        finally:
            store.close()

    @contextmanager
    def connect(self, services: Sequence[str] = ALL_SERVICES, *,
                sandbox: bool | None = None) -> Iterator[Connected]:
        """The connectors of ``services``, on the real services or the sandbox."""
        self.validate()
        with connect(self.config, tuple(services), sandbox=sandbox) as connected:
            yield connected

    def doctor(self, *, only: Sequence[str] = ALL_SERVICES,
               sandbox: bool | None = None) -> DoctorReport:
        """Read-only checks of the services before going live (``mcm-sync doctor``)."""
        from sync.doctor.run import diagnose

        self.validate()
        store = (StateStore.open(self.config.state_path)
                 if self.config.state_path.exists() else None)
        try:
            with self.connect(only, sandbox=sandbox) as connected:
                return diagnose(self.config, connected, store)
        finally:
            if store is not None:
                store.close()

    def plan(self, *, only: Sequence[str] = ALL_SERVICES,
             sandbox: bool | None = None) -> BootstrapResult:
        """What bootstrap would do, per service, reading only."""
        return self._bootstrap(only, sandbox, dry_run=True, progress=None).result

    def bootstrap(self, *, only: Sequence[str] = ALL_SERVICES, sandbox: bool | None = None,
                  progress: Callable[[Change], None] | None = None) -> BootstrapRun:
        """Create what the alliance should have and does not; adopt what exists."""
        return self._bootstrap(only, sandbox, dry_run=False, progress=progress)

    def _bootstrap(self, only: Sequence[str], sandbox: bool | None, *, dry_run: bool,
                   progress: Callable[[Change], None] | None) -> BootstrapRun:
        self.validate()
        with self.store() as store, self.connect(only, sandbox=sandbox) as connected:
            services = Services(connected.trello, connected.slack,  # type: ignore[arg-type]
                                connected.mailchimp)  # type: ignore[arg-type]
            result = run_bootstrap(self.config, self.playbook, self.rows, services, store,
                                   dry_run=dry_run, progress=progress)
            return BootstrapRun(result, connected.sandbox_url)

    def sync_services(self, store: StateStore) -> tuple[str, ...]:
        """Trello and Slack always; Mailchimp when an audience exists and has people to get."""
        audience = store.get_resource("mailchimp", "audience", "audience")
        if (audience or self.config.mailchimp.audience_id) and StakeholderStore(store).people():
            return ("trello", "slack", "mailchimp")
        return ("trello", "slack")

    def sync(self, *, full: bool = False, sandbox: bool | None = None,
             progress: ProgressFn | None = None) -> SyncOutcome:
        """One sync run under the alliance's lock: read, decide, apply, digest, reminders."""
        self.validate()
        with StateStore.lock(self.config.state_path), self.store() as store, \
                self.connect(self.sync_services(store), sandbox=sandbox) as connected:
            return sync_once(self.config, self.playbook, self.rows,
                             connected.trello, connected.slack,  # type: ignore[arg-type]
                             store, full=full, mailchimp=connected.mailchimp,  # type: ignore[arg-type]
                             progress=progress)

    def preview_sync(self, *, full: bool = False, sandbox: bool | None = None) -> SyncResult:
        """The same reads and decisions as :meth:`sync`, with nothing written anywhere."""
        self.validate()
        with self.store() as store, \
                self.connect(("trello", "slack"), sandbox=sandbox) as connected:
            ctx = prepare(self.config, self.playbook, self.rows,
                          connected.trello, connected.slack, store)  # type: ignore[arg-type]
            return preview(ctx, full=full)
