"""Versions a user can trust: one version (pyproject.toml) read from the installed metadata by
``sync.__version__`` and ``mcm-sync --version``, and the state store's schema version shown by
``--version`` and ``status --json``."""

from __future__ import annotations

import json
import tomllib
from importlib import metadata
from pathlib import Path

from click.testing import CliRunner

import sync
from sync.cli.main import cli
from sync.core.config import load_config
from sync.state.schema import SCHEMA_VERSION
from sync.state.store import StateStore
from tests.support.alliance import example_config
from tests.support.paths import ROOT


def _project_version() -> str:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"][
        "version"]


def test_the_package_version_is_the_metadata_one() -> None:
    assert sync.__version__ == metadata.version("mcm-sync") == _project_version()


def test_version_names_the_package_and_the_state_schema() -> None:
    result = CliRunner().invoke(cli, ["--version"])
    assert result.exit_code == 0
    assert result.output == (f"mcm-sync, version {_project_version()} "
                             f"(state store schema {SCHEMA_VERSION})\n")


def test_status_json_shows_the_state_store_schema_version(tmp_path: Path) -> None:
    path = example_config(tmp_path)
    config = load_config(path)
    config.state_path.parent.mkdir(parents=True, exist_ok=True)
    with StateStore.open(config.state_path) as store:
        store.ensure_item(key="task:scope.define-region", number="FRL-1", kind="task",
                          title="Define the region", status="todo", source="playbook",
                          step="scope", due="2027-01-25")
    result = CliRunner().invoke(cli, ["-c", str(path), "status", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["state"] == {"schema_version": SCHEMA_VERSION,
                                                  "backend": "sqlite"}
