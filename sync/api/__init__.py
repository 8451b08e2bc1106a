"""The library face of mcm-sync: open an alliance from its config, then work with it.

In the manner of sqlite-utils' ``Database``: one object that holds what a run needs and hands
out the state store and the connected services. The command line only parses, calls this and
prints; scripts and tests use it the same way::

    alliance = Alliance.open("mcm-sync.yaml")
    alliance.validate()                     # every input checked, nothing remote yet
    print(alliance.bootstrap().result.links)
    print(alliance.sync().result.changes)
    print(alliance.status().as_dict())      # what `mcm-sync status --json` prints
    alliance.stakeholders.push()            # the Mailchimp audience in step
    alliance.meetings.schedule()            # the plenary series

Every input (config, playbook, action-plan file) is read and checked by
:meth:`Alliance.validate` before the first remote call of any operation, so a bad input never
leaves half a bootstrap.

The face by concept, one module each: :mod:`sync.api.alliance` (the :class:`Alliance`, its
store, services, bootstrap, sync, doctor, go-live), :mod:`sync.api.stakeholders` (the
database, push, forget, newsletters), :mod:`sync.api.meetings` (meetings, minutes, report),
:mod:`sync.api.status` (status, log, resolve), :mod:`sync.api.documents` (validate's
warnings, templates), :mod:`sync.api.golive` (the store moved to the real services),
:mod:`sync.api.config` (the config), :mod:`sync.api.runs` (the runs' results and words),
:mod:`sync.api.services` (the services, the sandbox, doctor's report), :mod:`sync.api.inputs`
(checks of typed values).

This package itself stays light (``mcm-sync --version`` imports it): :class:`Alliance` is
imported on first use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from sync.core.env_file import load_env_file
from sync.state import SCHEMA_VERSION

if TYPE_CHECKING:
    from sync.api.alliance import Alliance
    from sync.api.runs import BootstrapRun
    from sync.realtime.hosted import WorkOutcome

__all__ = ["SCHEMA_VERSION", "Alliance", "BootstrapRun", "WorkOutcome", "load_env_file"]

# Imported when first asked for: they bring SQLAlchemy, the engine and the playbook models.
_LAZY = {"Alliance": "sync.api.alliance", "BootstrapRun": "sync.api.runs",
         "WorkOutcome": "sync.realtime.hosted"}


def __getattr__(name: str) -> Any:
    """``from sync.api import Alliance``: the alliance module, imported on first use."""
    if name not in _LAZY:
        raise AttributeError(f"module 'sync.api' has no attribute {name!r}")
    return getattr(importlib.import_module(_LAZY[name]), name)
