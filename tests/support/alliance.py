"""A whole alliance on a private sandbox, for the bootstrap and sync tests.

``Alliance`` writes a config (the example alliance, its state in a temporary folder), starts a
sandbox beside it without rate limits (so the connectors do not pace) and announces it the way
``mcm-sync sandbox serve`` does, so every CLI run in the test finds it. Members act through the
vendors' own SDKs with sandbox member tokens, exactly as a person in Trello or Slack would.
"""

from __future__ import annotations

import json
import re
import shutil
import urllib.request
from pathlib import Path
from typing import Any

from click.testing import CliRunner, Result

from connectors.sandbox.clients.testing import admin, member_token, slack_client, trello_client
from connectors.sandbox.core.server import SandboxServer
from sync.cli.main import cli
from sync.core.config import load_config
from sync.core.services import announce_sandbox
from sync.state.store import StateStore
from sync.state.transfer import copy_store
from tests.support.paths import EXAMPLE_CONFIG, ROOT
from tests.support.stores import unique_schema

_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def example_config(folder: Path, *, pg_url: str | None = None, **overrides: str) -> Path:
    """The example config with absolute paths into ``folder``; ``overrides`` replace top keys.

    ``pg_url``: the state store in a fresh schema of that PostgreSQL database.
    """
    text = EXAMPLE_CONFIG.read_text(encoding="utf-8")
    text = text.replace("action_plan: playbooks/examples/frl-action-plan.yaml",
                        f"action_plan: {ROOT / 'playbooks/examples/frl-action-plan.yaml'}")
    state = f"path: {folder / '.mcm-sync/state.db'}"
    if pg_url:
        state += f"\n  url: {pg_url}\n  schema: {unique_schema()}"
    text = text.replace("path: .mcm-sync/state.db", state)
    for key, value in overrides.items():
        text = re.sub(rf"(?m)^{key}:.*$", f"{key}: {value}", text)
    path = folder / "mcm-sync.yaml"
    path.write_text(text, encoding="utf-8")
    return path


class Alliance:
    """The example alliance, its config file, its sandbox and its members' clients."""

    def __init__(self, folder: Path, *, copy_of: Path | None = None, pg_url: str | None = None,
                 **overrides: str) -> None:
        """``pg_url``: the state store on PostgreSQL (``copy_of``'s server if it has one)."""
        self.folder = folder
        if copy_of is not None and pg_url is None:
            pg_url = load_config(copy_of / "mcm-sync.yaml").state_url or None
        self.config_path = example_config(folder, pg_url=pg_url, **overrides)
        self.config = load_config(self.config_path)
        if copy_of is not None:
            # State and sandbox data of another alliance folder: a bootstrapped alliance in
            # milliseconds instead of seconds (remote ids live in both, so they stay paired).
            shutil.copytree(copy_of / ".mcm-sync", self.config.state_path.parent)
            if pg_url:
                source = load_config(copy_of / "mcm-sync.yaml")
                with StateStore.open(pg_url, schema=source.state_schema) as original, \
                        self.store() as copy:
                    copy_store(original, copy)
        data_dir = self.config.state_path.parent / "sandbox"
        self.server = SandboxServer(port=0, data_dir=data_dir, rate_limits=False)
        self.server.start()
        announce_sandbox(data_dir, self.server.url, rate_limits=False)
        self.runner = CliRunner()

    def close(self) -> None:
        """Stop the sandbox."""
        self.server.stop()

    def cli(self, *args: str, expect: int | None = 0) -> Result:
        """Run ``mcm-sync -c <config> args``; asserts the exit code unless ``expect`` is None."""
        result = self.runner.invoke(cli, ["-c", str(self.config_path), *args])
        if expect is not None:
            assert result.exit_code == expect, (result.output, result.exception)
        return result

    def json(self, *args: str, expect: int = 0) -> Any:
        """Run a command with ``--json`` and decode its standard output."""
        result = self.cli(*args, "--json", expect=expect)
        return json.loads(result.stdout)

    def store(self) -> StateStore:
        """The alliance's state store (open a fresh handle; close it when done)."""
        return StateStore.open(self.config.state_location, schema=self.config.state_schema)

    def admin(self, method: str, path: str, body: Any = None) -> Any:
        """The sandbox's admin API (stats, faults, settings)."""
        return admin(self.server, method, path, body)

    def calls(self) -> dict[str, int]:
        """Requests per service since the last :meth:`reset_calls`."""
        stats = self.admin("GET", "/_sandbox/stats")
        return {service: sum(sum(codes.values()) for codes in routes.values())
                for service, routes in stats.items()}

    def reset_calls(self) -> None:
        """Zero the sandbox's request counters."""
        self.admin("POST", "/_sandbox/stats/reset")

    def fault(self, **spec: Any) -> None:
        """Arm a fault (see ``connectors.sandbox.core.admin``)."""
        self.admin("POST", "/_sandbox/faults", spec)

    def trello_member(self, email: str) -> Any:
        """A py-trello client acting as the member with this e-mail."""
        return trello_client(self.server, token=member_token(self.server, email))

    def slack_member(self, email: str) -> Any:
        """A slack_sdk WebClient acting as the member with this e-mail."""
        return slack_client(self.server, token=member_token(self.server, email, "slack"))

    def resource(self, service: str, kind: str, key: str) -> str:
        """A recorded remote id (board, list, channel...)."""
        with self.store() as store:
            found = store.get_resource(service, kind, key)
        assert found is not None, (service, kind, key)
        return str(found.remote_id)
