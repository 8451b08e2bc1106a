"""The vendors' limits held in PostgreSQL: every worker of a deployment books in one place.

:class:`PostgresLimits` is :class:`connectors.limits.RateLimits` on the database the workers
already share (the state store's). Its tables live in their own schema, ``mcm_limits``, made
on first use (``CREATE ... IF NOT EXISTS`` under an advisory lock, so two workers starting
together do not race); they hold only hashed bucket names and moments, nothing an alliance
needs, so they are not part of the store's migrations.

- ``slots (bucket, at)``: the booked moments of each bucket (seconds of the database's
  clock, so workers on machines whose clocks differ still agree);
- ``holds (bucket, until)``: a bucket the vendor said is spent, held back until then;
- ``stated (bucket, calls, seconds)``: the limit the vendor's answers stated for a bucket
  (Trello's quota headers), so that a worker's first call on a key paces at it too (read
  once per bucket and process, then kept);
- ``mcm_limits.reserve(buckets, calls, seconds, delay)``: one call booked in every bucket at
  the earliest moment that keeps each within its limit (the same rule as the in-process
  :func:`connectors.limits.earliest_start`), returning the wait: ONE round trip per request.
  The buckets' advisory locks are taken in name order, so two callers never deadlock.
- Leases (Mailchimp's connections): a session advisory lock on one of the bucket's N slots,
  held on a connection of its own for the request. PostgreSQL drops a session's locks when
  its connection ends, so a killed worker's leases come back by themselves.

Why not pyrate-limiter's ``PostgresBucket`` (4.x): it makes a table per bucket (a hosted
service has a token, so a bucket, per alliance: a thousand tables), takes ``LOCK TABLE ...
NOWAIT`` and answers "no" under contention, so callers poll instead of being served in
order; it cannot take the key's and the token's buckets in one step; it needs psycopg_pool
besides our driver; and it has no lease for a connection limit. The 80 lines here do what
we need in one statement per call.

A database that cannot be reached does not stop a run: the booking falls back to the
process's own :class:`connectors.limits.LocalLimits` (logged once), and the next call tries
the database again.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg

from connectors.limits import LocalLimits
from connectors.rate_limits import Limit

log = logging.getLogger(__name__)

SCHEMA = "mcm_limits"
ASK_AGAIN = 1.0  # seconds before a bucket's stated limit is looked up again, if none was
LEASE_POLL = 0.02  # seconds between tries when every connection of a bucket is leased
_SETUP_LOCK = 0x6D636D6C  # advisory lock id of the schema's creation ("mcml")

SETUP = f"""
CREATE SCHEMA IF NOT EXISTS {SCHEMA};
CREATE TABLE IF NOT EXISTS {SCHEMA}.slots (bucket TEXT NOT NULL, at DOUBLE PRECISION NOT NULL);
CREATE INDEX IF NOT EXISTS slots_bucket_at ON {SCHEMA}.slots (bucket, at DESC);
CREATE TABLE IF NOT EXISTS {SCHEMA}.holds (
    bucket TEXT PRIMARY KEY, until DOUBLE PRECISION NOT NULL);
CREATE TABLE IF NOT EXISTS {SCHEMA}.stated (
    bucket TEXT PRIMARY KEY, calls INT NOT NULL, seconds DOUBLE PRECISION NOT NULL);
CREATE OR REPLACE FUNCTION {SCHEMA}.reserve(
    buckets TEXT[], calls INT[], seconds DOUBLE PRECISION[], delay DOUBLE PRECISION)
RETURNS DOUBLE PRECISION LANGUAGE plpgsql AS $$
DECLARE
    name TEXT;
    i INT;
    now_s DOUBLE PRECISION;
    start_s DOUBLE PRECISION;
    found DOUBLE PRECISION;
