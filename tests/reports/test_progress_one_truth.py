"""One truth for progress: status, digest, newsletter, agenda, report, profile and the rendered
action plan show the same figures per step (meetings never count, cancelled items never count)."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

from click.testing import CliRunner

from playbooks import load_action_plan, load_playbook
from sync.actionplan.progress import step_progress
from sync.audience.newsletter import build
from sync.cli.main import cli
from sync.core.config import load_config
from sync.reports.agenda import render_agenda
from sync.reports.digest import digest_text
from sync.reports.report import report_from_store
from sync.state.store import StateStore
from tests.support.alliance import example_config

TODAY = dt.date(2027, 3, 1)
Figures = dict[str, tuple[int, int]]


def _state(store: StateStore) -> None:
    """Done and open tasks, a done and an open meeting, an agreed action, a cancelled card."""
    add = store.ensure_item
    add(key="task:scope.define-region", number="FRL-1", kind="task", title="Define the region",
        status="done", source="playbook", step="scope", due="2027-01-25")
    add(key="meeting:kickoff", number="FRL-40", kind="meeting", title="Kick-off workshop",
        status="done", source="playbook", step="start", due="2027-02-01")
    add(key="meeting:gap-workshop", number="FRL-41", kind="meeting", title="Gap workshop",
        status="todo", source="playbook", step="research", due="2027-06-07")
    add(key="minutes:kickoff:1", number="FRL-50", kind="action", title="Agreed action",
        status="done", source="file", step="start", due="2027-03-10")
    add(key="trello:gone", number="FRL-51", kind="action", title="Dropped card",
        status="cancelled", source="trello", step="start")


def _pairs(pattern: str, text: str, titles: dict[str, str]) -> Figures:
    found = {m.group("title").strip(): (int(m.group("done")), int(m.group("total")))
             for m in re.finditer(pattern, text)}
    return {key: found[title] for key, title in titles.items() if title in found}


def test_every_output_shows_the_same_progress(tmp_path: Path) -> None:
    path = example_config(tmp_path)
    config = load_config(path)
    book = load_playbook("en")
    rows = list(load_action_plan(config.resolve_path(str(config.action_plan)), book,
                                 config.people).rows)
    config.state_path.parent.mkdir(parents=True, exist_ok=True)
    with StateStore.open(config.state_path) as store:
        _state(store)
        items = store.list_items()
        truth = {p.key: (p.done, p.total) for p in step_progress(items, book, rows)}
        titles = {p.key: p.title for p in step_progress(items, book, rows)}
        report = report_from_store(config, book, rows, store, TODAY)
        agenda = render_agenda(config, book, rows, store, 2)
        letter = build(config, book, store, since=dt.date(2027, 1, 1), today=TODAY, rows=rows)
    digest = digest_text(config.alliance.name, book, items, TODAY, rows)
    runner = CliRunner()
    status = runner.invoke(cli, ["-c", str(path), "status", "--json"])
    assert status.exit_code == 0, status.output
    rendered = runner.invoke(cli, ["-c", str(path), "template", "render", "action_plan"])
    assert rendered.exit_code == 0, rendered.output

    # Meetings do not count: "start" has its tasks and the agreed action, not the kick-off.
    start = next(s for s in book.steps if s.key == "start")
    assert truth["start"] == (1, len(start.tasks) + 1)
    of = r"(?P<title>[^\n:•-]+): (?P<done>\d+) of (?P<total>\d+) done"
    assert {p["step"]: (p["done"], p["total"]) for p in json.loads(status.stdout)["progress"]} \
        == truth
    assert _pairs(r"• (?P<title>[^\n:]+): (?P<done>\d+)/(?P<total>\d+)", digest, titles) == truth
    shown = {k: v for k, v in truth.items() if v[1]}
    assert _pairs(r">\d+\. (?P<title>[^<>]+)</td>\s*<td[^>]*>(?P<done>\d+) of (?P<total>\d+) done",
                  letter.html, titles) == shown
    assert {g.key: (g.done, g.total) for g in report.groups} == truth
    assert _pairs(of, agenda, titles) == truth
    assert _pairs(of, rendered.stdout, titles) == truth
    # The rendered action plan is the report's: FRL-1 is Done in both.
    assert "| FRL-1 | Define the region |" in rendered.stdout
