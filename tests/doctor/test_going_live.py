"""Going live (issue 21, items 1 and 8): the checks a coordinator meets before the real
services, with the sandbox standing in for them (``base_url``, as in ``test_doctor``).

- ``init`` leaves the Mailchimp postal address clearly marked; ``validate`` warns about it and
  ``doctor`` fails on it for the real services (Mailchimp requires a real address).
- With ``real_time`` configured, ``doctor`` checks the secrets ``serve`` needs
  (TRELLO_APP_SECRET, SLACK_SIGNING_SECRET, the Mailchimp webhook secret, SLACK_APP_TOKEN for
  Socket Mode), from the config or the environment, and never prints one.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from sync.cli.main import cli
from sync.cli.serve import _secrets
from sync.core.config import load_config
from sync.core.errors import UserError
from tests.support.alliance import Alliance, example_config
from tests.support.doctoring import real_mode

SERVE_SECRETS = ("TRELLO_APP_SECRET", "SLACK_SIGNING_SECRET", "MAILCHIMP_WEBHOOK_SECRET",
                 "SLACK_APP_TOKEN")


@pytest.fixture
def alliance(tmp_path: Path, template: Path, monkeypatch: pytest.MonkeyPatch
             ) -> Iterator[Alliance]:
    for name in SERVE_SECRETS:
        monkeypatch.delenv(name, raising=False)
    made = Alliance(tmp_path, copy_of=template)
    yield made
    made.close()


def _lines(made: Alliance, expect: int) -> dict[tuple[str, str], dict[str, Any]]:
    report = json.loads(made.cli("doctor", "--json", expect=expect).stdout)
    return {(c["service"], c["name"]): c for c in report["checks"]}


def _edit(made: Alliance, old: str, new: str) -> None:
    text = made.config_path.read_text(encoding="utf-8")
    assert old in text, old
    made.config_path.write_text(text.replace(old, new), encoding="utf-8")


_PLACEHOLDER_CONTACT = ("    address1: Example Street 1\n    city: Leeuwarden\n    zip: 8911 AA",
                        "    address1: (street and number)\n    city: (city)\n    zip: (postcode)")


# ---------------------------------------------------------------------- postal address


def test_init_marks_the_postal_address_and_validate_warns(tmp_path: Path) -> None:
    target = tmp_path / "rsc.yaml"
    made = CliRunner().invoke(cli, [
        "-c", str(target), "init", "--name", "County Roscommon Newcomer Alliance",
        "--slug", "rsc", "--region", "County Roscommon", "--country", "IE", "--language", "en",
        "--start-date", "2027-01-11", "--duration", "18", "--coordinator-name", "Aoife Example",
        "--coordinator-email", "aoife@example.org", "--organisation", "Roscommon LEADER"])
    assert made.exit_code == 0, made.output
    contact = load_config(target).mailchimp.contact
    assert contact is not None and contact.city != "County Roscommon"  # a region is no city
    result = CliRunner().invoke(cli, ["-c", str(target), "validate"])
    assert result.exit_code == 0
    assert "mailchimp.contact.address1, mailchimp.contact.zip, mailchimp.contact.city: not a " \
           "real postal address" in result.stderr


def test_doctor_fails_on_a_placeholder_address_for_the_real_services(
        alliance: Alliance, monkeypatch: pytest.MonkeyPatch) -> None:
    _edit(alliance, *_PLACEHOLDER_CONTACT)
    sandbox = _lines(alliance, expect=0)[("config", "postal address")]
    assert sandbox["status"] == "warn"  # a trial needs no address
    real_mode(alliance, monkeypatch)
    line = _lines(alliance, expect=4)[("config", "postal address")]
    assert line["status"] == "fail"
    assert "mailchimp.contact.address1" in line["detail"] and "mailchimp.contact" in line["fix"]


def test_a_real_address_is_ok(alliance: Alliance, monkeypatch: pytest.MonkeyPatch) -> None:
    real_mode(alliance, monkeypatch)
    line = _lines(alliance, expect=0)[("config", "postal address")]
    assert line["status"] == "ok" and "Leeuwarden" in line["detail"]


# ---------------------------------------------------------------------- serve's secrets


def test_real_time_without_serves_secrets_fails_the_doctor(
        alliance: Alliance, monkeypatch: pytest.MonkeyPatch) -> None:
    real_mode(alliance, monkeypatch)
    _edit(alliance, "real_time: none", "real_time: serve")
    lines = _lines(alliance, expect=4)
    assert lines[("real time", "TRELLO_APP_SECRET")]["status"] == "fail"
    assert "serve refuses to start" in lines[("real time", "TRELLO_APP_SECRET")]["detail"]
    assert lines[("real time", "SLACK_SIGNING_SECRET")]["status"] == "fail"
    assert lines[("real time", "MAILCHIMP_WEBHOOK_SECRET")]["status"] == "warn"
    monkeypatch.setenv("TRELLO_APP_SECRET", "trello-app-secret-value")
    monkeypatch.setenv("SLACK_SIGNING_SECRET", "slack-signing-secret-value")
    monkeypatch.setenv("MAILCHIMP_WEBHOOK_SECRET", "mailchimp-hook-secret-value")
    result = alliance.cli("doctor", "--json", expect=0)
    assert "secret-value" not in result.stdout
    statuses = {(c["service"], c["name"]): c["status"]
                for c in json.loads(result.stdout)["checks"]}
    assert statuses[("real time", "SLACK_SIGNING_SECRET")] == "ok"


def test_socket_mode_needs_the_app_token_not_the_signing_secret(
        alliance: Alliance, monkeypatch: pytest.MonkeyPatch) -> None:
    real_mode(alliance, monkeypatch)
    monkeypatch.setenv("TRELLO_APP_SECRET", "trello-app-secret-value")
    _edit(alliance, "real_time: none", "real_time: socket_mode")
    lines = _lines(alliance, expect=4)
    assert ("real time", "SLACK_SIGNING_SECRET") not in lines
    assert lines[("real time", "SLACK_APP_TOKEN")]["status"] == "fail"


def test_without_real_time_serves_secrets_are_not_asked_for(
        alliance: Alliance, monkeypatch: pytest.MonkeyPatch) -> None:
    real_mode(alliance, monkeypatch)
    lines = _lines(alliance, expect=0)
    assert not [key for key in lines if key[1] in SERVE_SECRETS]


def test_serve_takes_the_secrets_the_config_names(
        alliance: Alliance, monkeypatch: pytest.MonkeyPatch) -> None:
    """``serve -c`` read only $TRELLO_APP_SECRET, though the config may name its own."""
    real_mode(alliance, monkeypatch)
    monkeypatch.setenv("FRL_TRELLO_APP_SECRET", "from-the-config-reference")
    monkeypatch.setenv("SLACK_SIGNING_SECRET", "signing")
    with pytest.raises(UserError, match="TRELLO_APP_SECRET"):
        _secrets(load_config(alliance.config_path), False, False)
    _edit(alliance, "  # app_secret: ${FRL_TRELLO_APP_SECRET}", "  app_secret: "
          "${FRL_TRELLO_APP_SECRET}")
    found = _secrets(load_config(alliance.config_path), False, False)
    assert found is not None and found.trello == "from-the-config-reference"


# ---------------------------------------------------------------------- the real_time key


@pytest.mark.parametrize(("written", "expected"), [
    ("none", "none"), ("serve", "serve"), ("socket_mode", "socket_mode"),
    ("off", "none"),  # YAML reads an unquoted off as false: that can only mean none
])
def test_real_time_values(tmp_path: Path, written: str, expected: str) -> None:
    path = example_config(tmp_path, real_time=written)
    assert load_config(path).real_time == expected


@pytest.mark.parametrize(("written", "says"), [
    ("on", "write serve or socket_mode"), ("webhooks", "real_time"),
])
def test_real_time_refuses_what_it_cannot_tell(tmp_path: Path, written: str, says: str) -> None:
    result = CliRunner().invoke(cli, ["-c", str(example_config(tmp_path, real_time=written)),
                                      "validate"])
    assert result.exit_code == 2 and says in result.stderr