BEGIN
    FOR name IN SELECT DISTINCT b FROM unnest(buckets) AS b ORDER BY b LOOP
        PERFORM pg_advisory_xact_lock(hashtextextended('{SCHEMA}:' || name, 0));
    END LOOP;
    now_s := extract(epoch FROM clock_timestamp());
    start_s := now_s + greatest(delay, 0);
    FOR i IN 1 .. coalesce(array_length(buckets, 1), 0) LOOP
        SELECT until INTO found FROM {SCHEMA}.holds WHERE bucket = buckets[i];
        IF found IS NOT NULL THEN start_s := greatest(start_s, found); END IF;
        -- The calls-th latest booking (future ones too) must be a window before ours.
        SELECT at INTO found FROM {SCHEMA}.slots WHERE bucket = buckets[i]
            ORDER BY at DESC OFFSET calls[i] - 1 LIMIT 1;
        IF found IS NOT NULL THEN start_s := greatest(start_s, found + seconds[i]); END IF;
    END LOOP;
    FOR i IN 1 .. coalesce(array_length(buckets, 1), 0) LOOP
        DELETE FROM {SCHEMA}.slots WHERE bucket = buckets[i] AND at < now_s - seconds[i];
        INSERT INTO {SCHEMA}.slots (bucket, at) VALUES (buckets[i], start_s);
    END LOOP;
    RETURN start_s - now_s;
