"""Benchmark: ``mcm-sync sync`` with nothing to do at 45/200/2000 items, and with K changes.

1. A sync with no changes for N items (default 45 = the example alliance, the fewest the
   example playbook makes, 200 and 2000): API calls per service, wall time and 429s with the
   sandbox's rate limits on and the client pacing; the cost of a full reconciliation
   (``sync --full``); and a naive baseline that reads every card (one ``/batch`` call per card)
   and every item message's reactions (one ``reactions.get`` per message) one by one, with
   its wall time without limits and the floor the vendor limits would impose on it.
   Then ``--back-to-back`` quiet syncs (10 by default) one right after the other on one
   sandbox server with rate limits on: harsher than a cron run every minute (the vendors'
   windows never empty in between), so 0 x 429 there means 0 x 429 at one run a minute.
2. A sync after K member changes (K = 1, 10, 100) at 200 items: half of them card moves in
   Trello, half reactions in Slack, made as members through py-trello and slack_sdk.

Every ``mcm-sync`` command runs as a process of its own and the sandbox as its own process
(``mcm-sync sandbox serve``), so the walls include each run's start-up.

Setup (bootstrap, the first sync that posts one Slack message per item, one more sync that
sets the Trello action bookmark) runs with rate limits off and no pacing; each measured run
gets a new sandbox server on the same data with rate limits on (empty windows, as for runs
minutes apart). The 2000-item setup runs in a child process while the smaller sizes are
measured: the sandbox's card create slows down as a board grows (about 60 s of setup for 2000
items). Its measured runs overlap the K-change runs, which spend nearly all their time asleep
in the client's pacing, so neither disturbs the other's figures much.

Loopback only. Run from the repository root with the venv active:
``python bench/bench_sync.py [--sizes 45,200,2000] [--changes 1,10,100]`` (about 2.5 min).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alliance_harness import (
    PEOPLE,
    PLAYBOOK_ITEMS,
    BenchAlliance,
    Run,
    binding,
    no_proxies,
    per_service,
    throttled,
    window_floor,
)

from sync.core.services import connect

EXAMPLE_ITEMS = 45  # the example alliance as shipped (6 action-plan rows)
CHANGE_ITEMS = 200
NAIVE_LIMITED_UP_TO = 50  # run the naive baseline under rate limits only while it is quick
QUIET_GOAL = (2000, 4)  # issue 24: a quiet sync at 2,000 items in at most 4 calls, 0 x 429


def extra_rows(items: int) -> int | None:
    """Synthetic action-plan rows for ``items`` items (None: the example plan)."""
    if items == EXAMPLE_ITEMS:
        return None
    if items < PLAYBOOK_ITEMS:
        raise SystemExit(f"the example playbook alone makes {PLAYBOOK_ITEMS} items; "
                         f"{items} is not reachable")
    return items - PLAYBOOK_ITEMS


def setup(folder: str, items: int) -> dict[str, Any]:
    """Bootstrap, first sync, warm-up sync, all without rate limits; their costs."""
    with BenchAlliance(Path(folder), extra_rows=extra_rows(items), processes=True) as alliance:
        boot = alliance.cli("bootstrap")
        first = alliance.cli("sync", "--json")
        warm = alliance.cli("sync", "--json")
        with alliance.store() as store:
            count = len(store.list_items())
    return {"items": count, "bootstrap_s": boot.seconds, "first_sync_s": first.seconds,
            "first_sync_calls": first.calls, "warm_calls": warm.calls, "warm_s": warm.seconds}


def sync(alliance: BenchAlliance, *args: str) -> tuple[Run, dict[str, Any]]:
    """``mcm-sync sync --json args`` on a new sandbox server with rate limits on."""
    alliance.restart(rate_limits=True)
    run = alliance.cli("sync", "--json", *args)
    return run, json.loads(run.output)


def naive(alliance: BenchAlliance, rate_limits: bool) -> Run:
    """Read every card and every item message's reactions one by one (the baseline)."""
    alliance.restart(rate_limits=rate_limits)
    channel = alliance.resource("slack", "channel", "actions")
    with alliance.store() as store:
        cards = [side.remote_id for side in store.list_sides("trello")]
        messages = [side.remote_id for side in store.list_sides("slack")]
    started = time.perf_counter()
    with connect(alliance.config) as connected:
        trello, slack = connected.board, connected.chat
        for card_id in cards:
            trello.cards([card_id])  # type: ignore[union-attr]
        for ts in messages:
            # The connector's one call path (paced, retried); it has no public reactions read.
            slack._call("reactions.get", channel=channel, timestamp=ts,  # type: ignore[union-attr]
                        full=True)
    seconds = time.perf_counter() - started
    routes = alliance.stats()
    return Run(0, seconds, per_service(routes), throttled(routes), routes, "")


