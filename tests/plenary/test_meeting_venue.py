"""Meetings carry host, place and start time (hosts rotate); the schedule as an iCalendar file
with stable UIDs; reminders and the agenda say where and when."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import yaml
from click.testing import CliRunner
from icalendar import Calendar

from sync.api import Alliance
from sync.cli.main import cli
from sync.core.config import load_config
from sync.plenary.meetings import meeting_schedule, reminder_text, reminders_due
from sync.state.store import StateStore
from tests.support.alliance import example_config

HOSTS = """
meetings:
  start_time: 9:30
  duration_minutes: 120
  hosts:
    - {organisation: Learning Hub Friesland, place: "Oosterkade 1, Leeuwarden"}
    - {organisation: DBieb, place: "Zaailand 1, Leeuwarden"}
"""


def _config(tmp_path: Path) -> Path:
    """The example config with these meetings instead of its own (a second ``meetings:`` key
    would be refused as a duplicate)."""
    path = example_config(tmp_path)
    config = yaml.safe_load(path.read_text(encoding="utf-8"))
    config["meetings"] = yaml.safe_load(HOSTS)["meetings"]
    path.write_text(yaml.safe_dump(config, allow_unicode=True, sort_keys=False),
                    encoding="utf-8")
    return path


def test_hosts_rotate_and_the_ics_has_stable_uids(tmp_path: Path) -> None:
    path = _config(tmp_path)
    runner = CliRunner()
    ics = tmp_path / "plenaries.ics"
    result = runner.invoke(cli, ["-c", str(path), "meeting", "schedule", "--ics", str(ics),
                                 "--json"])
    assert result.exit_code == 0, result.output
    first = Calendar.from_ical(ics.read_bytes())
    events = list(first.walk("VEVENT"))
    assert len(events) == 5
    assert [str(e["location"]).split(",")[0] for e in events] == [
        "Learning Hub Friesland", "DBieb", "Learning Hub Friesland", "DBieb",
        "Learning Hub Friesland"]
    start = events[0].decoded("dtstart")
    assert (start.hour, start.minute) == (9, 30)
    assert events[0].decoded("dtend") - start == dt.timedelta(minutes=120)
    assert "Oosterkade 1, Leeuwarden" in str(events[0]["location"])
    # Moving meeting 2 keeps every UID: a re-import updates the event, no duplicate.
    result = runner.invoke(cli, ["-c", str(path), "meeting", "schedule", "--date",
                                 "2=2027-06-17", "--ics", str(ics)])
    assert result.exit_code == 0, result.output
    moved = list(Calendar.from_ical(ics.read_bytes()).walk("VEVENT"))
    assert [str(e["uid"]) for e in moved] == [str(e["uid"]) for e in events]
    assert moved[1].decoded("dtstart").date() == dt.date(2027, 6, 17)
    assert int(moved[1]["sequence"]) > int(events[1]["sequence"])


def test_agenda_and_reminders_say_where_and_when(tmp_path: Path) -> None:
    path = _config(tmp_path)
    config = load_config(path)
    agenda = CliRunner().invoke(cli, ["-c", str(path), "meeting", "agenda", "2"])
    assert agenda.exit_code == 0, agenda.output
    assert "| Host organisation | DBieb |" in agenda.stdout
    assert "Zaailand 1, Leeuwarden" in agenda.stdout and "| 09:30 |" in agenda.stdout
    with StateStore.open(tmp_path / "s.db") as store:
        schedule = meeting_schedule(config, Alliance(config).playbook, store)
    second = schedule[1]
    (due,) = reminders_due(schedule, second.date - dt.timedelta(days=1), ())
    text = reminder_text(due, "en")
    assert "at 09:30, DBieb, Zaailand 1, Leeuwarden" in text and "tomorrow" in text
