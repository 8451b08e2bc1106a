"""N alliances on one Trello key, two worker processes, rate limits on: 429s, cycle, floor.

    python bench/bench_fleet_limits.py                     # 48 alliances, key 20 per 10 s
    python bench/bench_fleet_limits.py --n 200 --key-limit 300 --cycles 1

What it does (nothing is asserted; figures are printed):

1. a private PostgreSQL server and ``mcm-sync sandbox serve`` WITH its rate limits, each in
   a process of its own. The sandbox issues one coordinator token, which every alliance here
   uses; a hosted service has one token per alliance on its one API key. So the sandbox is
   told to enforce a per-token limit no alliance reaches (``--token-limit``, default 10,000
   per 10 s) and ``--key-limit`` per 10 s per key: the key is what binds, as for a hosting
   service;
2. the example alliance bootstrapped once and its state cloned N times into PostgreSQL
   (``bench_worker.clone_fleet``): N alliances whose syncs read the same board;
3. ``--cycles`` cycles of two ``mcm-sync worker --once`` processes on that database: per
   cycle its wall time, the sandbox's requests and 429s per service (its stats), and the
   floor the per-key limit sets: the Trello requests beyond the first window's, at the rate
   we book (the sandbox's figure less 10 %).

Why 48 alliances and a key of 20 per 10 s by default, not 1,000 at Trello's 300: a quiet
alliance run makes one Trello call and one Slack ``conversations.history`` call. Every cloned
alliance shares the sandbox's one Slack bot token, so Slack's Tier 3 (50 per minute per app,
workspace and method) is shared by all N too, and is held fleet-wide like Trello's key: at
1,000 alliances it, not Trello, sets the cycle (about 22 minutes), which a hosted service (a
workspace per alliance) would not see. Under 50 alliances a cycle's Slack calls fit in one
burst, and a key of 20 per 10 s (below Slack's 50 per minute) makes the Trello key the limit
that binds; ``--key-limit 300 --n N`` runs Trello's own figure (Slack then binds past 50).
Run one cycle per 66 s if more than one (``--cycles``): Slack's window must empty between.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import bench_worker  # noqa: E402  (the fleet's set-up: clone_fleet, run_cli)

from connectors.pacing import SLACK_MARGIN, with_headroom  # noqa: E402
from connectors.rate_limits import SLACK_TIERS, TRELLO_PER_KEY, Limit  # noqa: E402
from connectors.sandbox.clients.testing import admin  # noqa: E402
from sync.core.config import load_config  # noqa: E402
from sync.core.services import announce_sandbox, sandbox_data_dir  # noqa: E402
from sync.fleet.jobs import forget_jobs  # noqa: E402
from tests.support import pg_server  # noqa: E402
from tests.support.fleet import make_fleet  # noqa: E402

SLACK_WINDOW = SLACK_TIERS[3].seconds * SLACK_MARGIN  # what the pacers hold a Tier 3 call for


class LimitedSandbox(bench_worker.Sandbox):
    """``mcm-sync sandbox serve`` with the vendors' rate limits on, in a process of its own."""

    def __init__(self, data: Path) -> None:
        data.mkdir(parents=True)
        config = bench_worker.example_config(data.parent)
        self.data = data
        self.process = subprocess.Popen(
            [sys.executable, "-m", "sync.cli.main", "-c", str(config), "sandbox", "serve",
             "--port", "0", "--data", str(data)],
            env=bench_worker.ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            text=True)
        deadline = time.monotonic() + 30
        while not (data / "server.json").exists():
            if time.monotonic() > deadline:
                raise RuntimeError("the sandbox did not start")
            time.sleep(0.1)
        self.url = json.loads((data / "server.json").read_text())["url"]


def announce_limited(configs: Path, url: str) -> None:
    """Every alliance's sandbox announced with rate limits on: they pace (and share)."""
    for path in sorted(configs.glob("*.yaml")):
        announce_sandbox(sandbox_data_dir(load_config(path)), url, rate_limits=True)


def per_service(stats: dict[str, Any]) -> dict[str, Counter[str]]:
    """``{service: Counter(status -> requests)}`` from the sandbox's stats."""
    found: dict[str, Counter[str]] = {}
    for service, routes in stats.items():
        counts: Counter[str] = Counter()
        for codes in routes.values():
            counts.update({code: int(n) for code, n in codes.items()})
        found[service] = counts
    return found


