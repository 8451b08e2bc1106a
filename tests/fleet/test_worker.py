"""``mcm-sync worker``: many alliances in one process, several workers on one PostgreSQL database.

A fleet of example alliances (other slugs) shares one sandbox and one PostgreSQL database (a
schema each); the workers run on the job engine (procrastinate) there, started as
``mcm-sync worker`` processes. Each due alliance runs once; a broken config, an alliance that
was never bootstrapped and one whose Trello refuses its credentials are recorded with their
error and stop no other; two worker processes split the alliances and never run one alliance
twice at a time; a delivery during a run is drained after it, by one job however many
deliveries came; a worker killed with ``kill -9`` in the middle of a sync leaves no duplicate,
and another worker takes its alliance over once its heartbeat is stale.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from connectors.sandbox.clients.testing import admin, member_token, slack_client
from connectors.sandbox.core.server import SandboxServer
from sync.api import hosting
from sync.cli.main import cli
from sync.core.config import load_config
from sync.fleet.jobs import (
    DRAIN_PRIORITY,
    STALLED_AFTER,
    TICK,
    AllianceRetry,
    Busy,
    Deliveries,
    Interrupted,
    Refused,
    RunFailed,
    due_alliances,
    open_jobs_db,
)
from sync.state.events import EventQueue
from sync.state.store import StateStore
from tests.support.fleet import forget_runs, make_fleet
from tests.support.paths import ROOT

ESRA = "esra.yilmaz@example.org"
GOOD = ["a0001", "a0002", "a0003"]


@dataclass
class Fleet:
    """The alliances' folder, the sandbox and the database they share."""

    configs: Path
    server: SandboxServer
    url: str

    def run(self, *args: str, expect: int = 0) -> Any:
        """``mcm-sync`` in this process (CliRunner); asserts the exit code."""
        result = CliRunner().invoke(cli, list(args))
        assert result.exit_code == expect, (result.output, result.exception)
        return result

    def worker(self, *args: str) -> list[str]:
        """The command line of a worker process on this fleet."""
        return [sys.executable, "-m", "sync.cli.main", "worker", "--alliances",
                str(self.configs), "--database", self.url, *args]

    def status(self) -> dict[str, dict[str, Any]]:
        """``mcm-sync worker status --json``, by alliance."""
        out = self.run("worker", "status", "--alliances", str(self.configs), "--database",
                       self.url, "--json")
        return {row["alliance"]: row for row in json.loads(out.stdout)}

    def reset(self) -> None:
        """Forget every run (each test starts with every alliance due) and every fault."""
        forget_runs(self.url)
        admin(self.server, "DELETE", "/_sandbox/faults")

    def jobs(self, sql: str, params: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
        """Rows of a query on the engine's tables."""
        db = open_jobs_db(self.url)
        try:
            return [row.as_dict() for row in db.execute(sql, params).fetchall()]
        finally:
            db.close()

    def start(self, *args: str) -> subprocess.Popen[str]:
        """A long-running worker process on this fleet."""
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        log = self.configs.parent / f"worker-{time.monotonic_ns()}.log"
        with log.open("w") as errors:  # a file: a pipe nobody reads could fill and block it
            return subprocess.Popen(self.worker(*args), env=env, cwd=ROOT, text=True,
                                    stdout=subprocess.DEVNULL, stderr=errors)

    def store(self, slug: str) -> StateStore:
        """An alliance's state store."""
        config = load_config(self.configs / f"{slug}.yaml")
        return StateStore.open(config.state_location, schema=config.state_schema)


@pytest.fixture(scope="module")
def fleet(pg_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    """Three bootstrapped alliances, one never bootstrapped, one with a broken config."""
    folder = tmp_path_factory.mktemp("fleet")
    server = SandboxServer(port=0, data_dir=folder / "sandbox", rate_limits=False)
    server.start()
    try:
        configs = make_fleet(folder, 4, server, pg_url)
        made = Fleet(configs, server, pg_url)
        for slug in GOOD:
            made.run("-c", str(configs / f"{slug}.yaml"), "bootstrap")
            made.run("-c", str(configs / f"{slug}.yaml"), "sync")
        (configs / "broken.yaml").write_text("alliance: {name: x}\nunknown_key: 1\n")
        made.run("worker", "status", "--alliances", str(configs), "--database", pg_url)
        yield made
    finally:
        server.stop()


def test_one_cycle_runs_every_alliance_and_isolates_failures(fleet: Fleet) -> None:
    fleet.reset()
    with fleet.store("a0002") as store:
        board = store.get_resource("trello", "board", "board")
    assert board is not None
    # a0002's Trello now refuses its credentials (401 on its board, and only there).
    admin(fleet.server, "POST", "/_sandbox/faults",
          {"service": "trello", "path": f"*{board.remote_id}*", "mode": "error",
           "status": 401})
    out = fleet.run("worker", "--alliances", str(fleet.configs), "--database", fleet.url,
                    "--once", "--json")
    outcomes = json.loads(out.stdout)["outcomes"]
    assert outcomes == {"a0001": "ok", "a0002": "failed", "a0003": "ok", "a0004": "failed",
                        "broken": "failed"}
    status = fleet.status()
    assert status["a0001"]["outcome"] == "ok" and status["a0001"]["last_error"] == ""
    assert status["a0001"]["next_run"] > status["a0001"]["last_run"]
    assert status["a0001"]["lag_seconds"] == 0
    assert "no Trello board in the state yet" in status["a0004"]["last_error"] or \
        "no state yet" in status["a0004"]["last_error"]
    assert "broken.yaml: alliance.name" in status["broken"]["last_error"]
    assert status["a0002"]["last_error"] and status["a0002"]["failures"] == 1
    # Nothing is due again within the interval: a second cycle runs nothing.
    again = fleet.run("worker", "--alliances", str(fleet.configs), "--database", fleet.url,
                      "--once", "--json")
    assert json.loads(again.stdout)["outcomes"] == {}
    table = fleet.run("worker", "status", "--alliances", str(fleet.configs), "--database",
                      fleet.url).stdout
    assert "a0001" in table and "never run" not in table


def test_two_worker_processes_split_the_alliances(fleet: Fleet) -> None:
    fleet.reset()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    workers = [subprocess.Popen(fleet.worker("--once", "--json", "--concurrency", "1"),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                env=env, cwd=ROOT) for _ in range(2)]
    reports = []
    for process in workers:
        out, err = process.communicate(timeout=120)
        assert process.returncode == 0, (out, err)
        reports.append(json.loads(out)["outcomes"])
    first, second = (set(report) for report in reports)
    assert not first & second, reports  # no alliance ran twice
    assert first | second == {"a0001", "a0002", "a0003", "a0004", "broken"}
    assert all(reports[i][slug] == "ok" for i in (0, 1) for slug in GOOD if slug in reports[i])


def _thread_notes(fleet: Fleet, slug: str, number: str) -> list[str]:
    with fleet.store(slug) as store:
        item = store.get_item_by_number(number)
        assert item is not None
        side = store.get_side(item.id, "slack")
        channel = store.get_resource("slack", "channel", "actions")
    assert side is not None and channel is not None
    slack = slack_client(fleet.server, token=member_token(fleet.server, ESRA, "slack"))
    replies = slack.conversations_replies(channel=channel.remote_id, ts=side.remote_id)
    return [m["text"] for m in replies["messages"][1:]]


def _wait(check: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while not (found := check()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)
    return found


def _stop(process: subprocess.Popen[str]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


def test_a_worker_killed_mid_sync_leaves_no_duplicate_and_is_taken_over(fleet: Fleet) -> None:
    fleet.reset()
    config = str(fleet.configs / "a0001.yaml")
    fleet.run("-c", config, "sandbox", "move", "A0001-1", "doing", "--as", ESRA)
    before = _thread_notes(fleet, "a0001", "A0001-1")
    # Every Slack write is slow: the worker is killed while one is in flight (it still
    # takes effect in the sandbox: the answer is what is lost).
    admin(fleet.server, "POST", "/_sandbox/faults",
          {"service": "slack", "method": "POST", "path": "*chat.*", "mode": "delay",
           "seconds": 1.5, "count": 3})
    doomed = fleet.start("--concurrency", "1")
    try:
        _wait(lambda: fleet.status()["a0001"]["outcome"] == "running", 60, "a0001 started")
        time.sleep(1.0)  # inside the slowed Slack write
    finally:
        doomed.send_signal(signal.SIGKILL)
        doomed.wait(timeout=10)
    killed = time.monotonic()
    assert fleet.status()["a0001"]["outcome"] == "running"  # it died mid-run
    taker = fleet.start()
    try:
        _wait(lambda: fleet.status()["a0001"]["outcome"] == "ok", 90, "a0001 taken over")
        handover = time.monotonic() - killed
    finally:
        _stop(taker)
    print(f"\nkill -9 -> alliance finished by another worker: {handover:.1f} s")
    # The engine retried the dead worker's job once its heartbeat was stale (and not before
    # STALLED_AFTER): within one dispatch tick of that, well within the shortest interval.
    assert handover < STALLED_AFTER + 3 * TICK + 10
    [job] = fleet.jobs("SELECT attempts, status::text AS status FROM procrastinate_jobs"
                       " WHERE lock = ? AND (args->>'scheduled')::boolean ORDER BY id LIMIT 1",
                       ("a0001",))
    assert job == {"attempts": 2, "status": "succeeded"}  # the same job: killed, retried
    notes = _thread_notes(fleet, "a0001", "A0001-1")
    added = notes[len(before):]
    assert len(added) == 1 and "In progress" in added[0], notes  # one note, not two
    again = json.loads(fleet.run("-c", config, "sync", "--json").stdout)
    assert again["writes"] == {}


def _spans(fleet: Fleet) -> dict[str, list[tuple[dt.datetime, dt.datetime, bool]]]:
    """Per alliance: each run job's (started, finished, scheduled), by the engine's events."""
    rows = fleet.jobs(
        "SELECT j.lock AS alliance, (j.args->>'scheduled')::boolean AS scheduled,"
        " (SELECT max(at) FROM procrastinate_events e WHERE e.job_id = j.id"
        "   AND e.type = 'started') AS started,"
        " (SELECT max(at) FROM procrastinate_events e WHERE e.job_id = j.id"
        "   AND e.type IN ('succeeded', 'failed')) AS finished"
        " FROM procrastinate_jobs j WHERE j.task_name = 'mcm_sync.alliance_run'"
        " AND j.status IN ('succeeded', 'failed') ORDER BY j.id")
    spans: dict[str, list[tuple[dt.datetime, dt.datetime, bool]]] = {}
    for row in rows:
        spans.setdefault(row["alliance"], []).append(
            (row["started"], row["finished"], row["scheduled"]))
    return {alliance: sorted(runs) for alliance, runs in spans.items()}


def test_one_run_per_alliance_and_a_delivery_during_a_run_is_drained_after_it(
        fleet: Fleet) -> None:
    fleet.reset()
    fleet.run("-c", str(fleet.configs / "a0003.yaml"), "sandbox", "move", "A0003-2", "doing",
              "--as", ESRA)
    admin(fleet.server, "POST", "/_sandbox/faults",  # a0003's run takes a while
          {"service": "slack", "method": "POST", "path": "*chat.*", "mode": "delay",
           "seconds": 1.0, "count": 2})
    workers = [fleet.start("--concurrency", "2") for _ in range(2)]
    deliveries = Deliveries(fleet.url)
    config = load_config(fleet.configs / "a0003.yaml")
    try:
        _wait(lambda: fleet.status()["a0003"]["outcome"] == "running", 60, "a0003 started")
        # Three deliveries while it runs: stored in its queue, one drain job waiting.
        with EventQueue(config.state_location, schema=config.state_schema) as queue:
            for n in range(3):
                assert queue.put("slack", f"EvDuring{n}", "reaction", "999.000", {})
                deliveries.arrived("a0003")
        waiting = fleet.jobs("SELECT priority, status::text AS status FROM procrastinate_jobs"
                             " WHERE lock = ? AND NOT (args->>'scheduled')::boolean",
                             ("a0003",))
        assert waiting == [{"priority": DRAIN_PRIORITY, "status": "todo"}]
        assert fleet.status()["a0003"]["events_waiting_since"]
        _wait(lambda: all(fleet.status()[s]["outcome"] in ("ok", "idle", "events") for s in GOOD)
              and not fleet.status()["a0003"]["events_waiting_since"], 90, "the drain")
        # Let the workers run on a moment: nothing more is due, nothing runs twice.
        time.sleep(TICK)
    finally:
        deliveries.close()
        for process in workers:
            _stop(process)
    with EventQueue(config.state_location, schema=config.state_schema) as queue:
        events = [e for e in queue.all() if e.dedup_key.startswith("EvDuring")]
    assert {e.state for e in events} == {"ignored"}  # processed (not an item's message)
    spans = _spans(fleet)
    for alliance, runs in spans.items():
        for (_, end, _), (later, _, _) in zip(runs, runs[1:], strict=False):
            assert later >= end, f"{alliance}: two runs at once"  # one at a time
    [scheduled, drain] = spans["a0003"]
    assert scheduled[2] and not drain[2] and drain[0] >= scheduled[1]  # after the run
    assert all(len([r for r in runs if r[2]]) == 1 for runs in spans.values()), spans


def _slack_writes(fleet: Fleet) -> int:
    """``chat.*`` calls the sandbox received since its stats were reset."""
    routes = admin(fleet.server, "GET", "/_sandbox/stats").get("slack", {})
    return sum(sum(counts.values()) for route, counts in routes.items() if "chat." in route)


def test_a_coordinators_own_sync_is_turned_away_while_a_worker_runs_the_alliance(
        fleet: Fleet) -> None:
    fleet.reset()
    config = str(fleet.configs / "a0002.yaml")
    fleet.run("-c", config, "sandbox", "move", "A0002-2", "doing", "--as", ESRA)
    admin(fleet.server, "POST", "/_sandbox/faults",  # a0002's run takes a while
          {"service": "slack", "method": "POST", "path": "*chat.*", "mode": "delay",
           "seconds": 2.0, "count": 2})
    admin(fleet.server, "POST", "/_sandbox/stats/reset", {})
    worker = fleet.start("--concurrency", "4")
    try:
        _wait(lambda: fleet.status()["a0002"]["outcome"] == "running", 60, "a0002 started")
        # The job is "running" a moment before its run holds the alliance's lock; its first
        # (delayed) Slack write is made under the lock.
        _wait(lambda: _slack_writes(fleet) > 0, 60, "a0002 writing")
        refused = fleet.run("-c", config, "sync", expect=2)  # the alliance's run lock
        assert "holds the lock" in refused.output and "mcm-sync worker" in refused.output
        _wait(lambda: fleet.status()["a0002"]["outcome"] == "ok", 60, "a0002 finished")
    finally:
        _stop(worker)
    assert json.loads(fleet.run("-c", config, "sync", "--json").stdout)["writes"] == {}


def test_the_engine_retries_refused_credentials_and_a_held_lock_not_other_failures() -> None:
    retry = AllianceRetry(dt.timedelta(minutes=5))

    class Job:
        def __init__(self, attempts: int) -> None:
            self.attempts = attempts

    refused = [retry.get_retry_decision(exception=Refused("401"), job=Job(n))  # type: ignore[arg-type]  # only .attempts is read
               for n in range(5)]
    waits = [d.retry_at for d in refused if d is not None]
    assert len(waits) == 3 and waits == sorted(waits)  # backs off, then gives up
    assert retry.get_retry_decision(exception=Busy("held"), job=Job(9)) is not None  # type: ignore[arg-type]  # only .attempts is read
    assert retry.get_retry_decision(exception=RunFailed("bug"), job=Job(0)) is None  # type: ignore[arg-type]  # only .attempts is read
    assert retry.get_retry_decision(exception=Interrupted("db"), job=Job(3)) is not None  # type: ignore[arg-type]  # only .attempts is read


def test_the_dispatcher_defers_what_is_due_and_nothing_waiting_or_running() -> None:
    now = dt.datetime(2026, 12, 7, 12, 0, tzinfo=dt.UTC)
    five = dt.timedelta(minutes=5)
    rows = [{"alliance": "ran-long-ago", "busy": False, "last_scheduled": now - 2 * five},
            {"alliance": "ran-just-now", "busy": False, "last_scheduled": now - five / 2},
            {"alliance": "running", "busy": True, "last_scheduled": now - 2 * five},
            {"alliance": "drained-only", "busy": False, "last_scheduled": None}]
    names = ["new", "ran-long-ago", "ran-just-now", "running", "drained-only"]
    assert due_alliances(names, rows, five, now) == ["new", "ran-long-ago", "drained-only"]


@pytest.mark.parametrize("args", [(), ("--alliances", "/nonexistent/folder"),
                                  ("--alliances", str(ROOT / "tests"), "--interval", "1s")])
def test_worker_usage_errors_exit_2(args: tuple[str, ...]) -> None:
    result = CliRunner().invoke(cli, ["worker", *args, "--once"])
    assert result.exit_code == 2, result.output
    assert result.output.startswith("error: ")


def test_a_lone_worker_runs_the_folder_in_process(tmp_path: Path) -> None:
    (tmp_path / "broken.yaml").write_text("alliance: {}\n")
    result = CliRunner().invoke(cli, ["worker", "--alliances", str(tmp_path), "--once"])
    # Every alliance of the cycle failed: exit 4, each failure named with its error.
    assert result.exit_code == 4, result.output
    assert "1 failed" in result.stdout and "failed: broken (" in result.stdout
    assert "error: every alliance failed (1)" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["broken.yaml"]  # no ledger file
    shown = CliRunner().invoke(cli, ["worker", "status", "--alliances", str(tmp_path), "--json"])
    assert shown.exit_code == 0
    [row] = json.loads(shown.stdout)
    assert row["outcome"] == "failed" and "broken.yaml" in row["last_error"]


def test_a_long_running_worker_logs_one_line_per_cycle(tmp_path: Path) -> None:
    import threading

    from sync.fleet.outcomes import CycleReport

    (tmp_path / "broken.yaml").write_text("alliance: {}\n")
    (tmp_path / "other.yaml").write_text("alliance: {}\n")
    lines: list[str] = []
    stop = threading.Event()

    def heard(cycle: CycleReport) -> None:
        lines.append(cycle.summary())
        stop.set()

    worker = hosting.worker(tmp_path)
    try:
        worker.run(stop=stop, tick=0.05, on_cycle=heard)
    finally:
        worker.close()
    assert len(lines) == 1
    assert lines[0].startswith("worker cycle: 2 failed, failed: broken (")
    assert "other (" in lines[0]


def test_the_worker_command_prints_a_line_per_cycle(tmp_path: Path) -> None:
    (tmp_path / "broken.yaml").write_text("alliance: {}\n")
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    worker = subprocess.Popen(
        [sys.executable, "-m", "sync.cli.main", "worker", "--alliances", str(tmp_path)],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert worker.stdout is not None
        line = worker.stdout.readline()  # the first cycle's line, while the worker runs on
        assert worker.poll() is None
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=30)
    stamp, _, summary = line.strip().partition(" ")
    assert stamp[:4].isdigit() and "T" in stamp
    assert summary.startswith("worker cycle: 1 failed, failed: broken (")
