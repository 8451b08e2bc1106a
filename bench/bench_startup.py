"""Benchmark: start-up of ``mcm-sync``, the part of every cron run nobody waits for gladly.

    python bench/bench_startup.py                 # about a minute
    python bench/bench_startup.py --runs 21 --importtime

Real processes only, as cron starts them (``.venv/bin/mcm-sync``), each timed from spawn to
exit (wall) and by the OS (user + system CPU of the child, ``getrusage``), median of --runs:

1. ``python -c pass`` in the same environment: the floor (the interpreter and ``site``);
   and the **SDK floor**: the interpreter importing what a sync cannot do without (the
   vendors' SDKs py-trello with requests and slack_sdk's web client, tenacity, PyYAML, click,
   sqlite3; the collector held back, as the console script holds it), alone and with
   pydantic (its ``BaseModel``, which the config's, the playbook's and the rows' models are
   made of): what no lazy import of ours can take off a sync; and the same with
   every module a quiet sync imports, ours too, imported and nothing run (the quiet sync
   minus this is the run itself). The floors are measured in turns with the quiet sync (3.),
   so that load on a shared machine weighs on all alike;
2. ``mcm-sync --version`` and ``mcm-sync --help``: goal under 0.15 s;
3. a quiet ``mcm-sync sync`` of the example alliance (45 items), against a sandbox running as
   its own process (``mcm-sync sandbox serve``, the vendors' rate limits on): goal under
   0.3 s wall; the API calls each run makes, from the sandbox's own counters;
4. the same without ``.pyc`` files (``PYTHONDONTWRITEBYTECODE=1`` and an empty
   ``PYTHONPYCACHEPREFIX``): what an install that did not compile its modules pays.

The project's modules are compiled first (``compileall``), as ``pip install`` does for a
wheel by default, and the runs drop ``PYTHONDONTWRITEBYTECODE`` from the environment.
``--before DIR`` adds the quiet sync of another source tree of the project (its ``sync``,
``connectors`` and ``playbooks`` first on ``PYTHONPATH``, e.g. ``git archive`` of an earlier
commit unpacked into DIR), run in the same turns as the rest: a before/after that a burst of
load on a shared machine does not tilt. The earlier tree syncs a copy of the alliance's folder
(the same sandbox, the same state, its own ``cache/``): two versions' kept results would
replace each other's at every turn. ``--importtime`` prints the slowest imports of each
command (``python -X importtime``, cumulative milliseconds, median of ``--repeats``
processes) and the self time of each top-level package, with ``--before`` the earlier tree's
beside them (in turns too): the profile that says what to import lazily next.
``-X importtime`` itself slows every import, so its figures add up to more than the wall
times above.
"""

from __future__ import annotations

import argparse
import collections
import compileall
import json
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
MCM = str(BIN / "mcm-sync")
EXAMPLE_CONFIG = ROOT / "config.example.yaml"
EXAMPLE_PLAN = ROOT / "playbooks/examples/frl-action-plan.yaml"
GOALS = {"version": 0.15, "help": 0.15, "sync": 0.30}
# What a quiet sync imports and cannot do without (``import pydantic`` alone is lazy: its
# BaseModel is what the models need).
# The collector held back as the console script holds it in every run (sync.cli.support.startup).
SDK_FLOOR = ("import gc; gc.disable(); "
             "import requests, trello, slack_sdk.web, tenacity, yaml, click, sqlite3")
SDK_FLOOR_PYDANTIC = f"{SDK_FLOOR}; from pydantic import BaseModel"
# Everything a quiet sync imports, ours with the libraries, imported and nothing run: the
# quiet sync minus this is what its run costs (config, state store, the two reads, the check).
QUIET_IMPORTS = (f"{SDK_FLOOR_PYDANTIC}; import sync.cli.main, sync.cli.sync, sync.api.alliance, "
                 "sync.api.config, sync.runner, sync.limits, sync.state.store, "
                 "connectors.trello.connector, connectors.slack.connector")
