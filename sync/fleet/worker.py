"""``mcm-sync worker``: every alliance of a folder kept in step by one process, or by several.

On PostgreSQL (``--database``) the worker is a procrastinate worker (:mod:`sync.fleet.jobs`):
the engine hands it alliance runs (one at a time per alliance, whichever machine), its
periodic dispatcher defers the scheduled ones, ``serve --alliances`` defers drains, and the
engine retries what failed and what a killed worker left running. Alone on SQLite (one
machine, no PostgreSQL: the embedded default) the worker loops in-process over the folder
and calls the same task function, :meth:`Worker.run_alliance`.

A run is the alliance's ``work`` (:class:`sync.realtime.hosted.HostedAlliance`; the library
face, :mod:`sync.api.hosting`, hands in ``sync.api.Alliance`` as the factory): first the
deliveries waiting in the alliance's queue, then, for a
scheduled run, the sync (full reconciliations, digests, meeting reminders), journalled, under
the alliance's own run lock (so a person's ``mcm-sync sync`` beside the workers is turned away,
and a worker finding that lock held tries again in a few seconds).

Isolation: whatever one alliance raises (bad config, refused credentials, a rate limit that
outlasted the retries, a bug) is that alliance's failure, recorded with its one-line error;
the others run on.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import gc
import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
import psycopg_pool
from procrastinate.exceptions import ConnectorException
from procrastinate.jobs import Job

from sync.core.config import load_config
from sync.core.errors import DatabaseUnavailable, StateError
from sync.fleet.folder import ParsedAlliance, alliance_configs, store_stamp
from sync.fleet.jobs import (
    HEARTBEAT,
    KEEP_HISTORY,
    MAX_BACKOFF,
    STALLED_AFTER,
    TICK,
    Busy,
    Interrupted,
    Refused,
    RunFailed,
    defer_due,
    engine_app,
    open_jobs_db,
    record_outcome,
    retry_stalled,
)
from sync.fleet.outcomes import CycleReport, one_line, refused
from sync.realtime.hosted import AllianceFactory, HostedAlliance
from sync.state.db import Database, database_unavailable, is_url

RECONNECT_FIRST = 0.5  # seconds before the first try to reach a database that went away
RECONNECT_MAX = 4.0  # and the longest pause between tries (a restart takes seconds)
FREEZE_AFTER = 3.0  # seconds without parsing an alliance before the heap is frozen
# What the engine raises when the database goes away under it.
DATABASE_DOWN = (ConnectorException, psycopg.OperationalError, psycopg_pool.PoolTimeout,
                 OSError)
log = logging.getLogger("mcm_sync.worker")


class _OneLine(logging.Filter):
    """The engine's log records without their tracebacks: a worker's log says what happened
    in one line (a lost LISTEN session during a database restart is expected, and handled)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.exc_info, record.exc_text = None, None
        return True


_ONE_LINE = _OneLine()


def _one_line_logs(worker_name: str) -> None:
    """Filters are not inherited by child loggers: put ours on each the engine logs with."""
    for name in ("procrastinate", "procrastinate.worker", f"procrastinate.worker.{worker_name}",
                 "procrastinate.utils", "procrastinate.manager", "procrastinate.periodic",
                 "procrastinate.psycopg_connector", "procrastinate.sync_psycopg_connector"):
        logging.getLogger(name).addFilter(_ONE_LINE)


