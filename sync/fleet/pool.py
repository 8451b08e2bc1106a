"""The job engine's connection pool: procrastinate's own, without its check of a connection
handed back a moment ago (a worker's fetch, finish and heartbeats are milliseconds apart)."""

from __future__ import annotations

import time
import weakref
from typing import Any

import psycopg_pool

# A pooled connection of the engine handed back this recently is handed out again without
# the pool's check (an empty query, a round trip): a worker takes one to fetch each job, to
# finish it and for each heartbeat, a few milliseconds apart. One the server dropped meanwhile
# fails its statement, and the worker starts its engine again as after any outage.
CHECK_AFTER_IDLE = 2.0  # seconds
_returned: weakref.WeakKeyDictionary[Any, float] = weakref.WeakKeyDictionary()


async def _mark_returned(conn: Any) -> None:
    _returned[conn] = time.monotonic()


async def _check_if_idle(conn: Any) -> None:
    returned = _returned.get(conn)
    if returned is None or time.monotonic() - returned > CHECK_AFTER_IDLE:
        await psycopg_pool.AsyncConnectionPool.check_connection(conn)


def engine_pool(**pool_args: Any) -> psycopg_pool.AsyncConnectionPool:
    """The engine's pool (procrastinate's own, with the check skipped as said above)."""
    return psycopg_pool.AsyncConnectionPool(
        **{**pool_args, "check": _check_if_idle, "reset": _mark_returned})
