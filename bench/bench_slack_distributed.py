"""Benchmark: a 200-item alliance on a distributed Slack app (outside the Marketplace).

Slack gives such an app ``conversations.history`` and ``conversations.replies`` at one call a
minute per method and workspace, 15 messages a page (``slack.app_distribution:
distributed``). On a sandbox process (``mcm-sync sandbox serve``) with the vendors' rate
limits on and its Slack app distributed, the example playbook plus synthetic action-plan rows
(200 items) is bootstrapped and synced once with the limits off (setup), then:

1. **Reconciliation**: ``mcm-sync sync`` runs, each a process of its own, one window apart
   (as scheduled runs a minute apart are with Slack's window), until a pass over the actions
   channel finishes: runs needed, calls per run per service, history calls, 429s, wall per
   run; then every item checked: one message each in the channel, none posted twice, every
   status as it was.
2. **Backstop**: a member reacts ✅ on the channel's oldest item message; runs until its card
   is in "done" (runs needed), 429s.
3. **By event**: ``serve`` (in process, backstop off) receives the sandbox's events; a member
   reacts ⛔ on the second oldest item message; seconds until the card is in "blocked", and
   the history calls that took (the event's message is read with ``reactions.get``).

The sandbox's window is shortened (``--window``, default 3 s, instead of Slack's 60 s) so the
run takes a minute, not a quarter of an hour; the client paces at the window the sandbox
states. The figures per run do not depend on the window; the time a pass takes is its runs
times the interval between runs (with Slack's window: at least a minute each).

Loopback only. Run from the repository root with the venv active:
``python bench/bench_slack_distributed.py [--window 3]`` (about 1.5 minutes).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

from alliance_harness import PLAYBOOK_ITEMS, BenchAlliance, Run, no_proxies, route_count

from connectors.identity import token_in_metadata
from sync.api import Alliance
from sync.core.config import load_config
from sync.serve.server import ServeOptions, Service

ITEMS = 200
FARAH = "farah.haddad@example.org"


def distributed_alliance(folder: Path, window: float) -> BenchAlliance:
    """The 200-item alliance as processes, its config and its sandbox's app distributed."""
    bench = BenchAlliance(folder, extra_rows=ITEMS - PLAYBOOK_ITEMS, processes=True)
    text = bench.config_path.read_text(encoding="utf-8")
    key = "  reactions_from: alliance"
    bench.config_path.write_text(text.replace(key, f"{key}\n  app_distribution: distributed"),
                                 encoding="utf-8")
    bench.config = load_config(bench.config_path)
    bench.admin("POST", "/_sandbox/settings", {"slack_app": "distributed",
                                               "slack_app_window": window})
    return bench


def channel_tokens(bench: BenchAlliance) -> list[tuple[str, str]]:
    """(ts, item token) of every item message in the actions channel, oldest first (read by
    a member's client, paged; the limits are switched off around it)."""
    bench.set_rate_limits(False)
    member = bench.slack_member(FARAH)
    channel = bench.resource("slack", "channel", "actions")
    found = []
    for page in member.conversations_history(channel=channel, limit=15,
                                             include_all_metadata=True):
        found += [(m["ts"], token) for m in page["messages"]
                  if (token := token_in_metadata(m.get("metadata")))]
    bench.set_rate_limits(True)
    return sorted(found, key=lambda pair: float(pair[0]))


def sync(bench: BenchAlliance, window: float) -> tuple[Run, dict[str, Any]]:
    """One ``mcm-sync sync --json`` a window after the last; its run and its result."""
    time.sleep(window * 1.2)
    run = bench.cli("sync", "--json")
    return run, json.loads(run.output)


def card_list(bench: BenchAlliance, ts: str) -> str:
    """The list of the card whose item's message is ``ts``."""
    with bench.store() as store:
        item = next(i for i in store.list_items()
                    if (side := store.get_side(i.id, "slack")) and side.remote_id == ts)
        side = store.get_side(item.id, "trello")
    assert side is not None
    return str(bench.trello_member(FARAH).fetch_json(f"/cards/{side.remote_id}")["idList"])


def main() -> None:
    """Set up, run the three parts, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--window", type=float, default=3.0,
                        help="the sandbox's window for the one history call (Slack: 60 s)")
    args = parser.parse_args()
    no_proxies()
    with tempfile.TemporaryDirectory() as tmp, \
            distributed_alliance(Path(tmp), args.window) as bench:
        bench.cli("bootstrap")
        bench.cli("sync")  # posts the 200 messages
        bench.set_rate_limits(True)
        before = channel_tokens(bench)
        print(f"# {ITEMS} items, distributed Slack app, sandbox window {args.window:g} s "
              f"(Slack: 60 s), rate limits on")
        runs: list[Run] = []
        while True:
            run, result = sync(bench, args.window)
            runs.append(run)
            if result["slack_read"]["reconciliation_finished"]:
                break
        history = [route_count(r.routes, "slack", "conversations.history") for r in runs]
        print(f"reconciliation: {len(runs)} runs for a pass over {len(before)} messages, "
              f"429s {sum(r.throttled for r in runs)}")
        for service in ("trello", "slack"):
            counts = [r.calls.get(service, 0) for r in runs]
            print(f"  {service} calls per run: min {min(counts)}, max {max(counts)}")
        print(f"  history calls per run: {sorted(set(history))}; "
              f"wall per run {min(r.seconds for r in runs):.2f}-"
              f"{max(r.seconds for r in runs):.2f} s")
        after = channel_tokens(bench)
        tokens = [token for _, token in after]
        with bench.store() as store:
            statuses = {item.status for item in store.list_items()}
        print(f"  items correct: {len(set(tokens))} of {ITEMS} with one message each "
              f"(copies: {len(tokens) - len(set(tokens))}), messages unchanged: "
              f"{after == before}, statuses {sorted(statuses)}")

        oldest = after[0][0]
        bench.slack_member(FARAH).reactions_add(
            channel=bench.resource("slack", "channel", "actions"), timestamp=oldest,
            name="white_check_mark")
        done = bench.resource("trello", "list", "done")
        needed, throttled = 0, 0
        while card_list(bench, oldest) != done:
            run, _ = sync(bench, args.window)
            needed += 1
            throttled += run.throttled
            if needed > 2 * len(runs):
                raise SystemExit("the reaction did not reach the card")
        print(f"backstop: a reaction on the oldest message reached its card after {needed} "
              f"runs (one pass: {len(runs)}), 429s {throttled}")

        second = after[1][0]
        bench.reset_stats()
        service = Service(Alliance(bench.config), ServeOptions(port=0,
                                                               reconcile_every=None)).start()
        try:
            started = time.perf_counter()
            bench.slack_member(FARAH).reactions_add(
                channel=bench.resource("slack", "channel", "actions"), timestamp=second,
                name="no_entry")
            blocked = bench.resource("trello", "list", "blocked")
            while card_list(bench, second) != blocked:
                if time.perf_counter() - started > 60:
                    raise SystemExit("the event did not reach the card")
                time.sleep(0.05)
            seconds = time.perf_counter() - started
        finally:
            service.stop()
        routes = bench.stats()
        history_calls = route_count(routes, "slack", "conversations.history")
        print(f"by event (serve): a reaction on an old message reached its card in "
              f"{seconds:.2f} s; history calls {history_calls}, "
              f"reactions.get {route_count(routes, 'slack', 'reactions.get')}, "
              f"429s {sum(c.get('429', 0) for r in routes.values() for c in r.values())}")


if __name__ == "__main__":
    main()
