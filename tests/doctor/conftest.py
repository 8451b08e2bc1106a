"""The doctor's room: one bootstrapped example alliance per worker, copied per test."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.alliance import Alliance


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One bootstrapped example alliance per worker; each test gets a copy."""
    folder = tmp_path_factory.mktemp("doctor")
    made = Alliance(folder)
    made.cli("bootstrap")
    made.close()
    return folder
