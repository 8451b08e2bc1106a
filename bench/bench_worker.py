"""Workers for many alliances: the ledger's worker (before the job engine) and the engine's
side by side. Prints figures.

    git worktree add --detach ../ledger-worker c5d06fd   # the last commit with the ledger
    python bench/bench_worker.py --old ../ledger-worker          # 1,000 alliances
    python bench/bench_worker.py --old ../ledger-worker --n 200 --workers 1,2 --kill 12

``--old`` is a checkout of the code before the engine (as above): its worker (a ledger
table, advisory locks, NOTIFY) runs from there, the engine's (procrastinate) from this tree,
both as real ``mcm-sync worker`` processes on the same fleet, the same sandbox process and
one private PostgreSQL server (nothing is asserted).

1. bootstraps one example alliance on the sandbox and clones its state N times (a PostgreSQL
   schema each, filled by ``INSERT ... SELECT``): N alliances whose syncs are quiet runs;
2. per implementation, a warm-up cycle, then one cycle (``mcm-sync worker --once``) shared by
   1 and 2 worker processes: wall time, CPU per alliance (user + system of the worker
   processes, from the OS), database transactions per alliance (``pg_stat_database``; in
   autocommit one statement is one transaction: the round trips), alliances run twice;
3. ``--kill K``: K alliances with a member's card move each, Slack writes slowed; two
   long-running workers, one killed with SIGKILL while it runs an alliance; the time until
   every alliance has synced (``worker status``), the alliances finished, duplicates (our
   identity tokens seen twice in the channels).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
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


SANDBOX: Sandbox


def main() -> None:
    """Run the benchmark and print its figures."""
    global SANDBOX
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--old", type=Path, required=True,
                        help="a checkout of the ledger's code (git worktree add --detach)")
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--workers", default="1,2", help="worker counts ('' for none)")
    parser.add_argument("--kill", type=int, default=12)
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="mcm-bench-worker-"))
    server = pg_server.start(max_connections=300)
    SANDBOX = Sandbox(scratch / "sandbox" / "data")
    trees = [Tree("ledger", args.old.resolve(), server.url), Tree("engine", ROOT, server.url)]
    try:
        template_dir = scratch / "template"
        template_dir.mkdir()
        template = make_fleet(template_dir, 1, _Url(SANDBOX.url), None) / "a0001.yaml"  # type: ignore[arg-type]
        run_cli("-c", str(template), "bootstrap")
        run_cli("-c", str(template), "sync")
        start = time.perf_counter()
        configs = clone_fleet(scratch / "fleet", template, args.n, server.url)
        print(f"{args.n} alliances set up in {time.perf_counter() - start:.0f} s")
        counts = [int(w) for w in args.workers.split(",") if w]  # "": the kill test only
        for tree in trees if counts else ():  # warm-up: every store brought to quiet runs
            one_cycle(tree, configs, 1, args.n)  # one first: it creates its tables
        for workers in counts:
            for tree in trees:
                print(f"  {tree.label:6} {workers} worker(s), one cycle:",
                      one_cycle(tree, configs, workers, args.n))
        if args.kill:
            kill_configs = make_fleet(scratch / "kill", args.kill, _Url(SANDBOX.url),  # type: ignore[arg-type]
                                      server.url, own_schemas=True)
            for path in sorted(kill_configs.glob("*.yaml")):
                run_cli("-c", str(path), "bootstrap")
                run_cli("-c", str(path), "sync")
            for tree, status in zip(trees, ("doing", "done"), strict=True):
                print(f"  {tree.label:6} kill -9 of one of two workers mid-cycle:",
                      kill_test(tree, kill_configs, args.kill, status))
    finally:
        SANDBOX.stop()
        server.stop()
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
