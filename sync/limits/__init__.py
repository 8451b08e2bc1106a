"""The vendors' limits across a deployment: which :class:`connectors.limits.RateLimits` a
process's connectors share.

:func:`limits_for` is the one hook: with the state store in PostgreSQL (``state.url``,
where workers share one database) every connector books in :class:`PostgresLimits` on that
database; otherwise in one :class:`connectors.limits.LocalLimits` for the whole process (a
lone worker's alliances, or one command). One object per address and process, so all the
alliances of a worker count together.
"""

from __future__ import annotations

import threading

from connectors.limits import LocalLimits, RateLimits

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

