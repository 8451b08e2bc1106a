"""CSV formula injection (issue 11): every CSV we write neutralises formulas; imports undo it."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from click.testing import CliRunner

from sync.cli.main import cli
from sync.core.csv_cells import safe_cell, unquote_cell
from sync.state.store import StateStore
from tests.support.alliance import example_config
from tests.support.paths import ROOT

HEADER = (ROOT / "playbooks" / "examples" / "stakeholders-friesland.csv").read_text(
    encoding="utf-8").splitlines()[0]
EVIL = [
    "=cmd|' /C calc'!A0",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    '=HYPERLINK("http://evil.example/x","click")',
    "+1+cmd|' /C calc'!A0",
    "-2+3+cmd|' /C calc'!A0",
    "\t=1+1",
    "\r=1+1",
]


@pytest.mark.parametrize("value", EVIL)
def test_formulas_are_quoted_and_unquoted(value: str) -> None:
    assert safe_cell(value) == "'" + value
    assert unquote_cell(safe_cell(value)) == value
    assert safe_cell(safe_cell(value)) == safe_cell(value)  # idempotent


@pytest.mark.parametrize("value", ["Gemeente Leeuwarden", "+31 58 123 4567", "-5", "2027-01-01",
                                   "", "a = b", "'quoted already", "e-mail"])
def test_plain_text_numbers_and_phones_stay_readable(value: str) -> None:
    assert safe_cell(value) == value
    assert unquote_cell(value) == value


def _run(config: Path, *args: str) -> str:
    result = CliRunner().invoke(cli, ["-c", str(config), *args])
    assert result.exit_code == 0, (result.output, result.exception)
    return result.stdout


def test_stakeholders_export_is_inert_and_imports_back_unchanged(tmp_path: Path) -> None:
    config = example_config(tmp_path)
    rows = io.StringIO()
    writer = csv.writer(rows, lineterminator="\n")
    writer.writerow(HEADER.split(","))
    columns = HEADER.split(",")
    for index, value in enumerate(EVIL[:3]):
        cells = dict.fromkeys(columns, "")
        cells |= {"organisation": value, "email": f"p{index}@example.org",
                  "contribution": value, "phone": "+31 58 123 4567"}
        writer.writerow([cells[c] for c in columns])
    source = tmp_path / "people.csv"
    source.write_text(rows.getvalue(), encoding="utf-8")
    assert "3 new" in _run(config, "stakeholders", "import", str(source))
    exported = _run(config, "stakeholders", "export")
    for line in list(csv.reader(io.StringIO(exported)))[1:]:
        for cell in line:
            assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")) or cell[1:2].isdigit()
    assert "'=cmd|' /C calc'!A0" in exported and "+31 58 123 4567" in exported
    back = tmp_path / "back.csv"
    back.write_text(exported, encoding="utf-8")
    assert "0 new, 0 changed, 3 unchanged" in _run(config, "stakeholders", "import", str(back))
    show = _run(config, "stakeholders", "show", "p0@example.org")
    assert "=cmd|' /C calc'!A0" in show and "''=" not in show and "'=cmd" not in show


def test_report_csv_quotes_a_members_formula_title(tmp_path: Path) -> None:
    config = example_config(tmp_path)
    _run(config, "meeting", "schedule")  # makes the state store
    title = '=HYPERLINK("http://evil.example/x","click")'
    with StateStore.open(tmp_path / ".mcm-sync/state.db") as store:
        store.ensure_item(key="member:abc", number="FRL-99", kind="member", title=title,
                          status="todo", source="trello", step="research", due="2027-03-01")
    table = _run(config, "report", "--format", "csv")
    cells = [cell for row in csv.reader(io.StringIO(table)) for cell in row]
    assert "'" + title in cells and title not in cells
