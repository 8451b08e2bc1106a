"""The plenary series: dates and adjustments, reminders (pure and on the sandbox), agenda."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from playbooks import load_playbook
from sync.cli.main import cli
from sync.core.config import Config, load_config
from sync.core.errors import RemoteError, UserError
from sync.core.services import connect
from sync.plenary.meetings import (
    Reminder,
    ScheduledMeeting,
    apply_schedule,
    meeting_schedule,
    parse_adjustments,
    post_meeting_reminders,
    reminder_text,
    reminders_due,
)
from sync.state.store import StateStore
from tests.support.alliance import Alliance, example_config
from tests.support.minutes import MINUTES_YAML

BOOK = load_playbook("en")


@pytest.fixture
def config(tmp_path: Path) -> Config:
    return load_config(example_config(tmp_path))


def meeting(date: dt.date, *, key: str = "gap-workshop", status: str = "todo") -> ScheduledMeeting:
    return ScheduledMeeting(2, key, "Gap workshop", date, date, "plan", "FRL-36", status)


# --------------------------------------------------------------------------- dates


def test_parse_adjustments_by_number_or_key() -> None:
    assert parse_adjustments(["2=2027-06-10", "closing=2028-06-01"], BOOK) == {
        "gap-workshop": dt.date(2027, 6, 10), "closing": dt.date(2028, 6, 1)}


@pytest.mark.parametrize(("value", "message"), [
    ("9=2027-06-10", "expected N=YYYY-MM-DD"),
    ("2", "expected N=YYYY-MM-DD"),
    ("2=10/06/2027", "'10/06/2027' is not a date"),
])
def test_parse_adjustments_refuses(value: str, message: str) -> None:
    with pytest.raises(UserError, match=message):
        parse_adjustments([value], BOOK)


def test_schedule_from_plan_item_and_adjustment(tmp_path: Path, config: Config) -> None:
    with StateStore.open(tmp_path / "s.db") as store:
        planned = meeting_schedule(config, BOOK, store)
        assert [m.date.isoformat() for m in planned] == [
            "2027-02-22", "2027-06-07", "2027-09-27", "2028-01-31", "2028-06-19"]
        kickoff = store.ensure_item(key="meeting:kickoff", number="FRL-35", kind="meeting",
                                    title="Kick-off", status="todo", source="playbook",
                                    due="2027-02-24")  # moved on the Trello card
        gap = store.ensure_item(key="meeting:gap-workshop", number="FRL-36", kind="meeting",
                                title="Gap", status="todo", source="playbook", due="2027-06-07")
        schedule = apply_schedule(config, BOOK, store, {"gap-workshop": dt.date(2027, 6, 10)})
        assert [(m.date.isoformat(), m.origin, m.item_number) for m in schedule[:3]] == [
            ("2027-02-24", "board", "FRL-35"), ("2027-06-10", "adjusted", "FRL-36"),
            ("2027-09-27", "plan", "")]
        assert store.get_item(gap.id).due == "2027-06-10"
        assert store.get_item(kickoff.id).due == "2027-02-24"  # the card's date is kept
        assert [(a.field, a.old, a.new) for a in store.list_audit(gap.id)] == [
            ("due", "2027-06-07", "2027-06-10")]
        # The adjustment is kept: a later schedule still has it.
        assert meeting_schedule(config, BOOK, store)[1].date == dt.date(2027, 6, 10)


def test_a_workers_kept_schedule_follows_every_write(tmp_path: Path, config: Config) -> None:
    """Kept from run to run of a worker (``sync.state.kept``), the schedule still shows the
    run's own item writes at once and another process's adjustment at the next run."""
    from sync.state.kept.reads import KeptReads

    kept = KeptReads()
    with StateStore.open(tmp_path / "s.db", lock=True, kept=kept) as store:
        assert meeting_schedule(config, BOOK, store)[0].origin == "plan"
        store.ensure_item(key="meeting:kickoff", number="FRL-35", kind="meeting",
                          title="Kick-off", status="todo", source="playbook", due="2027-02-24")
        assert meeting_schedule(config, BOOK, store)[0].date == dt.date(2027, 2, 24)
    with StateStore.open(tmp_path / "s.db", lock=True, kept=kept) as store:
        assert meeting_schedule(config, BOOK, store)[0].date == dt.date(2027, 2, 24)
    with StateStore.open(tmp_path / "s.db") as other:  # `mcm-sync meeting schedule`
        apply_schedule(config, BOOK, other, {"kickoff": dt.date(2027, 3, 1)})
    with StateStore.open(tmp_path / "s.db", lock=True, kept=kept) as store:
        first = meeting_schedule(config, BOOK, store)[0]
        assert (first.date, first.origin) == (dt.date(2027, 3, 1), "adjusted")
    kept.drop()


# --------------------------------------------------------------------------- reminders


@pytest.mark.parametrize(("today", "expected"), [
    ("2027-05-30", []),                  # eight days before: nothing yet
    ("2027-05-31", [7]),                 # a week before
    ("2027-06-05", [7]),                 # still the week reminder if it was not sent
    ("2027-06-06", [1]),                 # the day before: only the day reminder
    ("2027-06-07", []),                  # the day itself and after: nothing
    ("2027-06-20", []),
])
def test_reminders_due_windows(today: str, expected: list[int]) -> None:
    found = reminders_due([meeting(dt.date(2027, 6, 7))], dt.date.fromisoformat(today), set())
    assert [r.lead_days for r in found] == expected


def test_reminders_due_skips_sent_closed_and_accepts_datetimes() -> None:
    date = dt.date(2027, 6, 7)
    week = reminders_due([meeting(date)], dt.date(2027, 6, 1), set())
    assert [r.key for r in week] == ["gap-workshop:2027-06-07:7d"]
    assert reminders_due([meeting(date)], dt.date(2027, 6, 1), {week[0].key}) == []
    assert reminders_due([meeting(date, status="cancelled")], dt.date(2027, 6, 1), set()) == []
    now = dt.datetime(2027, 6, 6, 23, 30)
    assert [r.lead_days for r in reminders_due([meeting(date)], now, set())] == [1]
    # A new date gives new reminders, even if the old date's were sent.
    moved = reminders_due([meeting(dt.date(2027, 6, 14))], dt.date(2027, 6, 7), {week[0].key})
    assert [r.key for r in moved] == ["gap-workshop:2027-06-14:7d"]


def test_reminder_text_in_the_alliance_language() -> None:
    reminder = Reminder("gap-workshop", 2, "Onderzoek", "FRL-36", dt.date(2027, 6, 7), 1)
    assert reminder_text(reminder, "nl") == (
        "Plenaire bijeenkomst morgen: *Onderzoek* (FRL-36) op 7 juni 2027 om 14:00, "
        "plaats volgt nog. Tot dan!")
    assert "in one week" in reminder_text(
        Reminder("k", 1, "T", "", dt.date(2027, 6, 7), 7), "en")


@pytest.fixture
def alliance(tmp_path: Path) -> Iterator[Alliance]:
    made = Alliance(tmp_path)
    yield made
    made.close()


def test_schedule_and_reminders_on_the_sandbox(alliance: Alliance) -> None:
    alliance.cli("bootstrap")
    schedule = alliance.json("meeting", "schedule", "--date", "2=2027-06-10")
    assert schedule[1]["date"] == "2027-06-10" and schedule[1]["origin"] == "adjusted"
    assert schedule[1]["reminders"] == ["2027-06-03", "2027-06-09"]
    with alliance.store() as store:
        item = store.get_item_by_key("meeting:gap-workshop")
        assert item is not None and item.due == "2027-06-10"
    alliance.cli("sync")  # pushes the new date to the meeting's card
    board = alliance.resource("trello", "board", "board")
    cards = alliance.trello_member("bram.visser@example.org").fetch_json(f"/boards/{board}/cards")
    assert [c["due"][:10] for c in cards if c["name"].startswith(f"{item.number} ")] == [
        "2027-06-10"]
    config, book = alliance.config, load_playbook("en")
    now = dt.datetime(2027, 6, 4, 9, 0, tzinfo=dt.UTC)
    with alliance.store() as store, connect(config, ("slack",)) as connected:
        posted = post_meeting_reminders(config, book, connected.chat, store, now)
        again = post_meeting_reminders(config, book, connected.chat, store, now)
    assert [(r.meeting_key, r.lead_days) for r in posted] == [("gap-workshop", 7)]
    assert again == []
    general = alliance.resource("slack", "channel", "general")
    history = alliance.slack_member("bram.visser@example.org").conversations_history(
        channel=general, include_all_metadata=True)["messages"]
    texts = [m["text"] for m in history if "Plenary meeting in one week" in m["text"]]
    assert texts == [f"Plenary meeting in one week: *Research and gap-finding workshop* "
                     f"({item.number}) on 10 June 2027 at 14:00, Gemeente Leeuwarden, Stadhuis, "
                     "Leeuwarden. The agenda is on the card; add your points there."]


def test_reminder_posted_before_a_crash_is_adopted_not_repeated(alliance: Alliance) -> None:
    """The post reaches Slack but the process dies before recording it: the next run finds it."""
    alliance.cli("bootstrap", "--only", "trello,slack")
    config, book = alliance.config, load_playbook("en")
    now = dt.datetime(2027, 2, 16, 9, 0, tzinfo=dt.UTC)  # a week before the kick-off
    alliance.fault(service="slack", path="*chat.postMessage", mode="error", status=400, count=1)
    with alliance.store() as store, connect(config, ("slack",)) as connected, \
            pytest.raises(RemoteError):
        post_meeting_reminders(config, book, connected.chat, store, now)
    # Now it was posted but not recorded: same as a crash right after the call.
    with alliance.store() as store, connect(config, ("slack",)) as connected:
        general = store.get_resource("slack", "channel", "general")
        connected.chat.post_message(
            general.remote_id, "reminder sent by the run that died",
            metadata={"event_type": "mcm_sync_meeting_reminder",
                      "event_payload": {"key": "kickoff:2027-02-22:7d"}})
        posted = post_meeting_reminders(config, book, connected.chat, store, now)
        assert [r.key for r in posted] == ["kickoff:2027-02-22:7d"]
    history = alliance.slack_member("bram.visser@example.org").conversations_history(
        channel=alliance.resource("slack", "channel", "general"))["messages"]
    assert not [m for m in history if "Plenary meeting in one week" in m["text"]]


def test_no_reminders_before_bootstrap(tmp_path: Path, config: Config) -> None:
    with StateStore.open(tmp_path / "s.db") as store:
        posted = post_meeting_reminders(config, BOOK, None, store,  # type: ignore[arg-type]
                                        dt.datetime(2027, 6, 1, tzinfo=dt.UTC))
    assert posted == []


# --------------------------------------------------------------------------- CLI


def run(config_path: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, ["-c", str(config_path), *args])


def test_cli_schedule_table_and_bad_date(tmp_path: Path) -> None:
    config_path = example_config(tmp_path)
    result = run(config_path, "meeting", "schedule")
    assert result.exit_code == 0
    assert "2027-02-22" in result.output and "Evaluation and continuation" in result.output
    assert "run `mcm-sync bootstrap`" in result.stderr
    bad = run(config_path, "meeting", "schedule", "--date", "7=2027-01-01")
    assert bad.exit_code == 2
    assert "error: --date 7=2027-01-01: expected N=YYYY-MM-DD" in bad.stderr


def test_cli_agenda_filled_from_the_state(tmp_path: Path) -> None:
    config_path = example_config(tmp_path)
    minutes = tmp_path / "m.yaml"
    minutes.write_text(MINUTES_YAML, encoding="utf-8")
    assert run(config_path, "minutes", "import", str(minutes)).exit_code == 0
    assert run(config_path, "meeting", "schedule", "--date", "3=2027-07-05").exit_code == 0
    result = run(config_path, "meeting", "agenda", "3")
    assert result.exit_code == 0, result.output
    text = result.output
    assert "## Plenary meeting 3 of 5: Vision and action plan" in text
    assert "| Date | 5 July 2027 |" in text  # the adjusted date
    assert "Held on 7 June 2027. Present: Anna de Vries (example), Bram Visser (example). " \
        "Absent: Carla Mulder (example)." in text
    assert "- **FRL-1** Publish the research summary" in text
    assert "| FRL-1 | Publish the research summary | Anna de Vries (example), Daan Bakker " \
        "(example) | 1 July 2027 (due before this meeting) | To do |" in text
    assert "| FRL-2 | Map the organisations on one map | Gerrit Hoekstra (example) | " \
        "15 July 2027 | To do |" in text
    assert "- Research and mapping: 1 of 9 done (11%)" in text  # 6 tasks, 1 row, 2 agreed
    first = run(config_path, "meeting", "agenda", "1")
    assert "No minutes of the previous meeting have been imported yet." in first.output
    missing = run(config_path, "meeting", "agenda", "6")
    assert missing.exit_code == 2 and "there is no plenary meeting 6" in missing.stderr


def test_cli_agenda_to_file(tmp_path: Path) -> None:
    config_path = example_config(tmp_path)
    target = tmp_path / "out" / "agenda.md"
    refused = run(config_path, "meeting", "agenda", "2", "-o", str(target))
    assert refused.exit_code == 2 and "does not exist" in refused.stderr  # never created
    target.parent.mkdir()
    result = run(config_path, "meeting", "agenda", "2", "-o", str(target))
    assert result.exit_code == 0 and f"wrote {target}" in result.stderr
    assert target.read_text(encoding="utf-8").startswith("# Meeting agenda: Friesland")
