"""The dispatcher's defers on the engine's database: scheduled runs of the due alliances in
batches (one statement each), a batch refused by an alliance whose drain came meanwhile
deferred one by one without it, and nothing deferred twice; the hourly prune of the job
history (the engine's ``remove_old_jobs`` and our outcome rows), never under two intervals."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest

from sync.fleet import jobs
from sync.fleet.jobs import Deliveries, defer_due, engine_app, open_jobs_db
from tests.support.fleet import forget_runs

NAMES = ["da", "db", "dc", "dd", "de"]


def _waiting(url: str) -> dict[str, bool]:
    """Alliance -> whether its waiting job is a scheduled run (else a drain)."""
    db = open_jobs_db(url)
    try:
        rows = db.execute("SELECT lock, (args->>'scheduled')::boolean AS scheduled FROM"
                          " procrastinate_jobs WHERE status = 'todo'").fetchall()
    finally:
        db.close()
    found = {row["lock"]: bool(row["scheduled"]) for row in rows}
    assert len(found) == len(rows), rows  # one job waiting per alliance at most
    return found


def _dispatch(url: str) -> int:
    async def run() -> int:
        app = engine_app(url)
        async with app.open_async():
            return await defer_due(app, NAMES, dt.timedelta(minutes=5))

    return asyncio.run(run())


def test_due_runs_are_deferred_in_batches_and_a_refused_batch_one_by_one(
        pg_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    forget_runs(pg_url)
    monkeypatch.setattr(jobs, "DEFER_BATCH", 2)  # batches [da, db], [dc, dd], [de]
    deliveries = Deliveries(pg_url)
    try:
        deliveries.arrived("dd")  # a drain of dd waits: its batch is refused as a whole
    finally:
        deliveries.close()
    assert _dispatch(pg_url) == 4
    assert _waiting(pg_url) == {"da": True, "db": True, "dc": True, "dd": False, "de": True}
    assert _dispatch(pg_url) == 0  # every alliance has a job waiting: none is due
    assert len(_waiting(pg_url)) == 5


def _history(url: str) -> tuple[dict[str, int], set[int]]:
    """Jobs by alliance (the dispatcher's task included, by its name), and the job ids that
    still have an outcome row."""
    db = open_jobs_db(url)
    try:
        jobs_by = {str(r["who"]): int(r["n"]) for r in db.execute(
            "SELECT COALESCE(lock, task_name) AS who, count(*) AS n FROM procrastinate_jobs"
            " GROUP BY 1").fetchall()}
        outcomes = {int(r["job_id"]) for r in db.execute(
            "SELECT job_id FROM job_outcomes").fetchall()}
    finally:
        db.close()
    return jobs_by, outcomes


def _finished_jobs(url: str, ages: dict[str, list[float]]) -> dict[str, list[int]]:
    """Finished jobs (alliance -> hours since each finished), each with its outcome row and
    its events moved back by its age; their ids, by alliance."""
    app = engine_app(url, sync=True).open()
    made: dict[str, list[int]] = {}
    db = open_jobs_db(url)
    try:
        for name, hours in ages.items():
            for age in hours:
                job_id = int(app.configure_task(jobs.RUN_TASK, lock=name).defer(
                    alliance=name, scheduled=True))
                made.setdefault(name, []).append(job_id)
                status = "failed" if name == "db" else "succeeded"
                db.execute(f"UPDATE procrastinate_jobs SET status = '{status}' WHERE id = ?",
                           (job_id,))
                db.execute("UPDATE procrastinate_events SET at = now() - make_interval(secs"
                           " => ?) WHERE job_id = ?", (age * 3600, job_id))
                db.execute("INSERT INTO job_outcomes (job_id, alliance, scheduled, outcome,"
                           " finished_at) VALUES (?, ?, true, ?, now() - make_interval(secs"
                           " => ?))", (job_id, name, status, age * 3600))
    finally:
        db.close()
        app.close()
    return made


def _prune(url: str, keep: dt.timedelta, interval: dt.timedelta) -> int:
    """The engine's prune task, run as the engine runs it (a context of the app)."""
    from procrastinate.job_context import JobContext

    async def run() -> int:
        app = engine_app(url, interval=interval, keep_history=keep)
        async with app.open_async():
            task = app.tasks[jobs.PRUNE_TASK]
            context = JobContext(app=app, job=task.configure().job, start_timestamp=0.0,
                                 abort_reason=lambda: None)
            return int(await task(context, timestamp=0))

    return asyncio.run(run())


def test_the_job_history_is_pruned_past_its_keeping_time_outcomes_with_it(pg_url: str) -> None:
    forget_runs(pg_url)
    made = _finished_jobs(pg_url, {"da": [30.0, 5.0, 0.5], "db": [30.0, 0.2]})
    assert _prune(pg_url, dt.timedelta(hours=6), dt.timedelta(minutes=5)) == 2
    jobs_by, outcomes = _history(pg_url)
    # The runs finished over 6 hours ago are gone (a failed one too), with their outcomes;
    # the newer ones stay.
    assert jobs_by == {"da": 2, "db": 1}
    assert outcomes == {*made["da"][1:], made["db"][1]}
    assert _prune(pg_url, dt.timedelta(hours=6), dt.timedelta(minutes=5)) == 0


def test_the_history_keeps_more_than_two_intervals_whatever_is_asked(pg_url: str) -> None:
    forget_runs(pg_url)
    _finished_jobs(pg_url, {"da": [30.0, 8.0]})
    # A 6-hour interval: the dispatcher needs the last scheduled run (8 h ago) to tell that
    # the alliance is not due yet; 1 hour asked, 13 kept.
    assert jobs.keep_hours(dt.timedelta(hours=1), dt.timedelta(hours=6)) == 13
    assert jobs.keep_hours(dt.timedelta(days=2), dt.timedelta(minutes=5)) == 48
    assert jobs.keep_hours(dt.timedelta(minutes=10), dt.timedelta(seconds=30)) == 2
    assert _prune(pg_url, dt.timedelta(hours=1), dt.timedelta(hours=6)) == 1
    assert _history(pg_url)[0] == {"da": 1}
