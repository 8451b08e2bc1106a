"""An alliance's own action plan: YAML and CSV load, errors are all reported, SMART gaps warn."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest

from playbooks import load_action_plan, load_playbook
from playbooks.action_plan import row_key
from sync.core.config import Config, load_config
from sync.core.errors import InputError, Problem

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "playbooks" / "examples"


@pytest.fixture(scope="module")
def config() -> Config:
    return load_config(ROOT / "config.example.yaml")


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _errors(path: Path, language: str = "en") -> list[Problem]:
    with pytest.raises(InputError) as info:
        load_action_plan(path, load_playbook(language))
    return info.value.problems


def test_example_yaml_loads_with_one_smart_warning(config: Config) -> None:
    loaded = load_action_plan(EXAMPLES / "frl-action-plan.yaml", load_playbook("en"), config.people)
    assert len(loaded.rows) == 6
    first = loaded.rows[0]
    assert first.key == "train-12-community-mediators-from-newcomer-communities"
    assert first.budget_eur == Decimal(8500)
    assert first.due == dt.date(2027, 12, 17)
    assert (first.status, first.step) == ("doing", "publish")
    assert [str(w) for w in loaded.warnings] == [
        f"{EXAMPLES / 'frl-action-plan.yaml'}: row 4.due: no due date (SMART: time-bound)"
        " (hint: add a due date as YYYY-MM-DD)"
    ]
    organisations = {p.organisation for p in config.people}
    emails = {str(p.email) for p in config.people}
    assert all(row.responsible in organisations | emails for row in loaded.rows)


def test_example_csv_loads_the_same_shape(config: Config) -> None:
    loaded = load_action_plan(EXAMPLES / "frl-action-plan.csv", load_playbook("en"), config.people)
    assert [row.number for row in loaded.rows] == ["1", "2", "3"]
    assert loaded.rows[2].local_problem.startswith("Organisations do not know")
    assert loaded.rows[2].status == "done"
    assert loaded.warnings == []
    yaml_rows = load_action_plan(EXAMPLES / "frl-action-plan.yaml", load_playbook("en")).rows
    assert [r.key for r in loaded.rows] == [r.key for r in yaml_rows[:3]]


def test_csv_with_dutch_titles_and_semicolons(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "plan.csv",
        "Nummer;Te ondernemen actie;Verantwoordelijke instantie of partner;Status;Einddatum;"
        "Geraamde begroting;outcome\n"
        "A1;Taalcafé openen in de bibliotheek;DBieb;Bezig;2027-05-01;€ 1200;20 bezoekers per week\n"
        ";;;;;;\n",
    )
    [row] = load_action_plan(path, load_playbook("nl")).rows
    assert (row.number, row.action, row.responsible) == (
        "A1",
        "Taalcafé openen in de bibliotheek",
        "DBieb",
    )
    assert (row.status, row.due, row.budget_eur) == ("doing", dt.date(2027, 5, 1), Decimal(1200))
    assert row.key == "taalcafe-openen-in-de-bibliotheek"


def test_yaml_plain_list_and_localised_keys(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "plan.yml",
        "- {action: Host a job fair, Status: Blocked, step: 5, key: fair-2027, due: 2027-09-01,\n"
        "   responsible: Kruispunt, outcome: 30 employers attend}\n",
    )
    [row] = load_action_plan(path, load_playbook("en")).rows
    assert (row.key, row.status, row.step) == ("fair-2027", "blocked", "promote")


def test_bad_date_message(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "plan.yaml",
        "rows:\n  - {action: First action}\n  - {action: Second action}\n"
        "  - {action: Third action, due: soon}\n",
    )
    [problem] = _errors(path)
    assert (problem.location, problem.message) == ("row 3.due", "'soon' is not a date")
    assert str(problem) == (f"{path}: row 3.due: 'soon' is not a date (hint: write dates as "
                            "YYYY-MM-DD or day first, 5-7-2027 or 5.7.2027)")


def test_every_error_is_reported_and_nothing_returned(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "plan.csv",
        "number,action,status,step,budget,due,colour\n"
        "1,Train mediators,maybe,scope,100,2027-01-01,red\n"
        "2,Open a desk,todo,party,-5,2027-13-01,\n"
        "2,Open a desk,todo,publish,abc,,\n"
        "4,,todo,publish,,,\n",
    )
    problems = _errors(path)
    assert {(p.location, p.message) for p in problems} == {
        ("header", "unknown column 'colour' (column 7)"),
    }
    path.write_text(path.read_text(encoding="utf-8").replace(",colour", "").replace(",red", ""))
    problems = _errors(path)
    assert {(p.location, p.message) for p in problems} == {
        ("row 1.status", "unknown status 'maybe'"),
        ("row 2.step", "unknown step 'party'"),
        ("row 2.budget", "the budget must not be negative (got -5)"),
        ("row 2.due", "'2027-13-01' is not a date"),
        ("row 3.budget", "'abc' is not an amount in euros"),
        ("row 4.action", "missing action"),
    }
    status = next(p for p in problems if p.location == "row 1.status")
    assert status.hint == "use one of: todo, doing, blocked, done, cancelled"


def test_duplicate_key_and_number(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "plan.yaml",
        "- {number: 1, action: Open a desk}\n"
        "- {number: 2, action: Open a desk!}\n"
        "- {number: 1, action: Something else}\n",
    )
    problems = _errors(path)
    assert {(p.location, p.message) for p in problems} == {
        ("row 2.key", "duplicate row key 'open-a-desk' (also row 1)"),
        ("row 3.number", "duplicate number '1' (also row 1)"),
    }


def test_unknown_column_in_yaml_and_wrong_shapes(tmp_path: Path) -> None:
    path = _write(
        tmp_path, "plan.yaml", "- {action: Open a desk, owner_email: x@example.org}\n- 7\n"
    )
    assert {(p.location, p.message) for p in _errors(path)} == {
        ("row 1.owner_email", "unknown column 'owner_email'"),
        ("row 2", "a row must be a mapping of column: value"),
    }
    path = _write(tmp_path, "plan.yaml", "action: not a list\n")
    assert _errors(path)[0].message == "expected a list of rows (or a mapping with 'rows:')"
    assert _errors(tmp_path / "missing.yaml")[0].message == "action-plan file not found"
    assert _errors(_write(tmp_path, "plan.txt", "x"))[0].message == "unknown file type '.txt'"


def test_smart_warnings(tmp_path: Path, config: Config) -> None:
    path = _write(
        tmp_path,
        "plan.yaml",
        "- {action: Open a desk}\n"
        "- {action: Train mediators, responsible: Nobody Inc, due: 2027-03-01,"
        " outcome: 12 trained}\n"
        "- {action: Host a fair, responsible: 'DBieb; anna.devries@example.org', due: 2027-03-01,"
        " outcome: 30 employers}\n"
        "- {action: Dropped idea, status: cancelled}\n",
    )
    loaded = load_action_plan(path, load_playbook("en"), config.people)
    assert len(loaded.rows) == 4
    assert [(w.location, w.message) for w in loaded.warnings] == [
        ("row 1.responsible", "no responsible partner (SMART: who does it?)"),
        ("row 1.due", "no due date (SMART: time-bound)"),
        ("row 1.outcome", "no measurable outcome (SMART: measurable)"),
        ("row 2.responsible", "'Nobody Inc' is not a person or organisation of the alliance"),
    ]
    # Without people to check against, an unknown responsible is not a warning.
    assert len(load_action_plan(path, load_playbook("en")).warnings) == 3


def test_row_keys_are_stable_slugs() -> None:
    assert (
        row_key("Write the alliance's sustainability plan")
        == "write-the-alliances-sustainability-plan"
    )
    assert row_key("Café für Neuankömmlinge") == "cafe-fur-neuankommlinge"
    assert row_key("مرحبا") == row_key("مرحبا") and row_key("مرحبا").startswith("row-")
    long = row_key("Open a weekly mediation desk in the Leeuwarden public library every Wednesday")
    assert len(long) <= 60 and not long.endswith("-") and long.endswith("-public")


def test_csv_row_with_too_many_cells(tmp_path: Path) -> None:
    path = _write(
        tmp_path, "plan.csv", "number,action\n1,Open a desk\n2,Open a desk, then a cafe\n"
    )
    [problem] = _errors(path)
    assert (problem.location, problem.message) == ("row 2", "more cells than columns in the header")


def test_impossible_yaml_date_is_an_error_with_the_row(tmp_path: Path) -> None:
    """PyYAML would raise a bare ValueError for 2027-13-40; we name the file and row."""
    from tests.support.paths import EXAMPLE_CONFIG

    bad = tmp_path / "plan.yaml"
    bad.write_text("rows:\n  - key: x\n    step: scope\n    action: A\n    due: 2027-13-40\n",
                   encoding="utf-8")
    with pytest.raises(InputError) as caught:
        load_action_plan(bad, load_playbook("en"), load_config(EXAMPLE_CONFIG).people)
    assert f"{bad}: row 1.due" in str(caught.value)
