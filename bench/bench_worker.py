"""Many alliances on workers: cost of a no-op alliance sync, cycle times, kills. Prints figures.

    python bench/bench_worker.py                # 1,000 alliances, SQLite and PostgreSQL
    python bench/bench_worker.py --n 200 --workers 1,2 --backends postgresql
    python bench/bench_worker.py --n 200 --parts cycle,process   # the CPU figures only

What it does (nothing is asserted; a private PostgreSQL server and a sandbox process on
127.0.0.1 without rate limits):

1. bootstraps one example alliance on the sandbox and clones its state N times (a SQLite file
   copy, or a PostgreSQL schema filled by ``INSERT ... SELECT``): N alliances of the example's
   size (45 items) whose syncs are no-ops reading the same board and channel. The sandbox runs
   in its own process, so the worker's CPU is the worker's alone;
2. one worker, in this process: a warm-up cycle, then a measured cycle at --concurrency 1
   (CPU seconds and database round trips per alliance, wall time) and one at 4;
   then the real thing: a long-running ``mcm-sync worker`` process (``--interval 30s``,
   ``--concurrency 4``) left to run every alliance once (its connections made), then its CPU
   read from the OS (``/proc/<pid>/stat``: user + system) over its next pass, divided by the
   runs the ledger counted meanwhile: the figure the 5 ms goal is about;
3. PostgreSQL: 1, 2 and 4 worker processes (``mcm-sync worker --once``) share one cycle:
   wall time and the ratio to one worker, and that no alliance ran twice;
4. --kill K distinct alliances, each with a member's card move, Slack writes slowed; two
   workers run them and one is killed with SIGKILL mid-cycle; the other takes its alliances
   over; duplicates are counted (thread notes per moved item, messages per token).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from click.testing import CliRunner

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from slack_sdk import WebClient  # noqa: E402

from connectors.identity import token_in_metadata  # noqa: E402
from connectors.sandbox.clients.testing import admin  # noqa: E402
from sync.cli.main import cli  # noqa: E402
from sync.core.checks import parse_duration  # noqa: E402
from sync.core.config import load_config  # noqa: E402
from sync.core.services import announce_sandbox, sandbox_data_dir  # noqa: E402
from sync.fleet.ledger import SCHEMA, Ledger  # noqa: E402
from sync.fleet.worker import Worker  # noqa: E402
from sync.state import db as dbmod  # noqa: E402
from sync.state.schema import TABLES  # noqa: E402
from sync.state.store import StateStore  # noqa: E402
from sync.state.transfer import copy_store  # noqa: E402
from tests import pg_server  # noqa: E402
from tests.alliance import example_config  # noqa: E402
from tests.fleet import make_fleet  # noqa: E402

ESRA = "esra.yilmaz@example.org"
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}
GOAL_CPU_MS = 5.0  # per quiet alliance run, the goal (one core: 1,000 every 5 s)
PARTS = ("cycle", "process", "workers", "kill")


class Sandbox:
    """``mcm-sync sandbox serve --no-rate-limits`` in a process of its own."""

    def __init__(self, data: Path) -> None:
        self.data = data
        data.mkdir(parents=True)
        config = example_config(data.parent)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "sync.cli.main", "-c", str(config), "sandbox", "serve",
             "--port", "0", "--data", str(data), "--no-rate-limits"],
            env=ENV, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        deadline = time.monotonic() + 30
        while not (data / "server.json").exists():
            if time.monotonic() > deadline:
                raise RuntimeError("the sandbox did not start")
            time.sleep(0.1)
        self.url = json.loads((data / "server.json").read_text())["url"]

    def stop(self) -> None:
        """Stop the sandbox process."""
        self.process.terminate()
        self.process.wait(timeout=10)


class _Url:
    """What ``make_fleet`` needs of a server: its URL."""

    def __init__(self, url: str) -> None:
        self.url = url


def run_cli(*args: str) -> str:
    """``mcm-sync`` in this process; raises on a non-zero exit."""
    result = CliRunner().invoke(cli, list(args))
    if result.exit_code:
        raise RuntimeError(f"mcm-sync {' '.join(args)}: {result.output}")
    return result.stdout


def clone_fleet(folder: Path, template: Path, n: int, pg_url: str | None) -> Path:
    """N configs of the template alliance (same slug and remote objects), each its own store."""
    configs = folder / "configs"
    configs.mkdir(parents=True)
    base = load_config(template)
    text = template.read_text(encoding="utf-8")
    source = StateStore.open(base.state_location, schema=base.state_schema)
    if pg_url:  # the template on the server first, then server-side copies of it
        with StateStore.open(pg_url, schema="template") as on_server:
            copy_store(source, on_server)
    for i in range(1, n + 1):
        name = f"c{i:04d}"
        home = folder / name
        state = home / ".mcm-sync" / "state.db"
        lines = [line for line in text.splitlines()
                 if not line.strip().startswith(("path:", "url:", "schema:"))]
        at = lines.index("state:")
        extra = [f"  path: {state}"]
        if pg_url:
            extra += [f"  url: {pg_url}", f"  schema: {name}"]
        (configs / f"{name}.yaml").write_text("\n".join(lines[:at + 1] + extra + lines[at + 1:])
                                              + "\n", encoding="utf-8")
        config = load_config(configs / f"{name}.yaml")
        if pg_url and i % 50 == 0:
            # New server processes now and then: one that created hundreds of schemas slows
            # down at every further DDL (its caches hold them all).
            dbmod.postgres_engine(pg_url).dispose()
        if pg_url:
            with StateStore.open(pg_url, schema=name) as target:
                for table in TABLES:
                    target._conn.execute(f"INSERT INTO {table.name} SELECT * FROM"
                                         f" mcm_template.{table.name}")
                for table in ("journal", "conflicts", "audit", "newsletters"):
                    target._conn.execute(
                        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'),"
                        f" COALESCE((SELECT MAX(id) FROM {table}), 0) + 1, false)")
        else:
            state.parent.mkdir(parents=True)
            shutil.copyfile(base.state_path, state)
        announce_sandbox(sandbox_data_dir(config), SANDBOX.url, rate_limits=False)
    source.close()
    return configs


def slack_token(email: str) -> str:
    """A member's Slack token, as the sandbox process issued it (its admin API)."""
    return str(admin(SANDBOX, "POST", "/_sandbox/members/tokens", {"email": email})["slack"])


