"""Shared fixtures: the repository root, the example config, a clean environment."""

from __future__ import annotations

from pathlib import Path

import pytest

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
    ):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def example_config_text() -> str:
    """The text of config.example.yaml."""
    return EXAMPLE_CONFIG.read_text(encoding="utf-8")
