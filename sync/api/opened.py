"""What the face's sibling modules need of an open alliance, as a protocol.

:class:`sync.api.alliance.Alliance` reaches stakeholders, meetings, status and the rest
through the sibling modules of :mod:`sync.api`; they are handed the alliance itself and see it
through :class:`OpenAlliance`, so they need not import ``alliance`` (which imports them when
first used: one direction, no cycle).
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from playbooks.model import ActionRow, Playbook
    from sync.core.config import Config
    from sync.core.services import Connected
    from sync.state.store import StateStore


class OpenAlliance(Protocol):
    """An alliance's config, playbook and rows, its state store and its services."""

    config: Config
    command: str

    @property
    def playbook(self) -> Playbook:
        """The guide's playbook in the alliance's language, fitted to its calendar."""

    @property
    def rows(self) -> list[ActionRow]:
        """The alliance's own action-plan rows."""

    def playbook_in(self, language: str | None) -> Playbook:
        """The alliance's playbook in ``language`` (for words said in another language)."""

    def store(self, *, lock: bool = False, bind: bool = False, required: bool = False,
              sandbox: bool | None = None) -> AbstractContextManager[StateStore]:
        """The alliance's state store, read-only unless ``lock``."""

    def writing(self, *, bind: bool = False, required: bool = False,
                sandbox: bool | None = None) -> AbstractContextManager[StateStore]:
        """The state store under the alliance's lock."""

    def connect(self, services: Sequence[str] = ..., *,
                sandbox: bool | None = None) -> AbstractContextManager[Connected]:
        """The connectors of ``services``."""