def naive_floor(items: int) -> tuple[float, str]:
    """The floor the vendor limits put on the naive baseline for ``items`` items."""
    trello = window_floor(items, 100, 10.0)
    slack = window_floor(items, 50, 60.0)
    return (slack, "slack reactions.get tier 3 (50/min)") if slack >= trello else (
        trello, "trello 100/10s per token")


@dataclass
class SizeRow:
    """The figures of one size."""

    items: int
    quiet: Run
    full: Run
    naive_off: Run
    naive_on: Run | None
    setup: dict[str, Any]
    back_to_back: list[Run]


def measure_size(folder: str, items: int, repeat: int = 10) -> SizeRow:
    """Prepare, then: no-change sync, ``repeat`` of them back to back on one sandbox server,
    full reconciliation and the naive baseline."""
    prepared = setup(folder, items)
    with BenchAlliance(Path(folder), extra_rows=extra_rows(items), processes=True) as alliance:
        quiet, summary = sync(alliance)
        if sum(summary["writes"].values()) or summary["changes"]:
            print(f"WARNING: a no-change sync at {items} items wrote: {summary}")
        runs = [sync(alliance)[0]] if repeat else []
        runs += [alliance.cli("sync", "--json") for _ in range(repeat - 1)]  # same windows
        full, summary = sync(alliance, "--full")
        if sum(summary["writes"].values()):
            print(f"WARNING: a no-change full sync at {items} items wrote: {summary}")
        naive_off = naive(alliance, rate_limits=False)
        naive_on = naive(alliance, rate_limits=True) if items <= NAIVE_LIMITED_UP_TO else None
    return SizeRow(prepared["items"], quiet, full, naive_off, naive_on, prepared, runs)


def member_changes(alliance: BenchAlliance, k: int, used: set[str]) -> None:
    """K changes as members: the first half card moves in Trello, the rest Slack reactions."""
    alliance.restart(rate_limits=False)  # members act over time; their calls are not measured
    doing = alliance.resource("trello", "list", "doing")
    channel = alliance.resource("slack", "channel", "actions")
    with alliance.store() as store:
        todo = [item for item in store.list_items(status="todo") if item.id not in used]
        chosen = todo[:k]
        sides = {item.id: (store.get_side(item.id, "trello"), store.get_side(item.id, "slack"))
                 for item in chosen}
    if len(chosen) < k:
        raise SystemExit(f"only {len(chosen)} untouched items left for K={k}")
    moves = (k + 1) // 2
    for index, item in enumerate(chosen):
        used.add(item.id)
        card, message = sides[item.id]
        email = PEOPLE[index % len(PEOPLE)]
        if index < moves:
            client = alliance.trello_member(email)
            client.fetch_json(f"/cards/{card.remote_id}", http_method="PUT",  # type: ignore[union-attr]
                              query_params={"idList": doing})
        else:
            alliance.slack_member(email).reactions_add(
                channel=channel, timestamp=message.remote_id,  # type: ignore[union-attr]
                name="white_check_mark")


def measure_changes(folder: str, ks: list[int]) -> list[tuple[int, Run, dict[str, Any]]]:
    """A sync after K member changes, for each K, on the prepared 200-item alliance."""
    found = []
    used: set[str] = set()
    with BenchAlliance(Path(folder), extra_rows=extra_rows(CHANGE_ITEMS),
                       processes=True) as alliance:
        for k in ks:
            member_changes(alliance, k, used)
            run, summary = sync(alliance)
            if len(summary["changes"]) != k:
                print(f"WARNING: K={k} member changes, the sync saw {len(summary['changes'])}")
            found.append((k, run, summary))
    return found


