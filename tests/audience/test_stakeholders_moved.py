"""An address a person left in Mailchimp (``upemail``) never comes back as a row of its own.

After a person changes their address in Mailchimp, their row moves to the new address
(``StakeholderStore.move_address``, called by serve). A coordinator's sheet that still has the
old address must update that person, not add a row the next push would subscribe again
(Mailchimp no longer holds the old address, so a PUT there makes a new subscribed member).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from sync.audience.forget import forget, plan_forget
from sync.audience.plan import plan_push
from sync.audience.stakeholders import import_file
from sync.audience.store import StakeholderStore
from sync.core.errors import InputError
from tests.support.stores import StoreTarget

HEADER = "organisation,contact_person,email,role,consent_date,consent_method"
OLD, NEW = "carla.voorbeeld@example.org", "Carla.Nieuw@example.org"


@pytest.fixture
def people(target: StoreTarget) -> Iterator[StakeholderStore]:
    """A store holding Carla, who then changed her address in Mailchimp."""
    store = target.open()
    people = StakeholderStore(store)
    yield people
    store.close()


def _sheet(tmp_path: Path, *rows: str) -> Path:
    path = tmp_path / "stakeholders.csv"
    path.write_text("\n".join((HEADER, *rows)) + "\n", encoding="utf-8")
    return path


def _carla_moved(people: StakeholderStore, tmp_path: Path) -> None:
    import_file(people, _sheet(tmp_path, f"Kruispunt,Carla Voorbeeld,{OLD},,2025-01-14,form"))
    people.mark_pushed(OLD, "f" * 32, "subscribed")
    assert people.move_address(OLD, NEW) is not None


def test_a_sheet_with_the_old_address_updates_the_person_at_the_new_one(
        people: StakeholderStore, tmp_path: Path) -> None:
    _carla_moved(people, tmp_path)
    sheet = _sheet(tmp_path, f"Kruispunt,Carla Voorbeeld,{OLD},mentor,2025-01-14,form")
    report = import_file(people, sheet)
    assert (report.counts.added, report.counts.updated) == (0, 1)
    assert [r.key for r in people.people()] == [NEW.lower()]  # no row for the old address
    carla = people.find_email(NEW)
    assert carla is not None and carla.person.role == "mentor"
    assert str(carla.person.email) == NEW and carla.pushed_status == "subscribed"
    (line,) = (str(m) for m in report.moved_rows)
    assert line.startswith(f"row 2: the person at {OLD} changed their address to {NEW}")
    assert report.as_dict()["moved"] == [line]
    # Nothing left for the push to subscribe at the old address.
    plan = plan_push(people.people(), alliance_slug="frl", sector_titles={})
    assert all(w.email.lower() != OLD for w in plan.writes)


def test_the_old_and_the_new_address_on_two_rows_are_one_person(
        people: StakeholderStore, tmp_path: Path) -> None:
    _carla_moved(people, tmp_path)
    sheet = _sheet(tmp_path, f"Kruispunt,Carla Voorbeeld,{OLD},,2025-01-14,form",
                   f"Kruispunt,Carla Nieuw,{NEW},,2025-01-14,form")
    with pytest.raises(InputError) as refused:
        import_file(people, sheet)
    text = "\n".join(refused.value.lines())
    assert "row 3, column email" in text and "already on row 2" in text
    assert f"{OLD} on row 2 is the address they left for {NEW}" in text


def test_a_row_made_for_the_old_address_is_never_pushed(
        people: StakeholderStore, tmp_path: Path) -> None:
    """A row an import made for the old address before the move was known stays out."""
    from sync.audience.model import Stakeholder

    _carla_moved(people, tmp_path)
    people.upsert([Stakeholder.model_validate({
        "organisation": "Kruispunt", "email": OLD, "consent_date": "2025-01-14",
        "consent_method": "form"})])
    records = people.people()
    left = people.left_addresses.among(r.email for r in records)
    assert left == {OLD}
    plan = plan_push(records, alliance_slug="frl", sector_titles={}, left=left)
    assert plan.skipped["left"] == [OLD] and [w.key for w in plan.writes] == [NEW.lower()]


def test_moving_again_and_moving_back(people: StakeholderStore, tmp_path: Path) -> None:
    _carla_moved(people, tmp_path)
    third = "carla@kruispunt.example.org"
    assert people.move_address(NEW.lower(), third) is not None
    found = people.left_addresses.find(OLD)
    assert found is not None and found.key == third  # the first address leads to the third
    assert people.left_addresses.find(NEW) is not None
    assert people.move_address(third, OLD) is not None  # back to the first one
    assert people.left_addresses.find(OLD) is None and people.left_addresses.find(third) is not None
    assert people.left_addresses.among([OLD, NEW, third]) == {NEW.lower(), third}


def test_forget_keeps_the_addresses_the_person_left_out_too(
        people: StakeholderStore, tmp_path: Path) -> None:
    _carla_moved(people, tmp_path)
    store = people._store
    forget(store, plan_forget(store, NEW), None, "")
    assert people.people() == [] and people.left_addresses.find(OLD) is None
    assert people.is_erased(NEW) and people.is_erased(OLD)
    report = import_file(people, _sheet(tmp_path, f"Kruispunt,Carla,{OLD},,2025-01-14,form"))
    assert report.erased_rows == [2] and people.people() == []
