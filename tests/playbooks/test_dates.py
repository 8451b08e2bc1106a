"""One date reader for every input: the same forms accepted, slashes refused with one hint."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from click.testing import CliRunner

from playbooks.dates import SLASH_HINT, DateError, parse_date, read_date
from sync.cli.main import cli
from tests.support.alliance import example_config

JULY_3 = dt.date(2027, 7, 3)


@pytest.mark.parametrize("text", ["2027-07-03", "3-7-2027", "03-07-2027", "3.7.2027",
                                  " 03.07.2027 "])
def test_the_forms_people_type(text: str) -> None:
    assert read_date(text) == JULY_3


@pytest.mark.parametrize("text", ["3/7/2027", "2027/07/03", "07/03/2027"])
def test_slashes_are_refused_with_the_hint(text: str) -> None:
    with pytest.raises(DateError) as caught:
        read_date(text)
    assert caught.value.hint == SLASH_HINT and parse_date(text) is None


@pytest.mark.parametrize("text", ["banana", "3-7.2027", "20270703", "2027-W27-6", "31-2-2027"])
def test_what_is_not_a_date(text: str) -> None:
    assert parse_date(text) is None


def test_month_names_only_where_a_language_is_given() -> None:
    assert read_date("3 juli 2027", "sv") == JULY_3
    assert parse_date("3 juli 2027") is None


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    return example_config(tmp_path)


def _run(config_file: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["-c", str(config_file), *args])
    return result.exit_code, result.stderr


def test_minutes_refuse_a_slashed_date_and_report_every_error(config_file: Path,
                                                              tmp_path: Path) -> None:
    minutes = tmp_path / "m.yaml"
    minutes.write_text(
        "meeting: gap-workshop\ndate: 3/7/2027\nattendees: [Anna de Vries, Zoe Nobody]\n"
        "items:\n  - subject: Research\n    actions:\n"
        "      - {action: Publish the summary, responsible: Daan Bakker, due: 3/7/2027}\n"
        "      - {action: Map it, responsible: Nobody Else, due: soon}\n", encoding="utf-8")
    code, errors = _run(config_file, "minutes", "import", str(minutes), "--dry-run")
    assert code == 2
    lines = errors.splitlines()
    assert len(lines) == 5, errors  # both dates, both unknown people, the bad due date
    assert sum(SLASH_HINT in line for line in lines) == 2
    assert f"{minutes}: line 2: '3/7/2027' is not a date (hint: {SLASH_HINT})" in lines[0]


def test_stakeholder_sheet_refuses_a_slashed_date_with_the_hint(config_file: Path,
                                                                tmp_path: Path) -> None:
    sheet = tmp_path / "s.csv"
    sheet.write_text("organisation,contact_person,email,consent_date,consent_method\n"
                     "Kruispunt,Jan,jan@example.org,3/7/2027,form\n"
                     "Stichting X,Ida,ida@example.org,banana,form\n", encoding="utf-8")
    code, errors = _run(config_file, "stakeholders", "import", str(sheet))
    assert code == 2
    assert (f"{sheet}: row 2, column consent_date: '3/7/2027' is not a date "
            f"(hint: {SLASH_HINT})") in errors
    assert "row 3, column consent_date: 'banana' is not a date (hint: write dates as" in errors
    assert "too short" not in errors


def test_meeting_date_and_options_refuse_slashes_alike(config_file: Path) -> None:
    code, errors = _run(config_file, "meeting", "schedule", "--date", "2=8/7/2027")
    assert code == 2 and SLASH_HINT in errors
    code, errors = _run(config_file, "report", "--today", "8/7/2027")
    assert code == 2 and SLASH_HINT in errors
    code, errors = _run(config_file, "newsletter", "draft", "--since", "8/7/2027")
    assert code == 2 and SLASH_HINT in errors


def test_config_start_date_typed_day_first(tmp_path: Path) -> None:
    config_file = example_config(tmp_path)
    text = config_file.read_text(encoding="utf-8").replace("start_date: 2027-01-11",
                                                           "start_date: 11-01-2027")
    config_file.write_text(text, encoding="utf-8")
    assert _run(config_file, "validate")[0] == 0
    config_file.write_text(text.replace("11-01-2027", "11/01/2027"), encoding="utf-8")
    code, errors = _run(config_file, "validate")
    assert code == 2 and "alliance.start_date: '11/01/2027' is not a date" in errors
