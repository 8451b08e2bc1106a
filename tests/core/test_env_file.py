"""The secrets file mcm-sync reads itself: ``--env-file`` / ``MCM_SYNC_ENV_FILE`` (issue 21).

The guide's cron line ``. ./secrets.env && mcm-sync sync`` did not export plain ``KEY=VALUE``
lines (systemd's ``EnvironmentFile`` format): "environment variable TRELLO_API_KEY is not
set". mcm-sync now reads such a file itself, so one file serves cron and systemd alike.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from sync.cli.main import cli
from tests.support.alliance import example_config

SECRETS = ("TRELLO_API_KEY", "TRELLO_TOKEN", "SLACK_BOT_TOKEN", "MAILCHIMP_API_KEY")
LINES = ("# the alliance's secrets\nTRELLO_API_KEY=key-from-the-file\nTRELLO_TOKEN=tok\n"
         'SLACK_BOT_TOKEN="xoxb-1-2"\nexport MAILCHIMP_API_KEY=0123-us6\n')


@pytest.fixture(autouse=True)
def no_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    """None of the variables set; whatever a test's run puts in os.environ is undone."""
    for name in (*SECRETS, "MCM_SYNC_ENV_FILE"):
        monkeypatch.setenv(name, "x")  # so that monkeypatch restores (deletes) it afterwards
        monkeypatch.delenv(name)


def _live_config(folder: Path) -> Path:
    return example_config(folder, sandbox="false")


def _secrets_file(folder: Path, text: str = LINES, mode: int = 0o600) -> Path:
    path = folder / "secrets.env"
    path.write_text(text, encoding="utf-8")
    path.chmod(mode)
    return path


def test_the_shell_does_not_export_plain_lines_to_mcm_sync(tmp_path: Path) -> None:
    """What the coordinator met: `. ./secrets.env && mcm-sync ...` leaves them unset."""
    config = _live_config(tmp_path)
    _secrets_file(tmp_path)
    env = {k: v for k, v in os.environ.items() if k not in SECRETS}
    probe = "import os; print(os.environ.get('TRELLO_API_KEY', 'unset'))"
    shown = subprocess.run(["sh", "-c", f'. ./secrets.env && "{sys.executable}" -c "{probe}"'],
                           cwd=tmp_path, env=env, capture_output=True, text=True, check=True)
    assert shown.stdout.strip() == "unset"
    result = CliRunner().invoke(cli, ["-c", str(config), "validate"])
    assert result.exit_code == 2 and "TRELLO_API_KEY is not set" in result.stderr


def test_env_file_gives_the_config_its_secrets(tmp_path: Path) -> None:
    config = _live_config(tmp_path)
    secrets = _secrets_file(tmp_path)
    result = CliRunner().invoke(cli, ["--env-file", str(secrets), "-c", str(config), "validate"])
    assert result.exit_code == 0, result.output
    assert "key-from-the-file" not in result.output
    assert os.environ["SLACK_BOT_TOKEN"] == "xoxb-1-2"  # quotes taken off, as systemd does
    assert os.environ["MAILCHIMP_API_KEY"] == "0123-us6"  # an `export` prefix is accepted


def test_the_variable_names_the_file_for_cron_and_systemd(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = _live_config(tmp_path)
    monkeypatch.setenv("MCM_SYNC_ENV_FILE", str(_secrets_file(tmp_path)))
    assert CliRunner().invoke(cli, ["-c", str(config), "validate"]).exit_code == 0


def test_a_variable_already_set_wins_over_the_file(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = _live_config(tmp_path)
    monkeypatch.setenv("TRELLO_API_KEY", "from-the-unit")
    secrets = _secrets_file(tmp_path)
    assert CliRunner().invoke(cli, ["--env-file", str(secrets), "-c", str(config),
                                    "validate"]).exit_code == 0
    assert os.environ["TRELLO_API_KEY"] == "from-the-unit"


def test_a_file_others_can_read_is_refused(tmp_path: Path) -> None:
    config = _live_config(tmp_path)
    secrets = _secrets_file(tmp_path, mode=0o644)
    result = CliRunner().invoke(cli, ["--env-file", str(secrets), "-c", str(config), "validate"])
    assert result.exit_code == 2
    assert "can be read by other users" in result.stderr and "chmod 600" in result.stderr


def test_a_bad_line_is_named_without_echoing_it(tmp_path: Path) -> None:
    config = _live_config(tmp_path)
    secrets = _secrets_file(tmp_path, "TRELLO_API_KEY=ok\nsecret-looking junk here\nTOKEN\n")
    result = CliRunner().invoke(cli, ["--env-file", str(secrets), "-c", str(config), "validate"])
    assert result.exit_code == 2
    assert f"{secrets}: line 2: not a NAME = value line" in result.stderr
    assert "line 3: TOKEN has no '='" in result.stderr
    assert "junk" not in result.stderr


def test_a_missing_file_is_a_config_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["--env-file", str(tmp_path / "nope.env"), "-c",
                                      str(_live_config(tmp_path)), "validate"])
    assert result.exit_code == 2 and "secrets file not found" in result.stderr
