"""The results of an alliance's runs, and the words a sync's summary says them with.

``Alliance.bootstrap()`` returns a :class:`BootstrapRun`; ``Alliance.sync()`` a
:class:`SyncOutcome` (the engine's result, the digest, the reminders, the audience push);
``preview_sync()`` a :class:`SyncResult`. A conflict is a :class:`Conflict`; :data:`WHERE`
names the places a change came from as the coordinator calls them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from playbooks import load_action_plan
from sync.core.kept import kept_folder
from sync.core.kept.rows import read_rows, rows_key, write_rows
from sync.core.plural import plural
from sync.engine.decide import Conflict
from sync.engine.texts import WHERE

if TYPE_CHECKING:
    from playbooks.model import ActionRow, Playbook
    from sync.bootstrap.run import BootstrapResult
    from sync.core.config import Config
    from sync.engine.run import SyncResult as SyncResult
    from sync.runner import SyncOutcome as SyncOutcome

__all__ = ["WHERE", "BootstrapRun", "Conflict", "ProgressFn", "alliance_rows", "plural"]

# How a long run reports: done, total, what it is doing.
ProgressFn = Callable[[int, int, str], None]


def alliance_rows(config: Config, book: Playbook,
                  playbook_key: str | None = None) -> list[ActionRow]:
    """The rows of the config's ``action_plan`` file (none without one); InputError if bad.

    ``playbook_key``: the key ``book`` is kept under when it is the alliance's fitted playbook
    (:func:`sync.actionplan.calendar.fitted_playbook_key`); the rows read with it are then
    kept beside the state store too, and read back while the file stays the same
    (:mod:`sync.core.kept.rows`).
    """
    if not config.action_plan:
        return []
    plan = config.resolve_path(config.action_plan)
    folder = kept_folder(config) if playbook_key is not None else None
    key = rows_key(plan, playbook_key) if folder is not None and playbook_key else None
    if folder is not None and key is not None:
        kept = read_rows(folder, key)
        if kept is not None:
            return kept
    rows = list(load_action_plan(plan, book, config.people).rows)
    if folder is not None and key is not None:
        write_rows(folder, key, rows)
    return rows


@dataclass(frozen=True)
class BootstrapRun:
    """A bootstrap's result and, on the sandbox, the address of its page."""

    result: BootstrapResult
    sandbox_url: str = ""
    set_aside: Path | None = None
    embedded_sandbox: bool = False  # the run's own sandbox, stopped with it
