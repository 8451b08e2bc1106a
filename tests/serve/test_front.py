"""``mcm-sync serve --alliances``: one front routes each delivery to its alliance's queue, and
the workers process it.

Units first (the routing table, and the front's answers through werkzeug's test client:
routed, verified with the routed alliance's own secrets, stored in its queue only); then two
alliances on one sandbox, end to end: a member's card move in the second alliance reaches
its queue through the front, and a worker processes it; on PostgreSQL, two fronts on one
database defer one drain job however many deliveries reach them, and the engine's workers
process a member's move at once.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from werkzeug.test import Client

from connectors.sandbox.clients.testing import member_token, slack_client
from connectors.sandbox.core.server import SandboxServer
from sync.api import Alliance, hosting
from sync.cli.main import cli
from sync.core.config import load_config
from sync.core.services import Secrets
from sync.fleet.jobs import DRAIN_PRIORITY, Deliveries, forget_jobs, open_jobs_db
from sync.fleet.worker import Worker
from sync.serve.front import NOT_HERE, FrontApp
from sync.serve.hooks import Scope
from sync.serve.routes import Route, Router, RoutingTable, event_channel, interaction_channel
from sync.serve.server import ServeOptions
from sync.serve.verify import slack_signature
from sync.state.events import EventQueue
from sync.state.store import StateStore
from tests.support.alliance import example_config
from tests.support.fleet import make_fleet

FRONT = "https://front.example.org"
ESRA = "esra.yilmaz@example.org"


def _route(folder: Path, name: str) -> Route:
    """Alliance ``name`` (its own store and secrets) owning board, channel and audience
    ``<name>-board`` etc."""
    home = folder / name
    home.mkdir()
    config = load_config(example_config(home))
    StateStore.open(config.state_location).close()  # the store (and its queue) exist
    scope = Scope(board_id=f"{name}-board", trello_callback_url=f"{FRONT}/hooks/trello/{name}",
                  actions_channel=f"{name}-actions", audience_id=f"{name}-list",
                  me_trello=f"{name}-me", me_slack=("", ""))
    return Route(name, config, Secrets(f"trello-{name}", f"slack-{name}", f"mc-{name}"), scope,
                 (f"{name}-actions", f"{name}-general"))


def _queued(route: Route) -> list[Any]:
    with EventQueue(route.config.state_location) as queue:
        return queue.all()


@pytest.fixture
def front(tmp_path: Path) -> Iterator[tuple[Client, dict[str, Route]]]:
    routes = {name: _route(tmp_path, name) for name in ("a", "b")}
    (tmp_path / "configs").mkdir()
    router = Router(tmp_path / "configs", FRONT)
    router.table = RoutingTable.of(routes.values())
    yield Client(FrontApp(router, Deliveries(None), Alliance)), routes


def test_the_routing_table_finds_each_alliance_by_its_ids(tmp_path: Path) -> None:
    a, b = _route(tmp_path, "a"), _route(tmp_path, "b")
    table = RoutingTable.of([a, b])
    assert table.board("b-board") is b and table.audience("a-list") is a
    assert table.channel("b-general") is b and table.channel("nowhere") is None
    reaction = {"event": {"type": "reaction_added", "item": {"channel": "b-actions"}}}
    assert table.channel(event_channel(reaction)) is b
    assert event_channel({"event": {"type": "message", "channel": "a-actions"}}) == "a-actions"
    assert interaction_channel({"channel": {"id": "b-actions"}}) == "b-actions"
    assert interaction_channel({"container": {"channel_id": "a-actions"}}) == "a-actions"
    assert interaction_channel("garbage") == "" and event_channel({}) == ""
    # A board two alliances claim (a copied store) is routed to neither.
    clash = Route("c", a.config, a.secrets, b.scope.__class__(**{**b.scope.__dict__}))
    assert RoutingTable.of([a, b, clash]).board("b-board") is None


def _slack(client: Client, path: str, body: bytes, secret: str, **kwargs: Any) -> Any:
    stamp = str(int(time.time()))
    return client.post(path, data=body, headers={
        "X-Slack-Request-Timestamp": stamp,
        "X-Slack-Signature": slack_signature(secret, stamp, body)}, **kwargs)


def _reaction(channel: str, event_id: str) -> bytes:
    return json.dumps({"type": "event_callback", "event_id": event_id, "event": {
        "type": "reaction_added", "user": "U1", "reaction": "white_check_mark",
        "item": {"type": "message", "channel": channel, "ts": "1.2"}}}).encode()


def test_slack_deliveries_are_verified_with_the_routed_alliances_secret(
        front: tuple[Client, dict[str, Route]]) -> None:
    client, routes = front
    events = "/hooks/slack/events"
    # B's channel, signed by A's app: refused; by B's: stored in B's queue only.
    assert _slack(client, events, _reaction("b-actions", "Ev1"), "slack-a").status_code == 401
    assert _queued(routes["b"]) == []
    assert _slack(client, events, _reaction("b-actions", "Ev1"), "slack-b").status_code == 200
    assert [e.dedup_key for e in _queued(routes["b"])] == ["Ev1"]
    assert _queued(routes["a"]) == []
    # A channel of no alliance: acknowledged and dropped if one of our apps signed it.
    assert _slack(client, events, _reaction("elsewhere", "Ev2"), "slack-a").status_code == 200
    assert _slack(client, events, _reaction("elsewhere", "Ev3"), "forged").status_code == 401
    challenge = json.dumps({"type": "url_verification", "challenge": "xyz"}).encode()
    assert _slack(client, events, challenge, "slack-b").get_json() == {"challenge": "xyz"}
    command = b"command=%2Falliance&channel_id=elsewhere&user_id=U1"
    answer = _slack(client, "/hooks/slack/commands", command, "slack-a",
                    content_type="application/x-www-form-urlencoded")
    assert answer.get_json()["text"] == NOT_HERE
    assert len(_queued(routes["a"])) == 0 and len(_queued(routes["b"])) == 1


def _trello_signed(body: bytes, url: str, secret: str) -> dict[str, str]:
    digest = hmac.new(secret.encode(), body + url.encode(), hashlib.sha1).digest()
    return {"X-Trello-Webhook": base64.b64encode(digest).decode()}


def test_trello_and_mailchimp_deliveries_go_to_their_alliance(
        front: tuple[Client, dict[str, Route]]) -> None:
    client, routes = front
    body = json.dumps({"model": {"id": "b-board"}, "action": {
        "id": "act1", "type": "updateCard", "idMemberCreator": "m1",
        "data": {"card": {"id": "card1"}}}}).encode()
    url = f"{FRONT}/hooks/trello/b"
    assert client.post("/hooks/trello/b", data=body,
                       headers=_trello_signed(body, url, "trello-a")).status_code == 401
    assert client.post("/hooks/trello/b", data=body,
                       headers=_trello_signed(body, url, "trello-b")).status_code == 200
    assert [e.subject for e in _queued(routes["b"])] == ["card1"]
    # A's URL with B's board, and a name no alliance has: 410 (Trello drops the webhook).
    assert client.post("/hooks/trello/a", data=body, headers=_trello_signed(
        body, f"{FRONT}/hooks/trello/a", "trello-a")).status_code == 410
    assert client.post("/hooks/trello/zz", data=body).status_code == 410
    # The bare URL of `serve -c` is routed by the board, signed with that URL.
    again = body.replace(b"act1", b"act2")
    assert client.post("/hooks/trello", data=again, headers=_trello_signed(
        again, f"{FRONT}/hooks/trello", "trello-b")).status_code == 200
    assert len(_queued(routes["b"])) == 2 and _queued(routes["a"]) == []
    form = {"type": "unsubscribe", "data[list_id]": "a-list", "data[email]": "x@example.org"}
    assert client.post("/hooks/mailchimp/mc-b", data=form).status_code == 403
    assert client.post("/hooks/mailchimp/mc-a", data=form).status_code == 200
    assert [e.kind for e in _queued(routes["a"])] == ["unsubscribe"]
    other = {**form, "data[list_id]": "nobody"}
    assert client.post("/hooks/mailchimp/mc-a", data=other).status_code == 404
    assert client.get("/hooks/mailchimp/mc-b").status_code == 200
    assert client.get("/hooks/mailchimp/wrong").status_code == 403


def test_serve_alliances_usage_errors(tmp_path: Path) -> None:
    runner = CliRunner()
    both = runner.invoke(cli, ["-c", str(tmp_path / "x.yaml"), "serve", "--alliances",
                               str(tmp_path)])
    assert both.exit_code == 2 and "not both" in both.output
    missing = runner.invoke(cli, ["serve", "--alliances", str(tmp_path / "nowhere")])
    assert missing.exit_code == 2 and "no such folder" in missing.output
    empty = runner.invoke(cli, ["serve", "--alliances", str(tmp_path)])
    assert empty.exit_code == 2 and "no alliance config" in empty.output
    (tmp_path / "a.yaml").write_text("alliance: {}\n")
    socket = runner.invoke(cli, ["serve", "--alliances", str(tmp_path), "--socket-mode"])
    assert socket.exit_code == 2 and "for one alliance" in socket.output
    alone = runner.invoke(cli, ["serve", "--database", "postgresql://x/y"])
    assert alone.exit_code == 2 and "--database goes with --alliances" in alone.output


# ---------------------------------------------------------------------- end to end


class Fleet:
    """Two bootstrapped alliances on one sandbox, their front and a worker."""

    def __init__(self, folder: Path, pg_url: str | None) -> None:
        self.server = SandboxServer(port=0, data_dir=folder / "sandbox", rate_limits=False)
        self.server.start()
        self.configs = make_fleet(folder, 2, server=self.server, pg_url=pg_url,
                                  own_schemas=True)
        self.database = pg_url
        for name in ("a0001", "a0002"):
            result = CliRunner().invoke(cli, ["-c", str(self.configs / f"{name}.yaml"),
                                              "bootstrap"])
            assert result.exit_code == 0, result.output

    def config(self, name: str) -> Any:
        return load_config(self.configs / f"{name}.yaml")

    def worker(self) -> Worker:
        return hosting.worker(self.configs, database=self.database)

    def queued(self, name: str) -> list[Any]:
        config = self.config(name)
        with EventQueue(config.state_location, schema=config.state_schema) as queue:
            return queue.all()

    def status(self, name: str, number: str) -> str:
        config = self.config(name)
        with StateStore.open(config.state_location, schema=config.state_schema) as store:
            item = store.get_item_by_number(number)
        assert item is not None
        return item.status

    def move(self, name: str, number: str, status: str) -> None:
        result = CliRunner().invoke(cli, ["-c", str(self.configs / f"{name}.yaml"), "sandbox",
                                          "move", number, status, "--as", ESRA])
        assert result.exit_code == 0, result.output

    def notes(self, name: str, number: str) -> list[str]:
        config = self.config(name)
        with StateStore.open(config.state_location, schema=config.state_schema) as store:
            item = store.get_item_by_number(number)
            assert item is not None
            side = store.get_side(item.id, "slack")
            channel = store.get_resource("slack", "channel", "actions")
        assert side is not None and channel is not None
        slack = slack_client(self.server, token=member_token(self.server, ESRA, "slack"))
        replies = slack.conversations_replies(channel=channel.remote_id, ts=side.remote_id)
        return [m["text"] for m in replies["messages"][1:]]


def wait_for(check: Any, timeout: float = 15.0) -> Any:
    deadline = time.monotonic() + timeout
    while not (found := check()):
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.02)
    return found


def test_a_move_in_one_alliance_is_routed_to_its_queue_and_processed_by_a_worker(
        tmp_path: Path) -> None:
    fleet = Fleet(tmp_path, None)
    worker = fleet.worker()
    front = hosting.front(fleet.configs, ServeOptions(port=0), database=None)
    try:
        assert set(worker.cycle().outcomes.values()) == {"ok"}  # the first syncs
        front.start()
        assert sorted(front.registered) == ["a0001", "a0002"] and front.errors == []
        fleet.move("a0002", "A0002-3", "doing")
        wait_for(lambda: fleet.queued("a0002"))
        assert fleet.queued("a0001") == []
        assert fleet.status("a0002", "A0002-3") == "todo"  # the front never processes
        report = worker.cycle()
        assert report.outcomes == {"a0002": "events"}  # its schedule is not due: events only
        assert fleet.status("a0002", "A0002-3") == "doing"
        assert {e.state for e in fleet.queued("a0002")} == {"done"}
        assert any("In progress" in note for note in fleet.notes("a0002", "A0002-3"))
        assert fleet.queued("a0001") == [] and fleet.status("a0001", "A0001-3") == "todo"
        time.sleep(0.3)  # our own writes' deliveries, if any came back, are drained too
        assert worker.cycle().outcomes in ({}, {"a0002": "events"})
        assert {e.state for e in fleet.queued("a0002")} <= {"done", "ignored"}
    finally:
        front.stop()
        worker.close()
        fleet.server.stop()


def test_on_postgresql_the_engine_wakes_a_worker_for_a_delivery(tmp_path: Path,
                                                                  pg_url: str) -> None:
    fleet = Fleet(tmp_path, pg_url)
    forget_jobs(pg_url)
    first, second = fleet.worker(), fleet.worker()
    front = hosting.front(fleet.configs, ServeOptions(port=0), database=pg_url)
    stop = threading.Event()
    threads = [threading.Thread(target=w.run, kwargs={"stop": stop}) for w in (first, second)]
    try:
        for thread in threads:
            thread.start()  # the dispatcher defers the first syncs
        wait_for(lambda: {**first._report.outcomes, **second._report.outcomes}
                 == {"a0001": "ok", "a0002": "ok"}, timeout=60)
        front.start()
        moved = time.monotonic()
        fleet.move("a0002", "A0002-3", "doing")
        wait_for(lambda: fleet.status("a0002", "A0002-3") == "doing", timeout=20)
        latency = time.monotonic() - moved
        print(f"\nmember's move -> processed by a worker the engine woke: {latency:.3f} s")
        assert latency < 10  # not the next scheduled run (5 minutes)
        assert fleet.queued("a0001") == []
        notes = wait_for(lambda: [n for n in fleet.notes("a0002", "A0002-3")
                                  if "In progress" in n])
        assert len(notes) == 1  # processed once, by one of the two workers
    finally:
        stop.set()
        for thread in threads:
            if thread.ident:
                thread.join(timeout=30)
        front.stop()
        first.close()
        second.close()
        fleet.server.stop()


def test_two_fronts_on_one_database_defer_one_drain_however_many_deliveries(
        tmp_path: Path, pg_url: str) -> None:
    """``serve --alliances`` twice behind a proxy: each front keeps nothing but its routing
    table; deliveries for one alliance reaching either front are stored once in its queue
    and wake the workers with one waiting drain job (the engine's queueing lock)."""
    forget_jobs(pg_url)
    routes = {name: _route(tmp_path, name) for name in ("a", "b")}
    (tmp_path / "configs").mkdir()
    fronts, clients = [], []
    for _ in range(2):
        router = Router(tmp_path / "configs", FRONT)
        router.table = RoutingTable.of(routes.values())
        fronts.append(Deliveries(pg_url))
        clients.append(Client(FrontApp(router, fronts[-1], Alliance)))
    events = "/hooks/slack/events"
    try:
        for n, client in enumerate(clients * 2):  # Ev0..Ev3, alternately through each front
            body = _reaction("b-actions", f"Ev{n}")
            assert _slack(client, events, body, "slack-b").status_code == 200
        # Slack retries a delivery through the other front: stored once.
        assert _slack(clients[1], events, _reaction("b-actions", "Ev0"),
                      "slack-b").status_code == 200
        assert [e.dedup_key for e in _queued(routes["b"])] == ["Ev0", "Ev1", "Ev2", "Ev3"]
        db = open_jobs_db(pg_url)
        try:
            jobs = [row.as_dict() for row in db.execute(
                "SELECT lock, queueing_lock, priority, status::text AS status, args"
                " FROM procrastinate_jobs").fetchall()]
        finally:
            db.close()
        assert jobs == [{"lock": "b", "queueing_lock": "b", "priority": DRAIN_PRIORITY,
                         "status": "todo", "args": {"alliance": "b", "scheduled": False}}]
    finally:
        for deliveries in fronts:
            deliveries.close()