PROXIES = ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY", "all_proxy")


def environment(pyc: bool) -> dict[str, str]:
    """The runs' environment: no proxies (loopback), ``.pyc`` files used or not."""
    env = {k: v for k, v in os.environ.items()
           if k not in PROXIES and k != "PYTHONDONTWRITEBYTECODE"}
    if not pyc:  # no .pyc read or written: every module compiled at every start
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        env["PYTHONPYCACHEPREFIX"] = tempfile.mkdtemp(prefix="mcm-no-pyc-")
    return env


def timed(command: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """Wall seconds, CPU seconds (user + system, from the OS) and stdout of one process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode:
        raise RuntimeError(f"{' '.join(command)} exited {done.returncode}: {done.stderr[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, done.stdout


def medians(command: list[str], env: dict[str, str], runs: int) -> tuple[float, float]:
    """Median wall and CPU seconds over ``runs`` processes (after one unmeasured run)."""
    timed(command, env)
    samples = [timed(command, env)[:2] for _ in range(runs)]
    return (statistics.median(s[0] for s in samples),
            statistics.median(s[1] for s in samples))


def interleaved(commands: dict[str, list[str]], env: dict[str, str], runs: int,
                envs: dict[str, dict[str, str]] | None = None) -> dict[str, tuple[float, float]]:
    """Median wall and CPU seconds of each command, run in turns (one of each per round,
    after one unmeasured round): on a shared machine a burst of load then weighs on every
    figure alike, so their differences hold. ``envs``: another environment for some."""
    envs = envs or {}
    for name, command in commands.items():
        timed(command, envs.get(name, env))
    samples: dict[str, list[tuple[float, float]]] = {name: [] for name in commands}
    for _ in range(runs):
        for name, command in commands.items():
            samples[name].append(timed(command, envs.get(name, env))[:2])
    return {name: (statistics.median(s[0] for s in got), statistics.median(s[1] for s in got))
            for name, got in samples.items()}


def instructions(command: list[str], env: dict[str, str]) -> int | None:
    """Instructions one process of ``command`` executes (valgrind's callgrind: its total), or
    None without valgrind: a count that load on a shared machine does not move. Under valgrind
    a quiet sync outlasts the second the console script holds the collector back for, so it
    collects at the end (both trees alike)."""
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        return None
    with tempfile.TemporaryDirectory() as out:
        done = subprocess.run([valgrind, "--tool=callgrind", f"--callgrind-out-file={out}/cg",
                               *command], env=env, capture_output=True, text=True, check=False)
    found = re.search(r"Collected : (\d+)", done.stderr)
    return int(found.group(1)) if found and done.returncode == 0 else None


def print_instructions(commands: dict[str, tuple[str, list[str], dict[str, str]]]) -> None:
    """One callgrind count per command (name: (label, command, env)), and our part's split."""
    counted = {name: instructions(command, env) for name, (_, command, env) in commands.items()}
    counts = {name: count for name, count in counted.items() if count is not None}
    if len(counts) < len(counted):
        print("\ninstructions: valgrind not found (or a run failed), not counted")
        return
    print("\ninstructions executed (valgrind --tool=callgrind, one process each, G = 10^9):")
    for name, (label, _, _) in commands.items():
        print(f"  {label:44} {counts[name] / 1e9:6.3f} G")
    floor = counts["sdk_pydantic"]
    for tree, title in (("", "this tree"), ("before_", "earlier tree")):
        if f"{tree}sync" in counts:
            sync, imports = counts[f"{tree}sync"], counts[f"{tree}imports"]
            print(f"  {title:12}: our imports {(imports - floor) / 1e9:5.3f} G, the run itself "
                  f"{(sync - imports) / 1e9:5.3f} G above the SDK floor + pydantic")


def importtime(command: list[str], envs: list[dict[str, str]], repeats: int,
               second: list[str] | None = None) -> list[tuple[dict[str, float], dict[str, float]]]:
    """The imports of ``command`` from ``python -X importtime`` in each of ``envs`` (in
    turns), median of ``repeats`` processes each: cumulative ms by module (the tree's
    indentation kept in the name), and self ms by top-level package, summed (a module missing
    from a run counts 0 there). ``second``: the command in the second environment, if another.

    ``-X importtime`` prints no line for a module imported through ``importlib.import_module``
    (the lazy command group's ``sync.cli.sync``, ``sync.api``'s ``Alliance``): their own
    time is missing and the modules they import are printed at the top of the tree.
    """
    rows = [collections.defaultdict[str, list[int]](list) for _ in envs]
    packages = [collections.defaultdict[str, list[int]](list) for _ in envs]
    for _ in range(repeats):
        for index, (env, by_module, by_package) in enumerate(zip(envs, rows, packages,
                                                                  strict=True)):
            run = second if index and second else command
            done = subprocess.run([sys.executable, "-X", "importtime", *run], env=env,
                                  capture_output=True, text=True, check=False)
            own_by_package = collections.Counter[str]()
            for line in done.stderr.splitlines():
                if line.startswith("import time:") and "|" in line and "cumulative" not in line:
                    own, cumulative, name = line.removeprefix("import time:").split("|")
                    by_module[name.rstrip()].append(int(cumulative))
                    own_by_package[name.strip().partition(".")[0]] += int(own)
            for package, micros in own_by_package.items():
                by_package[package].append(micros)

    def median(values: list[int]) -> float:
        return statistics.median(values + [0] * (repeats - len(values))) / 1000

    return [({name: median(v) for name, v in by_module.items()},
             {name: median(v) for name, v in by_package.items()})
            for by_module, by_package in zip(rows, packages, strict=True)]


def print_importtime(title: str, now: dict[str, float], before: dict[str, float] | None,
                     top: int) -> None:
    """The ``top`` slowest of ``now`` (ms), with the earlier tree's figure beside each."""
    print(f"\n{title} (ms, median{'; before -> now' if before is not None else ''}):")
    # By module name: a module may sit at another depth of the tree in the other run.
    earlier = {name.strip(): figure for name, figure in sorted((before or {}).items(),
                                                              key=lambda item: item[1])}
    for name, figure in sorted(now.items(), key=lambda item: -item[1])[:top]:
        shown = f"{earlier.get(name.strip(), 0.0):7.1f} -> " if before is not None else ""
        print(f"  {shown}{figure:7.1f}  {name}")
    if before is not None:  # what the earlier tree spent on what is no longer imported
        present = {name.strip() for name in now}
        gone = sorted(((v, k) for k, v in earlier.items() if k not in present), reverse=True)
        for figure, name in gone[:5]:
            print(f"  {figure:7.1f} ->    (not imported)  {name}")


def write_config(folder: Path) -> Path:
    """The example alliance's config in ``folder`` (its state and sandbox data there)."""
    text = EXAMPLE_CONFIG.read_text(encoding="utf-8")
    text = text.replace("action_plan: playbooks/examples/frl-action-plan.yaml",
                        f"action_plan: {EXAMPLE_PLAN}")
    text = text.replace("path: .mcm-sync/state.db", f"path: {folder / '.mcm-sync/state.db'}")
    path = folder / "mcm-sync.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def copy_alliance(config: Path, folder: Path) -> Path:
    """The alliance of ``config`` copied into ``folder``, for the earlier tree: the same
    sandbox and the same state, and a folder of kept results of its own (two versions' kept
    files would replace each other's at every turn, and both would pay for it)."""
    copied = write_config(folder)
    shutil.copytree(config.parent / ".mcm-sync", folder / ".mcm-sync",
                    ignore=shutil.ignore_patterns("cache"))
    return copied


class SandboxProcess:
    """``mcm-sync sandbox serve`` on the config's data folder, rate limits on."""

    def __init__(self, config: Path, env: dict[str, str]) -> None:
        self.info = config.parent / ".mcm-sync" / "sandbox" / "server.json"
        self.process = subprocess.Popen([MCM, "-c", str(config), "sandbox", "serve", "--port",
                                         "0"], env=env, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while not self.info.exists():
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise RuntimeError("the sandbox did not start")
            time.sleep(0.1)
        self.url = json.loads(self.info.read_text())["url"]

    def admin(self, method: str, path: str) -> object:
        """The sandbox's admin API."""
        request = urllib.request.Request(f"{self.url}{path}", method=method, data=b""
                                         if method == "POST" else None)
        with urllib.request.urlopen(request, timeout=10) as answer:
            return json.loads(answer.read() or b"null")

    def calls(self) -> tuple[int, int]:
        """Requests served since the last reset, and how many were answered 429."""
        stats = self.admin("GET", "/_sandbox/stats")
        assert isinstance(stats, dict)
        codes = [(code, n) for routes in stats.values() for by_code in routes.values()
                 for code, n in by_code.items()]
        return sum(n for _, n in codes), sum(n for code, n in codes if code == "429")

    def stop(self) -> None:
        """Stop the sandbox process."""
        self.process.terminate()
        self.process.wait(timeout=20)


def line(name: str, wall: float, cpu: float, goal: float | None, floor: float) -> str:
    """One figure with its goal and floor."""
    verdict = "" if goal is None else f"  goal < {goal:.2f} s: {'met' if wall < goal else 'MISSED'}"
    return (f"{name:34} wall {wall:5.3f} s  cpu {cpu:5.3f} s  floor {floor:5.3f} s "
            f"({wall / floor:4.1f}x){verdict}")


def main() -> None:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=11, help="processes per figure (median)")
    parser.add_argument("--importtime", action="store_true", help="print the slowest imports")
    parser.add_argument("--top", type=int, default=25, help="imports printed per command")
    parser.add_argument("--repeats", type=int, default=5,
                        help="processes per --importtime profile (median)")
    parser.add_argument("--instructions", action="store_true",
                        help="count the instructions of each floor and quiet sync (valgrind)")
    parser.add_argument("--before", type=Path, default=None,
                        help="a source tree of an earlier version: its quiet sync in the turns")
    args = parser.parse_args()
    trees = [ROOT, *([args.before] if args.before else [])]
    for tree in trees:
        for package in ("sync", "connectors", "playbooks"):  # what pip does for a wheel
            compileall.compile_dir(tree / package, quiet=1)
    env, cold = environment(pyc=True), environment(pyc=False)
    folder = Path(tempfile.mkdtemp(prefix="mcm-bench-startup-"))
    config = write_config(folder)
    floor, floor_cpu = medians([sys.executable, "-c", "pass"], env, args.runs)
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores, "
          f"median of {args.runs} processes")
    print(line("python -c pass (the floor)", floor, floor_cpu, None, floor))
    commands = {"version": [MCM, "--version"], "help": [MCM, "--help"]}
    for name, command in commands.items():
        print(line(f"mcm-sync --{name}", *medians(command, env, args.runs), GOALS[name],
                   floor))
    sandbox = SandboxProcess(config, env)
    try:
        for setup in (["bootstrap"], ["sync"], ["sync"]):  # the third finds nothing new
            timed([MCM, "-c", str(config), *setup], env)
        sync = [MCM, "-c", str(config), "sync"]
        sandbox.admin("POST", "/_sandbox/stats/reset")
        # The quiet sync and the SDK floors in turns: their differences are the figures.
        commands_in_turns = {"sync": sync, "sdk": [sys.executable, "-c", SDK_FLOOR],
                             "sdk_pydantic": [sys.executable, "-c", SDK_FLOOR_PYDANTIC],
                             "imports": [sys.executable, "-c", QUIET_IMPORTS]}
        envs = {}
        before_sync = sync
        if args.before:  # the same command, the earlier tree's modules found first
            before_config = copy_alliance(config, Path(tempfile.mkdtemp(
                prefix="mcm-bench-startup-before-")))
            before_sync = [MCM, "-c", str(before_config), "sync"]
            commands_in_turns["before"] = before_sync
            envs["before"] = {**env, "PYTHONPATH": str(args.before.resolve())}
        turns = interleaved(commands_in_turns, env, args.runs, envs)
        (wall, cpu), sdk, sdk_pydantic = turns["sync"], turns["sdk"], turns["sdk_pydantic"]
        calls, throttled = sandbox.calls()
        print(line("SDK floor (SDKs, yaml, click)", *sdk, None, floor))
        print(line("SDK floor + pydantic", *sdk_pydantic, None, floor))
        print(line("+ our modules (imported, not run)", *turns["imports"], None, floor))
        runs = (args.runs + 1) * (2 if args.before else 1)
        if args.before:
            print(line("before: the same, earlier tree", *turns["before"], GOALS["sync"], floor))
        print(line("mcm-sync sync (45 items, quiet)", wall, cpu, GOALS["sync"], floor)
              + f"  {calls / runs:.0f} API calls per run, {throttled} x 429")
        room = GOALS["sync"] - sdk_pydantic[0]
        print(f"{'':34} {wall - sdk[0]:5.3f} s above the SDK floor, {wall - sdk_pydantic[0]:5.3f}"
              f" s above the SDK floor + pydantic; the goal leaves {room:+.3f} s above the "
              f"latter{' (the libraries alone miss it)' if room < 0 else ''}")
        imports = turns["imports"]
        print(f"{'':34} of which our imports {imports[0] - sdk_pydantic[0]:5.3f} s wall / "
              f"{imports[1] - sdk_pydantic[1]:5.3f} s CPU, the run itself (config, state "
              f"store, the two reads, the quiet check, exit) {wall - imports[0]:5.3f} s wall / "
              f"{cpu - imports[1]:5.3f} s CPU")
        print(line("the same without .pyc files", *medians(sync, cold, args.runs), None, floor))
        print(line("mcm-sync --version without .pyc", *medians(commands["version"], cold,
                                                               args.runs), None, floor))
        if args.instructions:
            python = [sys.executable]
            counted = {"pass": ("python -c pass", [*python, "-c", "pass"], env),
                       "sdk": ("SDK floor", [*python, "-c", SDK_FLOOR], env),
                       "sdk_pydantic": ("SDK floor + pydantic", [*python, "-c", SDK_FLOOR_PYDANTIC],
                                        env),
                       "imports": ("+ our modules (imported, not run)",
                                   [*python, "-c", QUIET_IMPORTS], env),
                       "sync": ("mcm-sync sync (45 items, quiet)", [*python, *sync], env)}
            if args.before:
                counted["before_imports"] = ("before: + our modules (imported, not run)",
                                             [*python, "-c", QUIET_IMPORTS], envs["before"])
                counted["before_sync"] = ("before: mcm-sync sync (45 items, quiet)",
                                          [*python, *before_sync], envs["before"])
            print_instructions(counted)
        if args.importtime:
            for name, command in {**commands, "sync": sync}.items():
                both = name == "sync" and args.before
                found = importtime(command, [env, envs["before"]] if both else [env],
                                   args.repeats, before_sync if both else None)
                (rows, packages), (earlier_rows, earlier_packages) = \
                    found[0], found[1] if both else (None, None)
                print_importtime(f"slowest imports of mcm-sync {name}, cumulative", rows,
                                 earlier_rows, args.top)
                print_importtime(f"self time by top-level package, mcm-sync {name}", packages,
                                 earlier_packages, args.top)
    finally:
        sandbox.stop()


if __name__ == "__main__":
    main()
