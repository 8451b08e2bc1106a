"""Benchmark: ``mcm-sync serve``, from a member's action to the other side showing it.

On a sandbox with the vendors' rate limits on and 200 items (the example playbook plus
synthetic action-plan rows), a :class:`sync.serve.server.Service` on loopback receives the
sandbox's deliveries. For each kind of action, N times (default 100), one at a time, a member
acts through the vendor's SDK (or the sandbox's member routes, for a button press and an
unsubscribe) and the clock starts when that call returns; it stops when the other side shows
it, read in process from the sandbox's own store (no API call, so the polling neither costs
calls nor meets rate limits):

- a Trello move -> the item's Slack message shows the new status;
- a reaction -> the card is in the status's list;
- a button press -> the card is in the status's list;
- an unsubscribe -> the person is unsubscribed in the consent ledger (the state store).

It prints p50/p95/max per kind, the API calls our side made per event (the sandbox's request
counters, less the member's own call), and the calls made over an idle window with the
backstop sync off (and, separately, what one backstop sync with nothing to do costs).

``python bench/bench_serve.py [--actions 100] [--gap 1.2] [--idle 120]`` (about 12 minutes at
the defaults). ``--gap``: seconds between actions, a brisk human pace; Slack's ``chat.update``
allows about 50 a minute per workspace, so a much faster pace measures the rate limit.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.alliance_harness import (
    PLAYBOOK_ITEMS,
    BenchAlliance,
    no_proxies,
    per_service,
)
from sync.api import Alliance
from sync.audience.store import StakeholderStore
from sync.serve.server import ServeOptions, Service

ITEMS = 200
MEMBER = "esra.yilmaz@example.org"
CYCLE = ("doing", "blocked", "done", "todo")
EMOJI = {"doing": "arrows_counterclockwise", "blocked": "no_entry", "done": "white_check_mark"}
LABEL = {"todo": "To do", "doing": "In progress", "blocked": "Blocked", "done": "Done"}


def wait_until(check: Callable[[], bool], timeout: float = 30.0) -> float:
    """Seconds until ``check()`` holds (polled every 5 ms); inf after ``timeout``."""
    start = time.perf_counter()
    while not check():
        if time.perf_counter() - start > timeout:
            return float("inf")
        time.sleep(0.005)
    return time.perf_counter() - start


class Bench:
    """The prepared alliance, its served endpoints, and in-process views of the sandbox."""

    def __init__(self, folder: Path) -> None:
        self.alliance = BenchAlliance(folder, extra_rows=ITEMS - PLAYBOOK_ITEMS)
        print("setup: bootstrap and first sync (no rate limits) ...", flush=True)
        self.alliance.cli("bootstrap")
        self.alliance.cli("sync")
        self.alliance.set_rate_limits(True)
        self.alliance.restart(rate_limits=True)
        self.service = Service(Alliance(self.alliance.config),
                               ServeOptions(port=0, reconcile_every=None)).start()
        assert self.alliance.server is not None
        self.sandbox = self.alliance.server.store
        with self.alliance.store() as store:
            self.items = [i for i in store.list_items() if store.get_side(i.id, "slack")
                          and store.get_side(i.id, "trello")]
            self.sides = {i.number: (store.get_side(i.id, "trello").remote_id,  # type: ignore[union-attr]
                                     store.get_side(i.id, "slack").remote_id)  # type: ignore[union-attr]
                          for i in self.items}
            self.status = {i.number: i.status for i in self.items}
        self.channel = self.alliance.resource("slack", "channel", "actions")
        self.lists = {s: self.alliance.resource("trello", "list", s) for s in LABEL}
        self.trello = self.alliance.trello_member(MEMBER)
        self.slack = self.alliance.slack_member(MEMBER)
        self.turn = 0

    def close(self) -> None:
        """Stop serving and the sandbox."""
        self.service.stop()
        self.alliance.close()

    def next_item(self) -> tuple[str, str]:
        """The next item (round robin) and a status it is not in."""
        item = self.items[self.turn % len(self.items)]
        self.turn += 1
        now = self.status[item.number]
        wanted = next(s for s in CYCLE if s != now and s != "todo")
        self.status[item.number] = wanted
        return item.number, wanted

    def message_text(self, ts: str) -> str:
        doc = self.sandbox.get("slack", "message", f"{self.channel}:{ts}")
        return str((doc or {}).get("text") or "")

    def card_list(self, card_id: str) -> str:
        doc = self.sandbox.get("trello", "card", card_id)
        return str((doc or {}).get("idList") or "")

    # ------------------------------------------------------------------ the four actions

    def move(self) -> float:
        number, status = self.next_item()
        card, ts = self.sides[number]
        self.trello.fetch_json(f"/cards/{card}", http_method="PUT",
                               query_params={"idList": self.lists[status]})
        return wait_until(lambda: f"*{LABEL[status]}*" in self.message_text(ts))

    def react(self) -> float:
        number, status = self.next_item()
        card, ts = self.sides[number]
        self.slack.reactions_add(channel=self.channel, timestamp=ts, name=EMOJI[status])
        return wait_until(lambda: self.card_list(card) == self.lists[status])

    def press(self) -> float:
        number, status = self.next_item()
        card, ts = self.sides[number]
        self.alliance.admin("POST", "/_sandbox/slack/press", {
            "as": MEMBER, "channel": self.channel, "ts": ts,
            "action_id": f"mcm_status_{status}"})
        return wait_until(lambda: self.card_list(card) == self.lists[status])

    def unsubscribe(self, audience: str, email: str) -> float:
        self.alliance.admin("POST", "/_sandbox/mailchimp/member",
                            {"list_id": audience, "email": email, "action": "unsubscribe"})

        def ledger() -> bool:
            with self.alliance.store() as store:
                found = StakeholderStore(store).find_email(email)
                return found is not None and found.remote_status == "unsubscribed"

        return wait_until(ledger)


def stakeholders(bench: Bench, count: int) -> tuple[str, list[str]]:
    """``count`` consenting people in the database and the audience (pushed, no limits)."""
    import csv

    folder = bench.alliance.folder
    emails = [f"person{i:03d}@example.org" for i in range(count)]
    path = folder / "people.csv"
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(["organisation", "contact_person", "role", "phone", "email", "website",
                         "address", "contribution", "interests", "influence", "strategy",
                         "criteria", "sector", "alliance_member", "consent_date",
                         "consent_method", "consent_withdrawn"])
        for i, email in enumerate(emails):
            writer.writerow([f"Org {i}", f"Person {i}", "", "", email, "", "", "", "", "low",
                             "", "", "social_action", "no", "2026-01-01", "form", ""])
    bench.alliance.cli("stakeholders", "import", str(path))
    bench.alliance.cli("stakeholders", "push")
    return bench.alliance.resource("mailchimp", "audience", "audience"), emails


def measure(name: str, action: Callable[[], float], n: int, gap: float,
            bench: Bench, member_calls: int) -> dict[str, Any]:
    """Run ``action`` n times; latencies and our calls per event."""
    time.sleep(2.0)  # let the previous kind's echoes settle
    bench.alliance.reset_stats()
    seconds = []
    for _ in range(n):
        seconds.append(action())
        time.sleep(gap)
    time.sleep(2.0)
    calls = per_service(bench.alliance.stats())
    ours = sum(calls.values()) - member_calls * n
    found = sorted(seconds)
    row = {"kind": name, "n": n, "p50": statistics.median(found),
           "p95": found[max(0, int(round(0.95 * n)) - 1)], "max": found[-1],
           "calls_per_event": ours / n, "calls": calls}
    print(f"{name:12} p50 {row['p50']:.3f}s  p95 {row['p95']:.3f}s  max {row['max']:.3f}s  "
          f"calls/event {row['calls_per_event']:.1f}  {calls}", flush=True)
    return row


def main() -> None:
    """Run the benchmark and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--actions", type=int, default=100)
    parser.add_argument("--gap", type=float, default=1.2)
    parser.add_argument("--idle", type=float, default=120.0)
    args = parser.parse_args()
    no_proxies()
    with tempfile.TemporaryDirectory() as folder:
        bench = Bench(Path(folder))
        try:
            audience, emails = stakeholders(bench, args.actions)
            # The audience's webhook is registered when serve starts: start it again now.
            bench.service.stop()
            bench.service = Service(Alliance(bench.alliance.config),
                                    ServeOptions(port=0, reconcile_every=None)).start()
            rows = [measure("trello move", bench.move, args.actions, args.gap, bench, 1),
                    measure("reaction", bench.react, args.actions, args.gap, bench, 1),
                    measure("button", bench.press, args.actions, args.gap, bench, 0)]
            people = iter(emails)
            rows.append(measure("unsubscribe", lambda: bench.unsubscribe(audience, next(people)),
                                args.actions, args.gap, bench, 0))
            time.sleep(3.0)
            bench.alliance.reset_stats()
            time.sleep(args.idle)
            idle = per_service(bench.alliance.stats())
            print(f"idle {args.idle:.0f}s (backstop off): {sum(idle.values())} calls {idle}")
            backstop = bench.alliance.cli("sync").calls  # what the backstop costs when idle
            print(f"one backstop sync with nothing to do: {sum(backstop.values())} calls "
                  f"{backstop}")
        finally:
            bench.close()
    print("\n| action | p50 | p95 | max | our calls per event |\n|---|---|---|---|---|")
    for row in rows:
        print(f"| {row['kind']} | {row['p50']:.2f} s | {row['p95']:.2f} s | {row['max']:.2f} s "
              f"| {row['calls_per_event']:.1f} |")


if __name__ == "__main__":
    main()
