"""``mcm-sync worker status``: every alliance's last run, outcome, next run, lag, deliveries
waiting and last error.

On PostgreSQL it is read from the engine's job tables (``procrastinate_jobs`` and its events)
and our ``job_outcomes`` beside them (:func:`sync.fleet.jobs.job_history`): what ran, where,
how it ended, what waits. A lone worker on SQLite keeps no history of its own: each
alliance's state store says when it last synced and what its queue holds, and a config that
cannot be read is shown with its error.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from sync.core.config import load_config
from sync.fleet.folder import UNREADABLE, alliance_configs
from sync.fleet.jobs import job_history
from sync.fleet.outcomes import one_line
from sync.fleet.worker import is_engine_database
from sync.state.events import EventQueue
from sync.state.store import StateStore


def _iso(moment: Any) -> str | None:
    if moment is None:
        return None
    if isinstance(moment, str):
        moment = dt.datetime.fromisoformat(moment)
    return str(moment.astimezone(dt.UTC).isoformat(timespec="seconds"))


def _row(name: str, **values: Any) -> dict[str, object]:
    row: dict[str, object] = {
        "alliance": name, "last_run": None, "outcome": "never run", "worker": "",
        "next_run": "now", "lag_seconds": 0, "runs": 0, "failures": 0, "last_error": "",
        "events_waiting_since": None, "attempts": 0}
    row.update(values)
    return row


def engine_rows(names: Iterable[str], history: Iterable[Mapping[str, Any]],
                now: dt.datetime) -> list[dict[str, object]]:
    """Status rows from the engine's job history (oldest job first). Pure."""
    jobs: dict[str, list[Mapping[str, Any]]] = {}
    for job in history:
        jobs.setdefault(job["alliance"], []).append(job)
    rows = []
    for name in names:
        mine = jobs.get(name, [])
        finished = [j for j in mine if j["outcome"] is not None]
        waiting = [j for j in mine if j["status"] == "todo"]
        running = [j for j in mine if j["status"] == "doing"]
        last = finished[-1] if finished else None
        failures = 0
        for job in reversed(finished):
            if job["outcome"] != "failed":
                break
            failures += 1
        due: dt.datetime | None = None
        if waiting:
            due = waiting[-1]["scheduled_at"] or waiting[-1]["deferred_at"]
        elif last is not None and last["next_due"] is not None:
            due = last["next_due"]
        lag = (now - due).total_seconds() if due is not None and due < now and not running \
            else 0.0
        drains = [j for j in waiting if not j["scheduled"]]
        outcome = "running" if running else last["outcome"] if last else \
            "waiting" if waiting else "never run"
        rows.append(_row(
            name, last_run=_iso(last["finished_at"]) if last else None, outcome=outcome,
            worker=last["worker"] if last else "",
            next_run=_iso(due) if due is not None else "now", lag_seconds=round(lag),
            runs=len(finished), failures=failures, last_error=last["error"] if last else "",
            events_waiting_since=_iso(drains[0]["deferred_at"]) if drains else None,
            attempts=(waiting or running or finished or [{"attempts": 0}])[-1]["attempts"]))
    return rows


def _alone_row(name: str, path: Path) -> dict[str, object]:
    """A lone worker's alliance, from its config and its state store."""
    try:
        config = load_config(path)
    except UNREADABLE as exc:
        return _row(name, outcome="failed", last_error=one_line(exc), next_run="-")
    if not config.state_url and not config.state_path.exists():
        return _row(name, next_run="-")
    with StateStore.open(config.state_location, schema=config.state_schema) as store:
        last = store.last_run("sync")
        pending = EventQueue.over(store).pending(1)
    return _row(name, last_run=_iso(last.finished_at or last.started_at) if last else None,
                outcome=last.outcome if last else "never run", next_run="-",
                events_waiting_since=pending[0].received_at if pending else None)


def status_rows(folder: Path, database: str | None,
                now: dt.datetime | None = None) -> list[dict[str, object]]:
    """Every alliance of ``folder`` with its last run, outcome, next run, lag, deliveries
    waiting and last error (see the module docstring)."""
    now = now or dt.datetime.now(dt.UTC)
    configs = alliance_configs(folder)
    if database and is_engine_database(database):
        return engine_rows(configs, job_history(database), now)
    return [_alone_row(name, path) for name, path in configs.items()]
