"""The face of the long-running services (``sync.api.hosting``): the workers and the front
are built with :class:`sync.api.Alliance` as their factory, the Slack manifest is what the
command prints, and importing the face pulls in none of the services until one is used."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from sync.api import Alliance, hosting
from sync.cli.main import cli
from tests.support.paths import ROOT


def test_the_workers_and_the_front_are_handed_the_alliance_as_their_factory(
        tmp_path: Path) -> None:
    running = hosting.worker(tmp_path, concurrency=2)
    try:
        assert running.alliance_factory is Alliance and running.concurrency == 2
    finally:
        running.close()
    front = hosting.front(tmp_path, hosting.ServeOptions(port=0))
    assert front.alliance_factory is Alliance and front.folder == tmp_path


def test_the_slack_manifest_is_what_the_command_prints() -> None:
    for args, expected in (((), hosting.slack_manifest("none")),
                           (("--socket-mode",), hosting.slack_manifest("socket_mode")),
                           (("--public-url", "https://hooks.example.org"),
                            hosting.slack_manifest("serve", "https://hooks.example.org"))):
        result = CliRunner().invoke(cli, ["slack", "manifest", *args])
        assert result.exit_code == 0, result.output
        assert result.output == expected
    assert "https://hooks.example.org/hooks/slack/events" in hosting.slack_manifest(
        "serve", "https://hooks.example.org")


def test_importing_the_hosting_face_imports_no_service() -> None:
    code = ("import sys, sync.api.hosting; print([m for m in ('sync.fleet', 'sync.serve', "
            "'procrastinate', 'waitress', 'psycopg') if m in sys.modules])")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True, cwd=ROOT)
    assert done.stdout.strip() == "[]"
