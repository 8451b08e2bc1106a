"""The job engine under the workers on PostgreSQL: procrastinate, its tasks and its schema.

One job is one alliance's run: the task :data:`RUN_TASK` with ``lock=<alliance>`` (the engine
runs one job of a lock at a time, whichever worker fetches it) and ``queueing_lock=<alliance>``
(at most one job of the alliance waiting: a delivery during a run defers one, more deliveries
meanwhile find it waiting and are drained by it). ``serve --alliances`` defers a drain
(``scheduled=False``) at :data:`DRAIN_PRIORITY`, above the scheduled runs, and the engine's
``LISTEN/NOTIFY`` wakes a worker at once.

The schedule is one periodic task, :data:`DISPATCH_TASK`, every :data:`TICK` seconds: the
engine defers it once per tick across every worker (``procrastinate_periodic_defers`` is
unique per timestamp). It retries the jobs of workers whose heartbeat stopped (a ``kill -9``)
and defers a scheduled run for each alliance whose last one was deferred an interval ago and
which has no job waiting or running.

The job history is pruned by a second periodic task, :data:`PRUNE_TASK`, every hour: the
engine's own ``remove_old_jobs`` (finished jobs of every task, and their events, once
finished longer than the worker's ``keep_history`` ago) and the ``job_outcomes`` rows of the
jobs it removed. Whatever is asked, more than two intervals are kept: the dispatcher reads
when each alliance's last scheduled run was deferred from the jobs.

Retries are the engine's (:class:`AllianceRetry`): refused credentials back off (an interval,
doubling, at most :data:`MAX_BACKOFF` of them); a run turned away because a person's
``mcm-sync sync`` holds the alliance's lock is tried again in a few seconds; any other failure
waits for the next scheduled run. What a finished run did (outcome, one-line error, next due
time) is a row of ``job_outcomes`` beside the engine's own tables, which keep no error text.

The engine's tables live in the schema :data:`SCHEMA` of the workers' database, created by
:func:`migrate_engine` with our store migrations (procrastinate's ``schema.sql`` is version 1;
a later procrastinate's migration files become later versions here).
"""

from __future__ import annotations

import datetime as dt
import logging
import math
from collections.abc import Iterable
from typing import Any, Protocol

import procrastinate
from procrastinate import builtin_tasks
from procrastinate import exceptions as engine_errors
from procrastinate.job_context import JobContext
from procrastinate.jobs import Job
from procrastinate.retry import BaseRetryStrategy, RetryDecision
from procrastinate.schema import SchemaManager

from sync.core.errors import DatabaseUnavailable
from sync.fleet.pool import engine_pool
from sync.state.db import Database, DatabaseError, database_unavailable, masked, postgres_url
from sync.state.schema import migrate

SCHEMA = "mcm_jobs"
RUN_TASK = "mcm_sync.alliance_run"
DISPATCH_TASK = "mcm_sync.dispatch"
PRUNE_TASK = "mcm_sync.prune"
PRUNE_CRON = "17 * * * *"  # hourly (the engine defers it once per hour across every worker)
KEEP_HISTORY = dt.timedelta(hours=6)  # finished jobs kept by default (see keep_hours)
DRAIN_PRIORITY = 10  # a member waits for a drain; a schedule can wait a moment
SCHEDULED_PRIORITY = 0
TICK = 5  # seconds between two dispatches (the engine's cron, with seconds)
# A worker's heartbeat, and how long one may be silent before its jobs are retried elsewhere.
# A killed worker's alliance is handed over after STALLED_AFTER + at most one TICK (measured
# in bench/bench_worker.py); both well within the shortest --interval (30 s).
HEARTBEAT = 2.0
STALLED_AFTER = 10.0
BUSY_RETRY = 5  # seconds: the alliance's own lock was held by a person's run
MAX_BACKOFF = 8  # refused credentials wait at most 8 intervals between tries
MAX_REFUSED_TRIES = 4  # then the job fails; the next scheduled run starts afresh
MASS_DEFER = 100  # runs deferred at once after which the jobs table's statistics are renewed
DEFER_BATCH = 200  # scheduled runs deferred by one statement
MAX_INTERRUPTED_TRIES = 20  # runs cut by a database outage, retried every BUSY_RETRY s

log = logging.getLogger("mcm_sync.worker")


def _engine_schema(db: Database) -> None:
    """procrastinate's own schema (types, tables, functions, triggers), as it ships it."""
    raw = db.connection.connection.dbapi_connection
    assert raw is not None
    raw.execute(SchemaManager.get_schema())  # no parameters: the % signs stay as written


