"""``mcm-sync worker``: every alliance of a folder kept in step by one process, or by several.

Each cycle the worker reads the folder (one ``*.yaml`` config per alliance, each with its own
secrets), asks the ledger which alliances are due, and runs them on a few threads: for each,
it takes the alliance's scheduling lock (another worker holds it: skip), checks again that it
is still due (another worker may just have run it), and runs ``Alliance.sync`` (the sync, a
full reconciliation when one is due, the digest and the meeting reminders, journalled). How
it ended goes into the ledger with the next due time.

Deliveries: an alliance whose flag ``serve --alliances`` raised in the ledger (its queue has
deliveries) is due too, at once: the worker drains its queue with the code ``serve`` uses
(``Alliance.work``), and runs the scheduled sync only if that is due as well. The flag is
lowered only if no delivery arrived since it was read (``Ledger.events_drained``). Between
cycles a worker on PostgreSQL waits for ``NOTIFY`` (``sync.fleet.wake``), so a delivery does
not wait for the next tick.

Isolation: whatever one alliance raises (bad config, refused credentials, a rate limit that
outlasted the retries, a bug) is recorded as that alliance's last error and retried later
with a backoff; the others run on. A run refused because a person's ``mcm-sync sync`` holds
the alliance's own lock is "busy" and tried again at the next tick.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import random
import socket
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from sync.api import Alliance
from sync.core.config import Config, load_config
from sync.core.errors import REPORTED, DatabaseUnavailable, StateError, error_lines
from sync.fleet.ledger import Entry, Ledger, ScheduleLocks, iso
from sync.fleet.wake import Wakeup
from sync.state.db import database_unavailable, schema_name

MAX_BACKOFF = 8  # a failing alliance waits at most 8 intervals before its next try
RECONNECT_FIRST = 0.5  # seconds before the first try to reach a database that went away
RECONNECT_MAX = 4.0  # and the longest pause between tries (a restart takes seconds)
log = logging.getLogger("mcm_sync.worker")
Clock = Callable[[], dt.datetime]

# A config that cannot be read (ours, or a value the config model refuses).
_UNREADABLE: tuple[type[BaseException], ...] = (*REPORTED, ValueError)


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _stamp(alliance: Alliance, config_path: Path) -> tuple[int, ...]:
    """The modification times of an alliance's config and action-plan files."""
    paths = [config_path]
    if alliance.config.action_plan:
        paths.append(alliance.config.resolve_path(alliance.config.action_plan))
    return tuple(p.stat().st_mtime_ns if p.exists() else 0 for p in paths)


def alliance_configs(folder: Path) -> dict[str, Path]:
    """The alliances of ``folder``: config name (file name without ``.yaml``) -> path."""
    found = sorted([*folder.glob("*.yaml"), *folder.glob("*.yml")])
    return {path.stem: path for path in found if not path.name.startswith(".")}


def store_identity(config: Config) -> str:
    """What names an alliance's state store: its resolved file, or its database and schema."""
    if config.state_url:
        return f"{config.state_url} schema {schema_name(config.state_schema)}"
    return str(config.state_path.resolve())


def shared_stores(folder: Path) -> list[tuple[Path, Path]]:
    """Pairs of configs of ``folder`` that name one state store (each pair once, in order).

    A config that cannot be read is left out: the worker records its error when it runs it.
    """
    owner: dict[str, Path] = {}
    pairs: list[tuple[Path, Path]] = []
    for path in alliance_configs(folder).values():
        try:
            identity = store_identity(load_config(path))
        except _UNREADABLE:
            continue
        if identity in owner:
            pairs.append((owner[identity], path))
        else:
            owner[identity] = path
    return pairs


def one_line(error: BaseException) -> str:
    """An error as the ledger keeps it: our one-line message (hint included), or its type."""
    if isinstance(error, REPORTED):
        return " / ".join(error_lines(error))[:500]
    return f"internal error: {type(error).__name__}: {error}"[:500]


