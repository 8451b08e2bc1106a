"""``kill -9`` in the middle of a member's reply being copied, and of a thread note (issue 25).

Real processes on the sandbox: ``mcm-sync serve`` killed while a Slack reply's copy to Trello
(the comment POST, slowed by the sandbox) is in flight, then started again: the delivery is
processed again and the comment that landed is adopted, not posted twice. A worker on a real
PostgreSQL killed while its thread note is in flight, the note landing only after the next
worker took the alliance over: that worker gives the dead one's write time to land, finds
the note and adopts it (one note, not two). A note landing later still is removed by the next
run reading the thread (on the fakes: ``tests/engine/test_member_replies.py``).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from click.testing import CliRunner

from connectors.sandbox.clients.testing import admin, member_token, slack_client, trello_client
from connectors.sandbox.core.server import SandboxServer
from sync.cli.main import cli
from sync.core.config import load_config
from sync.fleet.jobs import STALLED_AFTER
from sync.state.events import EventQueue
from sync.state.store import StateStore
from tests.support.fleet import forget_runs, make_fleet
from tests.support.paths import ROOT
from tests.support.synced import ESRA, Synced

ENV = {**os.environ, "PYTHONPATH": str(ROOT)}


def wait_for(check: Callable[[], Any], timeout: float = 30.0, what: str = "") -> Any:
    """Poll ``check`` until it returns something true (or fail after ``timeout``)."""
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        assert time.monotonic() < deadline, f"timed out waiting for {what or check}"
        time.sleep(0.05)


def open_intents(location: str, schema: str | None, operation: str) -> int:
    """How many intents of ``operation`` a dead or running process left open."""
    with StateStore.open(location, schema=schema) as store:
        return sum(1 for i in store.open_intents() if i.operation == operation)


# ---------------------------------------------------------------------- serve


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _healthy(port: int) -> bool:
    session = requests.Session()
    session.trust_env = False
    try:
        return session.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200
    except requests.RequestException:
        return False


def _serve(alliance: Synced, port: int) -> subprocess.Popen[bytes]:
    """``mcm-sync serve`` in a process of its own, once it answers and has registered."""
    process = subprocess.Popen(
        [sys.executable, "-m", "sync.cli.main", "-c", str(alliance.config_path), "serve",
         "--port", str(port), "--reconcile-every", "off"],
        env=ENV, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for(lambda: _healthy(port), what="serve answering")
    wait_for(lambda: alliance.admin("GET", "/_sandbox/slack/app")["event_url"],
             what="serve registered")
    return process


@pytest.fixture
def alliance(tmp_path: Path) -> Iterator[Synced]:
    made = Synced(tmp_path)  # SQLite: the worker test below covers PostgreSQL
    made.cli("bootstrap")
    made.cli("sync")
    yield made
    made.close()


def test_serve_killed_mid_comment_post_leaves_the_reply_on_the_card_once(
        alliance: Synced) -> None:
    channel = alliance.resource("slack", "channel", "actions")
    ts = alliance.side("FRL-3", "slack")
    card = alliance.side("FRL-3", "trello")
    port = _free_port()
    serve = _serve(alliance, port)
    try:
        # The comment POST is slow: serve is killed while it is in flight (the sandbox still
        # carries it out: what is lost is the answer, and serve's bookkeeping).
        alliance.fault(service="trello", method="POST", path="*comments*", mode="delay",
                       seconds=3.0, count=1)
        alliance.slack_member(ESRA).chat_postMessage(channel=channel, thread_ts=ts,
                                                     text="The hall is booked for the 12th")
        location, schema = alliance.config.state_location, alliance.config.state_schema
        wait_for(lambda: open_intents(location, schema, "add_comment"), what="the POST")
        time.sleep(0.5)
    finally:
        serve.send_signal(signal.SIGKILL)
        serve.wait(timeout=10)
    trello = trello_client(alliance.server, token=member_token(alliance.server, ESRA, "trello"))

    def copies() -> list[str]:
        actions = trello.fetch_json(f"/cards/{card}/actions",
                                    query_params={"filter": "commentCard"})
        return [a["data"]["text"] for a in actions if "hall is booked" in a["data"]["text"]]

    wait_for(copies, what="the slowed comment to land")
    with EventQueue(location, schema=schema) as queue:
        assert queue.pending(), "the delivery stays to be processed again"
    serve = _serve(alliance, port)
    try:
        def drained() -> bool:
            with EventQueue(location, schema=schema) as queue:
                return not queue.pending()

        wait_for(drained, what="the queue drained")
        time.sleep(0.5)  # our own writes' deliveries
        wait_for(drained, what="the queue drained")
    finally:
        serve.send_signal(signal.SIGTERM)
        serve.wait(timeout=30)
    assert len(copies()) == 1, copies()
    assert open_intents(location, schema, "add_comment") == 0
    alliance.cli("sync", "--full")
    assert len(copies()) == 1, copies()


# ---------------------------------------------------------------------- worker


@pytest.fixture
def fleet(pg_url: str, tmp_path: Path) -> Iterator[tuple[Path, SandboxServer]]:
    """One bootstrapped alliance on its own PostgreSQL schema, on its own sandbox."""
    server = SandboxServer(port=0, data_dir=tmp_path / "sandbox", rate_limits=False)
    server.start()
    try:
        configs = make_fleet(tmp_path, 1, server, pg_url, own_schemas=True)
        for args in (("bootstrap",), ("sync",)):
            result = CliRunner().invoke(cli, ["-c", str(configs / "a0001.yaml"), *args])
            assert result.exit_code == 0, result.output
        forget_runs(pg_url)
        yield configs, server
    finally:
        server.stop()


def test_a_worker_killed_mid_note_leaves_one_note_after_a_late_landing(
        fleet: tuple[Path, SandboxServer], pg_url: str) -> None:
    configs, server = fleet
    path = configs / "a0001.yaml"
    config = load_config(path)
    location, schema = config.state_location, config.state_schema

    def run(*args: str) -> Any:
        result = CliRunner().invoke(cli, ["-c", str(path), *args])
        assert result.exit_code == 0, result.output
        return result

    run("sandbox", "move", "A0001-1", "doing", "--as", ESRA)
    with StateStore.open(location, schema=schema) as store:
        item = store.get_item_by_number("A0001-1")
        assert item is not None
        side = store.get_side(item.id, "slack")
        channel = store.get_resource("slack", "channel", "actions")
    assert side is not None and channel is not None
    slack = slack_client(server, token=member_token(server, ESRA, "slack"))

    def notes() -> list[str]:
        replies = slack.conversations_replies(channel=channel.remote_id, ts=side.remote_id)
        return [m["text"] for m in replies["messages"][1:] if "In progress" in m["text"]]

    # The note's post is slow: it lands after the next worker has taken the alliance over,
    # while that worker gives the dead one's write time to land before looking for it.
    admin(server, "POST", "/_sandbox/faults", {"service": "slack", "method": "POST",
                                               "path": "*chat.postMessage*", "mode": "delay",
                                               "seconds": STALLED_AFTER + 5.0, "count": 1})
    worker = [sys.executable, "-m", "sync.cli.main", "worker", "--alliances", str(configs),
              "--database", pg_url, "--concurrency", "1"]
    errors = (configs / "doomed.stderr").open("w+", encoding="utf-8")
    doomed = subprocess.Popen(worker, env=ENV, cwd=ROOT, stdout=subprocess.DEVNULL,
                              stderr=errors)

    def note_in_flight() -> bool:
        if doomed.poll() is not None:  # a worker that died early says why, not a time-out
            errors.seek(0)
            raise AssertionError(f"the worker ended ({doomed.returncode}): {errors.read()}")
        return bool(open_intents(location, schema, "post_note"))

    try:
        # A loaded 2-core machine can take a while to start the worker and reach the note.
        wait_for(note_in_flight, timeout=90.0, what="the note's post")
        time.sleep(0.3)
    finally:
        doomed.send_signal(signal.SIGKILL)
        doomed.wait(timeout=10)
        errors.close()
    # The engine hands the dead worker's job on once its heartbeat is stale.
    time.sleep(STALLED_AFTER + 0.5)
    taker = subprocess.run([*worker, "--once", "--json"], env=ENV, cwd=ROOT,
                           capture_output=True, text=True, timeout=120, check=False)
    assert taker.returncode == 0, taker.stderr
    assert json.loads(taker.stdout)["outcomes"]["a0001"] == "ok"
    assert len(notes()) == 1, notes()  # adopted, not repeated
    again = json.loads(run("sync", "--json").stdout)
    assert again["writes"] == {}
    assert len(notes()) == 1, notes()
