"""Every command's own lines in Dutch for a Dutch alliance; English and ``--json`` unchanged."""

from __future__ import annotations

import json
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from sync.cli.doctor import print_report
from sync.cli.main import cli
from sync.cli.support.i18n import translations
from sync.doctor.report import Check, DoctorReport
from tests.support.alliance import example_config
from tests.support.paths import ROOT

FRIESLAND = ROOT / "playbooks" / "examples" / "stakeholders-friesland.csv"


@pytest.fixture(autouse=True)
def _no_language_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MCM_SYNC_LANG", raising=False)
    monkeypatch.setenv("LC_ALL", "C.UTF-8")  # the alliance's language chooses below


def _configs(tmp_path: Path) -> tuple[Path, Path]:
    english = example_config(tmp_path / "en")
    dutch_folder = tmp_path / "nl"
    dutch = example_config(dutch_folder)
    dutch.write_text(dutch.read_text(encoding="utf-8").replace("  language: en ",
                                                               "  language: nl ", 1),
                     encoding="utf-8")
    return english, dutch


@pytest.fixture
def configs(tmp_path: Path) -> tuple[Path, Path]:
    (tmp_path / "en").mkdir()
    (tmp_path / "nl").mkdir()
    return _configs(tmp_path)


def _run(config: Path, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["-c", str(config), *args], terminal_width=200)
    return result.exit_code, result.stdout, result.stderr


def test_plan_in_dutch_and_its_json_in_english(configs: tuple[Path, Path]) -> None:
    english, dutch = configs
    code, out, _ = _run(dutch, "plan", "--only", "slack")
    assert code == 0
    assert "slack: 3 maken, 1 bijwerken" in out.splitlines()
    assert "create" not in out
    code, out, _ = _run(english, "plan", "--only", "slack")
    assert "slack: 3 create, 1 update" in out.splitlines()
    code, out, _ = _run(dutch, "plan", "--only", "slack", "--json")
    assert json.loads(out)["counts"] == {"slack": {"create": 3, "update": 1}}


def test_the_doctor_s_table_and_summary_in_dutch() -> None:
    report = DoctorReport([Check("trello", "token", "ok", "member anna"),
                           Check("slack", "scopes", "warn", "no groups:read",
                                 fix="add the scope")])
    @click.command()
    def show() -> None:
        print_report(report, translations("nl"))

    lines = CliRunner().invoke(show).stdout.splitlines()
    assert lines[0].split() == ["dienst", "controle", "status", "gevonden"]
    assert lines[2].split()[:3] == ["slack", "scopes", "LET"]
    assert lines[3].strip() == "oplossing: add the scope"
    assert lines[-1] == "doctor: 1 ok, 1 let op, 0 fout"


def test_meeting_schedule_go_live_and_stakeholders_in_dutch(configs: tuple[Path, Path]) -> None:
    english, dutch = configs
    code, out, err = _run(dutch, "meeting", "schedule")
    assert code == 0
    assert "Plenaire vergaderingen van " in out and "Vergadering" in out and "Te doen" in out
    assert err == "nog geen vergaderkaarten: voer `mcm-sync bootstrap` uit om ze te maken\n"
    code, out, _ = _run(english, "meeting", "schedule")
    assert "Plenary meetings of " in out and "Meeting" in out
    code, out, _ = _run(dutch, "go-live", "--dry-run")
    assert out == ("go-live: de statusopslag hoort al bij de sandbox-diensten: niets om "
                   "opzij te zetten\n")
    code, out, _ = _run(english, "go-live", "--dry-run")
    assert out == ("go-live: the state store already belongs to the sandbox services: nothing "
                   "to set aside\n")
    code, out, _ = _run(dutch, "stakeholders", "list")
    assert out == ("nog geen stakeholders; importeer een bestand met `mcm-sync stakeholders "
                   "import`\n")
    code, out, _ = _run(dutch, "stakeholders", "import", str(FRIESLAND), "--dry-run")
    assert code == 0, out
    assert out == (f"zou {FRIESLAND} importeren: 13 nieuw, 0 gewijzigd, 0 ongewijzigd, "
                   "0 gewist, 0 problemen overgeslagen\n")
    code, out, _ = _run(english, "stakeholders", "import", str(FRIESLAND), "--dry-run")
    assert out == (f"would import {FRIESLAND}: 13 new, 0 changed, 0 unchanged, 0 erased, "
                   "0 problems skipped\n")


