"""The one-line errors and their hints in the coordinator's language (English stays as it was)."""

from __future__ import annotations

import gettext
from pathlib import Path

import pytest
from click.testing import CliRunner

from connectors.errors import RetriableRemoteError
from sync.cli.main import cli
from sync.cli.support.i18n import translations
from sync.cli.support.messages import error_lines_in
from sync.core.config import load_config, parse_config
from sync.core.errors import ConfigError, StateError, error_lines
from sync.state.binding import mode_mismatch
from sync.state.lock import StateLock
from sync.state.store import StateStore
from tests.support.alliance import example_config

DUTCH = translations("nl")
ENGLISH = gettext.NullTranslations()


def _raised(action: object) -> BaseException:
    try:
        action()  # type: ignore[operator]
    except Exception as error:
        return error
    raise AssertionError("nothing was raised")


def test_a_missing_config_in_dutch_and_in_english(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    missing = tmp_path / "nergens.yaml"
    monkeypatch.setenv("MCM_SYNC_LANG", "nl")
    result = CliRunner().invoke(cli, ["-c", str(missing), "validate"])
    assert result.exit_code == 2
    assert result.stderr == (f"fout: {missing}: configuratiebestand niet gevonden (tip: voer "
                             "`mcm-sync init` uit of geef -c BESTAND mee)\n")
    monkeypatch.setenv("MCM_SYNC_LANG", "en")
    result = CliRunner().invoke(cli, ["-c", str(missing), "validate"])
    assert result.exit_code == 2
    assert result.stderr == (f"error: {missing}: config file not found (hint: run `mcm-sync "
                             "init` or pass -c FILE)\n")


def test_the_config_s_problems_keep_their_key_paths_and_values(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = example_config(tmp_path, sandbox="false")
    path.write_text(path.read_text(encoding="utf-8") + "colour: blue\n", encoding="utf-8")
    monkeypatch.delenv("TRELLO_API_KEY", raising=False)
    monkeypatch.setenv("MCM_SYNC_LANG", "nl")
    result = CliRunner().invoke(cli, ["-c", str(path), "validate"])
    assert result.exit_code == 2
    lines = result.stderr.splitlines()
    assert (f"fout: {path}: trello.api_key: omgevingsvariabele TRELLO_API_KEY is niet gezet "
            "(tip: export TRELLO_API_KEY=*** voordat je mcm-sync uitvoert)") in lines  # masked
    assert (f"fout: {path}: colour: onbekende sleutel (tip: haal hem weg, of vergelijk de "
            "spelling met config.example.yaml)") in lines
    monkeypatch.delenv("MCM_SYNC_LANG")
    monkeypatch.setenv("LANG", "C.UTF-8")
    english = CliRunner().invoke(cli, ["-c", str(path), "validate"]).stderr.splitlines()
    assert (f"error: {path}: colour: unknown key (hint: remove it, or check its spelling "
            "against config.example.yaml)") in english


def test_a_store_of_another_alliance_is_refused_in_the_alliance_s_language(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MCM_SYNC_LANG", raising=False)
    path = example_config(tmp_path)
    state = load_config(path).state_path
    with StateStore.open(state) as store:
        store.bind_alliance("rsc", "Roscommon")
    english = CliRunner().invoke(cli, ["-c", str(path), "status"])
    assert english.exit_code == 2
    assert english.stderr.startswith(f"error: state store {state} belongs to alliance 'rsc', "
                                     "not 'frl' (hint: if you changed alliance.slug, put 'rsc'")
    path.write_text(path.read_text(encoding="utf-8").replace("  language: en ", "  language: nl ",
                                                             1), encoding="utf-8")
    dutch = CliRunner().invoke(cli, ["-c", str(path), "status"])
    assert dutch.exit_code == 2
    assert dutch.stderr.startswith(f"fout: statusopslag {state} hoort bij alliantie 'rsc', "
                                   "niet bij 'frl' (tip: heb je alliance.slug veranderd, zet "
                                   "dan 'rsc' terug")


def test_a_held_lock_and_a_store_of_the_sandbox_in_dutch(tmp_path: Path) -> None:
    state = tmp_path / "state.db"
    with StateLock(state, "mcm-sync sync"):
        held = _raised(StateLock(state, "mcm-sync bootstrap").acquire)
    assert isinstance(held, StateError)
    [line] = error_lines_in(held, DUTCH)
    assert line.startswith("een andere run van mcm-sync heeft het slot (pid ")
    assert line.endswith(".lock) komt vrij als dat proces stopt)") and "(tip: wacht tot" in line
    assert error_lines_in(held, ENGLISH) == error_lines(held)
    with StateStore.open(state) as store:
        wrong = mode_mismatch(store, "sandbox", "live")
    [line] = error_lines_in(wrong, DUTCH)
    assert line == (f"statusopslag {state} is op de sandbox gemaakt, maar de configuratie wijst "
                    "naar de echte diensten (sandbox: false) (tip: voer `mcm-sync go-live "
                    "--dry-run` uit en dan `mcm-sync go-live`: dat behoudt de stakeholders, "
                    "notulen, vergaderingen en het actieplan en zet de sandbox-id's opzij (of "
                    "zet sandbox: true terug))")
    assert error_lines_in(wrong, ENGLISH) == error_lines(wrong)


def test_what_matches_no_template_and_the_vendors_words_stay_as_they_are() -> None:
    bad = _raised(lambda: parse_config("alliance: [", "x.yaml"))
    assert isinstance(bad, ConfigError)
    [line] = error_lines_in(bad, DUTCH)
    assert line.startswith("x.yaml: regel ") and ": geen geldige YAML: " in line
    assert line.endswith("(tip: controleer het inspringen en de aanhalingstekens)")
    unknown = StateError("something new went wrong", hint="a hint nobody translated")
    assert error_lines_in(unknown, DUTCH) == ["something new went wrong (tip: a hint nobody "
                                              "translated)"]
    remote = RetriableRemoteError("slack", "ratelimited")
    assert error_lines_in(remote, DUTCH) == ["slack: ratelimited (tip: probeer het later "
                                             "opnieuw; er gaat niets verloren)"]
    assert error_lines_in(remote, ENGLISH) == error_lines(remote)


def test_the_command_line_s_own_errors_in_dutch(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MCM_SYNC_LANG", "nl")
    path = example_config(tmp_path)
    result = CliRunner().invoke(cli, ["-c", str(path), "init"])
    assert result.exit_code == 2
    assert result.stderr == (f"fout: {path} bestaat al (tip: geef --force mee om het te "
                             "overschrijven)\n")
    CliRunner().invoke(cli, ["-c", str(path), "meeting", "schedule"])  # makes the store
    result = CliRunner().invoke(cli, ["-c", str(path), "log", "--item", "FRL-999"])
    assert result.exit_code == 2
    assert result.stderr == ("fout: geen actie FRL-999 (tip: zie `mcm-sync status` voor de "
                             "nummers)\n")
    monkeypatch.setenv("MCM_SYNC_LANG", "en")
    result = CliRunner().invoke(cli, ["-c", str(path), "log", "--item", "FRL-999"])
    assert result.stderr == "error: no item FRL-999 (hint: see `mcm-sync status` for the numbers)\n"
