"""The coordinator's command line in English or Dutch (gettext catalogues made with Babel)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from babel.messages.pofile import read_po
from click.testing import CliRunner

from sync.cli.main import cli
from sync.cli.support.i18n import LOCALE_DIR, catalogue_languages, cli_language
from sync.cli.support.lazy import LazyGroup
from sync.cli.sync import _summary_line
from sync.core.config import load_config
from sync.engine.model import SyncResult
from sync.runner import SyncOutcome
from sync.state.store import StateStore
from tests.support.alliance import example_config


def _dutch(tmp_path: Path) -> Path:
    path = example_config(tmp_path)
    path.write_text(path.read_text(encoding="utf-8").replace("  language: en ", "  language: nl ",
                                                             1), encoding="utf-8")
    return path


def test_the_dutch_catalogue_translates_every_text_of_the_template() -> None:
    assert catalogue_languages() == ("nl",)
    with (LOCALE_DIR / "mcm-sync.pot").open("rb") as source:
        wanted = {m.id if isinstance(m.id, str) else m.id[0] for m in read_po(source) if m.id}
    path = LOCALE_DIR / "nl" / "LC_MESSAGES" / "mcm-sync.po"
    with path.open("rb") as source:
        dutch = read_po(source, locale="nl")
    done = {m.id if isinstance(m.id, str) else m.id[0] for m in dutch
            if m.id and (all(m.string) if isinstance(m.string, tuple) else m.string)}
    assert wanted and wanted <= done, wanted - done


def test_the_language_is_chosen_by_the_variable_the_alliance_then_the_locale(
        monkeypatch: pytest.MonkeyPatch) -> None:
    assert cli_language("nl") == "nl" and cli_language("sv") == "en"
    monkeypatch.setenv("LC_MESSAGES", "nl_NL.UTF-8")
    assert cli_language("sv") == "nl" and cli_language("en") == "nl"
    monkeypatch.setenv("MCM_SYNC_LANG", "en")
    assert cli_language("nl") == "en"


def test_validate_speaks_dutch_for_a_dutch_alliance(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    path = _dutch(tmp_path)
    result = CliRunner().invoke(cli, ["-c", str(path), "validate"])
    assert result.exit_code == 0, result.output
    assert " is geldig (10 personen, draaiboek 'nl' met 34 taken, " in result.stdout
    monkeypatch.setenv("MCM_SYNC_LANG", "en")
    result = CliRunner().invoke(cli, ["-c", str(path), "validate"])
    assert " is valid (10 people, playbook 'nl' with 34 tasks, " in result.stdout


def test_status_headers_status_names_and_steps_in_dutch(tmp_path: Path) -> None:
    path = _dutch(tmp_path)
    with StateStore.open(load_config(path).state_path) as store:
        store.ensure_item(key="task:a", number="FRL-1", kind="task", title="Regio bepalen",
                          status="doing", source="playbook", step="scope", due="2027-01-20")
    result = CliRunner().invoke(cli, ["-c", str(path), "status"], terminal_width=200)
    assert result.exit_code == 0, result.output
    header = next(line for line in result.stdout.splitlines() if "nummer" in line)
    for word in ("nummer", "titel", "stap", "eigenaar", "deadline", "status"):
        assert word in header
    row = next(line for line in result.stdout.splitlines() if "FRL-1" in line)
    assert "Bezig" in row and "doing" not in row


def test_the_sync_summary_counts_in_dutch() -> None:
    result = SyncResult(run_id="r", changes=[{"item": "FRL-1"}], comments=2,
                        writes={"slack.update_message": 1})
    outcome = SyncOutcome(result, digest_posted=False, unresolved=0)
    assert _summary_line(outcome, "nl") == ("sync (incrementeel) klaar: 1 wijziging, "
                                            "0 nieuwe acties, 0 conflicten, 2 reacties "
                                            "gekopieerd, 1 schrijfactie")
    assert _summary_line(outcome, "en").startswith("sync (incremental) done: 1 change, ")


def test_changes_and_conflicts_in_dutch() -> None:
    from sync.cli.sync import change_line, conflict_line
    from sync.engine.decide import Conflict

    change = {"item": "FRL-3", "field": "status", "old": "todo", "new": "doing",
              "actor": "Esra", "side": "hub"}
    assert change_line(change, "nl") == "FRL-3: status todo -> doing (Esra in het actieplan)"
    assert change_line(change, "en") == "FRL-3: status todo -> doing (Esra in the action plan)"
    waiting = Conflict("status", "trello", "blocked", "slack", "done", item="FRL-3",
                       waiting=True)
    assert conflict_line(waiting, "nl").startswith(
        "conflict wacht FRL-3 status: blocked (trello) of done (slack), niets toegepast")
    settled = Conflict("status", "trello", "blocked", "slack", "done", item="FRL-3")
    assert conflict_line(settled, "en") == ("conflict FRL-3 status: kept blocked (trello), "
                                            "not applied done (slack, recorded)")


def test_the_template_holds_every_marked_text_and_every_help_text() -> None:
    """A text marked in the code, a command's help or an option's help that is not extracted
    (pybabel extract -F babel.cfg) would stay English."""
    from babel.messages.extract import extract

    from sync.cli.support import helptext

    keywords = {"gettext": None, "ngettext": (1, 2), "N_": None}
    marked = set()
    for path in sorted(LOCALE_DIR.parents[1].rglob("*.py")):  # every module of sync/cli
        with path.open("rb") as source:
            for _, message, _, _ in extract(helptext.extract, source, keywords=keywords):
                marked.add(message if isinstance(message, str) else message[0])
    with (LOCALE_DIR / "mcm-sync.pot").open("rb") as source:
        extracted = {m.id if isinstance(m.id, str) else m.id[0] for m in read_po(source) if m.id}
    assert marked == extracted


def test_help_in_dutch_for_the_root_its_commands_and_their_options(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MCM_SYNC_LANG", "nl")
    root = CliRunner().invoke(cli, ["--help"], terminal_width=200).stdout
    assert root.startswith("Gebruik: cli [OPTIONS] COMMAND [ARGS]...")  # CliRunner names it cli
    assert "Leid een regionale alliantie volgens de handleiding" in root
    assert "Opties:" in root and "Opdrachten:" in root
    assert "  Toon deze hulp en stop." in root
    assert "status        Het actieplan als tabel, voortgang per stap, acties over de deadline " \
        "gemarkeerd." in root
    group = CliRunner().invoke(cli, ["stakeholders", "--help"], terminal_width=200).stdout
    assert "show    Toon alles wat over één persoon is opgeslagen." in group
    command = CliRunner().invoke(cli, ["doctor", "--help"], terminal_width=200).stdout
    assert "Exit 0 als niets faalt" in command
    assert "Diensten, met komma's gescheiden: trello,slack,mailchimp." in command
    monkeypatch.setenv("MCM_SYNC_LANG", "en")
    english = CliRunner().invoke(cli, ["doctor", "--help"], terminal_width=200).stdout
    assert english.startswith("Usage: cli doctor [OPTIONS]")
    assert "Comma list of services: trello,slack,mailchimp." in english


def test_every_command_writes_its_help_through_the_catalogue() -> None:
    """A command made with plain click would keep an English --help."""
    from sync.cli.support.helptext import TranslatedHelp

    def walk(command: click.Command) -> Iterator[click.Command]:
        yield command
        if isinstance(command, click.Group):
            loaded = command.load_all() if isinstance(command, LazyGroup) else command.commands
            for sub in loaded.values():
                yield from walk(sub)

    plain = [c.name for c in walk(cli) if not isinstance(c, TranslatedHelp)]
    assert plain == []
