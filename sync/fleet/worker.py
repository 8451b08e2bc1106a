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
import os
import random
import socket
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from sync.api import Alliance
from sync.core.config import load_config
from sync.core.errors import REPORTED, StateError, error_lines
from sync.fleet.ledger import Entry, Ledger, ScheduleLocks, iso
from sync.fleet.wake import Wakeup

MAX_BACKOFF = 8  # a failing alliance waits at most 8 intervals before its next try
Clock = Callable[[], dt.datetime]


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

    def as_dict(self) -> dict[str, object]:
        """JSON-ready form."""
        return {"outcomes": self.outcomes, "skipped": sorted(self.skipped)}


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
            if outcome is None:
                report.skipped.append(name)
            else:
                report.outcomes[name] = outcome
        return report

    def run_alliance(self, name: str, config_path: Path) -> str | None:
        """Run one alliance if this worker gets its lock and it is still due; its outcome."""
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
            except StateError as exc:
                busy = "holds the lock" in str(exc)
                outcome, error = ("busy", "") if busy else ("failed", one_line(exc))
            except Exception as exc:  # isolation: one alliance's failure stops no other
                outcome, error = "failed", one_line(exc)
            if before.waiting and outcome != "busy":
                # Drained (or failed: the deliveries stay in the queue for the next run).
                self.ledger.events_drained(before)
            failed = outcome == "failed"
            if failed:
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
        except StateError as exc:
            if "holds the lock" in str(exc):
                return "busy"
            self.forget(name)  # read its config (and secret files) afresh next time
            self.ledger.drain_failed(name, one_line(exc))
        except Exception as exc:  # isolation, as for a scheduled run
            self.forget(name)
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
            tick: float = 2.0) -> CycleReport:
        """Run what is due until ``stop`` is set; with ``once``, one cycle (:meth:`cycle`).

        Every ``tick`` seconds, or at once when ``serve`` notifies a delivery (PostgreSQL),
        the ledger is read and the alliances due are handed to the free threads (those with a
        delivery first); the rest wait in a backlog, handed on as threads free up and
        reordered by the next look, so an alliance with a delivery waits for at most one
        alliance's run, never for a whole backlog of scheduled ones. Once ``stop`` is set
        (SIGTERM) no further alliance starts; those running finish.
        """
        stop = self._stop = stop or threading.Event()
        if once:
            return self.cycle()
        report = CycleReport()
        running: dict[str, Future[str | None]] = {}

        def collect(name: str, future: Future[str | None]) -> None:
            outcome = future.result()
            if outcome is None:
                report.skipped.append(name)
            else:
                report.outcomes[name] = outcome

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
                if look:
                    # The folder is listed once per look (a tick or a notification), not at
                    # every hand-off to a thread: at 1,000 alliances its glob and sort were
                    # nearly half of a busy worker's CPU. A config added since waits for the
                    # next look; one removed since is still run once (or fails, recorded).
                    configs = self.configs()
                    backlog, look = self.due(configs), False  # deliveries first
                # Only as many as there are free threads; the rest wait in ``backlog``, which
                # a new look (a tick, a notification) reorders, so an alliance woken by a
                # delivery is never queued behind a backlog of scheduled runs.
                while backlog and len(running) < self.concurrency:
                    name = backlog.pop(0)
                    if name not in running and name in configs:
                        future = pool.submit(self.run_alliance, name, configs[name])
                        future.add_done_callback(lambda _: slot_free.set())
                        running[name] = future
                report.skipped = report.skipped[-100:]  # bounded: only the latest matter
                if backlog:  # every thread busy: go on when one is free
                    look = not slot_free.wait(tick) or self.wakeup.notified()
                    slot_free.clear()
                else:
                    if self.wakeup.wait(tick, stop):
                        break
                    look = True
        for name, future in running.items():  # finished: the pool waited for them
            collect(name, future)
        return report


def status_rows(folder: Path, database: str | None,
                now: dt.datetime | None = None) -> list[dict[str, object]]:
    """Every alliance of ``folder`` with its last run, next run, lag and last error."""
    now = now or _utc_now()
    ledger = Ledger(database, folder)
    try:
        entries = ledger.entries()
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
        })
    return rows
