"""The vendors' limits across a deployment: which :class:`connectors.limits.RateLimits` a
process's connectors share.

:func:`shared_limits` is the one hook: with the state store in PostgreSQL (``state.url``,
where workers share one database) every connector books in :class:`PostgresLimits` on that
database; otherwise in one :class:`connectors.limits.LocalLimits` for the whole process (a
lone worker's alliances, or one command). One object per address and process, so all the
alliances of a worker count together.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from connectors.limits import LocalLimits, RateLimits

if TYPE_CHECKING:
    from sync.core.config import Config

_made: dict[str, RateLimits] = {}
_lock = threading.Lock()


def limits_for(url: str | None) -> RateLimits:
    """The process's shared limits for a state URL (None or "": in this process)."""
    key = url or ""
    with _lock:
        if key not in _made:
            if key:
                from sync.limits.postgres import PostgresLimits  # psycopg only when needed

                _made[key] = PostgresLimits(key)
            else:
                _made[key] = LocalLimits()
        return _made[key]


def shared_limits(config: Config) -> RateLimits:
    """Where the connectors of ``config``'s alliance book their calls (see the docstring)."""
    return limits_for(config.state_url)
