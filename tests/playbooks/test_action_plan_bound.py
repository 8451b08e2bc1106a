"""A bound on the number of items (issue 25): a huge action plan is refused, not made.

Each item is a Trello card and a Slack message; a file of thousands of rows (pasted twice, a
spreadsheet export gone wrong) would make them all with no question asked. Above
``sync.max_items`` every command that would reach the services refuses with exit 2 before any
remote call; ``--allow-large`` or a higher ``sync.max_items`` lets a really large alliance on.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.support.alliance import Alliance

ROWS = 600  # over the default bound of 500 (the issue had 5,000: the same refusal)


@pytest.fixture
def alliance(tmp_path: Path) -> Iterator[Alliance]:
    made = Alliance(tmp_path)
    plan = tmp_path / "big-plan.yaml"
    start = dt.date(2027, 3, 1)
    plan.write_text(yaml.safe_dump({"rows": [{
        "number": str(1000 + i), "key": f"row-{i:05d}", "action": f"Action {i:05d}",
        "local_problem": "One of many", "responsible": "Learning Hub Friesland",
        "status": "todo", "due": (start + dt.timedelta(days=i % 500)).isoformat(),
        "step": "publish", "outcome": "Done"} for i in range(ROWS)]}), encoding="utf-8")
    text = made.config_path.read_text(encoding="utf-8")
    made.config_path.write_text(
        "\n".join(f"action_plan: {plan}" if line.startswith("action_plan:") else line
                  for line in text.splitlines()) + "\n", encoding="utf-8")
    yield made
    made.close()


def test_a_huge_action_plan_is_refused_before_any_remote_call(alliance: Alliance) -> None:
    alliance.reset_calls()
    for command in (("bootstrap",), ("bootstrap", "--dry-run"), ("plan",), ("sync",),
                    ("doctor",)):
        result = alliance.cli(*command, expect=2)
        line = result.stderr.strip()
        assert "\n" not in line, line
        assert "big-plan.yaml: 600 action-plan rows make 639 items" in line, command
        assert "over sync.max_items (500)" in line and "--allow-large" in line
    assert sum(alliance.calls().values()) == 0
    assert not alliance.config.state_path.exists()


def test_allow_large_or_the_config_key_lets_a_large_alliance_on(alliance: Alliance) -> None:
    planned = alliance.json("bootstrap", "--dry-run", "--allow-large")
    cards = [c for c in planned["changes"] if c["kind"] == "card"]
    assert len(cards) == ROWS + 39
    text = alliance.config_path.read_text(encoding="utf-8")
    alliance.config_path.write_text(text.replace("  digest_every: 7d",
                                                 "  digest_every: 7d\n  max_items: 700"),
                                    encoding="utf-8")
    alliance.cli("plan")
