"""``mcm-sync worker``: many alliances in one process, several workers on one PostgreSQL database.

A fleet of example alliances (other slugs) shares one sandbox and one PostgreSQL database (a
schema each). The worker runs each due alliance once; a broken config, an alliance that was
never bootstrapped and one whose Trello refuses its credentials are recorded with their error
and stop no other; two worker processes split the alliances between them; a worker killed
with ``kill -9`` in the middle of a sync leaves no duplicate, and the next worker takes its
alliance over at once.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from connectors.sandbox.clients.testing import admin, member_token, slack_client
from connectors.sandbox.core.server import SandboxServer
from sync.cli.main import cli
from sync.core.config import load_config
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
        assert process.returncode == 0, err
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
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    doomed = subprocess.Popen(fleet.worker("--concurrency", "1"), env=env, cwd=ROOT,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while fleet.status()["a0001"]["outcome"] != "running":
            assert time.monotonic() < deadline, "the worker never started a0001"
            time.sleep(0.1)
        time.sleep(1.0)  # inside the slowed Slack write
    finally:
        doomed.send_signal(signal.SIGKILL)
        doomed.wait(timeout=10)
    assert fleet.status()["a0001"]["outcome"] == "running"  # it died mid-run
    taker = subprocess.run(fleet.worker("--once", "--json"), env=env, cwd=ROOT,
                           capture_output=True, text=True, timeout=120, check=False)
    assert taker.returncode == 0, taker.stderr
    assert json.loads(taker.stdout)["outcomes"]["a0001"] == "ok"  # taken over at once
    notes = _thread_notes(fleet, "a0001", "A0001-1")
    added = notes[len(before):]
    assert len(added) == 1 and "In progress" in added[0], notes  # one note, not two
    again = json.loads(fleet.run("-c", config, "sync", "--json").stdout)
    assert again["writes"] == {}


@pytest.mark.parametrize("args", [(), ("--alliances", "/nonexistent/folder"),
                                  ("--alliances", str(ROOT / "tests"), "--interval", "1s")])
def test_worker_usage_errors_exit_2(args: tuple[str, ...]) -> None:
    result = CliRunner().invoke(cli, ["worker", *args, "--once"])
    assert result.exit_code == 2, result.output
    assert result.output.startswith("error: ")


def test_a_lone_worker_keeps_its_ledger_beside_the_configs(tmp_path: Path) -> None:
    (tmp_path / "broken.yaml").write_text("alliance: {}\n")
    result = CliRunner().invoke(cli, ["worker", "--alliances", str(tmp_path), "--once"])
    # Every alliance of the cycle failed: exit 4, each failure named with its error.
    assert result.exit_code == 4, result.output
    assert "1 failed" in result.stdout and "failed: broken (" in result.stdout
    assert "error: every alliance failed (1)" in result.stderr
    assert (tmp_path / ".mcm-sync-worker.db").exists()
    shown = CliRunner().invoke(cli, ["worker", "status", "--alliances", str(tmp_path), "--json"])
    assert shown.exit_code == 0
    assert json.loads(shown.stdout)[0]["outcome"] == "failed"


def test_alliances_with_deliveries_come_first_in_a_backlog(tmp_path: Path) -> None:
    """A worker whose threads are all busy hands out its backlog deliveries first: a member
    waits for one alliance's run at most, not for a whole cycle of scheduled ones."""
    import datetime as dt

    from sync.fleet.worker import Worker

    folder = tmp_path / "alliances"
    folder.mkdir()
    for i in range(30):
        (folder / f"a{i:02d}.yaml").write_text("# not read by due()\n", encoding="utf-8")
    later = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
    worker = Worker(folder, clock=lambda: later)
    try:
        worker.ledger.events_arrived("a17")
        worker.ledger.events_arrived("a03")
        for _ in range(5):  # the order is otherwise random (workers spread over alliances)
            due = worker.due()
            assert len(due) == 30
            assert set(due[:2]) == {"a17", "a03"}
    finally:
        worker.close()


def test_a_long_running_worker_logs_one_line_per_cycle(tmp_path: Path) -> None:
    import threading

    from sync.fleet.worker import CycleReport, Worker

    (tmp_path / "broken.yaml").write_text("alliance: {}\n")
    (tmp_path / "other.yaml").write_text("alliance: {}\n")
    lines: list[str] = []
    stop = threading.Event()

    def heard(cycle: CycleReport) -> None:
        lines.append(cycle.summary())
        stop.set()

    worker = Worker(tmp_path)
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


def test_a_long_running_worker_lists_its_folder_once_per_look(tmp_path: Path) -> None:
    """Handing an alliance to a free thread does not list the folder again: at 1,000
    alliances that listing was nearly half of a busy worker's CPU."""
    import threading

    from sync.fleet.worker import Worker

    class CountingWorker(Worker):
        listings = 0

        def configs(self) -> dict[str, Path]:
            CountingWorker.listings += 1
            return super().configs()

    folder = tmp_path / "alliances"
    folder.mkdir()
    for i in range(30):  # each fails at once (no alliance in it): a quick, recorded run
        (folder / f"a{i:02d}.yaml").write_text("alliance: {}\n", encoding="utf-8")
    worker = CountingWorker(folder, concurrency=2)
    stop = threading.Event()
    found: dict[str, Any] = {}
    running = threading.Thread(target=lambda: found.update(report=worker.run(stop=stop,
                                                                            tick=30.0)))
    running.start()
    try:
        deadline = time.monotonic() + 60
        while len(worker.ledger.entries()) < 30 or any(
                e.outcome in (None, "", "running") for e in worker.ledger.entries().values()):
            assert time.monotonic() < deadline, "the worker did not run the 30 alliances"
            time.sleep(0.05)
    finally:
        stop.set()
        running.join(timeout=60)
        worker.close()
    assert set(found["report"].outcomes) == {f"a{i:02d}" for i in range(30)}
    assert CountingWorker.listings <= 2, f"{CountingWorker.listings} listings for 30 hand-offs"
