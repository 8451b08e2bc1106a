"""``mcm-sync doctor``'s table in Dutch: its services, checks, findings and fixes; English and
``--json`` unchanged. Each text the doctor writes on the sandbox (all ok, a refused token,
the real services without serve's secrets) must match one of the Dutch templates, so a
finding reworded in ``sync/doctor`` without its template is caught here."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sync.cli.support.doctor_texts import DETAILS, NAMES, translate_check
from sync.cli.support.i18n import translations
from sync.cli.support.messages import match_template
from sync.doctor.report import Check
from tests.support.alliance import Alliance
from tests.support.doctoring import real_mode

SERVICES = {"trello", "slack", "mailchimp"}  # the vendors' names stay as they are
ONLY_VALUES = {("config", "postal address")}  # an ok address is the address itself


@pytest.fixture(autouse=True)
def _english_unless_told(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MCM_SYNC_LANG", raising=False)
    monkeypatch.setenv("LC_ALL", "C.UTF-8")


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One bootstrapped example alliance; each test gets a copy."""
    folder = tmp_path_factory.mktemp("doctor-nl")
    made = Alliance(folder)
    made.cli("bootstrap")
    made.close()
    return folder


@pytest.fixture
def alliance(tmp_path: Path, template: Path) -> Iterator[Alliance]:
    made = Alliance(tmp_path, copy_of=template)
    yield made
    made.close()


def _checks(alliance: Alliance, expect: int) -> list[Check]:
    report: dict[str, Any] = json.loads(alliance.cli("doctor", "--json", expect=expect).stdout)
    return [Check(**line) for line in report["checks"]]


def _assert_every_text_has_a_template(checks: list[Check]) -> None:
    for check in checks:
        assert check.service in SERVICES or match_template(check.service, NAMES), check
        assert check.name.isupper() or match_template(check.name, NAMES), check  # $VARIABLES
        for text in (check.detail, check.fix):
            if (check.service, check.name) in ONLY_VALUES and check.status == "ok":
                continue
            if text:
                assert match_template(text, DETAILS), text
    dutch = [translate_check(check, translations("nl")) for check in checks]
    for english, translated in zip(checks, dutch, strict=True):
        if english.fix:
            assert translated.fix != english.fix, english.fix


def test_the_doctor_speaks_dutch_and_its_json_stays_english(
    alliance: Alliance, monkeypatch: pytest.MonkeyPatch
) -> None:
    english = alliance.cli("doctor").stdout
    assert "token permissions" in english and "read and write on boards" in english
    monkeypatch.setenv("MCM_SYNC_LANG", "nl")
    dutch = alliance.cli("doctor").stdout
    assert "rechten van het token" in dutch and "lezen en schrijven op borden" in dutch
    assert "inloggegevens" in dutch and "kanaal #frl-actions" in dutch
    assert "bestaat, de bot zit erin" in dutch and "realtime" in dutch
    assert "read and write on boards" not in dutch
    report = json.loads(alliance.cli("doctor", "--json").stdout)
    names = {(c["service"], c["name"]) for c in report["checks"]}
    assert ("trello", "token permissions") in names and ("real time", "mode") in names
    assert any(c["detail"] == "read and write on boards" for c in report["checks"])


def test_every_finding_on_the_sandbox_has_its_dutch(alliance: Alliance) -> None:
    _assert_every_text_has_a_template(_checks(alliance, 0))


def test_a_refused_token_and_serve_s_missing_secrets_in_dutch(
    alliance: Alliance, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_mode(alliance, monkeypatch, TRELLO_TOKEN="ATTA" + "f" * 64)
    text = alliance.config_path.read_text(encoding="utf-8")
    assert "\nreal_time: none" in text
    alliance.config_path.write_text(text.replace("\nreal_time: none", "\nreal_time: serve"),
                                    encoding="utf-8")
    for variable in ("TRELLO_APP_SECRET", "SLACK_SIGNING_SECRET", "MAILCHIMP_WEBHOOK_SECRET"):
        monkeypatch.delenv(variable, raising=False)
    checks = _checks(alliance, 4)
    _assert_every_text_has_a_template(checks)
    monkeypatch.setenv("MCM_SYNC_LANG", "nl")
    dutch = alliance.cli("doctor", expect=4).stdout
    assert "geweigerd: " in dutch and "niet gezet: serve start niet zonder" in dutch
    assert "maak een nieuw token (Trello-sleutel en -token in docs/going-live.md)" in dutch


def test_a_value_that_is_a_text_too_is_translated_and_the_others_kept() -> None:
    nl = translations("nl")
    line = translate_check(Check("mailchimp", "rate limits", "ok",
                                 "3 calls for these checks; at most 10 simultaneous "
                                 "connections; mcm-sync uses one"), nl)
    assert line.name == "limieten"
    assert line.detail == ("3 aanroepen voor deze controles; hoogstens 10 gelijktijdige "
                           "verbindingen; mcm-sync gebruikt er één")
    kept = translate_check(Check("trello", "board", "ok", "'Alliantie Friesland' is visible"), nl)
    assert kept.detail == "'Alliantie Friesland' is zichtbaar"
    unknown = Check("slack", "something new", "warn", "a finding without a template", "do x")
    assert translate_check(unknown, nl) == unknown
    assert translate_check(Check("trello", "token", "ok", "never expires"),
                           translations("en")).detail == "never expires"