def test_init_asks_in_the_alliance_s_language_once_it_is_known(tmp_path: Path) -> None:
    target = tmp_path / "kalmar.yaml"
    answers = ("Kalmar Alliantie\nklm\nKalmar\nSE\n\n15-01-2027\n18\nAnna\n"
               "anna@example.org\nGemeente\n")
    result = CliRunner().invoke(cli, ["-c", str(target), "init", "--language", "nl"],
                                input=answers)
    assert result.exit_code == 0, result.output
    for question in ("Naam van de alliantie", "Korte id (kleine letters, bijv. frl)", "Regio",
                     "Land (code van twee letters)", "Tijdzone", "Startdatum", "Je naam",
                     "Je e-mailadres", "Je organisatie"):
        assert question in result.stdout, question
    assert f"{target} geschreven; volgende stap: mcm-sync -c {target} validate" in result.stdout
    english = CliRunner().invoke(cli, ["-c", str(tmp_path / "e.yaml"), "init", "--language",
                                       "en"], input=answers)
    assert "Alliance name" in english.stdout and "Naam" not in english.stdout


def test_the_sync_summary_s_extras_and_the_exit_3_error_in_dutch() -> None:
    from sync.cli.support.messages import error_lines_in
    from sync.cli.sync import _summary_line
    from sync.core.errors import ConflictsUnresolved
    from sync.engine.model import SyncResult
    from sync.runner import SyncOutcome

    result = SyncResult(run_id="r", duplicates_removed=["m1", "m2"])
    outcome = SyncOutcome(result, digest_posted=True, unresolved=0, reminders=["FRL-36"])
    assert _summary_line(outcome, "nl").endswith(
        ", overzicht geplaatst, 1 vergaderherinnering, 2 dubbele berichten verwijderd")
    assert _summary_line(outcome, "en").endswith(
        ", digest posted, 1 meeting reminder, 2 duplicate messages removed")
    waiting = ConflictsUnresolved("2 conflicts need a decision", hint="see `mcm-sync status`")
    assert error_lines_in(waiting, translations("nl")) == [
        "2 conflicten wachten op een beslissing (tip: zie `mcm-sync status`)"]


def test_the_slack_manifest_line_in_dutch(tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "manifest.yaml"
    monkeypatch.setenv("MCM_SYNC_LANG", "nl")
    result = CliRunner().invoke(cli, ["slack", "manifest", "-o", str(target)])
    assert result.exit_code == 0
    assert result.stdout == f"{target} geschreven (none)\n"
    monkeypatch.setenv("MCM_SYNC_LANG", "en")
    result = CliRunner().invoke(cli, ["slack", "manifest", "-o", str(target)])
    assert result.stdout == f"wrote {target} (none)\n"


def test_the_worker_s_cycle_line_in_dutch_and_as_the_engine_says_it_in_english() -> None:
    from sync.cli.worker import cycle_line
    from sync.fleet.outcomes import CycleReport

    report = CycleReport(outcomes={"a": "ok", "b": "failed", "c": "ok"},
                         errors={"b": "trello: refused"})
    assert cycle_line(report, translations("en")) == report.summary()
    assert cycle_line(report, translations("nl")) == (
        "workerronde: 1 mislukt, 2 ok, mislukt: b (trello: refused)")
    assert cycle_line(CycleReport(), translations("en")) == CycleReport().summary()
    assert cycle_line(CycleReport(), translations("nl")) == "workerronde: niets aan de beurt"
