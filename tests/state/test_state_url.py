"""``state.url``: the state store in PostgreSQL, its password only a reference, the CLI on it."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from sync.cli.main import cli
from sync.core.config import load_config, parse_config
from sync.core.errors import ConfigError
from tests.support.alliance import example_config
from tests.support.paths import EXAMPLE_CONFIG

STATE = "state:\n  path: .mcm-sync/state.db"


def _with_state(block: str) -> str:
    return EXAMPLE_CONFIG.read_text(encoding="utf-8").replace(STATE, f"state:\n{block}")


def test_a_url_password_reference_is_read_and_quoted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MCM_DB_PASSWORD", "p@ss/word")
    config = parse_config(_with_state("  url: postgresql://mcm:${MCM_DB_PASSWORD}@db/mcm\n"
                                      "  schema: frl_test"))
    assert config.state_location == "postgresql://mcm:p%40ss%2Fword@db/mcm"
    assert config.state_schema == "frl_test"
    assert "p@ss" not in repr(config)  # a secret, masked


@pytest.mark.parametrize(("url", "message"), [
    ("postgresql://mcm:hunter2@db/mcm", "secrets must not be written in the config"),
    ("mysql://mcm@db/mcm", "must be a postgresql:// URL"),
    ("postgresql://mcm:${NOT_SET_ANYWHERE}@db/mcm", "NOT_SET_ANYWHERE is not set"),
])
def test_bad_state_urls_are_refused_naming_the_key(url: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(_with_state(f"  url: {url}"), "cfg.yaml")
    text = str(info.value)
    assert "cfg.yaml: state.url" in text and message in text
    assert "hunter2" not in text


def test_the_sqlite_file_stays_the_default() -> None:
    config = parse_config(EXAMPLE_CONFIG.read_text(encoding="utf-8"))
    assert config.state_url == "" and config.state_location == config.state_path


def test_commands_on_a_postgresql_alliance_with_no_state_yet(pg_url: str, tmp_path: Path) -> None:
    path = example_config(tmp_path, pg_url=pg_url)
    result = CliRunner().invoke(cli, ["-c", str(path), "status"])
    assert result.exit_code == 2, result.output
    assert "no state yet" in result.output and "run `mcm-sync bootstrap`" in result.output
    assert str(load_config(path).state_path) not in result.output  # not a file


def test_has_state_asks_for_the_schema_without_making_it(pg_url: str, tmp_path: Path) -> None:
    """Read-only commands (doctor) ask whether the state exists; asking never creates it."""
    from sync.api import Alliance
    from sync.state.presence import schema_exists
    from sync.state.store import StateStore

    alliance = Alliance(load_config(example_config(tmp_path, pg_url=pg_url)))
    schema = alliance.config.state_schema
    assert not alliance.has_state() and not schema_exists(pg_url, schema)  # still not made
    StateStore.open(pg_url, schema=schema).close()
    assert alliance.has_state() and schema_exists(pg_url, schema)


def test_doctor_makes_no_state_on_postgresql(pg_url: str, tmp_path: Path) -> None:
    """doctor only reads: before the first bootstrap it leaves the database as it was."""
    from sync.state.presence import schema_exists

    path = example_config(tmp_path, pg_url=pg_url)
    result = CliRunner().invoke(cli, ["-c", str(path), "doctor", "--json"])
    assert result.exit_code in (0, 4), result.output  # what the checks found, not an error
    assert not schema_exists(pg_url, load_config(path).state_schema)
