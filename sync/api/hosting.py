"""The face of the long-running services: workers, ``serve``, the front, the Slack manifest.

:mod:`sync.fleet` (the workers) and :mod:`sync.serve` (the webhook endpoints and the front)
stand below the library face and import nothing of it: they are handed an alliance factory
(:class:`sync.realtime.hosted.AllianceFactory`) and use only what
:class:`~sync.realtime.hosted.HostedAlliance` names. This module builds them with
:class:`sync.api.Alliance` as that factory, so the command line (and a script) reaches them
through the face only::

    running = hosting.worker(Path("alliances"), interval=dt.timedelta(minutes=5))
    report = running.run(once=True)         # one cycle: every alliance that is due
    running.close()
    rows = hosting.worker_status(Path("alliances"), None, now)   # `worker status --json`

    with hosting.serve(Alliance.open(), hosting.ServeOptions(port=0)) as service:
        print(service.url)                  # `mcm-sync serve -c`, until the block ends

The services (and their libraries: waitress, procrastinate, psycopg) are imported when first
used, so ``mcm-sync slack manifest`` stays light and ``import sync.api`` lighter still.
"""

from __future__ import annotations

import datetime as dt
import importlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sync.api.alliance import Alliance
    from sync.fleet.outcomes import CycleReport
    from sync.fleet.worker import Worker
    from sync.serve.front import FrontService
    from sync.serve.server import ServeOptions, Service

__all__ = ["CycleReport", "FrontService", "ServeOptions", "Service", "Worker", "alliance_configs",
           "front", "serve", "shared_stores", "slack_manifest", "worker", "worker_status"]

# The services' types, imported when first asked for (``hosting.ServeOptions(...)``).
_LAZY = {"CycleReport": "sync.fleet.outcomes", "Worker": "sync.fleet.worker",
         "FrontService": "sync.serve.front", "ServeOptions": "sync.serve.server",
         "Service": "sync.serve.server"}


def __getattr__(name: str) -> Any:
    """``hosting.ServeOptions`` and the other service types: their module on first use."""
    if name not in _LAZY:
        raise AttributeError(f"module 'sync.api.hosting' has no attribute {name!r}")
    return getattr(importlib.import_module(_LAZY[name]), name)


# -- the workers ---------------------------------------------------------------------------
def worker(folder: Path, *, database: str | None = None,
           interval: dt.timedelta = dt.timedelta(minutes=5), concurrency: int = 4,
           keep_history: dt.timedelta | None = None) -> Worker:
    """A worker for every alliance of ``folder`` (one config each), each run an
    :class:`~sync.api.Alliance`; on PostgreSQL (``database``) one of many sharing the folder,
    the job history keeping finished runs ``keep_history`` (default 6 hours)."""
    from sync.api.alliance import Alliance
    from sync.fleet.jobs import KEEP_HISTORY
    from sync.fleet.worker import Worker

    return Worker(folder, Alliance, database=database, interval=interval,
                  concurrency=concurrency, keep_history=keep_history or KEEP_HISTORY)


def worker_status(folder: Path, database: str | None, now: dt.datetime) -> list[dict[str, object]]:
    """``worker status``: every alliance's last run, next run, lag, waiting deliveries, error."""
    from sync.fleet.status import status_rows

    return status_rows(folder, database, now)


def alliance_configs(folder: Path) -> dict[str, Path]:
    """The alliances of ``folder``: config name (file name without ``.yaml``) -> path."""
    from sync.fleet.folder import alliance_configs as configs

    return configs(folder)


def shared_stores(folder: Path) -> list[tuple[Path, Path]]:
    """Pairs of the folder's configs that name one state store (each needs its own)."""
    from sync.fleet.folder import shared_stores as shared

    return shared(folder)


# -- serve -----------------------------------------------------------------------------------
def serve(alliance: Alliance, options: ServeOptions) -> Service:
    """``serve -c``: the webhook endpoints of one alliance, its turns ``alliance.work``."""
    from sync.serve.server import Service

    return Service(alliance, options)


def front(folder: Path, options: ServeOptions, *, database: str | None = None) -> FrontService:
    """``serve --alliances``: one front for every alliance of ``folder`` (route, verify,
    store, wake the workers); ``/alliance`` answers from each :class:`~sync.api.Alliance`."""
    from sync.api.alliance import Alliance
    from sync.serve.front import FrontService

    return FrontService(folder, options, Alliance, database=database)


def slack_manifest(mode: str, public_url: str | None = None) -> str:
    """The Slack app manifest (YAML) for real-time ``mode`` (none, serve, socket_mode)."""
    from sync.serve.manifest import manifest_text

    return manifest_text(mode, public_url) if public_url else manifest_text(mode)