def cycle(configs: Path, pg_url: str, workers: int, concurrency: int) -> tuple[float, int]:
    """One cycle shared by ``workers`` processes: wall seconds, alliances run."""
    forget_jobs(pg_url)  # every alliance due at once
    start = time.perf_counter()
    procs = [subprocess.Popen(
        [sys.executable, "-m", "sync.cli.main", "worker", "--alliances", str(configs),
         "--database", pg_url, "--once", "--json", "--interval", "1h",
         "--concurrency", str(concurrency)],
        env=bench_worker.ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(workers)]
    outcomes: Counter[str] = Counter()
    for proc in procs:
        out, err = proc.communicate(timeout=3600)
        if proc.returncode:
            raise RuntimeError(err[-2000:])
        outcomes.update(json.loads(out)["outcomes"].values())
    return time.perf_counter() - start, sum(outcomes.values())


def main() -> None:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=48)
    parser.add_argument("--cycles", type=int, default=1)
    parser.add_argument("--key-limit", type=int, default=20,
                        help="the sandbox's per-key limit per 10 s (Trello: 300)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--token-limit", type=int, default=10_000,
                        help="the sandbox's per-token limit per 10 s (see the docstring)")
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="mcm-bench-limits-"))
    server = pg_server.start(max_connections=300)
    sandbox = LimitedSandbox(scratch / "sandbox" / "data")
    bench_worker.SANDBOX = sandbox  # clone_fleet announces the sandbox it names
    try:
        admin(sandbox, "POST", "/_sandbox/settings", {  # type: ignore[arg-type]
            "trello_per_token": [args.token_limit, 10.0],
            "trello_per_key": [args.key_limit, TRELLO_PER_KEY.seconds]})
        template_dir = scratch / "template"
        template_dir.mkdir()
        template = make_fleet(template_dir, 1, bench_worker._Url(sandbox.url),  # type: ignore[arg-type]
                              None) / "a0001.yaml"
        announce_limited(template.parent, sandbox.url)
        bench_worker.run_cli("-c", str(template), "bootstrap")
        bench_worker.run_cli("-c", str(template), "sync")
        start = time.perf_counter()
        configs = bench_worker.clone_fleet(scratch / "fleet", template, args.n, server.url)
        announce_limited(configs, sandbox.url)
        print(f"{args.n} alliances on one Trello key set up in "
              f"{time.perf_counter() - start:.0f} s; {args.workers} worker processes, "
              f"--concurrency {args.concurrency}, sandbox limits on (per key "
              f"{args.key_limit}/{TRELLO_PER_KEY.seconds:.0f} s, per token "
              f"{args.token_limit}/{TRELLO_PER_KEY.seconds:.0f} s)")
        booked = with_headroom(Limit(args.key_limit, TRELLO_PER_KEY.seconds))
        # The template's bootstrap and sync were paced in this process, not in the workers'
        # database: their calls leave the sandbox's windows (Slack's minute the longest)
        # before the cycle, which would otherwise meet calls it cannot know of.
        time.sleep(SLACK_WINDOW)
        for number in range(1, args.cycles + 1):
            if number > 1:  # Slack's window empties between cycles (see the docstring)
                time.sleep(SLACK_WINDOW)
            admin(sandbox, "POST", "/_sandbox/stats/reset")  # type: ignore[arg-type]
            wall, ran = cycle(configs, server.url, args.workers, args.concurrency)
            counts = per_service(admin(sandbox, "GET", "/_sandbox/stats"))  # type: ignore[arg-type]
            trello = counts.get("trello", Counter())
            requests = sum(trello.values())
            # The first window's calls go at once; each further one waits its turn.
            floor = max(0, requests - booked.calls) * booked.seconds / booked.calls
            others = ", ".join(f"{service} {sum(c.values())} requests, {c.get('429', 0)} x 429"
                               for service, c in counts.items() if service != "trello")
            print(f"  cycle {number}: {ran} alliances in {wall:.1f} s; Trello {requests} "
                  f"requests, {trello.get('429', 0)} x 429 (goal 0); the key's floor at the "
                  f"{booked.calls}/{booked.seconds:.0f} s we book: {floor:.1f} s "
                  f"({wall / floor if floor else 0:.2f}x); {others}")
    finally:
        sandbox.stop()
        server.stop()
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
