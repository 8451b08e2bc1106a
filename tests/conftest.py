"""Shared fixtures: a clean environment, stores on both backends, the synced example alliance."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import pg_server
from tests.support.paths import EXAMPLE_CONFIG
from tests.support.stores import BACKENDS, StoreTarget, unique_schema
from tests.support.synced import Synced


@pytest.fixture(autouse=True)
def _no_proxies_or_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests talk to loopback only and never see a real credential from the environment."""
    for name in (
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "http_proxy",
        "https_proxy",
        "ALL_PROXY",
        "all_proxy",
        "TRELLO_API_KEY",
        "TRELLO_TOKEN",
        "SLACK_BOT_TOKEN",
        "MAILCHIMP_API_KEY",
        "MCM_SYNC_CONFIG",
        "MCM_SYNC_LANG",
        "LC_ALL",
    ):
        monkeypatch.delenv(name, raising=False)
    # The command line speaks the locale's language where it has a catalogue (Dutch): tests
    # read English unless they choose otherwise.
    monkeypatch.setenv("LC_MESSAGES", "C")


@pytest.fixture
def example_config_text() -> str:
    """The text of config.example.yaml."""
    return EXAMPLE_CONFIG.read_text(encoding="utf-8")


# ---------------------------------------------------------------- state store backends


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A private PostgreSQL server for this test session (one per xdist worker): its URL.

    Skipped, with the reason, where no server binary is installed.
    """
    bin_dir = pg_server.find_bin_dir()
    if bin_dir is None:
        pytest.skip(pg_server.NO_SERVER)
    server = pg_server.start(bin_dir)
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture(params=BACKENDS)
def target(request: pytest.FixtureRequest, tmp_path: Path) -> StoreTarget:
    """A fresh state store location, on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        return StoreTarget("sqlite", tmp_path / "nested" / ".mcm-sync" / "state.db")
    return StoreTarget("postgresql", request.getfixturevalue("pg_url"), unique_schema())


@pytest.fixture(scope="session", params=BACKENDS)
def synced_template(request: pytest.FixtureRequest,
                    tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One bootstrapped and synced alliance per test worker and backend; tests get a copy."""
    folder = tmp_path_factory.mktemp("synced")
    pg_url = request.getfixturevalue("pg_url") if request.param == "postgresql" else None
    made = Synced(folder, pg_url=pg_url)
    made.cli("bootstrap")
    made.cli("sync")
    made.close()
    return folder


@pytest.fixture
def alliance(tmp_path: Path, synced_template: Path) -> Iterator[Synced]:
    """A copy of the synced example alliance (a module may define its own ``alliance``)."""
    made = Synced(tmp_path, copy_of=synced_template)
    yield made
    made.close()