@dataclass
class CycleReport:
    """What one cycle did: alliances run (by outcome), skipped because another worker had them."""

    outcomes: dict[str, str] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)  # failed alliance -> its error line

    def as_dict(self) -> dict[str, object]:
        """JSON-ready form."""
        return {"outcomes": self.outcomes, "skipped": sorted(self.skipped),
                "errors": self.errors}

    @property
    def all_failed(self) -> bool:
        """True when alliances ran and every one of them failed."""
        return bool(self.outcomes) and all(o == "failed" for o in self.outcomes.values())

    def summary(self) -> str:
        """One line: how many alliances ended how, those run elsewhere, the failed ones."""
        counts: dict[str, int] = {}
        for outcome in self.outcomes.values():
            counts[outcome] = counts.get(outcome, 0) + 1
        parts = [", ".join(f"{n} {outcome}" for outcome, n in sorted(counts.items()))
                 or "nothing due"]
        if self.skipped:
            parts.append(f"{len(self.skipped)} run by other workers")
        failed = sorted(n for n, o in self.outcomes.items() if o == "failed")
        if failed:
            parts.append("failed: " + "; ".join(
                f"{n} ({self.errors[n]})" if self.errors.get(n) else n for n in failed))
        return "worker cycle: " + ", ".join(parts)


