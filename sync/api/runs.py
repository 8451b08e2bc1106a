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
    set_aside: Path | None = None
    embedded_sandbox: bool = False  # the run's own sandbox, stopped with it