MIGRATIONS: tuple[tuple[Any, ...], ...] = (
    (_engine_schema,),
    # 2: what each finished run did (the engine's tables hold no error text).
    ("CREATE TABLE job_outcomes (job_id BIGINT PRIMARY KEY, alliance TEXT NOT NULL,"
     " scheduled BOOLEAN NOT NULL, outcome TEXT NOT NULL, error TEXT NOT NULL DEFAULT '',"
     " worker TEXT NOT NULL DEFAULT '', finished_at TIMESTAMPTZ NOT NULL,"
     " next_due TIMESTAMPTZ)",
     "CREATE INDEX job_outcomes_alliance ON job_outcomes (alliance, finished_at)"),
)


def open_jobs_db(url: str) -> Database:
    """A connection in the engine's schema, migrated to the current version (idempotent:
    the store migrations' version table and advisory lock; workers may start together)."""
    try:
        db = Database.postgresql(url, SCHEMA)
    except DatabaseError as exc:
        if not database_unavailable(exc):
            raise
        detail = str(getattr(exc, "orig", None) or exc).strip().splitlines()
        raise DatabaseUnavailable(
            f"the database {masked(url)} is unavailable: "
            f"{detail[0] if detail else type(exc).__name__}") from exc
    try:
        migrate(db, migrations=MIGRATIONS, where=f"job engine {db.where}")
    except BaseException:
        db.close()
        raise
    return db


def migrate_engine(url: str) -> None:
    """Apply (or check) the engine's schema on the workers' database."""
    open_jobs_db(url).close()


def conninfo(url: str) -> str:
    """The libpq address of a ``postgresql://`` URL (the engine's pool connects with it)."""
    return postgres_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _pool_kwargs(application: str) -> dict[str, Any]:
    return {"options": f"-c search_path={SCHEMA}", "application_name": application,
            "connect_timeout": 10}


class Refused(Exception):
    """An alliance's run failed because a service refused its credentials (backs off)."""


class Busy(Exception):
    """An alliance's run was turned away: a person's ``mcm-sync`` holds its lock."""


class RunFailed(Exception):
    """An alliance's run failed (recorded; the next scheduled run tries again)."""


class Interrupted(RunFailed):
    """The database went away under an alliance's run (retried soon; the journal makes
    the rerun write nothing twice)."""


class AllianceRetry(BaseRetryStrategy):
    """The engine's retries of an alliance's run (see the module docstring)."""

    def __init__(self, interval: dt.timedelta) -> None:
        self.interval = interval

    def get_retry_decision(self, *, exception: BaseException,
                           job: Job) -> RetryDecision | None:
        """When to run the failed job again, or None (it fails)."""
        if isinstance(exception, Busy) or (isinstance(exception, Interrupted)
                                           and job.attempts < MAX_INTERRUPTED_TRIES):
            return RetryDecision(retry_in={"seconds": BUSY_RETRY})
        if isinstance(exception, Refused) and job.attempts + 1 < MAX_REFUSED_TRIES:
            backoff = min(2 ** job.attempts, MAX_BACKOFF)
            return RetryDecision(
                retry_in={"seconds": int(self.interval.total_seconds() * backoff)})
        return None


class Runner(Protocol):
    """What the tasks call in the worker that fetched the job (``sync.fleet.worker``)."""

    interval: dt.timedelta

    def configs(self) -> dict[str, Any]:
        """The folder's alliances as listed now."""

    def run_job(self, alliance: str, scheduled: bool, job: Job) -> str:
        """Run the alliance; its outcome, or raise :class:`Refused`, :class:`Busy`,
        :class:`RunFailed`."""


def keep_hours(keep: dt.timedelta, interval: dt.timedelta) -> int:
    """The whole hours finished jobs are kept: ``keep`` rounded up, at least one, and more
    than two intervals (the dispatcher tells a due alliance by its last scheduled job)."""
    wanted = math.ceil(keep.total_seconds() / 3600)
    return max(1, wanted, math.ceil(2 * interval.total_seconds() / 3600) + 1)


# The outcomes of jobs the engine removed (a retried job keeps its id and its row).
_PRUNE_OUTCOMES = """
DELETE FROM job_outcomes o
 WHERE NOT EXISTS (SELECT 1 FROM procrastinate_jobs j WHERE j.id = o.job_id)
"""