def count_round_trips() -> list[int]:
    """Count every statement sent to a state or ledger database from now on."""
    counter = [0]
    original = dbmod.Database._run

    def counting(self: dbmod.Database, text: str, values: object = None) -> dbmod.Result:
        counter[0] += 1
        return original(self, text, values)

    dbmod.Database._run = counting  # type: ignore[method-assign]
    return counter


def reset_ledger(configs: Path, pg_url: str | None) -> None:
    """Every alliance due again."""
    ledger = Ledger(pg_url, configs)
    ledger.reset()
    ledger.close()


def one_worker(configs: Path, pg_url: str | None, n: int, counter: list[int],
               measure: bool = True) -> dict[str, float]:
    """Two warm-up cycles (configs, playbooks and action plans parsed, connections made; the
    first run reads the template's own writes coming back, the second records the empty plan's
    fingerprint), then (``measure``) a measured cycle of quiet runs at concurrency 1 and one
    at 4."""
    figures: dict[str, float] = {}
    reset_ledger(configs, pg_url)
    worker = Worker(configs, database=pg_url, interval=parse_duration("1h", "interval"))
    cycles = ((1, "warm"), (1, "warm"), (1, "c1"), (4, "c4")) if measure else ((4, "warm"),) * 2
    for concurrency, label in cycles:
        worker.ledger.reset()
        worker.concurrency = concurrency
        trips, cpu, wall = counter[0], time.process_time(), time.perf_counter()
        report = worker.cycle()
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        trips = counter[0] - trips
        bad = {k: v for k, v in report.outcomes.items() if v != "ok"}
        if bad or len(report.outcomes) != n:
            raise RuntimeError(f"cycle {label}: {len(report.outcomes)} run, not ok: {bad}")
        if label != "warm":
            figures[f"{label}_wall"] = wall
            figures[f"{label}_cpu_ms"] = cpu / n * 1000
            figures[f"{label}_trips"] = trips / n
    worker.close()
    return figures


