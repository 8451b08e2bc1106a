"""Benchmark: a burst of mixed member actions through ``mcm-sync serve``; replies copied once?

    python bench/bench_burst.py                 # 200 actions: 80 replies, 60 reactions, 60 moves
    python bench/bench_burst.py --actions 1000  # the issue's burst (400 / 300 / 300)

The example alliance (45 items) on a loopback sandbox without rate limits, ``mcm-sync sandbox
serve`` and ``mcm-sync serve`` each a process of their own (serve receives the sandbox's
deliveries). Its latencies under a burst are ``bench/bench_serve.py``'s; this one counts
copies. Members act through the
vendors' SDKs as fast as they can, on random items of a small set (so replies, reactions and
moves meet on the same item while serve writes it): every reply has a unique text. Then the
queue is drained, one ``mcm-sync sync`` runs (what a backstop does), and the cards are read:
each reply's copies are counted (0: lost, 2 or more: duplicated), our thread notes per token,
and our messages per item token. Nothing is asserted; the figures are printed.
"""

from __future__ import annotations

import argparse
import contextlib
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from slack_sdk.errors import SlackApiError

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.alliance_harness import PEOPLE, BenchAlliance, no_proxies  # noqa: E402
from connectors.identity import OUR_EVENT_TYPES, token_in_metadata  # noqa: E402
from sync.state.events import EventQueue  # noqa: E402

EMOJI = ("white_check_mark", "no_entry", "arrows_counterclockwise")
STATUSES = ("todo", "doing", "blocked", "done")


def free_port() -> int:
    """A free loopback port."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def pending(alliance: BenchAlliance) -> int:
    """Deliveries not processed yet."""
    with EventQueue(alliance.config.state_location) as queue:
        return len(queue.pending())


def main() -> None:
    """Run the burst and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--actions", type=int, default=200)
    parser.add_argument("--items", type=int, default=12, help="items the burst is spread on")
    parser.add_argument("--seed", type=int, default=25)
    args = parser.parse_args()
    no_proxies()
    rng = random.Random(args.seed)
    kinds = ["reply"] * (args.actions * 2 // 5) + ["react"] * (args.actions * 3 // 10)
    kinds += ["move"] * (args.actions - len(kinds))
    rng.shuffle(kinds)
    with tempfile.TemporaryDirectory() as folder:
        alliance = BenchAlliance(Path(folder), processes=True)
        try:
            print("setup: bootstrap and first sync ...", flush=True)
            alliance.cli("bootstrap")
            alliance.cli("sync")
            with alliance.store() as store:
                sides = {}
                for item in store.list_items():
                    trello, slack = store.get_side(item.id, "trello"), store.get_side(item.id,
                                                                                      "slack")
                    if trello and slack:
                        sides[item.number] = (trello.remote_id, slack.remote_id)
            numbers = rng.sample(sorted(sides), min(args.items, len(sides)))
            channel = alliance.resource("slack", "channel", "actions")
            lists = {s: alliance.resource("trello", "list", s) for s in STATUSES}
            trello = {p: alliance.trello_member(p) for p in PEOPLE}
            slack = {p: alliance.slack_member(p) for p in PEOPLE}
            port = free_port()
            serve = subprocess.Popen(
                [sys.executable, "-m", "sync.cli.main", "-c", str(alliance.config_path),
                 "serve", "--port", str(port), "--reconcile-every", "off"],
                cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            while not alliance.admin("GET", "/_sandbox/slack/app").get("event_url"):
                time.sleep(0.1)
            replies: dict[str, str] = {}  # text -> card id
            started = time.perf_counter()
            for n, kind in enumerate(kinds):
                number = rng.choice(numbers)
                card, ts = sides[number]
                who = rng.choice(PEOPLE)
                if kind == "reply":
                    text = f"burst reply {n} on {number}"
                    slack[who].chat_postMessage(channel=channel, thread_ts=ts, text=text)
                    replies[text] = card
                elif kind == "react":
                    # Already reacted with it: a no-op for the member (Slack's already_reacted).
                    with contextlib.suppress(SlackApiError):
                        slack[who].reactions_add(channel=channel, timestamp=ts,
                                                 name=rng.choice(EMOJI))
                else:
                    trello[who].fetch_json(f"/cards/{card}", http_method="PUT",
                                           query_params={"idList": lists[rng.choice(STATUSES)]})
            acted = time.perf_counter() - started
            deadline = time.monotonic() + 600
            while time.monotonic() < deadline:
                time.sleep(2.0)
                if pending(alliance) == 0:
                    time.sleep(3.0)  # our own writes' deliveries
                    if pending(alliance) == 0:
                        break
            drained = time.perf_counter() - started
            serve.send_signal(signal.SIGTERM)
            serve.wait(timeout=60)
            before_sync = _count(alliance, channel, replies, sides)
            alliance.cli("sync")
            after_sync = _count(alliance, channel, replies, sides)
        finally:
            alliance.close()
    print(f"{args.actions} actions ({Counter(kinds)}) on {len(numbers)} items in {acted:.1f} s,"
          f" drained by serve after {drained:.1f} s")
    for label, found in (("serve alone", before_sync), ("after one sync", after_sync)):
        print(f"{label}: replies {found['replies']}, copied once {found['once']}, lost "
              f"{found['lost']}, duplicated {found['duplicated']}; duplicate notes "
              f"{found['duplicate_notes']}; duplicate item messages {found['duplicate_messages']}")


def _count(alliance: BenchAlliance, channel: str, replies: dict[str, str],
           sides: dict[str, tuple[str, str]]) -> dict[str, int]:
    """Each reply's copies on its card, our notes per token, our messages per token."""
    reader = alliance.trello_member(PEOPLE[0])
    copies: Counter[str] = Counter()
    for card in set(replies.values()):
        actions = reader.fetch_json(f"/cards/{card}/actions",
                                    query_params={"filter": "commentCard", "limit": 1000})
        for action in actions:
            text = action["data"]["text"]
            for reply in replies:
                if text.endswith(f": {reply}"):
                    copies[reply] += 1
    slack = alliance.slack_member(PEOPLE[0])
    history = slack.conversations_history(channel=channel, limit=1000,
                                          include_all_metadata=True)["messages"]
    messages = Counter(token_in_metadata(m.get("metadata")) for m in history)
    messages.pop(None, None)
    notes: Counter[str | None] = Counter()
    for _, ts in sides.values():
        thread = slack.conversations_replies(channel=channel, ts=ts, limit=1000,
                                             include_all_metadata=True)["messages"][1:]
        notes.update(token_in_metadata(m.get("metadata"), OUR_EVENT_TYPES) for m in thread)
    notes.pop(None, None)
    return {"replies": len(replies), "once": sum(1 for r in replies if copies[r] == 1),
            "lost": sum(1 for r in replies if copies[r] == 0),
            "duplicated": sum(1 for r in replies if copies[r] > 1),
            "duplicate_notes": sum(n - 1 for n in notes.values() if n > 1),
            "duplicate_messages": sum(n - 1 for n in messages.values() if n > 1)}


if __name__ == "__main__":
    main()