def engine_app(url: str, *, interval: dt.timedelta = dt.timedelta(minutes=5),
               sync: bool = False, application: str = "mcm-sync worker",
               keep_history: dt.timedelta = KEEP_HISTORY) -> procrastinate.App:
    """The procrastinate app of the workers' database (``sync``: to defer from plain
    threads, as the front does), with our tasks registered; finished jobs are kept
    ``keep_history`` (at least :func:`keep_hours`)."""
    kwargs = _pool_kwargs(application)
    connector: Any = (procrastinate.SyncPsycopgConnector(conninfo=conninfo(url), kwargs=kwargs)
                      if sync else procrastinate.PsycopgConnector(
                          conninfo=conninfo(url), kwargs=kwargs, pool_factory=engine_pool))
    app = procrastinate.App(connector=connector)

    def alliance_run(context: JobContext, alliance: str, scheduled: bool) -> str:
        runner: Runner = context.additional_context["runner"]
        assert context.job is not None
        return runner.run_job(alliance, scheduled, context.job)

    async def dispatch(context: JobContext, timestamp: int) -> int:
        runner: Runner = context.additional_context["runner"]
        await retry_stalled(context.app)
        return await defer_due(context.app, runner.configs(), runner.interval)

    async def prune(context: JobContext, timestamp: int) -> int:
        """The job history past its keeping time removed; how many outcomes went with it."""
        await builtin_tasks.remove_old_jobs(
            context, max_hours=keep_hours(keep_history, interval), remove_failed=True,
            remove_cancelled=True, remove_aborted=True)
        removed = await context.app.connector.execute_query_one_async(
            f"WITH gone AS ({_PRUNE_OUTCOMES} RETURNING 1) SELECT count(*) AS n FROM gone")
        return int(removed["n"])

    app.task(name=RUN_TASK, pass_context=True, retry=AllianceRetry(interval))(alliance_run)
    app.periodic(cron=f"* * * * * */{TICK}", periodic_id="dispatch")(
        app.task(name=DISPATCH_TASK, pass_context=True)(dispatch))
    app.periodic(cron=PRUNE_CRON, periodic_id="prune")(
        app.task(name=PRUNE_TASK, pass_context=True, queueing_lock=PRUNE_TASK)(prune))
    return app


def _run_deferrer(app: procrastinate.App, alliance: str, priority: int) -> Any:
    return app.configure_task(RUN_TASK, lock=alliance, queueing_lock=alliance,
                              priority=priority)


# Per alliance: whether a job of it waits or runs, and when its last scheduled run was deferred.
_SCHEDULE_QUERY = """
SELECT j.lock AS alliance,
       bool_or(j.status IN ('todo', 'doing')) AS busy,
       max(e.at) FILTER (WHERE (j.args->>'scheduled')::boolean) AS last_scheduled
  FROM procrastinate_jobs j
  LEFT JOIN procrastinate_events e ON e.job_id = j.id AND e.type = 'deferred'
 WHERE j.task_name = %(task)s
 GROUP BY j.lock
"""


def due_alliances(names: Iterable[str], rows: Iterable[dict[str, Any]],
                  interval: dt.timedelta, now: dt.datetime) -> list[str]:
    """The alliances to defer a scheduled run for: none waiting or running, and the last
    scheduled run deferred at least ``interval`` ago (or never). Pure: the query's rows in."""
    known = {row["alliance"]: row for row in rows}
    due = []
    for name in names:
        row = known.get(name)
        if row is None or (not row["busy"] and (row["last_scheduled"] is None
                                                or row["last_scheduled"] + interval <= now)):
            due.append(name)
    return due


async def defer_due(app: procrastinate.App, names: Iterable[str],
                    interval: dt.timedelta) -> int:
    """Defer a scheduled run of every alliance that is due; how many were deferred.

    In batches of :data:`DEFER_BATCH`, one statement each (one per alliance was a fifth of a
    worker's CPU outside the runs); a batch refused because a drain of one of its alliances
    was deferred meanwhile is deferred one by one, that alliance left to the next tick.
    """
    rows = await app.connector.execute_query_all_async(_SCHEDULE_QUERY, task=RUN_TASK)
    now = dt.datetime.now(dt.UTC)
    due = due_alliances(names, rows, interval, now)
    deferred = 0
    for start in range(0, len(due), DEFER_BATCH):
        batch = due[start:start + DEFER_BATCH]
        jobs = [_run_deferrer(app, name, SCHEDULED_PRIORITY).make_new_job(
            alliance=name, scheduled=True) for name in batch]
        try:
            await app.job_manager.batch_defer_jobs_async(jobs)
            deferred += len(jobs)
            continue
        except engine_errors.AlreadyEnqueued:
            pass  # the whole statement was refused: nothing of the batch is deferred
        for name in batch:
            try:
                await _run_deferrer(app, name, SCHEDULED_PRIORITY).defer_async(
                    alliance=name, scheduled=True)
                deferred += 1
            except engine_errors.AlreadyEnqueued:
                pass  # a drain was deferred meanwhile: the next tick looks again
    if deferred >= MASS_DEFER:
        # Fresh statistics for the planner: the engine's fetch of the next job (a NOT EXISTS
        # over the jobs of the same lock) planned on an empty table's figures scans every
        # waiting job at every fetch (likely why a first cycle of 1,000 took 80 s, not 36).
        await app.connector.execute_query_async("ANALYZE procrastinate_jobs")
    return deferred


