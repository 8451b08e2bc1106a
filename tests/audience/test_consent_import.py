"""People and consent are never lost by an import: blank cells keep the stored values, a
consent change is listed and needs --yes, and any rendered stakeholders template re-imports
without changing anyone's consent."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from playbooks import load_playbook
from sync.audience.model import Stakeholder
from sync.audience.stakeholders import import_file
from sync.audience.store import StakeholderStore
from sync.cli.main import cli
from sync.core.config import load_config
from sync.documents.render import render_template
from sync.state.store import StateStore
from tests.support.paths import EXAMPLE_CONFIG

CONFIG = load_config(EXAMPLE_CONFIG)
GIVEN = dt.date(2026, 5, 1)
CONSENTS = {
    "none": {},
    "given": {"consent_date": GIVEN, "consent_method": "form"},
    "withdrawn": {"consent_date": GIVEN, "consent_method": "form",
                  "consent_withdrawn": dt.date(2026, 6, 1)},
}


def _stored(states: list[str], phone: str) -> list[Stakeholder]:
    return [Stakeholder(organisation=p.organisation, contact_person=p.name, email=str(p.email),
                        phone=phone, website="https://example.org/x", influence="high",
                        **CONSENTS[state])  # type: ignore[arg-type]
            for p, state in zip(CONFIG.people, states, strict=False)]


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(language=st.sampled_from(["en", "nl", "fr", "sv"]),
       states=st.lists(st.sampled_from(sorted(CONSENTS)), min_size=len(CONFIG.people),
                       max_size=len(CONFIG.people)),
       phone=st.sampled_from(["", "+31 58 123 4567"]))
def test_reimporting_a_rendered_template_changes_no_consent(
        tmp_path_factory: object, language: str, states: list[str], phone: str) -> None:
    folder = tmp_path_factory.mktemp("t")  # type: ignore[attr-defined]
    with StateStore.open(folder / "state.db") as store:
        people = StakeholderStore(store)
        before = _stored(states, phone)
        people.upsert(before)
        document = render_template("stakeholders", CONFIG, load_playbook(language),
                                   language=language, stakeholders=before)
        path = folder / document.filename
        path.write_text(document.text, encoding="utf-8")
        report = import_file(people, path, sector_names={})
        assert report.consent_changes == [] and not report.held
        after = {r.key: r.person for r in people.people()}
    for person in before:
        kept = after[person.key]
        assert (kept.consent_date, kept.consent_method, kept.consent_withdrawn) == \
            (person.consent_date, person.consent_method, person.consent_withdrawn)
        assert (kept.website, kept.influence) == (person.website, person.influence)
        assert kept.phone == person.phone or not person.phone  # a blank cell cleared nothing


HEADER = "organisation,contact_person,email,phone,consent_date,consent_method,consent_withdrawn\n"


def test_a_consent_change_is_listed_and_needs_yes(tmp_path: Path) -> None:
    config = tmp_path / "mcm-sync.yaml"
    config.write_text(EXAMPLE_CONFIG.read_text(encoding="utf-8").replace(
        "action_plan: playbooks/examples/frl-action-plan.yaml", "").replace(
        "path: .mcm-sync/state.db", f"path: {tmp_path / 'state.db'}"), encoding="utf-8")
    first, withdraw = tmp_path / "first.csv", tmp_path / "withdraw.csv"
    first.write_text(HEADER + "Kruispunt,Daan,daan@example.org,058 1234,2026-05-01,form,\n",
                     encoding="utf-8")
    # Blank phone and consent method: kept; the explicit withdrawal is the change.
    withdraw.write_text(HEADER + "Kruispunt,Daan,daan@example.org,,,,2026-06-01\n",
                        encoding="utf-8")
    runner = CliRunner()

    def run(*args: str) -> tuple[int, str, str]:
        result = runner.invoke(cli, ["-c", str(config), "stakeholders", "import", *args])
        return result.exit_code, result.stdout, result.stderr

    assert run(str(first))[0] == 0
    code, out, err = run(str(withdraw))
    assert code == 2
    assert "consent: " in err and "Daan <daan@example.org>: consent given -> withdrawn" in err
    assert "consent_withdrawn (blank) -> 2026-06-01" in err and "--yes" in err
    code, out, err = run(str(withdraw), "--dry-run")
    assert code == 0 and "given -> withdrawn" in err and "would import" in out
    with StateStore.open(tmp_path / "state.db") as store:
        held = StakeholderStore(store).get("daan@example.org")
        assert held is not None and held.person.has_consent
    code, out, err = run(str(withdraw), "--yes")
    assert code == 0 and "1 changed" in out
    with StateStore.open(tmp_path / "state.db") as store:
        person = StakeholderStore(store).get("daan@example.org").person  # type: ignore[union-attr]
    assert not person.has_consent and person.consent_withdrawn == dt.date(2026, 6, 1)
    assert person.phone == "058 1234" and person.consent_method == "form"


def test_the_sheet_lists_the_database_in_its_language_and_imports_anywhere(
        tmp_path: Path) -> None:
    outsider = Stakeholder(organisation="Bibliotheek Twente", email="info@example.net",
                           phone="053 123", consent_date=GIVEN, consent_method="form")
    member = _stored(["given"], "058 999")[0]
    document = render_template("stakeholders", CONFIG, load_playbook("nl"),
                               stakeholders=[member, outsider])
    lines = document.text.splitlines()
    assert lines[0].startswith("Organisatie of persoon,Contactpersoon,Telefoon,E-mailadres")
    assert "info@example.net" in lines[-1] and "2026-05-01" in lines[-1]
    assert "058 999" in lines[1] and "2026-05-01" in lines[1]  # the member's stored values
    with StateStore.open(tmp_path / "state.db") as store:  # a Dutch sheet, any alliance
        path = tmp_path / document.filename
        path.write_text(document.text, encoding="utf-8")
        report = import_file(StakeholderStore(store), path)
        assert report.counts.added == len(CONFIG.people) + 1
        found = StakeholderStore(store).get("info@example.net")
    assert found is not None and found.person.has_consent and found.person.phone == "053 123"


def test_a_renewed_consent_after_a_withdrawal_is_a_listed_change(tmp_path: Path) -> None:
    with StateStore.open(tmp_path / "state.db") as store:
        people = StakeholderStore(store)
        people.upsert(_stored(["withdrawn"], ""))
        email = str(CONFIG.people[0].email)
        path = tmp_path / "renew.csv"
        path.write_text(f"organisation,email,consent_date,consent_method\n"
                        f"{CONFIG.people[0].organisation},{email},2026-09-01,e-mail\n",
                        encoding="utf-8")
        held = import_file(people, path)
        assert held.held and [c.after for c in held.consent_changes] == ["given"]
        import_file(people, path, allow_consent_changes=True)
        record = people.get(email.lower())
    assert record is not None and record.person.has_consent
    assert record.person.consent_date == dt.date(2026, 9, 1)