class Worker:
    """One worker process: its folder of alliances, the engine (PostgreSQL) or its own loop."""

    def __init__(self, folder: Path, alliance_factory: AllianceFactory, *,
                 database: str | None = None,
                 interval: dt.timedelta = dt.timedelta(minutes=5), concurrency: int = 4,
                 name: str | None = None, keep_history: dt.timedelta = KEEP_HISTORY) -> None:
        self.folder = folder
        # What makes each alliance's runs (the library face hands in sync.api.Alliance).
        self.alliance_factory = alliance_factory
        self.interval = interval
        # How long the engine's job history keeps finished runs (PostgreSQL; see jobs.py).
        self.keep_history = keep_history
        self.concurrency = max(1, concurrency)
        self.name = name or f"{socket.gethostname()}:{os.getpid()}"
        self.url = database if database and is_url(database) else None
        # Parsed configs, playbooks and action plans, kept while their files are unchanged.
        self._alliances: dict[str, ParsedAlliance] = {}
        self._parsed_since_freeze, self._last_parse = False, 0.0  # see _freeze_parsed
        self._mutex = threading.Lock()
        self._listing: tuple[float, dict[str, Path]] = (0.0, {})
        self._report = CycleReport()  # everything this worker ran
        self._cycle = CycleReport()  # since the last on_cycle
        self._running = 0
        self._pass: CycleReport | None = None  # the lone worker's current pass (cycle())
        # The job history's connection (PostgreSQL), shared by the job threads under a mutex.
        self._db: Database | None = open_jobs_db(self.url) if self.url else None
        # Alone on SQLite: per alliance, when its scheduled run is due next (in memory).
        self._next_due: dict[str, float] = {}
        self._failures: dict[str, int] = {}
        # Alone on SQLite: per alliance, its store's stamp before its last look that found
        # nothing waiting; while the stamp holds, nothing was written since, so no delivery
        # can be waiting and the next look is skipped (a look opens, locks and reads the store).
        self._quiet_stores: dict[str, tuple[int, ...]] = {}

    # -- the alliances -------------------------------------------------------------------
    def configs(self) -> dict[str, Path]:
        """The folder's alliances, listed at most once per :data:`TICK` (at 1,000 alliances a
        glob and a sort per run cost more than a quiet run)."""
        with self._mutex:
            stamp, listing = self._listing
            if time.monotonic() - stamp < TICK and listing:
                return listing
        listing = alliance_configs(self.folder)
        with self._mutex:
            self._listing = (time.monotonic(), listing)
        return listing

    def alliance(self, name: str, config_path: Path) -> HostedAlliance:
        """The alliance of ``config_path``, parsed again only when its files changed."""
        with self._mutex:
            cached = self._alliances.get(name)
        if cached is not None and cached.unchanged(config_path):
            return cached.alliance
        alliance = self.alliance_factory(load_config(config_path),
                                         command=f"mcm-sync worker ({name})",
                                         keep_connections=True)
        alliance.validate()  # parse the playbook and the action plan once, now
        with self._mutex:
            self._alliances[name] = ParsedAlliance.of(alliance, config_path)
            self._parsed_since_freeze, self._last_parse = True, time.monotonic()
        if cached is not None:
            cached.alliance.close()  # its files changed: its connections go with it
        return alliance

    def forget(self, name: str) -> None:
        """Drop an alliance's parsed config and kept connections (after a failed run)."""
        with self._mutex:
            cached = self._alliances.pop(name, None)
        if cached is not None:
            cached.alliance.close()

    def close(self) -> None:
        """Close the alliances' kept connections and the job history's connection."""
        with self._mutex:
            kept, self._alliances = self._alliances, {}
        for parsed in kept.values():
            parsed.alliance.close()
        if self._db is not None:
            self._db.close()
            self._db = None

    # -- one run: the task function of both paths ------------------------------------------
    def run_alliance(self, name: str, scheduled: bool) -> str:
        """Run one alliance: its waiting deliveries, then (``scheduled``) its sync.

        Returns "ok", "conflicts", "events" (deliveries only) or "idle" (nothing waiting);
        raises :class:`Busy` (its lock is held by another run), :class:`Refused` (a service
        refused its credentials) or :class:`RunFailed` (anything else), with the one-line error.
        """
        path = self.configs().get(name)
        if path is None:
            raise RunFailed(f"{name}: no config {name}.yaml in {self.folder} any more")
        try:
            work = self.alliance(name, path).work(scheduled=scheduled)
        except Exception as exc:  # isolation: one alliance's failure stops no other
            if isinstance(exc, StateError) and "holds the lock" in str(exc):
                raise Busy(one_line(exc)) from exc
            if isinstance(exc, DatabaseUnavailable) or database_unavailable(exc):
                detail = str(getattr(exc, "orig", None) or exc).strip().splitlines()
                raise Interrupted("the database went away under the run (retried): "
                                  + (detail[0] if detail else type(exc).__name__)) from exc
            self.forget(name)  # read its config (and secret files) afresh next time
            raise (Refused if refused(exc) else RunFailed)(one_line(exc)) from exc
        if work.drained.errors:
            self.forget(name)  # a remote failure: reconnect next time
            raise RunFailed(work.drained.errors[-1][:500])
        if work.sync is not None:
            return "conflicts" if work.sync.unresolved else "ok"
        return "events" if work.drained.processed else "idle"

    def _heard(self, name: str, outcome: str, error: str = "") -> None:
        with self._mutex:
            for report in (self._report, self._cycle, self._pass):
                if report is None:
                    continue
                report.outcomes[name] = outcome
                if error:
                    report.errors[name] = error

    def run_job(self, alliance: str, scheduled: bool, job: Job) -> str:
        """The engine's task: :meth:`run_alliance`, its outcome written to the job history
        (raised again on failure, so the engine marks the job failed or retries it)."""
        started = dt.datetime.now(dt.UTC)
        next_due = started + self.interval if scheduled else None
        with self._mutex:
            self._running += 1
        try:
            outcome = self.run_alliance(alliance, scheduled)
        except Busy:
            self._heard(alliance, "busy")
            raise
        except (Refused, RunFailed) as exc:
            self._heard(alliance, "failed", str(exc))
            self._record(job, alliance, scheduled, "failed", str(exc), next_due)
            raise
        finally:
            with self._mutex:
                self._running -= 1
        self._heard(alliance, outcome)
        self._record(job, alliance, scheduled, outcome, "", next_due)
        return outcome

    def _record(self, job: Job, alliance: str, scheduled: bool, outcome: str, error: str,
                next_due: dt.datetime | None) -> None:
        with self._mutex:
            assert self._db is not None
            record_outcome(self._db, job, alliance=alliance, scheduled=scheduled,
                           outcome=outcome, error=error, worker=self.name, next_due=next_due)

    # -- running ---------------------------------------------------------------------------
    def run(self, *, once: bool = False, stop: threading.Event | None = None,
            tick: float = 2.0,
            on_cycle: Callable[[CycleReport], None] | None = None) -> CycleReport:
        """Run until ``stop`` is set (running runs finish); with ``once``, every alliance
        that is due now, then return. ``on_cycle`` hears what ran whenever the worker falls
        idle (a scheduler's log gets one line per cycle). Returns everything run."""
        stop = stop or threading.Event()
        if self.url:
            asyncio.run(self._engine(once, stop, on_cycle))
        else:
            self._alone(once, stop, tick, on_cycle)
        return self._report

    def _flush(self, on_cycle: Callable[[CycleReport], None] | None) -> None:
        with self._mutex:
            if not self._cycle.outcomes or self._running:
                return
            cycle, self._cycle = self._cycle, CycleReport()
        if on_cycle is not None:
            on_cycle(cycle)

    def _freeze_parsed(self) -> None:
        """Once no alliance has been parsed for :data:`FREEZE_AFTER` s and none runs: the heap
        the parsed alliances make moved out of the collector's sight (``gc.freeze``). A
        thousand of them are some 400,000 objects that live as long as the process, and each
        full collection walked them all (about 0.3 s, every few hundred runs: a millisecond
        per run). Unfrozen and collected first, so an alliance replaced since (its files
        changed) is freed, not kept frozen; one full collection per batch of parsing."""
        with self._mutex:
            if not self._parsed_since_freeze or self._running or \
                    time.monotonic() - self._last_parse < FREEZE_AFTER:
                return
            self._parsed_since_freeze = False
        gc.unfreeze()
        gc.collect()
        gc.freeze()

    async def _engine(self, once: bool, stop: threading.Event,
                      on_cycle: Callable[[CycleReport], None] | None) -> None:
        assert self.url is not None
        _one_line_logs(self.name)
        app = engine_app(self.url, interval=self.interval, keep_history=self.keep_history)
        pause = RECONNECT_FIRST
        while True:
            began = time.monotonic()
            try:
                await self._engine_session(app, once, stop, on_cycle)
                if once or stop.is_set():
                    return
                # The engine's worker stopped by itself: a side task (its LISTEN session,
                # its heartbeat) met the database going away. Start it again.
                why = "the engine's worker stopped"
            except DATABASE_DOWN as exc:
                # A PostgreSQL restart: the engine's worker ended; start it again once the
                # database answers (a job cut short is retried by the stalled-job check).
                why = str(exc).strip().splitlines()[0] if str(exc).strip() else \
                    type(exc).__name__
            if time.monotonic() - began > 60:
                pause = RECONNECT_FIRST  # a new outage, not the same one going on
            log.warning("worker %s: %s (the database is unavailable?); starting again in"
                        " %.1f s (SIGTERM still stops)", self.name, why, pause)
            if stop.wait(pause):
                return
            pause = min(pause * 2, RECONNECT_MAX)

    async def _engine_session(self, app: Any, once: bool, stop: threading.Event,
                              on_cycle: Callable[[CycleReport], None] | None) -> None:
        """One life of the engine's worker in this process (see :meth:`_engine`)."""
        async with app.open_async():
            if once:  # the dispatcher's work, now: stalled jobs retried, due runs deferred
                await retry_stalled(app)
                await defer_due(app, self.configs(), self.interval)
            worker = asyncio.create_task(app.run_worker_async(
                wait=not once, concurrency=self.concurrency, name=self.name,
                listen_notify=True, fetch_job_polling_interval=TICK,
                update_heartbeat_interval=HEARTBEAT, stalled_worker_timeout=STALLED_AFTER,
                additional_context={"runner": self}, install_signal_handlers=False))
            while not worker.done():
                await asyncio.wait({worker}, timeout=0.25)
                self._flush(on_cycle)
                self._freeze_parsed()
                if stop.is_set():
                    worker.cancel()  # the engine's graceful stop: running jobs finish
                    break
            with contextlib.suppress(asyncio.CancelledError):
                await worker
        self._flush(on_cycle)

    def _alone(self, once: bool, stop: threading.Event, tick: float,
               on_cycle: Callable[[CycleReport], None] | None) -> None:
        """The lone worker on SQLite: a :meth:`cycle` every ``tick`` until ``stop``."""
        while not stop.is_set():
            self.cycle(stop)
            self._flush(on_cycle)
            self._freeze_parsed()
            if once or stop.wait(tick):
                return

    def cycle(self, stop: threading.Event | None = None) -> CycleReport:
        """Alone on SQLite: one pass over the folder, in this process, one alliance at a
        time: those whose schedule is due are synced, the others' waiting deliveries drained
        (an alliance with nothing waiting is not reported). What this pass ran."""
        this = self._pass = CycleReport()
        try:
            for name in self.configs():
                if stop is not None and stop.is_set():
                    break
                self._alone_one(name, self._next_due.get(name, 0.0) <= time.monotonic())
        finally:
            self._pass = None
        return this

    def _stamp_now(self, name: str) -> tuple[int, ...] | None:
        """The store stamp of a parsed alliance whose files are unchanged (else None: a store
        on PostgreSQL, or one not parsed yet)."""
        with self._mutex:
            cached = self._alliances.get(name)
        path = self.configs().get(name)
        if cached is None or not cached.store or path is None or not cached.unchanged(path):
            return None
        return store_stamp(cached.store)

    def _alone_one(self, name: str, scheduled: bool) -> None:
        wait = self.interval.total_seconds()
        # Taken before the look (any write after it changes it); a sync always runs.
        stamp = None if scheduled else self._stamp_now(name)
        if stamp is not None and self._quiet_stores.get(name) == stamp:
            return  # nothing written to the store since a look found nothing waiting
        self._quiet_stores.pop(name, None)
        try:
            outcome = self.run_alliance(name, scheduled)
        except Busy:
            self._heard(name, "busy")
            self._next_due[name] = time.monotonic() + 5
            return
        except (Refused, RunFailed) as exc:
            self._heard(name, "failed", str(exc))
            failures = self._failures[name] = self._failures.get(name, 0) + 1
            if isinstance(exc, Refused):  # refused credentials back off; the others run on
                wait *= min(2 ** (failures - 1), MAX_BACKOFF)
            self._next_due[name] = time.monotonic() + wait
            return
        self._failures.pop(name, None)
        if outcome == "idle" and stamp is not None:
            self._quiet_stores[name] = stamp
        if outcome != "idle":
            self._heard(name, outcome)
        if scheduled:
            self._next_due[name] = time.monotonic() + wait


def is_engine_database(database: str | None) -> bool:
    """Whether ``database`` names the workers' PostgreSQL database (else: a lone worker)."""
    return bool(database and is_url(database))