async def retry_stalled(app: procrastinate.App) -> int:
    """Retry the running jobs of workers whose heartbeat stopped (killed, or cut off); the
    alliance's journal makes the rerun write nothing twice. How many were retried."""
    stalled = await app.job_manager.get_stalled_jobs(seconds_since_heartbeat=STALLED_AFTER)
    retried = 0
    for job in stalled:
        try:
            await app.job_manager.retry_job(job)
            retried += 1
        except Exception as exc:  # a job of the alliance is already waiting: it runs it
            log.info("stalled job %s of %s not retried (%s): failing it", job.id, job.lock, exc)
            await app.job_manager.finish_job(job, status=procrastinate.jobs.Status.FAILED,
                                             delete_job=False)
    if retried:
        log.warning("retried %d job(s) of stalled workers", retried)
    return retried


class Deliveries:
    """How ``serve --alliances`` wakes the workers: a drain job per delivery (PostgreSQL);
    nothing on SQLite, where the lone worker looks at the queues every tick."""

    def __init__(self, url: str | None) -> None:
        self.url = url
        self.app: procrastinate.App | None = None
        if url:
            migrate_engine(url)
            self.app = engine_app(url, sync=True, application="mcm-sync front").open()

    def arrived(self, alliance: str) -> None:
        """A delivery for ``alliance`` is committed to its queue: defer its drain, or, if a
        job of it is already waiting, raise that one's priority (it drains first)."""
        if self.app is None:
            return
        try:
            _run_deferrer(self.app, alliance, DRAIN_PRIORITY).defer(alliance=alliance,
                                                                   scheduled=False)
        except engine_errors.AlreadyEnqueued:
            self.app.connector.execute_query(
                "UPDATE procrastinate_jobs SET priority = GREATEST(priority, %(priority)s)"
                " WHERE queueing_lock = %(alliance)s AND status = 'todo'",
                priority=DRAIN_PRIORITY, alliance=alliance)

    def close(self) -> None:
        """Close the engine's pool."""
        if self.app is not None:
            self.app.close()
            self.app = None


def record_outcome(db: Database, job: Job, *, alliance: str, scheduled: bool, outcome: str,
                   error: str, worker: str, next_due: dt.datetime | None) -> None:
    """What a finished run did (a retried job keeps its id: its row is replaced)."""
    db.execute(
        "INSERT INTO job_outcomes (job_id, alliance, scheduled, outcome, error, worker,"
        " finished_at, next_due) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (job_id) DO"
        " UPDATE SET outcome = excluded.outcome, error = excluded.error,"
        " worker = excluded.worker, finished_at = excluded.finished_at,"
        " next_due = excluded.next_due",
        (job.id, alliance, scheduled, outcome, error[:500], worker,
         dt.datetime.now(dt.UTC), next_due))


_STATUS_QUERY = """
SELECT j.id, j.lock AS alliance, j.status::text AS status, j.attempts, j.scheduled_at,
       (j.args->>'scheduled')::boolean AS scheduled,
       (SELECT min(e.at) FROM procrastinate_events e
         WHERE e.job_id = j.id AND e.type = 'deferred') AS deferred_at,
       o.outcome, o.error, o.worker, o.finished_at, o.next_due
  FROM procrastinate_jobs j LEFT JOIN job_outcomes o ON o.job_id = j.id
 WHERE j.task_name = ?
 ORDER BY j.id
"""


def job_history(url: str) -> list[dict[str, Any]]:
    """Every alliance run the engine knows, oldest first (for ``worker status``)."""
    db = open_jobs_db(url)
    try:
        return [row.as_dict() for row in db.execute(_STATUS_QUERY, (RUN_TASK,)).fetchall()]
    finally:
        db.close()


def forget_jobs(url: str) -> None:
    """Empty the engine's job tables (benchmarks and tests: every alliance due at once)."""
    db = open_jobs_db(url)
    try:
        db.execute("TRUNCATE procrastinate_jobs, procrastinate_events,"
                   " procrastinate_periodic_defers, job_outcomes CASCADE")
    finally:
        db.close()

