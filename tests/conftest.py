"""Shared fixtures: the repository root, the example config, a clean environment."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from sync.state.db import Database, schema_name
from sync.state.store import StateStore
from tests import pg_server

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE_CONFIG = ROOT / "config.example.yaml"


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

BACKENDS = ("sqlite", "postgresql")


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


def unique_schema() -> str:
    """A fresh PostgreSQL schema name: every test gets a store of its own in one database."""
    return f"t_{uuid.uuid4().hex[:16]}"


@dataclass(frozen=True)
class StoreTarget:
    """Where a test's state store lives: a SQLite file, or a schema of the session's server."""

    backend: str
    location: str | Path
    schema: str | None = None

    def open(self, **options: Any) -> StateStore:
        """Open the store (``StateStore.open`` options)."""
        return StateStore.open(self.location, schema=self.schema, **options)

    def lock(self, command: str = "mcm-sync") -> Any:
        """The store's run lock, not yet taken."""
        return StateStore.lock(self.location, command, schema=self.schema)

    def database(self) -> Database:
        """A bare connection, for the migration tests."""
        if self.backend == "sqlite":
            return Database.sqlite(Path(self.location))
        return Database.postgresql(str(self.location), schema_name(self.schema or ""))

    @property
    def open_code(self) -> str:
        """Python source of the arguments that open this store in a subprocess."""
        return f"{str(self.location)!r}, schema={self.schema!r}"


@pytest.fixture(params=BACKENDS)
def target(request: pytest.FixtureRequest, tmp_path: Path) -> StoreTarget:
    """A fresh state store location, on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        return StoreTarget("sqlite", tmp_path / "nested" / ".mcm-sync" / "state.db")
    return StoreTarget("postgresql", request.getfixturevalue("pg_url"), unique_schema())
