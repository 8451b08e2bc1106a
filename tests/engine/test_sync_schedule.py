"""Running the sync from schedulers: the lock, --watch and SIGTERM, exit codes, secrets."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sync.state.store import StateStore
from tests.support.alliance import Alliance

MCM_SYNC = Path(sys.executable).parent / "mcm-sync"


@pytest.fixture
def alliance(tmp_path: Path) -> Alliance:
    made = Alliance(tmp_path)
    made.cli("bootstrap", "--only", "trello,slack")
    yield made
    made.close()


def test_second_scheduler_is_turned_away(alliance: Alliance) -> None:
    with StateStore.lock(alliance.config.state_path):
        result = alliance.cli("sync", expect=2)
    assert "another mcm-sync" in result.stderr or "lock" in result.stderr
    alliance.cli("sync")


def test_interval_out_of_range(alliance: Alliance) -> None:
    result = alliance.cli("sync", "--watch", "--interval", "5s", expect=2)
    assert "30s..24h" in result.stderr
    result = alliance.cli("sync", "--watch", "--interval", "soon", expect=2)
    assert "not a duration" in result.stderr


@pytest.mark.skipif(not MCM_SYNC.exists(), reason="the mcm-sync console script is not installed")
def test_watch_stops_cleanly_on_sigterm(alliance: Alliance) -> None:
    env = {k: v for k, v in os.environ.items() if "PROXY" not in k.upper()}
    process = subprocess.Popen(
        [str(MCM_SYNC), "-c", str(alliance.config_path), "sync", "--watch", "--interval", "30s"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        assert first.startswith("sync ("), first
        started = time.monotonic()
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
        assert time.monotonic() - started < 5
    finally:
        if process.poll() is None:
            process.kill()
    with alliance.store() as store:
        assert store.last_run("sync").outcome == "ok"


def test_secrets_never_reach_output_logs_or_state(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Real-service mode (secrets from the environment) pointed at a sandbox, debug logs on.

    The alliance is made in sandbox mode first (real mode paces at the vendors' limits, which
    would make this test slow), then switched to secrets from the environment.
    """
    made = Alliance(tmp_path)
    issued = made.server.app.people.credentials.coordinator()  # the sandbox accepts only these
    secret = issued["trello"]["token"]
    monkeypatch.setenv("TRELLO_API_KEY", issued["trello"]["api_key"])
    monkeypatch.setenv("TRELLO_TOKEN", secret)
    monkeypatch.setenv("SLACK_BOT_TOKEN", issued["slack"]["bot_token"])
    monkeypatch.setenv("MAILCHIMP_API_KEY", issued["mailchimp"]["api_key"])
    try:
        made.cli("bootstrap")
        made.cli("sync")
        base = made.server.url
        text = made.config_path.read_text(encoding="utf-8").replace(
            "sandbox: true", "sandbox: false"
        )
        text = text.replace(
            "  # base_url: http://127.0.0.1:8765/trello", f"  base_url: {base}/trello"
        )
        text = text.replace(
            "  # base_url: http://127.0.0.1:8765/slack/api/", f"  base_url: {base}/slack/api/"
        )
        text = text.replace("  # server: us6 ", f"  base_url: {base}/mailchimp/3.0\n  # ")
        made.config_path.write_text(text, encoding="utf-8")
        with made.store() as store:  # as if it had been bootstrapped on the real services
            store.set_mode("live")
        runs = [made.cli("-vv", "bootstrap"), made.cli("-vv", "sync", "--full")]
        made.fault(service="trello", mode="error", status=401)
        runs.append(made.cli("-vv", "sync", "--full", expect=4))
        outputs = [run.stdout + run.stderr for run in runs]
        assert "DEBUG" in outputs[0]  # the debug log was on, and it is what we searched
        assert "Trello" in outputs[2] or "trello" in outputs[2]
        everything = "\n".join(outputs)
        for value in (secret, issued["slack"]["bot_token"], issued["mailchimp"]["api_key"]):
            assert value not in everything
        for path in made.config.state_path.parent.rglob("*"):
            if path.is_file() and "sandbox" not in path.parts:
                assert secret.encode() not in path.read_bytes(), path
    finally:
        made.close()


@pytest.mark.skipif(not MCM_SYNC.exists(), reason="the mcm-sync console script is not installed")
def test_sandbox_serve_announces_itself_and_stops_on_sigterm(tmp_path: Path) -> None:
    data = tmp_path / "data"
    process = subprocess.Popen(
        [str(MCM_SYNC), "sandbox", "serve", "--port", "0", "--data", str(data)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path)
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        assert first.startswith("sandbox page: http://127.0.0.1:"), first
        assert (data / "server.json").exists()
        process.send_signal(signal.SIGTERM)  # at once: the handler is already in place
        assert process.wait(timeout=10) == 0
        assert not (data / "server.json").exists()
    finally:
        if process.poll() is None:
            process.kill()
