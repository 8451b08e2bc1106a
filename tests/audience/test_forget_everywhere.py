"""``forget EMAIL`` leaves no trace of the address in the state file, or names what remains
for a person the config still lists; without a terminal and without --yes it exits 2."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from sync.audience.model import Stakeholder
from sync.audience.store import StakeholderStore
from sync.cli.main import cli
from sync.state.store import StateStore
from tests.support.paths import EXAMPLE_CONFIG

GONE = "Gone.Person@example.org"
ESRA = "esra.yilmaz@example.org"


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "mcm-sync.yaml"
    path.write_text(EXAMPLE_CONFIG.read_text(encoding="utf-8").replace(
        "action_plan: playbooks/examples/frl-action-plan.yaml", "").replace(
        "path: .mcm-sync/state.db", f"path: {tmp_path / 'state.db'}"), encoding="utf-8")
    with StateStore.open(tmp_path / "state.db") as store:
        for n, who in enumerate((GONE, ESRA), start=1):
            item = store.ensure_item(key=f"trello:{n}", number=f"FRL-{n}", kind="action",
                                     title="Card", status="doing", source="trello",
                                     owner=f"anna.devries@example.org,{who.lower()}")
            store.add_audit(item.id, who, "trello", "status", "todo", "doing")
            store.put_resource("trello", "member", who.lower(), f"m{n}",
                               data={"email": who, "username": f"user{n}"})
        StakeholderStore(store).upsert([Stakeholder(organisation="Kruispunt", email=GONE)])
    return path


def _dump(path: Path) -> str:
    conn = sqlite3.connect(path)
    try:
        return "\n".join(conn.iterdump()).lower()
    finally:
        conn.close()


def run(config: Path, *args: str, input: str | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["-c", str(config), *args], input=input)
    return result.exit_code, result.stdout, result.stderr


def test_forget_erases_the_address_from_the_whole_state_file(config: Path) -> None:
    state = config.parent / "state.db"
    assert GONE.lower() in _dump(state)
    code, out, _ = run(config, "forget", GONE, "--dry-run")
    assert code == 0 and "the state store (" in out
    code, out, err = run(config, "forget", GONE, "--yes")
    assert code == 0, err
    dump = _dump(state)
    assert GONE.lower() not in dump and "erased:" in dump
    assert ESRA in dump  # nobody else's data is touched
    code, out, _ = run(config, "forget", GONE, "--yes")
    assert "already erased; nothing to do" in out


def test_forget_names_what_remains_for_a_configured_member(config: Path) -> None:
    code, out, err = run(config, "forget", ESRA, "--yes")
    assert code == 0, err
    assert "remains: config: people[4]: Esra Yilmaz (example)" in out
    assert "items.owner (1)" in out and "audit.actor (1)" in out
    assert "Trello and Slack" in out


def test_forget_without_a_terminal_or_yes_exits_2_with_a_hint(config: Path) -> None:
    code, out, err = run(config, "forget", GONE)
    assert code == 2
    assert "not confirmed; nothing was erased" in err and "--yes" in err
    assert "Aborted" not in out + err
    assert GONE.lower() in _dump(config.parent / "state.db")
