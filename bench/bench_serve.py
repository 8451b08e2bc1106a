"""Benchmark: ``mcm-sync serve``, from a member's action to the other side showing it.

Everything runs as users run it: the sandbox is ``mcm-sync sandbox serve`` in a process of its
own, with the vendors' rate limits on, and ``mcm-sync serve`` is another process receiving the
sandbox's deliveries; the alliance has 200 items (the example playbook plus synthetic
action-plan rows). A member acts through the vendor's SDK (or the sandbox's member route, for
a button press); the clock starts when that call returns and stops when the other side shows
it, read from the sandbox's own database file (read-only, no API call: the polling neither
costs calls nor meets rate limits):

- a Trello move -> the item's Slack message shows the new status;
- a reaction, a button press -> the card is in the status's list.

Three parts:

- **paced**: ``--actions`` of each kind, one at a time, ``--gap`` seconds apart (a brisk
  human pace);
- **burst**: ``--burst`` changes on as many different items (40 % moves, 30 % reactions,
  30 % presses, shuffled) made back to back as fast as the members' SDKs go;
- **after a busy minute**: ``--busy`` changes made back to back (not measured), then
  ``--busy-seconds`` (60) after their start, while serve's notes lane is still backed up
  and Slack's windows for ``chat.update`` and the channel's posts are spent, a second burst
  of ``--burst`` changes, measured as the first (``--only-busy``: this part alone).

For each it prints p50/p95/max per kind and the API calls our side made per event (the
sandbox's request counters, less the members' own calls), beside issue 24's goals: at most 4
calls per Trello move; in a burst of 100, reactions and presses on the card with p95 under
2 s, and moves on the message with p95 under the floor of Slack's ``chat.update`` tier for
the burst's message updates.

``python bench/bench_serve.py [--actions 30] [--gap 1.2] [--burst 100] [--busy 100]
[--only-busy]`` (about 15 minutes at the defaults, 8 with ``--only-busy``).
"""

from __future__ import annotations

import argparse
import json
import random
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.alliance_harness import (  # noqa: E402
    MCM_SYNC,
    PLAYBOOK_ITEMS,
    SLACK_TIER_PER_MIN,
    BenchAlliance,
    no_proxies,
    per_service,
    process_env,
    route_count,
    window_floor,
)
from sync.core.config import load_config  # noqa: E402
from sync.state.events import EventQueue  # noqa: E402

ITEMS = 200
MEMBER = "esra.yilmaz@example.org"
CYCLE = ("doing", "blocked", "done")
EMOJI = {"doing": "arrows_counterclockwise", "blocked": "no_entry", "done": "white_check_mark"}
LABEL = {"todo": "To do", "doing": "In progress", "blocked": "Blocked", "done": "Done"}
GOAL_CALLS_PER_MOVE = 4
GOAL_SLACK_SIDE_P95 = 2.0  # seconds: reactions and presses on the card, in a burst of 100
CHAT_UPDATE_TIER = 3


def percentile(found: list[float], share: float) -> float:
    """The nearest-rank percentile of ``found`` (sorted)."""
    return found[max(0, int(round(share * len(found))) - 1)]


def summary(seconds: list[float]) -> tuple[float, float, float]:
    """p50, p95 and max."""
    found = sorted(seconds)
    return statistics.median(found), percentile(found, 0.95), found[-1]


def free_port() -> int:
    """A free loopback port."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class SandboxFile:
    """The sandbox process's database, read-only (it runs in WAL mode: readers never block)."""

    def __init__(self, data_dir: Path) -> None:
        self.db = sqlite3.connect(f"file:{data_dir / 'sandbox.sqlite3'}?mode=ro", uri=True,
                                  check_same_thread=False)

    def get(self, service: str, kind: str, key: str) -> dict[str, Any]:
        row = self.db.execute("SELECT data FROM objects WHERE service=? AND kind=? AND id=?",
                              (service, kind, key)).fetchone()
        return dict(json.loads(row[0])) if row else {}


