"""Minutes import: the YAML and Markdown forms, checks with lines, stable items, the CLI."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from playbooks import load_playbook
from sync.cli.main import cli
from sync.core.config import Config, load_config
from sync.core.errors import InputError
from sync.documents.render import render_template
from sync.plenary.minutes import import_minutes, load_minutes, match_person, parse_date
from sync.state.store import StateStore
from tests.support.alliance import example_config
from tests.support.minutes import MINUTES_YAML


@pytest.fixture
def config(tmp_path: Path) -> Config:
    return load_config(example_config(tmp_path))


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


# --------------------------------------------------------------------------- pure parts


@pytest.mark.parametrize(("text", "language", "expected"), [
    ("2027-06-07", "en", dt.date(2027, 6, 7)),
    ("7-6-2027", "en", dt.date(2027, 6, 7)),
    ("07.06.2027", "nl", dt.date(2027, 6, 7)),
    ("7 June 2027", "en", dt.date(2027, 6, 7)),
    ("15 juni 2027", "nl", dt.date(2027, 6, 15)),
    ("1er mars 2027", "fr", dt.date(2027, 3, 1)),
    ("3 maj 2027", "en", dt.date(2027, 5, 3)),  # another language's month names still parse
    (dt.date(2027, 1, 2), "en", dt.date(2027, 1, 2)),
])
def test_parse_date_accepts_the_ways_people_write_dates(text: object, language: str,
                                                        expected: dt.date) -> None:
    assert parse_date(text, language) == expected


@pytest.mark.parametrize("text", ["", "soon", "2027-13-45", "31-02-2027", "[date]", "June 2027"])
def test_parse_date_refuses_what_is_not_a_date(text: str) -> None:
    assert parse_date(text) is None


def test_match_person_by_email_name_or_name_without_remark(config: Config) -> None:
    people = config.people
    assert [p.name for p in match_person("ANNA.DEVRIES@example.org", people)] == \
        ["Anna de Vries (example)"]
    assert len(match_person("anna  de vries (example)", people)) == 1
    assert len(match_person("Anna de Vries", people)) == 1
    assert match_person("Someone Else", people) == []


# --------------------------------------------------------------------------- files


def test_yaml_minutes_become_checked_actions(tmp_path: Path, config: Config) -> None:
    minutes = load_minutes(write(tmp_path, "m.yaml", MINUTES_YAML), config, load_playbook("en"))
    assert minutes.meeting.key == "gap-workshop"
    assert minutes.step == "research"
    assert minutes.attendees == ("anna.devries@example.org", "bram.visser@example.org")
    assert minutes.absentees == ("carla.mulder@example.org",)
    assert [(a.index, a.title, a.owners, a.due) for a in minutes.actions] == [
        (1, "Publish the research summary",
         ("anna.devries@example.org", "daan.bakker@example.org"), dt.date(2027, 7, 1)),
        (2, "Map the organisations on one map", ("gerrit.hoekstra@example.org",),
         dt.date(2027, 7, 15)),
    ]


def test_every_problem_is_reported_with_file_and_line(tmp_path: Path, config: Config) -> None:
    text = MINUTES_YAML.replace("[Daan Bakker,", "[Zoe Unknown,").replace("15-07-2027", "soon")
    path = write(tmp_path, "bad.yaml", text)
    with pytest.raises(InputError) as caught:
        load_minutes(path, config, load_playbook("en"))
    lines = caught.value.lines()
    assert len(lines) == 2
    assert lines[0].startswith(f"{path}: line 14: responsible person 'Zoe Unknown' is not a person")
    assert lines[1].startswith(f"{path}: line 19: 'soon' is not a date")


@pytest.mark.parametrize(("text", "message"), [
    ("meeting: 9\nitems: []\n", "line 1: unknown meeting '9'"),
    ("meeting: 2\nitems:\n  - subject: x\n    actions:\n      - action: Do it\n",
     "line 5: no person responsible for 'Do it'"),
    ("meeting: 2\nagenda: []\n", "line 2: unknown key 'agenda'"),
    ("meeting: 2\nitems: [\n", "not valid YAML"),
    ("meeting: 2\nattendees: [Nobody Here]\n", "line 2: attendee 'Nobody Here' is not a person"),
    ("items: []\n", "line 1: which meeting is this?"),
])
def test_yaml_problems_are_clear(tmp_path: Path, config: Config, text: str, message: str) -> None:
    with pytest.raises(InputError) as caught:
        load_minutes(write(tmp_path, "m.yaml", text), config, load_playbook("en"))
    assert message in str(caught.value.lines())


def filled_markdown(config: Config, language: str) -> str:
    """The rendered minutes template of meeting 2 with attendance and two rows filled in."""
    book = load_playbook(language)
    text = render_template("minutes", config, book, meeting_number=2).text
    present_todo = {"en": "present / absent", "nl": "aanwezig / afwezig"}[language]
    present, absent = (word.strip() for word in present_todo.split("/"))
    lines = []
    for line in text.splitlines():
        if line.startswith("| Anna de Vries"):
            line = line.replace(present_todo, present)
        elif line.startswith("| Bram Visser"):
            line = line.replace(present_todo, absent)
        lines.append(line)
    # The third and fourth agenda rows get actions: two in one cell, then one.
    rows = [n for n, line in enumerate(lines) if line.count("|") == 6 and "[" in line]
    first, second = rows[0], rows[1]
    subject = lines[first].split("|")[1]
    lines[first] = (f"|{subject}| Discussed. | Draft the press release<br>Book the venue | "
                    "Daan Bakker<br>anna.devries@example.org, Bram Visser | "
                    "2027-06-20<br>1 July 2027 |")
    subject = lines[second].split("|")[1]
    lines[second] = f"|{subject}| Shared. | Share the map | Esra Yilmaz | 2027-07-04 |"
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("language", ["en", "nl"])
def test_markdown_minutes_from_the_rendered_template(tmp_path: Path, config: Config,
                                                     language: str) -> None:
    path = write(tmp_path, "m.md", filled_markdown(config, language))
    minutes = load_minutes(path, config, load_playbook(language))
    assert minutes.meeting.number == 2
    assert minutes.date == dt.date(2027, 6, 7)  # "7 June 2027" / "7 juni 2027" in the header
    assert minutes.attendees == ("anna.devries@example.org",)
    assert minutes.absentees == ("bram.visser@example.org",)
    assert [(a.title, a.owners, a.due.isoformat()) for a in minutes.actions] == [
        ("Draft the press release", ("daan.bakker@example.org",), "2027-06-20"),
        ("Book the venue", ("anna.devries@example.org", "bram.visser@example.org"), "2027-07-01"),
        ("Share the map", ("esra.yilmaz@example.org",), "2027-07-04"),
    ]


def test_an_unfilled_template_agrees_no_action(tmp_path: Path, config: Config) -> None:
    text = render_template("minutes", config, load_playbook("en"), meeting_number=3).text
    minutes = load_minutes(write(tmp_path, "m.md", text), config, load_playbook("en"))
    assert minutes.meeting.number == 3 and minutes.actions == ()


def test_every_problem_at_once(tmp_path: Path, config: Config) -> None:
    text = "meeting: 9\nplace: x\nagenda: []\nattendees: [Nobody Here]\n"
    with pytest.raises(InputError) as caught:
        load_minutes(write(tmp_path, "m.yaml", text), config, load_playbook("en"))
    assert [line.split(": ", 2)[1] for line in caught.value.lines()] == [
        "line 3", "line 1", "line 4"]  # unknown key, unknown meeting, unknown attendee


def test_markdown_problem_names_the_table_line(tmp_path: Path, config: Config) -> None:
    text = filled_markdown(config, "en").replace("| 2027-07-04 |", "| next week |")
    line = next(n for n, row in enumerate(text.splitlines(), 1) if "next week" in row)
    with pytest.raises(InputError) as caught:
        load_minutes(write(tmp_path, "m.md", text), config, load_playbook("en"))
    assert caught.value.lines() == [f"{tmp_path / 'm.md'}: line {line}: 'next week' is not a "
                                    "date for 'Share the map' (hint: write dates as YYYY-MM-DD or "
                                    "day first, 5-7-2027 or 5.7.2027)"]


# --------------------------------------------------------------------------- the store


def test_import_creates_items_once(tmp_path: Path, config: Config) -> None:
    book = load_playbook("en")
    minutes = load_minutes(write(tmp_path, "m.yaml", MINUTES_YAML), config, book)
    with StateStore.open(tmp_path / "state.db") as store:
        first = import_minutes(store, config, minutes)
        again = import_minutes(store, config, minutes)
        items = store.list_items()
        record = store.get_resource("hub", "minutes", "gap-workshop")
    assert [i.number for i in first.created] == ["FRL-1", "FRL-2"]
    assert again.created == () and [i.number for i in again.existing] == ["FRL-1", "FRL-2"]
    assert [(i.key, i.kind, i.status, i.step, i.owner, i.due) for i in items] == [
        ("minutes:gap-workshop:1", "action", "todo", "research",
         "anna.devries@example.org,daan.bakker@example.org", "2027-07-01"),
        ("minutes:gap-workshop:2", "action", "todo", "research",
         "gerrit.hoekstra@example.org", "2027-07-15"),
    ]
    assert record is not None and record.data["attendees"] == [
        "anna.devries@example.org", "bram.visser@example.org"]


def test_a_changed_action_text_is_kept_and_flagged(tmp_path: Path, config: Config) -> None:
    book = load_playbook("en")
    with StateStore.open(tmp_path / "state.db") as store:
        import_minutes(store, config, load_minutes(write(tmp_path, "a.yaml", MINUTES_YAML),
                                                   config, book))
        edited = MINUTES_YAML.replace("Publish the research summary", "Publish the summary")
        result = import_minutes(store, config, load_minutes(write(tmp_path, "b.yaml", edited),
                                                            config, book))
        assert store.get_item_by_key("minutes:gap-workshop:1").title == \
            "Publish the research summary"  # type: ignore[union-attr]
    assert result.created == ()
    assert [(a.index, i.number) for a, i in result.differing] == [(1, "FRL-1")]


# --------------------------------------------------------------------------- CLI


def run(config_path: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, ["-c", str(config_path), *args])


def test_cli_import_then_reimport(tmp_path: Path) -> None:
    config_path = example_config(tmp_path)
    minutes = write(tmp_path, "m.yaml", MINUTES_YAML)
    result = run(config_path, "minutes", "import", str(minutes))
    assert result.exit_code == 0, result.output
    assert "2 new action items, 0 already imported" in result.output
    assert "FRL-1 Publish the research summary" in result.output
    again = run(config_path, "minutes", "import", str(minutes), "--json")
    assert again.exit_code == 0
    data = json.loads(again.stdout)
    assert data["created"] == [] and data["existing"] == ["FRL-1", "FRL-2"]


def test_cli_refuses_a_bad_file_before_writing_anything(tmp_path: Path) -> None:
    config_path = example_config(tmp_path)
    good_then_bad = MINUTES_YAML.replace("Gerrit Hoekstra (example)", "Gerrit Unknown")
    minutes = write(tmp_path, "m.yaml", good_then_bad)
    result = run(config_path, "minutes", "import", str(minutes))
    assert result.exit_code == 2
    assert f"error: {minutes}: line 18: responsible person 'Gerrit Unknown' is not a person" \
        in result.stderr
    with StateStore.open(load_config(config_path).state_path) as store:
        assert store.list_items() == []  # the first, valid action was not imported either


def test_cli_dry_run_and_missing_file(tmp_path: Path) -> None:
    config_path = example_config(tmp_path)
    minutes = write(tmp_path, "m.yaml", MINUTES_YAML)
    result = run(config_path, "minutes", "import", "--dry-run", str(minutes))
    assert result.exit_code == 0 and "nothing written" in result.output
    assert not load_config(config_path).state_path.exists()
    missing = run(config_path, "minutes", "import", str(tmp_path / "nope.md"))
    assert missing.exit_code == 2 and "minutes file not found" in missing.stderr


# --------------------------------------------------------------------------- the sync's side


def test_next_sync_gives_agreed_actions_a_card_and_a_message(tmp_path: Path) -> None:
    """The contract with the sync: a store item without a Trello side gets its card and message."""
    from connectors.identity import make_token, token_in
    from tests.support.alliance import Alliance

    alliance = Alliance(tmp_path)
    try:
        alliance.cli("bootstrap")
        minutes = write(tmp_path, "m.yaml", MINUTES_YAML)
        alliance.cli("minutes", "import", str(minutes))
        alliance.cli("sync")
        board = alliance.resource("trello", "board", "board")
        cards = alliance.trello_member("bram.visser@example.org").fetch_json(
            f"/boards/{board}/cards")
        with alliance.store() as store:
            item = store.get_item_by_key("minutes:gap-workshop:1")
            assert item is not None
            assert store.get_side(item.id, "slack") is not None
        token = make_token("frl", "minutes:gap-workshop:1")
        assert [c["name"] for c in cards if token_in(c["desc"]) == token] == [
            f"{item.number} · Publish the research summary"]
        # Importing the same minutes again and syncing creates nothing new.
        again = alliance.cli("minutes", "import", str(minutes))
        assert "0 new action items, 2 already imported" in again.output
        assert alliance.json("sync")["created_items"] == []
    finally:
        alliance.close()
