"""Fixtures for the sandbox tests: running in-process servers on 127.0.0.1, port 0.

- ``sandbox``: rate limits OFF, fresh temporary data dir (yields the ``SandboxServer``).
- ``sandbox_rl``: rate limits ON, driven by a ``FakeClock`` at ``sandbox_rl.clock`` (call
  ``sandbox_rl.clock.advance(seconds)`` instead of sleeping).
- ``admin``: ``admin(method, path, body=None)`` calls ``/_sandbox/...`` on ``sandbox``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from connectors.sandbox.clients.testing import FakeClock
from connectors.sandbox.clients.testing import admin as admin_call
from connectors.sandbox.core.server import SandboxServer


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[SandboxServer]:
    server = SandboxServer(port=0, data_dir=tmp_path / "sandbox-data", rate_limits=False)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def sandbox_rl(tmp_path: Path) -> Iterator[SandboxServer]:
    server = SandboxServer(
        port=0, data_dir=tmp_path / "sandbox-data-rl", rate_limits=True, clock=FakeClock()
    )
    server.start()
    yield server
    server.stop()


@pytest.fixture
def admin(sandbox: SandboxServer) -> Callable[..., Any]:
    def call(method: str, path: str, body: Any = None) -> Any:
        return admin_call(sandbox, method, path, body)

    return call