def process_cpu(pid: int) -> float:
    """CPU seconds (user + system) a process has used, as the OS counts them."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def ledger_runs(configs: Path, pg_url: str | None) -> tuple[int, int]:
    """Runs the ledger counted over every alliance, and how many failed."""
    ledger = Ledger(pg_url, configs)
    try:
        entries = ledger.entries().values()
    finally:
        ledger.close()
    return sum(e.runs for e in entries), sum(1 for e in entries if e.failures)


def long_running_worker(configs: Path, pg_url: str | None, n: int,
                        timeout: float = 1800) -> dict[str, float]:
    """A real ``mcm-sync worker`` process: CPU per quiet alliance over its second pass."""
    reset_ledger(configs, pg_url)
    command = [sys.executable, "-m", "sync.cli.main", "worker", "--alliances", str(configs),
               "--interval", "30s", "--concurrency", "4"]
    if pg_url:
        command += ["--database", pg_url]
    proc = subprocess.Popen(command, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True)
    deadline = time.monotonic() + timeout

    def wait_for(runs: int) -> tuple[float, int, float]:
        while True:
            done, failed = ledger_runs(configs, pg_url)
            if failed or proc.poll() is not None:
                raise RuntimeError(f"the worker failed ({failed} alliances failed)")
            if done >= runs:
                return process_cpu(proc.pid), done, time.perf_counter()
            if time.monotonic() > deadline:
                raise RuntimeError(f"the worker made {done} of {runs} runs in {timeout} s")
            time.sleep(0.25)

    try:
        first = wait_for(n)  # every alliance once: configs parsed, connections made
        start = wait_for(n + max(1, n // 20))  # the second pass under way
        end = wait_for(2 * n)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=120)
        except subprocess.TimeoutExpired:
            proc.kill()
    runs = end[1] - start[1]
    return {"cpu_ms": (end[0] - start[0]) / runs * 1000, "runs": runs,
            "first_pass_cpu_ms": first[0] / n * 1000, "wall_per_run_ms":
            (end[2] - start[2]) / runs * 1000}


def worker_processes(configs: Path, pg_url: str, workers: int, n: int) -> float:
    """Wall time of one cycle shared by ``workers`` processes; checks none ran twice."""
    reset_ledger(configs, pg_url)
    start = time.perf_counter()
    procs = [subprocess.Popen(
        [sys.executable, "-m", "sync.cli.main", "worker", "--alliances", str(configs),
         "--database", pg_url, "--once", "--json", "--interval", "1h", "--concurrency", "2"],
        env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(workers)]
    seen: Counter[str] = Counter()
    for proc in procs:
        out, err = proc.communicate(timeout=3600)
        if proc.returncode:
            raise RuntimeError(err)
        seen.update(list(json.loads(out)["outcomes"]))
    wall = time.perf_counter() - start
    twice = [k for k, v in seen.items() if v > 1]
    print(f"  {workers} worker(s): {wall:.1f} s, {len(seen)} alliances, run twice: {len(twice)}")
    return wall


def kill_test(folder: Path, pg_url: str, k: int) -> dict[str, int]:
    """K alliances with a member's change; two workers, one killed mid-cycle; duplicates."""
    configs = make_fleet(folder, k, _Url(SANDBOX.url), pg_url)  # type: ignore[arg-type]
    for path in sorted(configs.glob("*.yaml")):
        run_cli("-c", str(path), "bootstrap")
        run_cli("-c", str(path), "sync")
        number = f"{path.stem.upper()}-1"
        run_cli("-c", str(path), "sandbox", "move", number, "doing", "--as", ESRA)
    admin(SANDBOX, "POST", "/_sandbox/faults", {"service": "slack", "method": "POST",
                                                "path": "*chat.*", "mode": "delay",
                                                "seconds": 0.3})
    reset_ledger(configs, pg_url)
    command = [sys.executable, "-m", "sync.cli.main", "worker", "--alliances", str(configs),
               "--database", pg_url, "--interval", "1h", "--concurrency", "2"]
    victim = subprocess.Popen(command, env=ENV, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    survivor = subprocess.Popen(command, env=ENV, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
    db = dbmod.Database.postgresql(pg_url, SCHEMA)
    mine = f"%:{victim.pid}"
    deadline = time.monotonic() + 120
    while not db.execute("SELECT 1 FROM alliance_runs WHERE worker LIKE ? AND outcome ="
                         " 'running'", (mine,)).fetchall():
        if time.monotonic() > deadline:
            raise RuntimeError("the victim never started an alliance")
        time.sleep(0.05)
    time.sleep(0.2)  # inside a slowed Slack write
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    killed_at = time.perf_counter()
    running_at_kill = len(db.execute("SELECT 1 FROM alliance_runs WHERE worker LIKE ? AND"
                                     " outcome = 'running'", (mine,)).fetchall())
    deadline = time.monotonic() + 300
    while True:
        rows = db.execute("SELECT name, outcome FROM alliance_runs").fetchall()
        done = sum(1 for r in rows if r["outcome"] == "ok")
        if done == k or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    taken_over_after = time.perf_counter() - killed_at
    db.close()
    survivor.send_signal(signal.SIGTERM)
    survivor.wait(timeout=60)
    admin(SANDBOX, "DELETE", "/_sandbox/faults")
    duplicates = notes = 0
    for path in sorted(configs.glob("*.yaml")):
        config = load_config(path)
        with StateStore.open(config.state_location, schema=config.state_schema) as store:
            channel = store.get_resource("slack", "channel", "actions")
            item = store.get_item_by_number(f"{path.stem.upper()}-1")
            side = store.get_side(item.id, "slack") if item else None
        slack = WebClient(token=slack_token(ESRA), base_url=f"{SANDBOX.url}/slack/api/")
        slack.proxy = None
        history = slack.conversations_history(channel=channel.remote_id, limit=1000,
                                              include_all_metadata=True)["messages"]
        tokens = Counter(token_in_metadata(m.get("metadata")) for m in history)
        duplicates += sum(v - 1 for t, v in tokens.items() if t and v > 1)
        replies = slack.conversations_replies(channel=channel.remote_id, ts=side.remote_id)
        moved = [m for m in replies["messages"][1:] if "In progress" in m.get("text", "")]
        notes += len(moved)
        duplicates += max(0, len(moved) - 1)
    return {"alliances": k, "ok": done, "running_when_killed": running_at_kill,
            "all_done_after_kill_s": round(taken_over_after, 1),
            "thread_notes": notes, "duplicates": duplicates}


SANDBOX: Sandbox


def main() -> None:
    """Run the benchmark and print its figures."""
    global SANDBOX
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--workers", default="1,2,4")
    parser.add_argument("--kill", type=int, default=12)
    parser.add_argument("--parts", default=",".join(PARTS),
                        help=f"what to measure, of {','.join(PARTS)}")
    args = parser.parse_args()
    parts = set(args.parts.split(","))
    scratch = Path(tempfile.mkdtemp(prefix="mcm-bench-worker-"))
    server = pg_server.start(max_connections=300)
    SANDBOX = Sandbox(scratch / "sandbox" / "data")
    try:
        template_dir = scratch / "template"
        template_dir.mkdir()
        template = make_fleet(template_dir, 1, _Url(SANDBOX.url), None) / "a0001.yaml"  # type: ignore[arg-type]
        run_cli("-c", str(template), "bootstrap")
        run_cli("-c", str(template), "sync")
        counter = count_round_trips()
        for backend in args.backends.split(","):
            pg_url = server.url if backend == "postgresql" else None
            start = time.perf_counter()
            configs = clone_fleet(scratch / backend, template, args.n, pg_url)
            print(f"{backend}: {args.n} alliances set up in {time.perf_counter() - start:.0f} s")
            # The warm-up cycles bring every store to quiet runs (for the process too).
            figures = one_worker(configs, pg_url, args.n, counter, measure="cycle" in parts)
            if "cycle" in parts:
                print(f"  Worker.cycle() in this process, 1 thread: {figures['c1_wall']:.1f} s "
                      f"per cycle, {figures['c1_cpu_ms']:.1f} ms CPU and "
                      f"{figures['c1_trips']:.0f} database round trips per no-op alliance sync")
                print(f"  Worker.cycle() in this process, 4 threads: {figures['c4_wall']:.1f} s "
                      f"per cycle, {figures['c4_cpu_ms']:.1f} ms CPU per alliance")
            if "process" in parts:
                real = long_running_worker(configs, pg_url, args.n)
                verdict = "met" if real["cpu_ms"] < GOAL_CPU_MS else "MISSED"
                print(f"  mcm-sync worker process (long-running, 4 threads): "
                      f"{real['cpu_ms']:.1f} ms CPU per quiet alliance (OS, over "
                      f"{real['runs']:.0f} runs; goal < {GOAL_CPU_MS:.0f} ms: {verdict}; "
                      f"floor: the in-process cycle above), {real['wall_per_run_ms']:.1f} ms "
                      f"wall per run; its first pass (connecting) "
                      f"{real['first_pass_cpu_ms']:.1f} ms CPU per alliance")
            if pg_url and "workers" in parts:
                walls = {w: worker_processes(configs, pg_url, w, args.n)
                         for w in map(int, args.workers.split(","))}
                first = walls[min(walls)]
                print("  cycle time ratio (1 worker / w workers): " + ", ".join(
                    f"{w}: {first / wall:.2f}" for w, wall in walls.items()))
        if args.kill and "postgresql" in args.backends and "kill" in parts:
            print("  kill -9 of one of two workers mid-cycle:",
                  kill_test(scratch / "kill", server.url, args.kill))
    finally:
        SANDBOX.stop()
        server.stop()
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
