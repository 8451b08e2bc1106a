"""Benchmark: push 5,000 stakeholders to the sandbox's Mailchimp audience.

Measures, against the embedded sandbox (no rate limits, loopback only):

1. a first push through batch operations: write calls, HTTP requests seen by the sandbox, time;
2. a second push with nothing changed: must make zero Mailchimp writes;
3. the same first push one person at a time (member PUT + tags POST each), for comparison.

Run: ``.venv/bin/python bench/bench_stakeholders.py [--people 5000] [--one-by-one 5000]``.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from sync.audience.apply import push
from sync.audience.stakeholders import import_file
from sync.audience.store import StakeholderStore
from sync.state.store import StateStore

SECTORS = {
    "social_action": "Social action",
    "socio_cultural_sports": "Socio-cultural and sports organisations",
    "professional_economic": "Professional and economic development",
}
AUDIENCE = {
    "name": "Bench alliance newsletter",
    "contact": {"company": "Bench", "address1": "Street 1", "city": "Leeuwarden", "country": "NL"},
    "permission_reminder": "You follow the bench alliance.",
    "campaign_defaults": {
        "from_name": "Bench",
        "from_email": "bench@example.org",
        "subject": "News",
        "language": "en",
    },
    "email_type_option": False,
}


def stats(base: str) -> dict[str, Any]:
    """The sandbox's request counters (``/_sandbox/stats``)."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(f"{base}/_sandbox/stats", timeout=10) as answer:
        return json.loads(answer.read())


def mailchimp_writes(before: dict[str, Any], after: dict[str, Any]) -> int:
    """Mailchimp requests other than GET between two stats readings (dropped ones included)."""
    return _writes(after) - _writes(before)


def _writes(data: dict[str, Any]) -> int:
    # Keys look like "PUT /3.0/lists/{id}/members/{id}" -> {"200": 12, "dropped": 1}.
    total = 0
    for key, codes in data.get("mailchimp", {}).items():
        if key.split(" ", 1)[0].upper() != "GET" and isinstance(codes, dict):
            total += sum(int(n) for n in codes.values())
    return total


def write_csv(path: Path, count: int) -> None:
    """``count`` fictitious stakeholders, four in five with consent."""
    keys = list(SECTORS)
    lines = [
        "organisation,contact_person,email,sector,influence,alliance_member,"
        "consent_date,consent_method"
    ]
    for i in range(count):
        consent = "2025-01-14,form" if i % 5 else ","
        lines.append(
            f"Org {i},Person {i},person{i}@example.org,{keys[i % 3]},"
            f"{('low', 'medium', 'high')[i % 3]},{'yes' if i % 7 == 0 else 'no'},"
            f"{consent}"
        )
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def run(label: str, people: int, batch_threshold: int) -> None:
    """Import ``people`` into a fresh store, push twice, print the figures."""
    from connectors.mailchimp.connector import MailchimpConnector
    from connectors.sandbox.core.server import SandboxServer

    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        server = SandboxServer(port=0, rate_limits=False, data_dir=root / "sandbox")
        server.start()
        try:
            mailchimp = MailchimpConnector(
                server.app.people.credentials.coordinator()["mailchimp"]["api_key"],
                server="us1", base_url=f"{server.url}/mailchimp/3.0"
            )
            audience = mailchimp.create_audience(AUDIENCE).id
            csv_file = root / "people.csv"
            write_csv(csv_file, people)
            store = StateStore.open(root / "state.db")
            import_file(StakeholderStore(store), csv_file)
            for attempt in ("first push", "second push"):
                before = stats(server.url)
                started = time.perf_counter()
                result = push(
                    store,
                    mailchimp,
                    audience,
                    alliance_slug="bench",
                    sector_titles=SECTORS,
                    batch_threshold=batch_threshold,
                )
                seconds = time.perf_counter() - started
                after = stats(server.url)
                print(
                    f"{label:11} {attempt:11}: {people} people, sent {result.sent}, "
                    f"{result.write_calls} write calls ({result.batches} batches), "
                    f"sandbox Mailchimp writes {mailchimp_writes(before, after)}, "
                    f"{seconds:.2f} s, refused {len(result.failed)}"
                )
            store.close()
        finally:
            server.stop()


def main() -> None:
    """Parse the sizes and run the batch and one-by-one pushes."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=5000)
    parser.add_argument(
        "--one-by-one",
        type=int,
        default=5000,
        help="people for the one-by-one comparison (0: skip)",
    )
    args = parser.parse_args()
    run("batch", args.people, batch_threshold=20)
    if args.one_by_one:
        run("one-by-one", args.one_by_one, batch_threshold=10**9)


if __name__ == "__main__":
    main()
