"""Going live: the trial's state store moved from the sandbox to the real services (or back).

``alliance.go_live()`` (``mcm-sync go-live``) keeps the alliance's own records (items,
stakeholders, minutes, the audit trail), sets the old services' ids aside and binds the store
to the services the config points at; a full copy of the store is made first. No remote call:
``doctor`` and ``bootstrap`` come next.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sync.api.opened import OpenAlliance
    from sync.state.transfer import GoLive


def go_live(alliance: OpenAlliance, *, dry_run: bool = False,
            sandbox: bool | None = None) -> GoLive:
    """Move ``alliance``'s state store to the services ``sandbox`` (default: the config's)
    names, under its lock; ``dry_run`` only says what would move (no lock, nothing written)."""
    from sync.core.services import SERVICES, sandbox_data_dir
    from sync.state.binding import check_owner
    from sync.state.db import schema_name
    from sync.state.presence import check_state_file, check_state_schema
    from sync.state.store import StateStore
    from sync.state.transfer import backup_location, survey
    from sync.state.transfer import go_live as transfer

    config = alliance.config
    if config.state_url:
        check_state_schema(config.state_url, config.state_schema, required=True)
    else:
        check_state_file(config.state_path, required=True)
    wanted = config.sandbox if sandbox is None else sandbox
    # Every registered service's ids are the old services' (the store names no vendor).
    services = {name: SERVICES.role_of(name) for name in SERVICES.names()}
    sandbox_dir = None if config.state_url else sandbox_data_dir(config)
    store = StateStore.open(config.state_location, lock=not dry_run, command=alliance.command,
                            schema=config.state_schema)
    try:
        check_owner(store, slug=config.alliance.slug, prefix=config.alliance.item_prefix)
        if dry_run:
            return survey(store, sandbox=wanted, services=services, sandbox_dir=sandbox_dir)
        store.bind_alliance(config.alliance.slug, config.alliance.name)
        now = dt.datetime.now(dt.UTC)
        backup = backup_location(store.path, config.state_location,
                                 schema_name(config.state_schema), now)
        return transfer(store, sandbox=wanted, backup=backup, now=now, services=services,
                        sandbox_dir=sandbox_dir)
    finally:
        store.close()
