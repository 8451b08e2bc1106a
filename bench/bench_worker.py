"""Workers for many alliances: a long-running ``mcm-sync worker`` per backend, its CPU per
quiet alliance beside issue 24's goal (and, with --old, the ledger's worker beside the
engine's). Prints figures.

    python bench/bench_worker.py                       # 1,000 alliances, PostgreSQL and SQLite
    python bench/bench_worker.py --n 200 --backends sqlite --profile /tmp/prof
    git worktree add --detach ../ledger-worker c5d06fd   # the last commit with the ledger
    python bench/bench_worker.py --old ../ledger-worker --backends '' --n 200 --kill 12

Everything runs as real processes: one sandbox process (no rate limits), one private
PostgreSQL server (nothing is asserted).

1. bootstraps one example alliance on the sandbox and clones its state N times (a PostgreSQL
   schema each, filled by ``INSERT ... SELECT``, or a copy of the SQLite file each): N
   alliances whose syncs are quiet runs;
2. per backend (``--backends``), a long-running ``mcm-sync worker --interval 30s
   --concurrency 2`` (on PostgreSQL with ``--database``: the job engine; on SQLite the lone
   worker): once its first cycle has run every alliance (configs parsed, connections made)
   and a second one too (the parsed heap frozen: a start-up cost), its CPU (user + system of
   every thread, from ``/proc/<pid>/stat``) is read, and again when its third cycle has run
   every alliance once more; the difference divided by the runs in between is the **CPU per
   quiet alliance**, printed beside the 5 ms goal. The window holds
   everything the process did meanwhile (the dispatcher's ticks, heartbeats, the lone
   worker's looks for deliveries). Runs are counted from the job history (``job_outcomes``)
   on PostgreSQL and from the worker's one line per pass on SQLite; database transactions
   per run from ``pg_stat_database`` (in autocommit one statement is one transaction: the
   round trips). ``--profile DIR``: py-spy samples that window (``--gil``: the threads
   holding the GIL, where the CPU goes) into ``DIR/<backend>.txt`` (collapsed stacks);
3. ``--old DIR`` (a checkout of the code before the engine): its worker (a ledger table,
   advisory locks, NOTIFY) and the engine's, both ``mcm-sync worker --once --concurrency 2``
   on the same fleet: wall time, CPU per alliance (start-up included), transactions per
   alliance, alliances run twice; then ``--kill K``: K alliances with a member's card move
   each, Slack writes slowed; two long-running workers, one killed with SIGKILL while it
   runs an alliance; the time until every alliance has synced (``worker status``), the
   alliances finished, duplicates (our identity tokens seen twice in the channels).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
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
from sync.core.config import load_config  # noqa: E402
from sync.core.services import announce_sandbox, sandbox_data_dir  # noqa: E402
from sync.fleet.jobs import forget_jobs  # noqa: E402
from sync.state import db as dbmod  # noqa: E402
from sync.state.schema.tables import TABLES  # noqa: E402
from sync.state.store import StateStore  # noqa: E402
from sync.state.transfer import copy_store  # noqa: E402
from tests.support import pg_server  # noqa: E402
from tests.support.alliance import example_config  # noqa: E402
from tests.support.fleet import make_fleet  # noqa: E402

ESRA = "esra.yilmaz@example.org"
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}
GOAL_MS = 5.0  # issue 24: CPU per quiet alliance of a long-running worker, 1,000 alliances


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


class Tree:
    """One implementation: its source tree (run from there) and how to reset its schedule."""

    def __init__(self, label: str, root: Path, pg_url: str) -> None:
        self.label, self.root, self.pg_url = label, root, pg_url
        self.env = {**os.environ, "PYTHONPATH": str(root)}

    def command(self, configs: Path, *args: str) -> list[str]:
        """``mcm-sync worker`` of this tree on ``configs``."""
        return [sys.executable, "-m", "sync.cli.main", "worker", "--alliances", str(configs),
                "--database", self.pg_url, *args]

    def reset(self) -> None:
        """Every alliance due again."""
        if self.label == "engine":
            forget_jobs(self.pg_url)
            return
        db = dbmod.Database.postgresql(self.pg_url, "mcm_worker")
        try:
            if db.execute("SELECT to_regclass('alliance_runs')").one()[0] is not None:
                db.execute("DELETE FROM alliance_runs")
        finally:
            db.close()

    def status(self, configs: Path) -> list[dict[str, object]]:
        """``worker status --json`` of this tree."""
        out = subprocess.run([*self.command(configs)[:4], "status", "--alliances",
                              str(configs), "--database", self.pg_url, "--json"],
                             env=self.env, cwd=self.root, capture_output=True, text=True,
                             check=True, timeout=120).stdout
        return list(json.loads(out))


def transactions(pg_url: str) -> int:
    """Transactions the server counted in the database so far (commits and rollbacks)."""
    db = dbmod.Database.postgresql(pg_url, "public")
    try:
        row = db.execute("SELECT xact_commit + xact_rollback AS n FROM pg_stat_database"
                         " WHERE datname = current_database()").one()
        return int(row["n"])
    finally:
        db.close()


def children_cpu() -> float:
    """User + system CPU seconds of the finished child processes so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def one_cycle(tree: Tree, configs: Path, workers: int, n: int) -> dict[str, float]:
    """One cycle shared by ``workers`` ``--once`` processes of ``tree``."""
    tree.reset()
    time.sleep(1.0)  # pg_stat_database is updated by the server at most every 0.5 s
    trips, cpu, start = transactions(tree.pg_url), children_cpu(), time.perf_counter()
    procs = [subprocess.Popen(tree.command(configs, "--once", "--json", "--interval", "1h",
                                           "--concurrency", "2"),
                              env=tree.env, cwd=tree.root, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(workers)]
    seen: Counter[str] = Counter()
    bad: dict[str, str] = {}
    for proc in procs:
        out, err = proc.communicate(timeout=3600)
        if proc.returncode:
            raise RuntimeError(f"{tree.label}: {err[-2000:]}")
        outcomes = json.loads(out)["outcomes"]
        seen.update(list(outcomes))
        bad.update({k: v for k, v in outcomes.items() if v != "ok"})
    wall = time.perf_counter() - start
    cpu = children_cpu() - cpu
    time.sleep(1.0)
    trips = transactions(tree.pg_url) - trips
    return {"wall_s": round(wall, 1), "cpu_ms_per_alliance": round(cpu / n * 1000, 1),
            "transactions_per_alliance": round(trips / n, 1), "ran": len(seen),
            "run_twice": sum(1 for v in seen.values() if v > 1), "not_ok": len(bad)}


def kill_test(tree: Tree, configs: Path, k: int, status: str) -> dict[str, object]:
    """K alliances with a member's move; two workers, one killed mid-cycle; duplicates."""
    for path in sorted(configs.glob("*.yaml")):
        run_cli("-c", str(path), "sandbox", "move", f"{path.stem.upper()}-1", status,
                "--as", ESRA)
    admin(SANDBOX, "POST", "/_sandbox/faults", {"service": "slack", "method": "POST",
                                                "path": "*chat.*", "mode": "delay",
                                                "seconds": 0.3})
    tree.reset()
    command = tree.command(configs, "--interval", "1h", "--concurrency", "2")
    victim, survivor = (subprocess.Popen(command, env=tree.env, cwd=tree.root,
                                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                        for _ in range(2))
    deadline = time.monotonic() + 120
    while not any(r["outcome"] == "running" for r in tree.status(configs)):
        if time.monotonic() > deadline:
            raise RuntimeError("no worker ever started an alliance")
        time.sleep(0.1)
    time.sleep(0.5)  # both workers inside slowed Slack writes
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    killed_at = time.perf_counter()
    deadline = time.monotonic() + 300
    while True:
        rows = tree.status(configs)
        done = sum(1 for r in rows if r["outcome"] == "ok")
        if done == k or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    all_done = time.perf_counter() - killed_at
    survivor.send_signal(signal.SIGTERM)
    survivor.wait(timeout=60)
    admin(SANDBOX, "DELETE", "/_sandbox/faults")
    duplicates = 0
    for path in sorted(configs.glob("*.yaml")):
        config = load_config(path)
        with StateStore.open(config.state_location, schema=config.state_schema) as store:
            channel = store.get_resource("slack", "channel", "actions")
        assert channel is not None
        slack = WebClient(token=slack_token(ESRA), base_url=f"{SANDBOX.url}/slack/api/")
        slack.proxy = None
        history = slack.conversations_history(channel=channel.remote_id, limit=1000,
                                              include_all_metadata=True)["messages"]
        messages = list(history)
        for message in history:
            if message.get("reply_count"):
                messages += slack.conversations_replies(channel=channel.remote_id,
                                                        ts=message["ts"])["messages"][1:]
        tokens = Counter(token_in_metadata(m.get("metadata")) for m in messages)
        duplicates += sum(v - 1 for t, v in tokens.items() if t and v > 1)
    return {"alliances": k, "finished": done, "all_done_after_kill_s": round(all_done, 1),
            "duplicates": duplicates}


def process_cpu(pid: int) -> float:
    """CPU seconds (user + system, every thread) a running process has used, from the OS."""
    return sum(process_times(pid))


def process_times(pid: int) -> tuple[float, float]:
    """(user, system) CPU seconds of every thread of a running process, from the OS."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    tick = os.sysconf("SC_CLK_TCK")
    return int(fields[11]) / tick, int(fields[12]) / tick


class RunCounter:
    """Scheduled runs a long-running worker finished so far, and how many were not "ok".

    On PostgreSQL the job history counts them (``job_outcomes``); a lone worker on SQLite
    keeps none, so its log is read: one line per pass, ``worker cycle: 200 ok, ...``.
    """

    def __init__(self, proc: subprocess.Popen[str], pg_url: str | None) -> None:
        self.pg_url, self.runs, self.not_ok = pg_url, 0, 0
        self.polls = 0  # statements of ours the server counts as transactions too
        self.db = dbmod.Database.postgresql(pg_url, "mcm_jobs") if pg_url else None
        if pg_url is None:
            threading.Thread(target=self._read, args=(proc,), daemon=True).start()

    def _read(self, proc: subprocess.Popen[str]) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            counts = {word: int(n) for n, word in
                      re.findall(r"(\d+) (\w+)", line.partition("worker cycle:")[2])}
            self.runs += sum(counts.values())
            self.not_ok += sum(v for k, v in counts.items() if k != "ok")

    def poll(self) -> tuple[int, int]:
        """(runs finished, runs not ok) so far."""
        if self.db is None:
            return self.runs, self.not_ok
        self.polls += 1
        row = self.db.execute("SELECT count(*) AS runs, count(*) FILTER (WHERE outcome <> 'ok')"
                              " AS not_ok FROM job_outcomes WHERE scheduled").one()
        return int(row["runs"]), int(row["not_ok"])

    def close(self) -> None:
        """Close the job history's connection."""
        if self.db is not None:
            self.db.close()


def long_running(configs: Path, n: int, pg_url: str | None, *, interval: str,
                 concurrency: int, profile: Path | None = None,
                 timeout: float = 3000) -> dict[str, float]:
    """A real long-running ``mcm-sync worker`` (no ``--once``): its CPU from the OS per
    quiet alliance run over its third cycle, after a first one parsed every config and
    connected every alliance and a second one in which the parsed heap was frozen.
    ``profile``: py-spy samples the measured cycle into it."""
    if pg_url:
        forget_jobs(pg_url)
    command = [sys.executable, "-m", "sync.cli.main", "worker", "--alliances", str(configs),
               "--interval", interval, "--concurrency", str(concurrency)]
    if pg_url:
        command += ["--database", pg_url]
    log = configs.parent / "worker.log"
    with log.open("w") as errors:
        proc = subprocess.Popen(command, env=ENV, cwd=ROOT, stdout=subprocess.PIPE,
                                stderr=errors, text=True)
    if pg_url:  # the log is not read: drain it so the worker never blocks on a full pipe
        threading.Thread(target=lambda: proc.stdout and proc.stdout.read(), daemon=True).start()
    counter = RunCounter(proc, pg_url)
    deadline = time.monotonic() + timeout

    def wait_for(runs: int) -> tuple[float, float, int, int, float]:
        """(CPU s, wall s, runs, round trips, system CPU s) once ``runs`` scheduled runs
        have finished."""
        while True:
            done, not_ok = counter.poll()
            if proc.poll() is not None:
                raise RuntimeError(f"the worker stopped: {log.read_text()[-2000:]}")
            if done >= runs:
                user, system = process_times(proc.pid)
                return (user + system, time.perf_counter(), done,
                        transactions(pg_url) - counter.polls - 2 if pg_url else 0, system)
            if time.monotonic() > deadline:
                raise RuntimeError(f"the worker made {done} of {runs} runs in {timeout} s")
            time.sleep(0.25)

    spy = None
    try:
        wait_for(n)  # every alliance once: configs parsed, connections made
        # A second cycle first: once parsing is over the worker freezes the heap of the parsed
        # alliances (one full collection, ~0.7 s at 1,000), a start-up cost, not a run's.
        first = wait_for(2 * n)
        if profile is not None:
            spy = subprocess.Popen(
                [str(Path(sys.executable).with_name("py-spy")), "record", "--pid",
                 str(proc.pid), "--format", "raw", "--gil", "--rate", "200", "--output",
                 str(profile)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        end = wait_for(3 * n)
        not_ok = counter.poll()[1]
    finally:
        if spy is not None:
            spy.send_signal(signal.SIGINT)
            spy.wait(timeout=60)
        counter.close()
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=120)
        except subprocess.TimeoutExpired:
            proc.kill()
    runs = end[2] - first[2]
    result = {"cpu_ms_per_quiet_alliance": round((end[0] - first[0]) / runs * 1000, 2),
              "goal_ms": GOAL_MS, "runs": runs, "not_ok": not_ok,
              "of_which_system_ms": round((end[4] - first[4]) / runs * 1000, 2),
              "cycle_s": round(end[1] - first[1], 1),
              "first_cycles_cpu_ms_per_alliance": round(first[0] / (2 * n) * 1000, 1)}
    if pg_url:
        result["round_trips_per_alliance"] = round((end[3] - first[3]) / runs, 1)
    return result


SANDBOX: Sandbox


def main() -> None:
    """Run the benchmark and print its figures."""
    global SANDBOX
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--backends", default="postgresql,sqlite",
                        help="where the stores (and the job engine) are, for the long-running"
                        " worker ('' for none)")
    parser.add_argument("--interval", default="30s", help="the long-running worker's --interval")
    parser.add_argument("--concurrency", type=int, default=2,
                        help="the long-running worker's --concurrency")
    parser.add_argument("--profile", type=Path, default=None,
                        help="a folder: py-spy samples each measured cycle into it (raw;"
                        " the threads holding the GIL: where the CPU goes)")
    parser.add_argument("--old", type=Path, default=None,
                        help="a checkout of the ledger's code (git worktree add --detach):"
                        " the --once cycles and the kill test side by side")
    parser.add_argument("--workers", default="1,2", help="with --old: worker counts ('' none)")
    parser.add_argument("--kill", type=int, default=12, help="with --old: the kill test")
    args = parser.parse_args()
    backends = [b for b in args.backends.split(",") if b]
    scratch = Path(tempfile.mkdtemp(prefix="mcm-bench-worker-"))
    server = pg_server.start(max_connections=300)
    SANDBOX = Sandbox(scratch / "sandbox" / "data")
    try:
        template_dir = scratch / "template"
        template_dir.mkdir()
        template = make_fleet(template_dir, 1, _Url(SANDBOX.url), None) / "a0001.yaml"  # type: ignore[arg-type]
        run_cli("-c", str(template), "bootstrap")
        run_cli("-c", str(template), "sync")
        for backend in backends:
            pg_url = server.url if backend == "postgresql" else None
            start = time.perf_counter()
            configs = clone_fleet(scratch / f"fleet-{backend}", template, args.n, pg_url)
            print(f"{args.n} alliances on {backend} set up in {time.perf_counter() - start:.0f} s")
            if args.profile is not None:
                args.profile.mkdir(parents=True, exist_ok=True)
            figures = long_running(configs, args.n, pg_url, interval=args.interval,
                                   concurrency=args.concurrency,
                                   profile=args.profile / f"{backend}.txt" if args.profile
                                   else None)
            verdict = "met" if figures["cpu_ms_per_quiet_alliance"] < GOAL_MS else "NOT met"
            print(f"  {backend:10} long-running worker (--interval {args.interval},"
                  f" --concurrency {args.concurrency}): {figures['cpu_ms_per_quiet_alliance']}"
                  f" ms CPU per quiet alliance, goal < {GOAL_MS} ms: {verdict}; {figures}")
        if args.old is not None:
            side_by_side(args, template, scratch, server.url)
    finally:
        SANDBOX.stop()
        server.stop()
        shutil.rmtree(scratch, ignore_errors=True)


def side_by_side(args: argparse.Namespace, template: Path, scratch: Path, pg_url: str) -> None:
    """The ledger's worker (``--old``) and the engine's: ``--once`` cycles, the kill test."""
    trees = [Tree("ledger", args.old.resolve(), pg_url), Tree("engine", ROOT, pg_url)]
    configs = clone_fleet(scratch / "fleet-old", template, args.n, pg_url) \
        if not (scratch / "fleet-postgresql" / "configs").is_dir() \
        else scratch / "fleet-postgresql" / "configs"
    counts = [int(w) for w in args.workers.split(",") if w]  # "": the kill test only
    for tree in trees if counts else ():  # warm-up: every store brought to quiet runs
        one_cycle(tree, configs, 1, args.n)  # one first: it creates its tables
    for workers in counts:
        for tree in trees:
            print(f"  {tree.label:6} {workers} worker(s), one cycle:",
                  one_cycle(tree, configs, workers, args.n))
    if args.kill:
        kill_configs = make_fleet(scratch / "kill", args.kill, _Url(SANDBOX.url),  # type: ignore[arg-type]
                                  pg_url, own_schemas=True)
        for path in sorted(kill_configs.glob("*.yaml")):
            run_cli("-c", str(path), "bootstrap")
            run_cli("-c", str(path), "sync")
        for tree, status in zip(trees, ("doing", "done"), strict=True):
            print(f"  {tree.label:6} kill -9 of one of two workers mid-cycle:",
                  kill_test(tree, kill_configs, args.kill, status))


if __name__ == "__main__":
    main()
