"""A PostgreSQL restart under a running ``mcm-sync worker`` and ``serve --alliances`` (issue 25).

It used to end every worker with ``OperationalError``/``AdminShutdown`` (exit 1). Here a
private PostgreSQL server is stopped as an administrator's restart does (``pg_ctl stop -m
fast``) while a worker process is in the middle of a run (a thread note on its way to a slowed
Slack) and started again seconds later. Both processes live on; the run cut short is redone
without a second note (the journal); a member's card move during the outage is answered 503
(the vendors retry) and, sent again once the database is back, is processed.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from connectors.sandbox.clients.testing import admin, member_token, slack_client, trello_client
from connectors.sandbox.core.server import SandboxServer
from connectors.sandbox.trello import webhooks
from sync.cli.main import cli
from sync.core.config import load_config
from sync.state.store import StateStore
from tests.support import pg_server
from tests.support.fleet import make_fleet
from tests.support.paths import ROOT

ESRA = "esra.yilmaz@example.org"
OUTAGE = 8.0  # seconds the database stays down
_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@pytest.fixture(scope="module")
def database() -> Iterator[pg_server.PostgresServer]:
    """A server of this module's own: the session's one is shared, this one is restarted."""
    if pg_server.find_bin_dir() is None:
        pytest.skip(pg_server.NO_SERVER)
    server = pg_server.start()
    yield server
    server.stop()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_for(check: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while not (found := check()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)
    return found


class Outage:
    """Two alliances on a sandbox and a restartable PostgreSQL, a worker and a front."""

    def __init__(self, folder: Path, database: pg_server.PostgresServer) -> None:
        self.folder = folder
        self.database = database
        self.sandbox = SandboxServer(port=0, data_dir=folder / "sandbox", rate_limits=False)
        self.sandbox.start()
        self.configs = make_fleet(folder, 2, self.sandbox, database.url, own_schemas=True)
        for name in ("a0001", "a0002"):
            self.run("-c", str(self.configs / f"{name}.yaml"), "bootstrap")
        self.port = _free_port()
        self.processes: dict[str, subprocess.Popen[str]] = {}

    def run(self, *args: str, expect: int = 0) -> Any:
        result = CliRunner().invoke(cli, list(args))
        assert result.exit_code == expect, (result.output, result.exception)
        return result

    def start(self, name: str, *args: str) -> None:
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        log = (self.folder / f"{name}.log").open("w", encoding="utf-8")
        self.processes[name] = subprocess.Popen(
            [sys.executable, "-m", "sync.cli.main", *args], env=env, cwd=ROOT, text=True,
            stdout=log, stderr=subprocess.STDOUT)

    def log(self, name: str) -> str:
        return (self.folder / f"{name}.log").read_text(encoding="utf-8")

    def status(self) -> dict[str, dict[str, Any]]:
        out = self.run("worker", "status", "--alliances", str(self.configs), "--database",
                       self.database.url, "--json")
        return {row["alliance"]: row for row in json.loads(out.stdout)}

    def store(self, name: str) -> StateStore:
        config = load_config(self.configs / f"{name}.yaml")
        return StateStore.open(config.state_location, schema=config.state_schema)

    def item(self, name: str, number: str) -> tuple[str, str, str]:
        """(status, card id, message ts) of an item."""
        with self.store(name) as store:
            item = store.get_item_by_number(number)
            assert item is not None
            card, message = store.get_side(item.id, "trello"), store.get_side(item.id, "slack")
        assert card is not None and message is not None
        return item.status, card.remote_id, message.remote_id

    def resource(self, name: str, kind: str, key: str, service: str = "trello") -> str:
        with self.store(name) as store:
            found = store.get_resource(service, kind, key)
        assert found is not None
        return found.remote_id

    def notes(self, name: str, number: str) -> list[str]:
        _, _, ts = self.item(name, number)
        channel = self.resource(name, "channel", "actions", "slack")
        slack = slack_client(self.sandbox, token=member_token(self.sandbox, ESRA, "slack"))
        replies = slack.conversations_replies(channel=channel, ts=ts)
        return [m["text"] for m in replies["messages"][1:]]

    def close(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    process.kill()
        self.sandbox.stop()


def _redeliver(sandbox: SandboxServer, card_id: str) -> int:
    """Send the card's latest action again as Trello's retry would (same body, signed with
    the app secret); the front's answer."""
    hook = next(h for h in sandbox.store.list("trello", "webhook") if "a0001" in h["callbackURL"])
    actions = [a for a in sandbox.store.list("trello", "action", parent=hook["idModel"])
               if a["data"].get("card", {}).get("id") == card_id]
    action = max(actions, key=lambda a: a["date"])
    body = json.dumps({"action": action, "model": sandbox.store.get("trello", "board",
                                                                    hook["idModel"]),
                       "webhook": hook})
    secret = sandbox.app.people.credentials.coordinator()["trello"]["app_secret"]
    digest = hmac.new(secret.encode(), (body + hook["callbackURL"]).encode(), hashlib.sha1)
    request = urllib.request.Request(hook["callbackURL"], data=body.encode(), method="POST",
                                     headers={"Content-Type": "application/json",
                                              "X-Trello-Webhook":
                                                  base64.b64encode(digest.digest()).decode()})
    try:
        with _NO_PROXY.open(request, timeout=10) as answer:
            return int(answer.status)
    except urllib.error.HTTPError as refused:
        return int(refused.code)


