"""Stakeholder database: CSV validation by row and column, all-or-nothing import, round-trip."""

from __future__ import annotations

from pathlib import Path

import pytest

from sync.audience.model import COLUMNS
from sync.audience.stakeholders import export_file, export_text, import_file, parse_csv
from sync.audience.store import StakeholderStore
from sync.core.errors import InputError
from sync.state.schema import SCHEMA_VERSION
from tests.support.stores import StoreTarget

EXAMPLES = Path(__file__).resolve().parents[2] / "playbooks" / "examples"
HEADER = (
    "organisation,contact_person,email,influence,sector,alliance_member,consent_date,consent_method"
)


@pytest.fixture
def people(target: StoreTarget) -> StakeholderStore:
    """The stakeholder tables of a fresh store, on SQLite and on PostgreSQL."""
    store = target.open()
    yield StakeholderStore(store)
    store.close()


def write(tmp_path: Path, *lines: str, name: str = "people.csv") -> Path:
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.mark.parametrize("name", ["friesland", "roscommon", "bordeaux", "kalmar-kronoberg"])
def test_example_files_import_and_round_trip(
    people: StakeholderStore, tmp_path: Path, name: str
) -> None:
    source = EXAMPLES / f"stakeholders-{name}.csv"
    report = import_file(people, source)
    records = people.people()
    assert report.counts.added == len(records) >= 8
    assert report.skipped == [] and report.erased_rows == []
    assert all(r.email.endswith("@example.org") for r in records)
    assert any(r.person.has_consent for r in records)
    assert any(r.person.consent_date is None for r in records)
    assert all(r.person.website == "" or "." in r.person.website for r in records)
    # Export, then import the export: nothing changes, and the text is identical.
    out = tmp_path / "export.csv"
    export_file(people, out)
    again = import_file(people, out)
    assert (again.counts.added, again.counts.updated) == (0, 0)
    assert again.counts.unchanged == len(records)
    assert out.read_text(encoding="utf-8") == export_text(people.people())
    assert out.read_text(encoding="utf-8").splitlines()[0] == ",".join(COLUMNS)


def test_bad_rows_are_named_by_row_and_column_and_nothing_is_imported(
    people: StakeholderStore, tmp_path: Path
) -> None:
    path = write(
        tmp_path,
        HEADER,
        "Gemeente Leeuwarden,Anna Voorbeeld,anna@example.org,high,social_action,yes,,",
        "Kruispunt,Carla Voorbeeld,not-an-address,medium,social_action,no,,",
        "Pastiel,Mark Voorbeeld,mark@example.org,enormous,,maybe,2025-01-01,",
    )
    with pytest.raises(InputError) as info:
        import_file(people, path)
    lines = info.value.lines()
    assert any(f"{path}: row 3, column email:" in line for line in lines)
    assert any(
        "row 4, column influence: " in line and "low, medium or high" in line for line in lines
    )
    assert any("row 4, column alliance_member: " in line and "yes or no" in line for line in lines)
    assert str(info.value) == f"{path}: 3 problems; nothing was imported"
    assert people.people() == []


def test_consent_needs_both_date_and_method(tmp_path: Path) -> None:
    parsed = parse_csv(
        f"{HEADER}\nA org,Ann Example,a@example.org,,,no,2025-01-01,\n"
        "B org,Bob Example,b@example.org,,,no,,web form\n",
        "f.csv",
    )
    assert [str(p) for p in parsed.problems] == [
        "f.csv: row 2, column consent_method: missing; say how consent was given (form, e-mail)",
        "f.csv: row 3, column consent_date: missing; consent_method is given, so is the date",
    ]


def test_duplicates_are_refused_with_both_row_numbers(
    people: StakeholderStore, tmp_path: Path
) -> None:
    path = write(
        tmp_path,
        HEADER,
        "A org,Ann Example,ann@example.org,,,no,,",
        "B org,Bob Example,bob@example.org,,,no,,",
        "C org,Ann Again,ANN@Example.org,,,no,,",
    )
    with pytest.raises(InputError) as info:
        import_file(people, path)
    assert info.value.lines() == [
        f"{path}: row 4, column email: ANN@example.org is already on row 2 "
        "(hint: keep one row per person: merge the two rows)"
    ]


def test_skip_invalid_imports_the_good_rows_and_lists_the_bad(
    people: StakeholderStore, tmp_path: Path
) -> None:
    path = write(
        tmp_path,
        HEADER,
        "A org,Ann Example,ann@example.org,low,,no,,",
        "B org,Bob Example,bob@,low,,no,,",
    )
    report = import_file(people, path, skip_invalid=True)
    assert report.counts.added == 1
    assert [p.location for p in report.skipped] == ["row 3, column email"]
    assert [r.email for r in people.people()] == ["ann@example.org"]


def test_dry_run_counts_without_storing(people: StakeholderStore, tmp_path: Path) -> None:
    path = write(tmp_path, HEADER, "A org,Ann Example,ann@example.org,low,,no,,")
    report = import_file(people, path, dry_run=True)
    assert report.counts.added == 1 and report.dry_run
    assert people.people() == []


def test_file_level_problems_are_not_skippable(people: StakeholderStore, tmp_path: Path) -> None:
    path = write(tmp_path, "contact_person;email;favourite colour", "Ann;ann@example.org;blue")
    with pytest.raises(InputError) as info:
        import_file(people, path, skip_invalid=True)
    lines = info.value.lines()
    assert any("row 1, column 'favourite colour': unknown column" in line for line in lines)
    assert any("row 1: column organisation is missing" in line for line in lines)


def test_semicolons_localised_values_and_sector_titles(
    people: StakeholderStore, tmp_path: Path
) -> None:
    path = write(
        tmp_path,
        "Organisation;Contact person;E-mail;Influence;Sector;Alliance member",
        "Gemeente;Anna Voorbeeld;anna@example.org;Hoog;Sociale actie;ja",
    )
    import_file(people, path, sector_names={"Sociale actie": "social_action"})
    person = people.people()[0].person
    assert (person.influence, person.sector, person.alliance_member) == (
        "high",
        "social_action",
        True,
    )


def test_xlsx_is_refused_with_a_hint(people: StakeholderStore, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not read directly") as info:
        import_file(people, tmp_path / "people.xlsx")
    assert "CSV UTF-8" in info.value.lines()[0]


def test_erased_addresses_are_reported_and_kept_out(
    people: StakeholderStore, tmp_path: Path
) -> None:
    people.add_erasure("Ann@Example.org")
    path = write(
        tmp_path,
        HEADER,
        "A org,Ann Example,ann@example.org,,,no,,",
        "B org,Bob Example,bob@example.org,,,no,,",
    )
    report = import_file(people, path)
    assert report.erased_rows == [2]
    assert [r.email for r in people.people()] == ["bob@example.org"]


def test_salt_is_made_once_and_hashes_hide_the_address(people: StakeholderStore) -> None:
    salt = people.salt()
    assert len(salt) == 32 and people.salt() == salt
    digest, date = people.add_erasure("ann@example.org")
    assert "ann" not in digest and len(digest) == 64 and date
    assert people.is_erased("ANN@example.org") and not people.is_erased("bob@example.org")


def test_schema_has_the_stakeholder_tables(people: StakeholderStore) -> None:
    assert people._store.schema_version == SCHEMA_VERSION >= 3
    assert people.last_newsletter() is None
