"""Dutch inputs: amounts in the alliance's locale (Babel), day-first dates wherever typed."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from playbooks import load_action_plan, load_playbook
from playbooks.amounts import AmountError, parse_amount, parse_date
from playbooks.errors import InputError
from sync.audience.model import Stakeholder
from sync.cli.main import cli
from tests.support.alliance import example_config


@pytest.mark.parametrize(("text", "language", "amount"), [
    ("€ 2.500", "nl", "2500"), ("2.500,50", "nl", "2500.50"), ("€ 2,50", "nl", "2.50"),
    ("2500", "nl", "2500"), ("2,500", "en", "2500"), ("€2,500.75", "en", "2500.75"),
    ("2 500", "fr", "2500"), ("2 500", "sv", "2500"), ("EUR 1.200", "nl", "1200"),
])
def test_amounts_in_the_alliance_locale(text: str, language: str, amount: str) -> None:
    assert parse_amount(text, language) == Decimal(amount)


def test_an_ambiguous_amount_is_a_clear_error() -> None:
    with pytest.raises(AmountError, match=r"'2\.50' is not an amount in euros \(ambiguous"):
        parse_amount("2.50", "nl")


@given(st.integers(0, 10_000_000))
def test_dutch_grouped_amounts_round_trip(value: int) -> None:
    assert parse_amount(f"€ {value:,}".replace(",", "."), "nl") == value


def test_a_dutch_action_plan_csv(tmp_path: Path) -> None:
    book = load_playbook("nl")
    columns = {c.key: c.title for c in book.action_plan.columns}
    path = tmp_path / "plan.csv"
    path.write_text(f"{columns['action']};{columns['budget']};{columns['due']};step\n"
                    "Taalcafé openen;€ 2.500;5-7-2027;promote\n", encoding="utf-8")
    (row,) = load_action_plan(path, book, []).rows
    assert row.budget_eur == Decimal(2500) and row.due == dt.date(2027, 7, 5)
    path.write_text(f"{columns['action']};{columns['budget']}\nTaalcafé;2.50\n", encoding="utf-8")
    with pytest.raises(InputError, match="ambiguous"):
        load_action_plan(path, book, [])


def test_day_first_dates_wherever_typed(tmp_path: Path) -> None:
    assert parse_date("05-07-2027") == parse_date("5-7-2027") == dt.date(2027, 7, 5)
    assert parse_date("2027-07-05") == dt.date(2027, 7, 5) and parse_date("31-2-2027") is None
    person = Stakeholder(organisation="Kruispunt", consent_date="1-2-2026",  # type: ignore[arg-type]
                         consent_method="form")
    assert person.consent_date == dt.date(2026, 2, 1)
    path = example_config(tmp_path)
    result = CliRunner().invoke(cli, ["-c", str(path), "meeting", "schedule", "--date",
                                      "2=10-6-2027", "--json"])
    assert result.exit_code == 0, result.output
    assert '"date": "2027-06-10"' in result.stdout
    result = CliRunner().invoke(cli, ["-c", str(path), "report", "--today", "1-10-2027"])
    assert result.exit_code == 0, result.output
