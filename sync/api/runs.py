"""A sync run's result and the words its summary says them with.

``Alliance.sync()`` returns a :class:`SyncOutcome` (the engine's result, the digest, the
reminders, the audience push); ``preview_sync()`` a :class:`SyncResult`. A conflict is a
:class:`Conflict`; :data:`WHERE` names the places a change came from as the coordinator
calls them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sync.core.plural import plural
from sync.engine.decide import Conflict
from sync.engine.texts import WHERE

if TYPE_CHECKING:
    from sync.engine.run import SyncResult as SyncResult
    from sync.runner import SyncOutcome as SyncOutcome

__all__ = ["WHERE", "Conflict", "plural"]
