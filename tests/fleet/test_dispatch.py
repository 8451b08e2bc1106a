"""The dispatcher's defers on the engine's database: scheduled runs of the due alliances in
batches (one statement each), a batch refused by an alliance whose drain came meanwhile
deferred one by one without it, and nothing deferred twice."""

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
