"""Every word a member sees is in the alliance's language: the /alliance answer, the
stakeholder sheet, the newsletter and the digest, with dates and numbers written by Babel."""

from __future__ import annotations

import csv
import datetime as dt
import io
from pathlib import Path

import pytest

from playbooks.labels import format_date, format_number, format_percent
from playbooks.messages import messages
from sync.actionplan.calendar import alliance_playbook
from sync.audience.newsletter import render_newsletter
from sync.audience.stakeholders import parse_csv
from sync.core.config import Config, load_config
from sync.documents.render import render_template
from sync.reports.digest import digest_text
from sync.serve.answers import alliance_answer
from sync.state.store import StateStore
from tests.support.alliance import example_config

TODAY = dt.date(2027, 3, 1)
ESRA = "esra.yilmaz@example.org"


@pytest.fixture
def swedish(tmp_path: Path) -> Config:
    path = example_config(tmp_path)
    text = path.read_text(encoding="utf-8").replace("  language: en ", "  language: sv ", 1)
    path.write_text(text, encoding="utf-8")
    return load_config(path)


@pytest.fixture
def store(tmp_path: Path) -> StateStore:
    opened = StateStore.open(tmp_path / "state.db")
    opened.put_resource("slack", "user", ESRA, "U_ESRA")
    opened.ensure_item(key="task:a", number="FRL-1", kind="task", title="Kartlägg luckorna",
                       status="doing", source="playbook", step="research", owner=ESRA,
                       due="2027-03-05")
    opened.ensure_item(key="task:b", number="FRL-2", kind="task", title="Skriv rapporten",
                       status="done", source="playbook", step="scope", owner=ESRA,
                       due="2027-02-01")
    yield opened
    opened.close()


def test_dates_and_numbers_through_babel() -> None:
    day = dt.date(2027, 3, 1)
    assert [format_date(day, lang) for lang in ("en", "nl", "fr", "sv")] == [
        "1 March 2027", "1 maart 2027", "1er mars 2027", "1 mars 2027"]
    assert format_date(dt.date(2027, 7, 15), "sv") == "15 juli 2027"
    assert format_number(1234, "en") == "1,234" and format_number(1234, "nl") == "1.234"
    assert format_number(1234, "sv") == "1\xa0234"
    assert format_percent(45, "en") == "45%" and format_percent(45, "fr") == "45\xa0%"


def test_the_alliance_answer_in_swedish(swedish: Config, store: StateStore) -> None:
    answer = alliance_answer(swedish, alliance_playbook(swedish), store, "U_ESRA", TODAY)
    assert "Dina öppna åtgärder (1):" in answer
    assert "• *FRL-1* Kartlägg luckorna (Pågår · senast 5 mars 2027)" in answer
    assert "Nästa plenarmöte: " in answer
    for english in ("Your open items", "todo", "doing", " due ", "Next plenary", "2027-"):
        assert english not in answer, english
    stranger = alliance_answer(swedish, alliance_playbook(swedish), store, "U_NOBODY", TODAY)
    assert "Jag känner inte dig ännu" in stranger


def test_more_items_than_shown_point_at_the_board_not_at_the_command_line(
        swedish: Config, store: StateStore) -> None:
    for n in range(3, 15):
        store.ensure_item(key=f"task:{n}", number=f"FRL-{n}", kind="task", title=f"Uppgift {n}",
                          status="todo", source="playbook", step="scope", owner=ESRA)
    answer = alliance_answer(swedish, alliance_playbook(swedish), store, "U_ESRA", TODAY)
    assert "… och 3 till" in answer and "mcm-sync" not in answer
    store.put_resource("trello", "board", "board", "B1", url="https://trello.com/b/abc/frl")
    answer = alliance_answer(swedish, alliance_playbook(swedish), store, "U_ESRA", TODAY)
    assert ("… och 3 till · alla åtgärder finns på <https://trello.com/b/abc/frl|Trello-tavlan>"
            in answer.splitlines())


def test_the_swedish_stakeholder_sheet_says_ja_and_reads_back(swedish: Config) -> None:
    book = alliance_playbook(swedish)
    document = render_template("stakeholders", swedish, book)
    rows = list(csv.reader(io.StringIO(document.text)))
    member_column = rows[0].index("Medlem i alliansen")
    assert {row[member_column] for row in rows[1:]} == {"ja"}
    assert "Gemensam planering och genomförande" in document.text
    assert "Yrkesmässig och ekonomisk utveckling" in document.text
    for key in ("collective_planning", "professional_economic", "social_action"):
        assert key not in document.text, key
    parsed = parse_csv(document.text, document.filename)
    assert parsed.problems == []
    assert all(person.alliance_member for _, person in parsed.people)
    assert parsed.people[0][1].engagement == "collective_planning"
    assert parsed.people[0][1].sector == "professional_economic"


def test_the_swedish_newsletter_and_digest_write_no_iso_date(swedish: Config,
                                                            store: StateStore) -> None:
    book = alliance_playbook(swedish)
    letter = render_newsletter(swedish, book, store.list_items(), store.list_audit(),
                               since=dt.date(2027, 2, 1), today=TODAY)
    assert letter.subject.endswith("lägesrapport, 1 mars 2027")
    assert "senast 5 mars 2027" in letter.html and "\xa0%" in letter.html
    assert "2027-03-05" not in letter.html and "Klart sedan 1 februari 2027" in letter.html
    digest = digest_text(swedish.alliance.name, book, store.list_items(), TODAY)
    assert "(1 mars 2027)" in digest and "FRL-1* Kartlägg luckorna (5 mars 2027, Pågår)" in digest
    assert "2027-" not in digest


def test_thread_notes_name_fields_places_and_dates_in_swedish() -> None:
    from sync.engine.texts import change_note, shown

    text = {**messages("sv"), "language": "sv", "status:done": "Klar"}
    note = change_note(text, "due", "2027-07-08", "Esra", "hub")
    assert note == "slutdatum ändrat till 8 juli 2027 av Esra i handlingsplanen"
    assert change_note(text, "status", "done", "Esra", "trello") == \
        "flyttad till Klar av Esra i Trello"
    assert shown(text, "due", "2027-07-08T12:00:00+00:00") == "8 juli 2027"