def print_sizes(rows: list[SizeRow]) -> None:
    """The no-change table."""
    print("\nSync with no changes (rate limits on, client pacing on)")
    print(f"{'items':>6} | {'trello':>6} {'slack':>6} {'total':>6} | {'wall s':>6} | {'429':>3} "
          f"| {'--full calls':>12} {'s':>5} | {'naive calls':>11} {'s (no limits)':>13} "
          f"{'floor s (limits)':>16}")
    for row in rows:
        q, f, n = row.quiet, row.full, row.naive_off
        floor, _ = naive_floor(row.items)
        print(f"{row.items:>6} | {q.calls.get('trello', 0):>6} {q.calls.get('slack', 0):>6} "
              f"{q.total:>6} | {q.seconds:>6.2f} | {q.throttled + f.throttled:>3} | "
              f"{f.total:>12} {f.seconds:>5.2f} | {n.total:>11} {n.seconds:>13.2f} "
              f"{floor:>16.0f}")
    for row in rows:
        s = row.setup
        print(f"  setup {row.items} items (no limits): bootstrap {s['bootstrap_s']:.1f} s, first "
              f"sync {s['first_sync_s']:.1f} s {s['first_sync_calls']}, next sync "
              f"{s['warm_s']:.1f} s {s['warm_calls']}")
        if row.naive_on is not None:
            print(f"  naive baseline at {row.items} items with rate limits on: "
                  f"{row.naive_on.total} calls, {row.naive_on.seconds:.2f} s, "
                  f"429s {row.naive_on.throttled}")
    for row in rows:
        if row.back_to_back:
            runs = row.back_to_back
            print(f"  {len(runs)} quiet syncs back to back at {row.items} items, one sandbox "
                  f"(limits on): calls {sum(r.total for r in runs)} "
                  f"({min(r.total for r in runs)}-{max(r.total for r in runs)} a run), "
                  f"429s {sum(r.throttled for r in runs)}, slowest run "
                  f"{max(r.seconds for r in runs):.2f} s")
    goal_items, goal_calls = QUIET_GOAL
    for row in rows:
        if row.items == goal_items:
            throttled = row.quiet.throttled + sum(r.throttled for r in row.back_to_back)
            met = row.quiet.total <= goal_calls and throttled == 0
            print(f"  goal at {goal_items} items: <= {goal_calls} calls, 0 x 429: "
                  f"{row.quiet.total} calls, {throttled} x 429 -> {'met' if met else 'NOT met'}")
    _, name = naive_floor(rows[-1].items)
    print(f"  naive floor: binding {name}; Trello 100/10 s per token")
    for row in rows:
        print(f"  routes at {row.items}: {json.dumps(row.quiet.routes)}")


def print_changes(found: list[tuple[int, Run, dict[str, Any]]], naive_calls: int | None) -> None:
    """The K-changes table."""
    print(f"\nSync after K member changes at {CHANGE_ITEMS} items (half Trello moves, half "
          "Slack reactions; rate limits on, client pacing on)")
    print(f"{'K':>4} | {'trello':>6} {'slack':>6} {'total':>6} | {'writes':>6} | {'wall s':>6} | "
          f"{'floor s':>7} binding limit | {'429':>3}")
    for k, run, summary in found:
        name, floor = binding(run.routes)
        print(f"{k:>4} | {run.calls.get('trello', 0):>6} {run.calls.get('slack', 0):>6} "
              f"{run.total:>6} | {sum(summary['writes'].values()):>6} | {run.seconds:>6.1f} | "
              f"{floor:>7.0f} {name} | {run.throttled:>3}")
    for k, run, summary in found:
        print(f"  K={k}: writes {summary['writes']}; routes {json.dumps(run.routes)}")
    if naive_calls is not None:
        print(f"  naive baseline reads at {CHANGE_ITEMS} items, whatever K: {naive_calls} calls")


def main() -> None:
    """Prepare the alliances, measure, print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="45,200,2000", help="item counts (>= 39)")
    parser.add_argument("--changes", default="1,10,100", help="K values at 200 items")
    parser.add_argument("--back-to-back", type=int, default=10,
                        help="quiet syncs one after the other on one sandbox, per size")
    args = parser.parse_args()
    sizes = sorted({int(s) for s in args.sizes.split(",") if s})
    ks = [int(k) for k in args.changes.split(",") if k]
    no_proxies()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as root:
        folders = {n: str(Path(root) / f"n{n}") for n in sorted({*sizes, CHANGE_ITEMS})}
        for folder in folders.values():
            Path(folder).mkdir()
        big = [n for n in sizes if n > CHANGE_ITEMS]
        context = multiprocessing.get_context("spawn")
        with context.Pool(max(1, len(big))) as pool:
            repeat = args.back_to_back
            pending = {n: pool.apply_async(measure_size, (folders[n], n, repeat)) for n in big}
            rows = [measure_size(folders[n], n, repeat) for n in sizes if n not in big]
            if ks and CHANGE_ITEMS not in sizes:
                setup(folders[CHANGE_ITEMS], CHANGE_ITEMS)
            changes = measure_changes(folders[CHANGE_ITEMS], ks) if ks else []
            rows += [pending[n].get() for n in big]
    print_sizes(rows)
    naive_200 = next((r.naive_off.total for r in rows if r.items == CHANGE_ITEMS), None)
    print_changes(changes, naive_200)
    print(f"\nbench wall time {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
