"""What the state store's checks cost: ``quick_check`` on opening, on a 2,000-item store.

A store is filled the way a large alliance's looks after months (2,000 items, each with its
Trello and Slack sides and ten audit lines, and a journal intent per item), then
:func:`sync.state.presence.check_integrity` (``PRAGMA quick_check``, once per file and
process) and a plain open of the store are timed, each in fresh state, and printed::

    .venv/bin/python bench/bench_store_checks.py [ITEMS]
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

from sync.state import presence
from sync.state.store import StateStore


def fill(path: Path, items: int) -> None:
    """A store with ``items`` items, their two sides, audit lines and journal intents."""
    with StateStore.open(path) as store, store.transaction():
        store.bind_alliance("frl", "Friesland", "live")
        for n in range(1, items + 1):
            item = store.ensure_item(key=f"action:{n}", number=f"FRL-{n}", kind="action",
                                     title=f"Action number {n} of the alliance's plan",
                                     status="todo", source="file", owner="a@example.org")
            store.put_side(item.id, "trello", f"card{n:020d}", {"status": "todo"})
            store.put_side(item.id, "slack", f"1700000000.{n:06d}", {"status": "todo"})
            for k in range(10):
                store.add_audit(item.id, "someone", "trello", "status", "todo", f"v{k}")
    with StateStore.open(path) as store:
        for n in range(1, items + 1):
            intent = store.journal_open("run", "trello", "create_card", f"tok{n}")
            store.journal_close(intent, "done", f"card{n}")


def timed(action: object, rounds: int = 7) -> float:
    """Median seconds of ``action()`` over ``rounds``."""
    spent = []
    for _ in range(rounds):
        start = time.perf_counter()
        action()  # type: ignore[operator]
        spent.append(time.perf_counter() - start)
    return statistics.median(spent)


def main() -> None:
    """Fill a store and print the figures."""
    items = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "state.db"
        fill(path, items)
        size = path.stat().st_size

        def check() -> None:
            presence._INTACT.clear()  # as in a fresh process
            presence.check_integrity(path)

        quick = timed(check)
        cached = timed(lambda: presence.check_integrity(path))
        opened = timed(lambda: StateStore.open(path).close())
    print(f"store: {items} items, {size / 1e6:.1f} MB")
    print(f"quick_check (first open in a process): {quick * 1000:.1f} ms")
    print(f"quick_check (later opens, cached): {cached * 1e6:.0f} us")
    print(f"plain open of the store, for comparison: {opened * 1000:.1f} ms")


if __name__ == "__main__":
    main()