class Bench:
    """The prepared alliance, ``mcm-sync serve`` as a process, the members' clients."""

    def __init__(self, folder: Path) -> None:
        self.alliance = BenchAlliance(folder, extra_rows=ITEMS - PLAYBOOK_ITEMS,
                                      processes=True)
        # Status buttons on the item messages (the example config has none: no serve).
        path = self.alliance.config_path
        path.write_text(path.read_text(encoding="utf-8").replace(
            "real_time: none", "real_time: serve"), encoding="utf-8")
        self.alliance.config = load_config(path)
        print("setup: bootstrap and first sync of 200 items (no rate limits) ...", flush=True)
        self.alliance.cli("bootstrap")
        self.alliance.cli("sync")
        self.alliance.restart(rate_limits=True)
        self.sandbox = SandboxFile(self.alliance.data_dir)
        with self.alliance.store() as store:
            items = [i for i in store.list_items() if store.get_side(i.id, "slack")
                     and store.get_side(i.id, "trello")]
            self.sides = {i.number: (store.get_side(i.id, "trello").remote_id,  # type: ignore[union-attr]
                                     store.get_side(i.id, "slack").remote_id)  # type: ignore[union-attr]
                          for i in items}
            self.status = {i.number: i.status for i in items}
        self.numbers = sorted(self.sides)
        self.channel = self.alliance.resource("slack", "channel", "actions")
        self.lists = {s: self.alliance.resource("trello", "list", s) for s in LABEL}
        self.trello = self.alliance.trello_member(MEMBER)
        self.slack = self.alliance.slack_member(MEMBER)
        self.turn = 0
        self.serve = subprocess.Popen(
            [MCM_SYNC, "-c", str(self.alliance.config_path), "serve", "--port",
             str(free_port()), "--reconcile-every", "off"],
            env=process_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while not self.alliance.admin("GET", "/_sandbox/slack/app").get("event_url"):
            if time.monotonic() > deadline or self.serve.poll() is not None:
                raise RuntimeError("serve did not start")
            time.sleep(0.1)
        time.sleep(1.0)  # its Trello webhook, registered after the Slack app

    def drained(self, timeout: float = 900.0) -> float:
        """Wait until serve has processed every delivery; when (``perf_counter``)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with EventQueue(self.alliance.config.state_location) as queue:
                if not queue.pending(1):
                    return time.perf_counter()
            time.sleep(0.5)
        return time.perf_counter()

    def close(self) -> None:
        """Stop serve and the sandbox."""
        self.serve.terminate()
        self.serve.wait(timeout=60)
        self.alliance.close()

    def next_item(self) -> tuple[str, str]:
        """The next item (round robin) and a status it is not in."""
        number = self.numbers[self.turn % len(self.numbers)]
        self.turn += 1
        wanted = next(s for s in CYCLE if s != self.status[number])
        self.status[number] = wanted
        return number, wanted

    def shown(self, ts: str, status: str) -> bool:
        """Whether the item message shows ``status``."""
        text = str(self.sandbox.get("slack", "message", f"{self.channel}:{ts}").get("text"))
        return f"*{LABEL[status]}*" in text

    def in_list(self, card: str, status: str) -> bool:
        """Whether the card is in ``status``'s list."""
        return self.sandbox.get("trello", "card", card).get("idList") == self.lists[status]

    # ------------------------------------------------------------------ the actions

    def act(self, kind: str, number: str, status: str) -> Callable[[], bool]:
        """Make one change; the check that it shows on the other side."""
        card, ts = self.sides[number]
        if kind == "move":
            self.trello.fetch_json(f"/cards/{card}", http_method="PUT",
                                   query_params={"idList": self.lists[status]})
            return lambda: self.shown(ts, status)
        if kind == "reaction":
            self.slack.reactions_add(channel=self.channel, timestamp=ts, name=EMOJI[status])
        else:
            self.alliance.admin("POST", "/_sandbox/slack/press", {
                "as": MEMBER, "channel": self.channel, "ts": ts,
                "action_id": f"mcm_status_{status}"})
        return lambda: self.in_list(card, status)


MEMBER_CALLS = {"move": 1, "reaction": 1, "button": 0}  # the member's own, in the counters


def settle(seconds: float = 3.0) -> None:
    """Let the last changes' echoes (our own writes' deliveries) come and go."""
    time.sleep(seconds)


def paced(bench: Bench, kind: str, n: int, gap: float) -> dict[str, Any]:
    """``n`` changes of one kind, one at a time."""
    settle()
    bench.alliance.reset_stats()
    seconds = []
    for _ in range(n):
        check = bench.act(kind, *bench.next_item())
        started = time.perf_counter()
        while not check():
            if time.perf_counter() - started > 120:
                break
            time.sleep(0.005)
        seconds.append(time.perf_counter() - started)
        time.sleep(gap)
    settle()
    routes = bench.alliance.stats()
    ours = sum(per_service(routes).values()) - MEMBER_CALLS[kind] * n
    p50, p95, most = summary(seconds)
    row = {"kind": kind, "n": n, "p50": p50, "p95": p95, "max": most,
           "calls_per_event": ours / n, "routes": routes}
    goal = f"  (goal <= {GOAL_CALLS_PER_MOVE})" if kind == "move" else ""
    print(f"paced {kind:9} n={n} p50 {p50:.2f}s p95 {p95:.2f}s max {most:.2f}s  "
          f"calls/event {ours / n:.1f}{goal}", flush=True)
    return row


def _changes(bench: Bench, n: int, rng: random.Random
             ) -> tuple[list[str], list[tuple[str, float, Callable[[], bool]]]]:
    """``n`` changes on ``n`` different items (40 % moves, 30 % reactions, 30 % presses,
    shuffled), made back to back; each with when it was made and its check."""
    kinds = ["move"] * (n * 4 // 10) + ["reaction"] * (n * 3 // 10)
    kinds += ["button"] * (n - len(kinds))
    rng.shuffle(kinds)
    waiting: list[tuple[str, float, Callable[[], bool]]] = []
    for kind in kinds:
        check = bench.act(kind, *bench.next_item())
        waiting.append((kind, time.perf_counter(), check))
    return kinds, waiting


def burst(bench: Bench, n: int, seed: int, *, busy: int = 0,
          busy_seconds: float = 60.0) -> dict[str, Any]:
    """``n`` changes on ``n`` different items, back to back.

    ``busy``: first a burst of that many changes, not measured, and the measured burst
    ``busy_seconds`` after its start: the notes' lane is backed up then and Slack's windows
    for ``chat.update`` and the channel's posts are spent (after a busy minute). The floor
    for the moves is then that of every ``chat.update`` since the busy burst began, less the
    time that had passed when the measured burst began.
    """
    rng = random.Random(seed)
    settle()
    bench.alliance.reset_stats()
    offset = 0.0
    if busy:
        began = time.perf_counter()
        _changes(bench, busy, rng)
        time.sleep(max(0.0, busy_seconds - (time.perf_counter() - began)))
        offset = time.perf_counter() - began
        lane = _pending(bench)
        print(f"busy: {busy} changes, then {offset:.1f} s later the measured burst "
              f"({lane} deliveries still pending then)", flush=True)
    first = time.perf_counter()
    kinds, waiting = _changes(bench, n, rng)
    made = time.perf_counter()
    took: dict[str, list[float]] = {k: [] for k in MEMBER_CALLS}
    deadline = time.monotonic() + 600
    while waiting and time.monotonic() < deadline:
        now = time.perf_counter()
        still = []
        for kind, started, check in waiting:
            if check():
                took[kind].append(now - started)
            else:
                still.append((kind, started, check))
        waiting = still
        time.sleep(0.01)
    for kind, started, _ in waiting:  # never shown: counted at the deadline
        took[kind].append(time.perf_counter() - started)
    drained = bench.drained()  # the notes' lane too: its deliveries are pending until done
    settle()
    routes = bench.alliance.stats()
    made_calls = sum(MEMBER_CALLS[k] for k in kinds) * (2 if busy else 1)
    changes = n + busy
    ours = sum(per_service(routes).values()) - made_calls
    updates = route_count(routes, "slack", "chat.update")
    floor = max(0.0, window_floor(updates, SLACK_TIER_PER_MIN[CHAT_UPDATE_TIER], 60.0)
                - offset)
    name = f"after busy {busy}" if busy else "burst"
    print(f"{name}: burst of {n} ({kinds.count('move')} moves, {kinds.count('reaction')} "
          f"reactions, {kinds.count('button')} presses) made in {made - first:.1f} s; "
          f"never shown: {len(waiting)}; serve done (notes too) {drained - first:.1f} s after "
          f"the first", flush=True)
    rows = {}
    for kind, seconds in took.items():
        p50, p95, most = summary(seconds)
        if kind == "move":
            goal = f"goal p95 < chat.update floor {floor:.1f} s ({updates} updates at " \
                   f"{SLACK_TIER_PER_MIN[CHAT_UPDATE_TIER]}/min"
            goal += f", {offset:.0f} s after the first)" if busy else ")"
        else:
            goal = f"goal p95 < {GOAL_SLACK_SIDE_P95:.0f} s"
        print(f"{name} {kind:9} n={len(seconds)} p50 {p50:.2f}s p95 {p95:.2f}s max "
              f"{most:.2f}s  {goal}: {'met' if _met(kind, p95, floor) else 'NOT met'}",
              flush=True)
        rows[kind] = (p50, p95, most)
    print(f"{name} calls/event {ours / changes:.1f}; slack {_slack_methods(routes)}",
          flush=True)
    return {"rows": rows, "calls_per_event": ours / changes, "floor": floor,
            "updates": updates}


def _pending(bench: Bench) -> int:
    """Deliveries serve has not finished (its lane's included)."""
    with EventQueue(bench.alliance.config.state_location) as queue:
        return len(queue.pending())


def _met(kind: str, p95: float, floor: float) -> bool:
    return p95 < (floor if kind == "move" else GOAL_SLACK_SIDE_P95)


def _slack_methods(routes: dict[str, Any]) -> dict[str, int]:
    return {route.rsplit("/", 1)[-1]: sum(codes.values())
            for route, codes in routes.get("slack", {}).items()}


def main() -> None:
    """Run the benchmark and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--actions", type=int, default=30, help="paced changes of each kind")
    parser.add_argument("--gap", type=float, default=1.2)
    parser.add_argument("--burst", type=int, default=100)
    parser.add_argument("--seed", type=int, default=24)
    parser.add_argument("--busy", type=int, default=100,
                        help="the changes of the busy minute before a second burst (0: none)")
    parser.add_argument("--busy-seconds", type=float, default=60.0)
    parser.add_argument("--only-busy", action="store_true",
                        help="skip the paced part and the fresh burst")
    args = parser.parse_args()
    no_proxies()
    with tempfile.TemporaryDirectory() as folder:
        bench = Bench(Path(folder))
        try:
            rows = [paced(bench, kind, args.actions, args.gap) for kind in MEMBER_CALLS] \
                if args.actions and not args.only_busy else []
            found = burst(bench, args.burst, args.seed) \
                if args.burst and not args.only_busy else None
            after = burst(bench, args.burst, args.seed + 1, busy=args.busy,
                          busy_seconds=args.busy_seconds) if args.burst and args.busy else None
        finally:
            bench.close()
    print("\n| | p50 | p95 | max | our calls per event |\n|---|---|---|---|---|")
    for row in rows:
        print(f"| paced {row['kind']} | {row['p50']:.2f} s | {row['p95']:.2f} s | "
              f"{row['max']:.2f} s | {row['calls_per_event']:.1f} |")
    if found is not None:
        for kind, (p50, p95, most) in found["rows"].items():
            print(f"| burst of {args.burst}: {kind} | {p50:.2f} s | {p95:.2f} s | {most:.2f} s "
                  f"| {found['calls_per_event']:.1f} (all kinds) |")
    if after is not None:
        for kind, (p50, p95, most) in after["rows"].items():
            print(f"| burst of {args.burst} after a busy minute: {kind} | {p50:.2f} s | "
                  f"{p95:.2f} s | {most:.2f} s | {after['calls_per_event']:.1f} (all kinds) |")


if __name__ == "__main__":
    main()