@pytest.mark.slow
def test_workers_and_the_front_ride_out_a_database_restart(
        tmp_path: Path, database: pg_server.PostgresServer) -> None:
    outage = Outage(tmp_path, database)
    try:
        url = database.url
        outage.start("worker", "worker", "--alliances", str(outage.configs), "--database", url,
                     "--interval", "30s", "--concurrency", "2")
        outage.start("front", "serve", "--alliances", str(outage.configs), "--database", url,
                     "--port", str(outage.port))
        _wait_for(lambda: all(r["outcome"] == "ok" for r in outage.status().values()), 60,
                  "the first syncs")
        _wait_for(lambda: len(outage.sandbox.store.list("trello", "webhook")) == 2, 30,
                  "the front's webhooks")

        # Mid-run: a member's move in a0002 makes the worker post a thread note to a Slack
        # that takes 4 s to answer; the database goes down while the note is on its way.
        admin(outage.sandbox, "POST", "/_sandbox/faults",
              {"service": "slack", "method": "POST", "path": "*chat.postMessage*",
               "mode": "delay", "seconds": 4, "count": 1})
        notes_before = len(outage.notes("a0002", "A0002-5"))
        outage.run("-c", str(outage.configs / "a0002.yaml"), "sandbox", "move", "A0002-5",
                   "doing", "--as", ESRA)
        _, card, _ = outage.item("a0001", "A0001-3")
        doing = outage.resource("a0001", "list", "doing")
        time.sleep(1.5)  # the worker was woken and is inside the slowed post
        halted = time.monotonic()
        database.halt()

        # During the outage: a member's move in a0001 reaches the front, which cannot store
        # it: 503, and nothing acknowledged.
        webhooks.FAILURES.clear()
        trello = trello_client(outage.sandbox, token=member_token(outage.sandbox, ESRA))
        trello.fetch_json(f"/cards/{card}", http_method="PUT", post_args={"idList": doing})
        refused = _wait_for(lambda: [f for f in webhooks.FAILURES if "a0001" in f["url"]], 10,
                            "the front's answer")
        assert refused[0]["status"] == 503
        time.sleep(max(0.0, OUTAGE - (time.monotonic() - halted)))
        assert outage.processes["worker"].poll() is None, outage.log("worker")
        assert outage.processes["front"].poll() is None, outage.log("front")
        database.resume()
        resumed = time.monotonic()

        # Trello sends the delivery again: stored this time (a 503 or two while the front's
        # connections come back are retried the same way).
        answers = [_redeliver(outage.sandbox, card)]
        while answers[-1] != 200 and len(answers) < 20:
            time.sleep(0.5)
            answers.append(_redeliver(outage.sandbox, card))
        assert answers[-1] == 200, answers
        stored = time.monotonic() - resumed

        _wait_for(lambda: outage.item("a0001", "A0001-3")[0] == "doing", 60,
                  "the move made during the outage; worker: " + outage.log("worker")[-3000:])
        _wait_for(lambda: outage.item("a0002", "A0002-5")[0] == "doing", 60,
                  "the run cut short, redone")
        status = outage.status()
        _wait_for(lambda: all(r["outcome"] in ("ok", "events")
                              for r in outage.status().values()), 60, "every alliance synced")

        notes = outage.notes("a0002", "A0002-5")[notes_before:]
        assert len([n for n in notes if "In progress" in n]) == 1, notes  # not doubled
        assert len([n for n in outage.notes("a0001", "A0001-3") if "In progress" in n]) == 1
        for name in ("worker", "front"):
            assert outage.processes[name].poll() is None, outage.log(name)
            assert "Traceback" not in outage.log(name) and "internal error" not in \
                outage.log(name), outage.log(name)
        print(f"\ndatabase down {resumed - halted:.1f}"
              f" s; redelivery stored {stored:.1f} s after the restart ({len(answers)} tries);"
              f" workers alive: 1/1, front alive; status rows: {sorted(status)}")
    finally:
        outage.close()


def test_one_off_commands_name_an_unavailable_database_in_one_line(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No server on the port: exit 4 with the database named (no traceback, no password)."""
    from tests.support.alliance import example_config

    url = f"postgresql://mcm:${{NO_SUCH_PASSWORD}}@127.0.0.1:{_free_port()}/mcm"
    monkeypatch.setenv("NO_SUCH_PASSWORD", "hunter2-not-shown")
    config = example_config(tmp_path, pg_url=url)
    runner = CliRunner()
    for args in (["-c", str(config), "status"], ["-c", str(config), "sync"],
                 ["worker", "status", "--alliances", str(tmp_path), "--database",
                  url.replace("${NO_SUCH_PASSWORD}", "hunter2-not-shown")]):
        result = runner.invoke(cli, args)
        assert result.exit_code == 4, (args, result.output, result.exception)
        line = result.output.strip()
        assert "\n" not in line and ("is unavailable" in line or "cannot reach" in line), line
        assert "hunter2" not in line and "127.0.0.1" in line
