"""Benchmark: a full ``mcm-sync bootstrap`` of the example alliance on a fresh sandbox.

Prints, for one run with the sandbox's rate limits ON (the vendors' real limits, the client
pacing accordingly) and one with them OFF (no pacing):

- API calls per service and in total (the sandbox's ``/_sandbox/stats``);
- the objects that exist afterwards, counted remotely (board, lists, labels, cards,
  checklists, check items, channels, messages, audience, merge fields, tags);
- calls minus objects, with the calls that create nothing listed by route;
- wall time against the floor the vendor limits imply, and which limit binds;
- 429 answers seen (target 0); and the cost of a second bootstrap (creates nothing).

``mcm-sync bootstrap`` runs as a process of its own, the sandbox as its own process too.

Loopback only. Run from the repository root with the venv active:
``python bench/bench_bootstrap.py`` (about 40 s).
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from alliance_harness import (
    SLACK_TIER_PER_MIN,
    TRELLO_PER_10S,
    BenchAlliance,
    Run,
    binding,
    floors,
    no_proxies,
    window_floor,
)

from connectors.pacing import TRELLO_QUOTA_RESERVE, TRELLO_TOKEN_LIMIT
from sync.core.services import connect

GOAL_RATIO = 1.15  # issue 24: bootstrap within 1.15x of the burst-aware floor, 0 x 429

# Routes whose every successful call creates exactly one object (sandbox stats keys).
CREATES = {
    "trello": ("POST /1/boards", "POST /1/lists", "POST /1/labels", "POST /1/cards",
               "POST /1/checklists", "POST /1/checklists/{id}/checkItems"),
    "slack": ("POST /api/conversations.create", "POST /api/chat.postMessage"),
    "mailchimp": ("POST /3.0/lists", "POST /3.0/lists/{id}/merge-fields",
                  "POST /3.0/lists/{id}/segments"),
}
# Mailchimp gives every new audience these merge fields itself.
MAILCHIMP_DEFAULT_FIELDS = {"FNAME", "LNAME", "ADDRESS", "PHONE", "BIRTHDAY"}


def remote_objects(alliance: BenchAlliance) -> dict[str, int]:
    """What exists remotely after the bootstrap, counted through the connectors."""
    board_id = alliance.resource("trello", "board", "board")
    audience_id = alliance.resource("mailchimp", "audience", "audience")
    channel_ids = [alliance.resource("slack", "channel", key) for key in ("general", "actions")]
    with connect(alliance.config) as connected:
        trello, slack, mailchimp = connected.board, connected.chat, connected.audience
        snap = trello.snapshot(board_id, include_closed_cards=False)  # type: ignore[union-attr]
        me, bot = slack.identity()  # type: ignore[union-attr]
        messages = sum(
            1 for channel in channel_ids
            for m in slack.history(channel)  # type: ignore[union-attr]
            if m.user == me or (bot and m.bot_id == bot))
        fields = mailchimp.merge_fields(audience_id)  # type: ignore[union-attr]
        tags = mailchimp.tags(audience_id)  # type: ignore[union-attr]
        audiences = mailchimp.list_audiences()  # type: ignore[union-attr]
    return {
        "trello board": 1,
        "trello lists": len(snap.lists),
        "trello labels": len(snap.labels),
        "trello cards": len(snap.cards),
        "trello checklists": len(snap.checklists),
        "trello check items": sum(len(c.items) for c in snap.checklists),
        "slack channels": len(channel_ids),
        "slack messages": messages,
        "mailchimp audience": len(audiences),
        "mailchimp merge fields": len(set(fields) - MAILCHIMP_DEFAULT_FIELDS),
        "mailchimp tags": len(tags),
    }


def overhead_routes(run: Run) -> list[tuple[str, str, int]]:
    """Calls that create no object: (service, route, count)."""
    found = []
    for service, routes in run.routes.items():
        for route, codes in sorted(routes.items()):
            if route not in CREATES.get(service, ()):
                found.append((service, route, sum(codes.values())))
    return found


def bootstrap(rate_limits: bool) -> tuple[Run, Run, dict[str, int]]:
    """Bootstrap a fresh sandbox, count what exists, bootstrap again."""
    with tempfile.TemporaryDirectory() as folder, \
            BenchAlliance(Path(folder), rate_limits=rate_limits, processes=True) as alliance:
        first = alliance.cli("bootstrap")
        # A new server (empty rate-limit windows), as for a run some minutes later: a fresh
        # process has a fresh pacer that knows nothing of the calls just made.
        alliance.restart(rate_limits)
        second = alliance.cli("bootstrap")
        alliance.restart(rate_limits)
        objects = remote_objects(alliance)
    return first, second, objects


def report(on: Run, off: Run, again: Run, objects: dict[str, int]) -> None:
    """Print the figures."""
    total_objects = sum(objects.values())
    print("Bootstrap of the example alliance (34 tasks + 5 meetings + 6 action-plan rows, "
          "10 people)\n")
    print("API calls (rate limits on):")
    for service in ("trello", "slack", "mailchimp"):
        print(f"  {service:10} {on.calls.get(service, 0):5}")
    print(f"  {'total':10} {on.total:5}\n")
    print("Objects that exist afterwards (counted remotely):")
    for name, count in objects.items():
        print(f"  {name:24} {count:5}")
    print(f"  {'total':24} {total_objects:5}\n")
    extra = overhead_routes(on)
    print(f"Calls - objects = {on.total} - {total_objects} = {on.total - total_objects}; "
          f"calls that create no object ({sum(n for *_, n in extra)}):")
    for service, route, count in extra:
        print(f"  {service:10} {route:42} {count:4}")
    name, floor = binding(on.routes)
    print("\nWall time:")
    print(f"  rate limits on, client pacing on : {on.seconds:6.1f} s   429s: {on.throttled}")
    print(f"  floor implied by vendor limits   : {floor:6.1f} s   (binding: {name})")
    trello_calls = on.calls.get("trello", 0)
    # The pacer: its own 90 per 10 s until Trello's headers state the quota, then the quota
    # less a reserve (connectors.pacing.TrelloPacer.observe).
    quota = TRELLO_PER_10S - TRELLO_QUOTA_RESERVE
    paced = window_floor(trello_calls, quota, 10.0)
    flat = window_floor(trello_calls, TRELLO_TOKEN_LIMIT.calls, TRELLO_TOKEN_LIMIT.seconds)
    print(f"    Trello {trello_calls} calls at {TRELLO_PER_10S}/10 s: steady rate "
          f"{trello_calls / TRELLO_PER_10S * 10:.1f} s, with the first window's burst "
          f"{floor:.1f} s; at the pacer's quota less {TRELLO_QUOTA_RESERVE} ({quota}/10 s): "
          f"{paced:.1f} s (at a flat {TRELLO_TOKEN_LIMIT.calls}/"
          f"{TRELLO_TOKEN_LIMIT.seconds:g} s: {flat:.1f} s)")
    if floor:
        ratio = on.seconds / floor
        met = ratio <= GOAL_RATIO and on.throttled == 0
        print(f"  wall / burst-aware floor         : {ratio:6.2f}x  (goal <= {GOAL_RATIO}x, "
              f"0 x 429: {'met' if met else 'NOT met'})")
    others = {k: v for k, v in floors(on.routes).items() if not k.startswith("trello") and v}
    print(f"    other limits with a non-zero floor: {others or 'none'} "
          f"(Slack tiers/min: {SLACK_TIER_PER_MIN})")
    print(f"  rate limits off, no pacing       : {off.seconds:6.1f} s   429s: {off.throttled}")
    print(f"\nSecond bootstrap (nothing to create), rate limits on: {again.total} calls "
          f"{again.calls}, {again.seconds:.2f} s, 429s: {again.throttled}")


def main() -> None:
    """Bootstrap with rate limits on, then off; print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.parse_args()
    no_proxies()
    on, again, objects = bootstrap(rate_limits=True)
    off, _, objects_off = bootstrap(rate_limits=False)
    if objects_off != objects:
        print(f"WARNING: the runs made different objects: {objects} vs {objects_off}")
    report(on, off, again, objects)


if __name__ == "__main__":
    main()
