"""The library face (``sync.api``): the documented example runs, and it is what the CLI prints.

The example of docs/architecture.md ("Using mcm-sync as a library") is read out of the page and
run against the example alliance on a sandbox, so the page cannot drift from the code. The
face's results are the command line's: ``Status.as_dict()`` is ``status --json``, a
stakeholder imported through the library is listed by the CLI, an erasure through the library
leaves the tombstone ``forget`` leaves. ``import sync.api`` stays light.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from sync.api import Alliance
from sync.core.errors import UserError
from tests.support.alliance import Alliance as SandboxAlliance
from tests.support.paths import ROOT

PAGE = ROOT / "docs" / "architecture.md"
FRIESLAND = ROOT / "playbooks" / "examples" / "stakeholders-friesland.csv"


def _example() -> str:
    """The Python block of the page's "Using mcm-sync as a library" section."""
    section = PAGE.read_text(encoding="utf-8").split("## Using mcm-sync as a library", 1)[1]
    found = re.search(r"```python\n(.*?)```", section, re.S)
    assert found is not None, "the section has no Python example"
    return found.group(1)


@pytest.fixture
def sandboxed(tmp_path: Path) -> Iterator[SandboxAlliance]:
    """The example alliance with a sandbox of its own running beside it."""
    made = SandboxAlliance(tmp_path)
    try:
        yield made
    finally:
        made.close()


def test_the_documented_example_runs_and_says_what_status_json_says(
        sandboxed: SandboxAlliance, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(sandboxed.folder)
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(_example(), str(PAGE), "exec"), {})  # our own page's example
    shown = json.loads(sandboxed.cli("status", "--json").stdout)
    lines = printed.getvalue().splitlines()
    assert lines[0] == f"{len(shown['items'])} items" and len(shown["items"]) > 40
    assert lines[1:-1] == [f"{p['step']}: {p['done']}/{p['total']}" for p in shown["progress"]]
    assert lines[-1] == str(shown["state"])


def test_status_as_dict_is_what_the_cli_prints(sandboxed: SandboxAlliance) -> None:
    sandboxed.cli("bootstrap")
    alliance = Alliance.open(sandboxed.config_path)
    found = alliance.status(overdue=False)
    assert json.loads(json.dumps(found.as_dict())) == sandboxed.json("status")
    first = found.items[0]
    assert found.number(None) == "" and first.number.startswith("FRL-")
    only = alliance.status(step=first.step)
    assert {row.step for row in only.items} == {first.step}
    with pytest.raises(UserError, match="--owner nobody-at-all"):
        alliance.status(owner="nobody-at-all")


def test_log_and_resolve_refuse_an_unknown_item(sandboxed: SandboxAlliance) -> None:
    sandboxed.cli("bootstrap")
    sandboxed.cli("sandbox", "move", "FRL-1", "doing")  # a member drags the card
    sandboxed.cli("sync")
    alliance = Alliance.open(sandboxed.config_path)
    entries = alliance.log(number="frl-1")
    assert [(e.item, e.entry.field, e.entry.new) for e in entries][-1] == \
        ("FRL-1", "status", "doing")
    assert [e.as_dict() for e in entries] == sandboxed.json("log", "--item", "FRL-1")
    with pytest.raises(UserError, match="no item frl-999"):
        alliance.log(number="frl-999")
    with pytest.raises(UserError):
        alliance.resolve("FRL-1", "trello")  # nothing waits for a decision


def test_stakeholders_through_the_library_are_the_clis(sandboxed: SandboxAlliance,
                                                       tmp_path: Path) -> None:
    alliance = Alliance.open(sandboxed.config_path)
    people = alliance.stakeholders
    assert people.import_file(FRIESLAND, dry_run=True).counts.added == 13
    assert people.people() == []  # a dry run stores nothing
    assert people.import_file(FRIESLAND).counts.added == 13
    assert len(sandboxed.json("stakeholders", "list")) == 13
    assert people.export_text() == FRIESLAND.read_text(encoding="utf-8")
    email = "anna.voorbeeld@example.org"
    plan = people.plan_forget(email)
    assert plan.in_store and not plan.nothing_to_do
    erased = people.forget(email)  # no audience yet: the database, state and exports only
    assert erased.remote == "skipped" and people.find(email) is None
    again = people.forget(email)
    assert again.plan.nothing_to_do
    out = sandboxed.cli("forget", email, "--yes").stdout
    assert out == f"{email} was already erased; nothing to do\n"


def test_importing_the_face_stays_light() -> None:
    """``mcm-sync --version`` imports ``sync.api``: no SQLAlchemy, engine or config model."""
    code = ("import sys, sync.api; heavy = [m for m in ('sqlalchemy', 'sync.api.alliance', "
            "'sync.engine', 'sync.core.config', 'pydantic') if m in sys.modules]; print(heavy)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True, cwd=ROOT)
    assert done.stdout.strip() == "[]"
    assert Alliance.__module__ == "sync.api.alliance"


def test_meetings_and_the_report_through_the_library_are_the_clis(
        sandboxed: SandboxAlliance, tmp_path: Path) -> None:
    sandboxed.cli("bootstrap")
    alliance = Alliance.open(sandboxed.config_path)
    schedule = alliance.meetings.schedule(["2=2027-06-10"])
    assert json.loads(json.dumps([m.as_dict() for m in schedule])) == \
        sandboxed.json("meeting", "schedule")
    assert schedule[1].date.isoformat() == "2027-06-10" and schedule[1].origin == "adjusted"
    assert alliance.meetings.calendar(schedule).startswith(b"BEGIN:VCALENDAR")
    from sync.api.meetings import render_report

    report = alliance.meetings.report()
    assert render_report(report, "csv") == sandboxed.cli("report", "--format", "csv").stdout
    assert alliance.meetings.profile(report) == sandboxed.cli("profile").stdout
    letter = alliance.newsletter.preview(tmp_path / "letter.html")
    assert (tmp_path / "letter.html").read_text(encoding="utf-8") == letter.html
