"""What the long-running services use of an alliance: a worker's turn, typed by role.

``mcm-sync worker`` (:mod:`sync.fleet`) and ``mcm-sync serve`` (:mod:`sync.serve`) stand
above this floor and below the library face (:mod:`sync.api`), which builds them: they are
handed an :class:`AllianceFactory` (``sync.api.Alliance`` is one) and use only what
:class:`HostedAlliance` names of what it makes. The turn both take is
:meth:`HostedAlliance.work`, whose result, :class:`WorkOutcome`, lives here so the face that
returns it and the services that read it import one type from a floor below both of them.

It stands in :mod:`sync.realtime` because the turn is the real-time path's: the queue's drain
(:func:`sync.realtime.process.drain`), then the scheduled sync (:mod:`sync.runner`, a floor
below), and nothing of HTTP or of the job engine.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:  # types only: importing this module must stay light
    from playbooks.model import ActionRow, Playbook
    from sync.core.config import Config
    from sync.realtime.process import Drained
    from sync.runner import SyncOutcome
    from sync.state.store import StateStore


@dataclass
class WorkOutcome:
    """What a worker's turn did: the queue's deliveries, and the sync if one ran."""

    drained: Drained
    sync: SyncOutcome | None = None


class HostedAlliance(Protocol):
    """One alliance as a worker or ``serve`` runs it, turn after turn."""

    config: Config
    # Kept SDK clients between turns (a long-running service), closed by close().
    keep_connections: bool

    @property
    def playbook(self) -> Playbook:
        """The alliance's playbook, fitted to its calendar."""
        ...

    @property
    def rows(self) -> list[ActionRow]:
        """The alliance's own action-plan rows."""
        ...

    def validate(self) -> None:
        """Read and check every input before anything remote."""
        ...

    def store(self, *, bind: bool = False) -> AbstractContextManager[StateStore]:
        """The alliance's state store (``bind``: held to the services it was bootstrapped on)."""
        ...

    def work(self, *, scheduled: bool, sandbox: bool | None = None,
             stopped: Callable[[], bool] = ...) -> WorkOutcome:
        """One turn under the alliance's lock: the waiting deliveries, then (``scheduled``)
        the sync."""
        ...

    def close(self) -> None:
        """Close the connections kept for the next turn."""
        ...


class AllianceFactory(Protocol):
    """Makes the alliance of a config (``sync.api.Alliance`` is one)."""

    def __call__(self, config: Config, command: str = ..., *,
                 keep_connections: bool = ...) -> HostedAlliance:
        """The alliance of ``config``; ``command`` is written into its lock while it writes."""
        ...