class Worker:
    """One worker process: its folder of alliances, the shared ledger, its locks and threads."""

    def __init__(self, folder: Path, *, database: str | None = None,
                 interval: dt.timedelta = dt.timedelta(minutes=5), concurrency: int = 4,
                 clock: Clock = _utc_now, name: str | None = None) -> None:
        self.folder = folder
        self.interval = interval
        self.concurrency = max(1, concurrency)
        self.clock = clock
        self.name = name or f"{socket.gethostname()}:{os.getpid()}"
        self.ledger = Ledger(database, folder)
        self.locks = ScheduleLocks(self.ledger)
        self.wakeup = Wakeup(self.ledger.url)
        # Parsed configs, playbooks and action plans, kept while their files are unchanged.
        self._alliances: dict[str, tuple[tuple[int, ...], Alliance]] = {}
        self._cache_mutex = threading.Lock()
        self._stop = threading.Event()  # set: no new alliance is started (runs finish)
        # A database outage being ridden out: since when, and the error; the runs it cut.
        self._outage: tuple[dt.datetime, str] | None = None
        self._redo: set[str] = set()
        self.outages: list[dict[str, object]] = []  # those ridden out (tests, diagnostics)
        self._errors: dict[str, str] = {}  # alliance -> the error of its last failed run

    def alliance(self, name: str, config_path: Path) -> Alliance:
        """The alliance of ``config_path``, parsed again only when its files changed."""
        with self._cache_mutex:
            cached = self._alliances.get(name)
        if cached is not None and cached[0] == _stamp(cached[1], config_path):
            return cached[1]
        alliance = Alliance(load_config(config_path), command=f"mcm-sync worker ({name})",
                            keep_connections=True)
        alliance.validate()  # parse the playbook and the action plan once, now
        with self._cache_mutex:
            self._alliances[name] = (_stamp(alliance, config_path), alliance)
        if cached is not None:
            cached[1].close()  # its files changed: its connections go with it
        return alliance

    def forget(self, name: str) -> None:
        """Drop an alliance's parsed config and kept connections (after a failed run)."""
        with self._cache_mutex:
            cached = self._alliances.pop(name, None)
        if cached is not None:
            cached[1].close()

    def close(self) -> None:
        """Release every lock (the session ends), the alliances' connections, the ledger."""
        self.wakeup.close()
        with self._cache_mutex:
            kept, self._alliances = self._alliances, {}
        for _, alliance in kept.values():
            alliance.close()
        self.locks.close()
        self.ledger.close()

    def configs(self) -> dict[str, Path]:
        """The folder's alliances as listed now (a glob and a sort: once per look, not per
        run; at 1,000 alliances one listing costs more than a quiet run's goal)."""
        return alliance_configs(self.folder)

    def due(self, configs: dict[str, Path] | None = None) -> list[str]:
        """The alliances due now (schedule, or deliveries waiting), in a random order (so
        that workers spread over them); ``configs``: the folder as just listed."""
        entries = self.ledger.entries()
        now = self.clock()
        names = [n for n in (self.configs() if configs is None else configs)
                 if (entry := entries.get(n, Entry(n))).due(now) or entry.waiting]
        random.shuffle(names)
        # Deliveries first: a member waits for those; a schedule can wait a moment.
        names.sort(key=lambda n: not entries.get(n, Entry(n)).waiting)
        return names

    def cycle(self) -> CycleReport:
        """Run every alliance that is due and that no other worker is running."""
        report = CycleReport()
        configs = self.configs()
        names = self.due(configs)
        with ThreadPoolExecutor(self.concurrency, thread_name_prefix="alliance") as pool:
            outcomes = list(pool.map(lambda n: self.run_alliance(n, configs[n]), names))
        for name, outcome in zip(names, outcomes, strict=True):
            self._record(report, name, outcome)
        return report

    def _record(self, report: CycleReport, name: str, outcome: str | None) -> None:
        if outcome is None:
            report.skipped.append(name)
            return
        report.outcomes[name] = outcome
        if outcome == "failed":
            report.errors[name] = self._errors.get(name, "")

    def run_alliance(self, name: str, config_path: Path) -> str | None:
        """Run one alliance if this worker gets its lock and it is still due; its outcome.

        "outage": the database went away under the run (or before it could be recorded);
        it stays due and is run again once the database is back (the journal makes a run
        redone write nothing twice).
        """
        try:
            return self._run_alliance(name, config_path)
        except DatabaseUnavailable as exc:
            self._interrupted(name, exc)
            return "outage"

    def _interrupted(self, name: str, error: BaseException) -> None:
        """Note a run the database outage interrupted (the outage's record names it)."""
        with self._cache_mutex:
            if self._outage is None:
                self._outage = (self.clock(), one_line(error))
            self._redo.add(name)

    def _run_alliance(self, name: str, config_path: Path) -> str | None:
        if self._stop.is_set() or not self.locks.try_lock(name):
            return None
        try:
            before = self.ledger.entry(name)
            if not before.due(self.clock()):
                if before.waiting:
                    return self._drain(name, config_path, before)
                return None  # another worker ran it since we looked
            self.ledger.started(name, self.name, self.clock())
            slug, outcome, error = "", "ok", ""
            try:
                alliance = self.alliance(name, config_path)
                slug = alliance.config.alliance.slug
                result = alliance.work(scheduled=True).sync
                outcome = "conflicts" if result is not None and result.unresolved else "ok"
            except Exception as exc:  # isolation: one alliance's failure stops no other
                if isinstance(exc, DatabaseUnavailable) or database_unavailable(exc):
                    self._interrupted(name, exc)
                    outcome, error = "outage", f"run interrupted by a database outage " \
                        f"(redone): {one_line(exc)}"
                elif isinstance(exc, StateError) and "holds the lock" in str(exc):
                    outcome, error = "busy", ""
                else:
                    outcome, error = "failed", one_line(exc)
            if outcome == "outage":  # due at once: redone as soon as the database is back
                now = self.clock()
                self.ledger.finished(before, slug=slug, outcome=outcome, error=error,
                                     next_due=now, now=now, failed=False)
                return outcome
            if before.waiting and outcome != "busy":
                # Drained (or failed: the deliveries stay in the queue for the next run).
                self.ledger.events_drained(before)
            failed = outcome == "failed"
            if failed:
                self._errors[name] = error
                self.forget(name)  # read its config (and secret files) afresh next time
            backoff = min(2 ** before.failures, MAX_BACKOFF) if failed else 1
            wait = dt.timedelta(seconds=1) if outcome == "busy" else self.interval * backoff
            now = self.clock()
            self.ledger.finished(before, slug=slug, outcome=outcome, error=error,
                                 next_due=now + wait, now=now, failed=failed)
            return outcome
        finally:
            self.locks.unlock(name)

    def _drain(self, name: str, config_path: Path, before: Entry) -> str:
        """Only the alliance's waiting deliveries (its schedule is not due): "events", or
        "busy" (its lock is held: the flag stays up) or "failed" (recorded; the deliveries
        stay in the queue for the scheduled run)."""
        try:
            drained = self.alliance(name, config_path).work(scheduled=False).drained
        except Exception as exc:
            if isinstance(exc, DatabaseUnavailable) or database_unavailable(exc):
                raise DatabaseUnavailable(one_line(exc)) from exc  # the flag stays up
            if not isinstance(exc, StateError):
                self.forget(name)
                self.ledger.drain_failed(name, one_line(exc))
                self.ledger.events_drained(before)
                return "failed"
            if "holds the lock" in str(exc):
                return "busy"
            self.forget(name)  # read its config (and secret files) afresh next time
            self.ledger.drain_failed(name, one_line(exc))
        else:
            if drained.errors:  # a remote failure: reconnect next time
                self.forget(name)
                self.ledger.drain_failed(name, drained.errors[-1][:500])
            self.ledger.events_drained(before)
            return "failed" if drained.errors else "events"
        self.ledger.events_drained(before)
        return "failed"

    def run(self, *, once: bool = False, stop: threading.Event | None = None,
            tick: float = 2.0,
            on_cycle: Callable[[CycleReport], None] | None = None) -> CycleReport:
        """Run what is due until ``stop`` is set; with ``once``, one cycle (:meth:`cycle`).

        Every ``tick`` seconds, or at once when ``serve`` notifies a delivery (PostgreSQL),
        the ledger is read and the alliances due are handed to the free threads (those with a
        delivery first); the rest wait in a backlog, handed on as threads free up and
        reordered by the next look, so an alliance with a delivery waits for at most one
        alliance's run, never for a whole backlog of scheduled ones. Once ``stop`` is set
        (SIGTERM) no further alliance starts; those running finish.

        ``on_cycle`` hears of every cycle: the alliances run since the last one, once none
        is running or waiting for a thread (a scheduler's log gets one line per cycle).
        """
        stop = self._stop = stop or threading.Event()
        if once:
            return self.cycle()
        report = CycleReport()
        cycle = CycleReport()  # since the last on_cycle
        running: dict[str, Future[str | None]] = {}

        def collect(name: str, future: Future[str | None]) -> None:
            outcome = future.result()
            self._record(report, name, outcome)
            self._record(cycle, name, outcome)

        backlog: list[str] = []  # due at the last look, not yet handed to a thread
        configs: dict[str, Path] = {}  # the folder as listed at the last look
        look = True  # read the ledger again (a tick passed, or a delivery was notified)
        slot_free = threading.Event()
        with ThreadPoolExecutor(self.concurrency, thread_name_prefix="alliance") as pool:
            while not stop.is_set():
                for name, future in list(running.items()):
                    if future.done():
                        del running[name]
                        collect(name, future)
                try:
                    if look:
                        # The folder is listed once per look (a tick or a notification), not
                        # at every hand-off to a thread: at 1,000 alliances its glob and sort
                        # were nearly half of a busy worker's CPU. A config added since waits
                        # for the next look; one removed since is still run once (or fails).
                        configs = self.configs()
                        backlog, look = self.due(configs), False  # deliveries first
                        self._outage_over()
                    # Only as many as there are free threads; the rest wait in ``backlog``,
                    # which a new look (a tick, a notification) reorders, so an alliance
                    # woken by a delivery is never queued behind scheduled runs.
                    while backlog and len(running) < self.concurrency:
                        name = backlog.pop(0)
                        if name not in running and name in configs:
                            future = pool.submit(self.run_alliance, name, configs[name])
                            future.add_done_callback(lambda _: slot_free.set())
                            running[name] = future
                    report.skipped = report.skipped[-100:]  # bounded: the latest matter
                    if cycle.outcomes and not running and not backlog:
                        if on_cycle is not None:
                            on_cycle(cycle)
                        cycle = CycleReport()
                    if backlog:  # every thread busy: go on when one is free
                        look = not slot_free.wait(tick) or self.wakeup.notified()
                        slot_free.clear()
                    else:
                        if self.wakeup.wait(tick, stop):
                            break
                        look = True
                except DatabaseUnavailable as exc:
                    backlog, look = [], True
                    self._ride_out(exc, stop)
        for name, future in running.items():  # finished: the pool waited for them
            collect(name, future)
        return report


    def _ride_out(self, error: DatabaseUnavailable, stop: threading.Event) -> None:
        """Wait for the database with a growing pause (0.5 s doubling up to
        ``RECONNECT_MAX`` s) until the ledger answers again, then listen again. Runs in
        flight end as "outage" meanwhile; they stay due and are redone."""
        with self._cache_mutex:
            if self._outage is None:
                self._outage = (self.clock(), one_line(error))
        log.warning("worker %s: %s; waiting for it (SIGTERM still stops)", self.name,
                    one_line(error))
        pause = RECONNECT_FIRST
        while not stop.wait(pause):
            try:
                self.ledger.entries()  # reconnects; raises while the database is down
                self.wakeup.connect()
            except DatabaseUnavailable:
                pause = min(pause * 2, RECONNECT_MAX)
                continue
            self._outage_over()
            return

    def _outage_over(self) -> None:
        """The ledger answered: record the outage ridden out, if there was one."""
        with self._cache_mutex:
            outage, redo = self._outage, sorted(self._redo)
            self._outage, self._redo = None, set()
        if outage is None:
            return
        began, error = outage
        ended = self.clock()
        record = {"worker": self.name, "began": iso(began), "ended": iso(ended),
                  "seconds": round((ended - began).total_seconds(), 1),
                  "interrupted": ", ".join(redo), "error": error}
        self.outages.append(record)
        try:
            self.ledger.outage(self.name, began, ended, redo, error)
        except DatabaseUnavailable:  # down again already: the next look waits once more
            with self._cache_mutex:
                self._outage, self._redo = outage, set(redo) | self._redo
            raise
        log.warning("worker %s: the database is back after %.1f s; runs redone: %s",
                    self.name, record["seconds"], record["interrupted"] or "none")


def status_rows(folder: Path, database: str | None,
                now: dt.datetime | None = None) -> list[dict[str, object]]:
    """Every alliance of ``folder`` with its last run, next run, lag and last error, and the
    latest database outage the workers rode out (``database_outage``, the same on every row;
    None if none was)."""
    now = now or _utc_now()
    ledger = Ledger(database, folder)
    try:
        entries = ledger.entries()
        outages = ledger.outages(1)
    finally:
        ledger.close()
    rows: list[dict[str, object]] = []
    for name in alliance_configs(folder):
        entry = entries.get(name, Entry(name))
        lag = 0.0
        if entry.next_due and entry.next_due < iso(now):
            lag = (now - dt.datetime.fromisoformat(entry.next_due)).total_seconds()
        rows.append({
            "alliance": name, "slug": entry.slug, "last_run": entry.finished_at,
            "outcome": entry.outcome or "never run", "worker": entry.worker,
            "next_run": entry.next_due or "now", "lag_seconds": round(lag),
            "runs": entry.runs, "failures": entry.failures, "last_error": entry.error,
            "events_waiting_since": entry.events_at,
            "database_outage": outages[0] if outages else None,
        })
    return rows