END $$;
"""
RESERVE = f"SELECT {SCHEMA}.reserve(%s::text[], %s::int[], %s::float8[], %s::float8)"
PAUSE = (f"INSERT INTO {SCHEMA}.holds (bucket, until) "
         "VALUES (%s, extract(epoch FROM clock_timestamp()) + %s) "
         "ON CONFLICT (bucket) DO UPDATE SET until = greatest(holds.until, excluded.until)")
LEARN = (f"INSERT INTO {SCHEMA}.stated (bucket, calls, seconds) VALUES (%s, %s, %s) "
         "ON CONFLICT (bucket) DO UPDATE SET calls = excluded.calls, seconds = excluded.seconds")
LEARNED = f"SELECT calls, seconds FROM {SCHEMA}.stated WHERE bucket = %s"
NOW = "SELECT extract(epoch FROM clock_timestamp())"
HELD = f"SELECT until FROM {SCHEMA}.holds WHERE bucket = %s"
NTH_LATEST = f"SELECT at FROM {SCHEMA}.slots WHERE bucket = %s ORDER BY at DESC OFFSET %s LIMIT 1"
TRY_LEASE = "SELECT pg_try_advisory_lock(hashtextextended(%s, 0))"
END_LEASE = "SELECT pg_advisory_unlock(hashtextextended(%s, 0))"


def conninfo(url: str) -> str:
    """A libpq address for psycopg from a state URL (SQLAlchemy's ``+psycopg`` dropped)."""
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


class PostgresLimits:
    """:class:`connectors.limits.RateLimits` in PostgreSQL (see the module docstring)."""

    def __init__(self, url: str) -> None:
        self._url = conninfo(url)
        self._lock = threading.Lock()  # one booking at a time on the shared connection
        self._conn: psycopg.Connection[Any] | None = None
        self._idle: list[psycopg.Connection[Any]] = []  # lease connections not in use
        self._busy: set[psycopg.Connection[Any]] = set()  # lease connections holding one
        self._fallback = LocalLimits()  # also this process's copy of the stated limits
        # When a bucket's stated limit was last looked up and not found: asked again after
        # ASK_AGAIN, since another worker may learn it any moment (the cycle's start).
        self._asked: dict[str, float] = {}
        self._warned = False
        self.round_trips = 0

    def _connect(self) -> psycopg.Connection[Any]:
        return psycopg.connect(self._url, autocommit=True, connect_timeout=5)

    def _booking(self) -> psycopg.Connection[Any]:
        if self._conn is None or self._conn.closed:
            conn = self._connect()
            with conn.transaction():
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (_SETUP_LOCK,))
                conn.execute(SETUP)
            self._conn = conn
        return self._conn

    def _degraded(self, error: Exception) -> None:
        if not self._warned:
            log.warning("rate limits: the database is out of reach (%s); pacing in this "
                        "process only until it is back", type(error).__name__)
            self._warned = True
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def reserve(self, buckets: Sequence[tuple[str, Limit]], delay: float = 0.0) -> float:
        """Book one call in every bucket (one round trip); returns the seconds to wait."""
        names = [name for name, _ in buckets]
        calls = [limit.calls for _, limit in buckets]
        seconds = [limit.seconds for _, limit in buckets]
        with self._lock:
            try:
                row = self._booking().execute(RESERVE, (names, calls, seconds, delay)).fetchone()
                self.round_trips += 1
                self._warned = False
                return max(0.0, float(row[0])) if row else 0.0
            except psycopg.Error as error:
                self._degraded(error)
        return self._fallback.reserve(buckets, delay)

    def ready_in(self, buckets: Sequence[tuple[str, Limit]]) -> float:
        """How long until one call in every bucket could start, booking nothing: the rule of
        ``reserve`` (holds, and the ``calls``-th latest booking a window back), read only."""
        with self._lock:
            try:
                conn = self._booking()
                row = conn.execute(NOW).fetchone()
                now = float(row[0]) if row else 0.0
                start = now
                for bucket, limit in buckets:
                    held = conn.execute(HELD, (bucket,)).fetchone()
                    if held is not None:
                        start = max(start, float(held[0]))
                    nth = conn.execute(NTH_LATEST, (bucket, limit.calls - 1)).fetchone()
                    if nth is not None:
                        start = max(start, float(nth[0]) + limit.seconds)
                self.round_trips += 1 + 2 * len(buckets)
                return max(0.0, start - now)
            except psycopg.Error as error:
                self._degraded(error)
        return self._fallback.ready_in(buckets)

    def pause(self, bucket: str, seconds: float) -> None:
        """Book nothing in ``bucket`` for ``seconds``, in every worker."""
        with self._lock:
            try:
                self._booking().execute(PAUSE, (bucket, max(0.0, seconds)))
                self.round_trips += 1
                return
            except psycopg.Error as error:
                self._degraded(error)
        self._fallback.pause(bucket, seconds)

    @contextmanager
    def lease(self, bucket: str, slots: int) -> Iterator[None]:
        """Hold one of ``slots`` connections of ``bucket`` across every worker; given back
        when the block ends (an error too) or, if the process dies, by PostgreSQL."""
        try:
            conn, name = self._take_lease(bucket, slots)
        except psycopg.Error as error:
            with self._lock:
                self._degraded(error)
            with self._fallback.lease(bucket, slots):
                yield
            return
        try:
            yield
        finally:
            self._give_back(conn, name)

    def _take_lease(self, bucket: str, slots: int) -> tuple[psycopg.Connection[Any], str]:
        with self._lock:
            conn = self._idle.pop() if self._idle else None
        if conn is None or conn.closed:
            conn = self._connect()
        try:
            while True:
                first = random.randrange(slots)  # spread the tries over the slots
                for offset in range(slots):
                    name = f"{SCHEMA}:lease:{bucket}:{(first + offset) % slots}"
                    row = conn.execute(TRY_LEASE, (name,)).fetchone()
                    self.round_trips += 1
                    if row and row[0]:
                        with self._lock:
                            self._busy.add(conn)
                        return conn, name
                time.sleep(LEASE_POLL)
        except BaseException:
            conn.close()
            raise

    def _give_back(self, conn: psycopg.Connection[Any], name: str) -> None:
        with self._lock:
            self._busy.discard(conn)
        try:
            conn.execute(END_LEASE, (name,))
        except psycopg.Error:
            conn.close()  # the session's end frees the lock anyway (or it was closed)
            return
        with self._lock:
            self._idle.append(conn)

    def learn(self, bucket: str, limit: Limit) -> None:
        """Remember a stated limit for every worker (and in this process)."""
        self._fallback.learn(bucket, limit)
        with self._lock:
            try:
                self._booking().execute(LEARN, (bucket, limit.calls, limit.seconds))
                self.round_trips += 1
            except psycopg.Error as error:
                self._degraded(error)

    def learned(self, bucket: str) -> Limit | None:
        """The limit last stated for ``bucket``: this process's, else the database's (read
        until found, at most every ASK_AGAIN; then this worker's own answers keep it)."""
        known = self._fallback.learned(bucket)
        if known is not None or time.monotonic() - self._asked.get(bucket, -ASK_AGAIN) \
                < ASK_AGAIN:
            return known
        with self._lock:
            try:
                row = self._booking().execute(LEARNED, (bucket,)).fetchone()
                self.round_trips += 1
            except psycopg.Error as error:
                self._degraded(error)
                return None
        if row is None:
            self._asked[bucket] = time.monotonic()
            return None
        stated = Limit(int(row[0]), float(row[1]))
        self._fallback.learn(bucket, stated)
        return stated

    def close(self) -> None:
        """Close every connection; the leases held on them end with them."""
        with self._lock:
            for conn in [*self._idle, *self._busy, *([self._conn] if self._conn else [])]:
                conn.close()
            self._idle, self._busy, self._conn = [], set(), None
