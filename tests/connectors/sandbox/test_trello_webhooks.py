"""Trello's webhooks as Trello has them (issue 22): access, full models, list webhooks,
``display``, compact UTF-8 bodies signed on their bytes, retries, failure counters,
disabling and 410."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from trello import TrelloClient
from trello.exceptions import ResourceUnavailable, Unauthorized

from connectors.sandbox.clients.testing import admin, issued, member_token, trello_client
from connectors.sandbox.core.server import SandboxServer
from connectors.sandbox.trello.webhooks import default_policy
from sync.serve.verify import trello_problem

ANA = "ana@example.org"


class Receiver:
    """A callback URL: 200 to HEAD; POSTs answered with ``status`` (a list is consumed)."""

    def __init__(self) -> None:
        self.got: list[dict[str, Any]] = []
        self.statuses: list[int] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_HEAD(self) -> None:
                self.send_response(200)
                self.end_headers()

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.got.append({"body": body, "headers": dict(self.headers),
                                     "at": time.monotonic()})
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait(self, count: int, timeout: float = 10.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while len(self.got) < count:
            assert time.monotonic() < deadline, len(self.got)
            time.sleep(0.02)
        return self.got


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    made = Receiver()
    yield made
    made.server.shutdown()


@pytest.fixture
def client(sandbox: SandboxServer) -> TrelloClient:
    admin(sandbox, "POST", "/_sandbox/trello/webhook-policy",
          {"retry_delays": [0.05, 0.05, 0.05], "disable_after_failures": 6,
           "disable_after_days": 0})
    return trello_client(sandbox)


def _hook(client: TrelloClient, model: str, url: str) -> dict[str, Any]:
    return dict(client.fetch_json("/webhooks", http_method="POST",
                                  post_args={"callbackURL": url, "idModel": model}))


def _get(client: TrelloClient, hook_id: str) -> dict[str, Any]:
    return dict(client.fetch_json(f"/webhooks/{hook_id}"))


def test_the_default_schedule_is_trellos() -> None:
    assert default_policy()["retry_delays"] == [30.0, 60.0, 120.0]


def test_a_token_watches_only_what_it_can_read(sandbox: SandboxServer, client: TrelloClient,
                                               receiver: Receiver) -> None:
    board = client.add_board("Private", default_lists=False)
    ana = trello_client(sandbox, member_token(sandbox, ANA))
    with pytest.raises(Unauthorized):
        _hook(ana, board.id, receiver.url)
    client.fetch_json(f"/boards/{board.id}/members", http_method="PUT",
                      post_args={"email": ANA, "fullName": "Ana"})
    assert _hook(ana, board.id, receiver.url)["active"] is True


def test_bodies_are_compact_utf8_signed_on_their_bytes(
        sandbox: SandboxServer, client: TrelloClient, receiver: Receiver) -> None:
    board = client.add_board("Fryslân", default_lists=False)
    _hook(client, board.id, receiver.url)
    todo, later = board.add_list("Te doen"), board.add_list("Later")
    card = todo.add_card("Bijeenkomst in Fryslân — één keer")
    receiver.wait(3)
    receiver.got.clear()
    card.change_list(later.id)
    got = receiver.wait(1)[0]
    body = got["body"]
    data = json.loads(body)
    assert body == json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()
    assert "Fryslân — één".encode() in body and b"\\u" not in body
    secret = issued(sandbox)["trello"]["app_secret"]
    assert trello_problem(body, receiver.url, secret, got["headers"]["X-Trello-Webhook"]) is None
    # A receiver that re-serialises before verifying fails, as it would live.
    again = json.dumps(data).encode()
    assert trello_problem(again, receiver.url, secret, got["headers"]["X-Trello-Webhook"])
    display = data["action"]["display"]
    assert display["translationKey"] == "action_move_card_from_list_to_list"
    assert display["entities"]["listAfter"]["text"] == "Later"


def test_card_and_list_webhooks_get_the_full_model_and_moves_into_the_list(
        client: TrelloClient, receiver: Receiver) -> None:
    board = client.add_board("Models", default_lists=False)
    todo, done = board.add_list("To do"), board.add_list("Done")
    card = todo.add_card("Welcome pack", desc="for newcomers")
    _hook(client, card.id, receiver.url)
    _hook(client, done.id, receiver.url + "?list")
    card.change_list(done.id)
    got = receiver.wait(2)
    models = {json.loads(g["body"])["webhook"]["idModel"]: json.loads(g["body"])["model"]
              for g in got}
    assert models[card.id]["name"] == "Welcome pack"
    assert models[card.id]["desc"] == "for newcomers" and models[card.id]["idList"] == done.id
    assert models[done.id]["name"] == "Done"


def test_failures_are_retried_counted_and_disable_the_webhook(
        client: TrelloClient, receiver: Receiver) -> None:
    board = client.add_board("Failing", default_lists=False)
    hook = _hook(client, board.id, receiver.url)
    receiver.statuses = [500, 500, 200]
    board.add_list("One")
    got = receiver.wait(3)
    assert got[0]["body"] == got[1]["body"] == got[2]["body"]  # the same delivery, again
    time.sleep(0.1)
    assert _get(client, hook["id"])["consecutiveFailures"] == 0  # the success reset it
    receiver.statuses = [503] * 10
    board.add_list("Two")
    receiver.wait(3 + 4)  # the original and its three retries
    time.sleep(0.1)
    failing = _get(client, hook["id"])
    assert failing["consecutiveFailures"] == 4 and failing["firstConsecutiveFailDate"]
    assert failing["active"] is True
    board.add_list("Three")
    receiver.wait(3 + 4 + 2)
    time.sleep(0.2)
    disabled = _get(client, hook["id"])
    assert disabled["active"] is False and disabled["consecutiveFailures"] == 6
    count = len(receiver.got)
    board.add_list("Four")
    time.sleep(0.3)
    assert len(receiver.got) == count  # a disabled webhook gets nothing


def test_a_410_answer_deletes_the_webhook(client: TrelloClient, receiver: Receiver) -> None:
    board = client.add_board("Gone", default_lists=False)
    _hook(client, board.id, receiver.url)
    receiver.statuses = [410]
    board.add_list("One")
    receiver.wait(1)
    time.sleep(0.2)
    assert client.list_hooks() == []
    assert len(receiver.got) == 1  # not retried


def test_check_item_states_and_several_custom_fields_at_once(client: TrelloClient) -> None:
    board = client.add_board("Fields", default_lists=False)
    card = board.add_list("To do").add_card("Welcome pack")
    checklist = card.add_checklist("Steps", ["call", "visit"])
    done = checklist.items[0]["id"]
    client.fetch_json(f"/cards/{card.id}/checkItem/{done}", http_method="PUT",
                      query_params={"state": "complete"})
    states = client.fetch_json(f"/cards/{card.id}/checkItemStates")
    assert states == [{"idCheckItem": done, "state": "complete"}]
    text = client.fetch_json("/customFields", http_method="POST", post_args={
        "idModel": board.id, "modelType": "board", "name": "Owner", "type": "text",
        "pos": "top"})
    number = client.fetch_json("/customFields", http_method="POST", post_args={
        "idModel": board.id, "modelType": "board", "name": "Budget", "type": "number",
        "pos": "top"})
    items = [{"idCustomField": text["id"], "value": {"text": "Ana"}},
             {"idCustomField": number["id"], "value": {"number": "2500"}}]
    client.fetch_json(f"/cards/{card.id}/customFields", http_method="PUT",
                      post_args={"customFieldItems": items})
    got = client.fetch_json(f"/cards/{card.id}/customFieldItems")
    assert sorted(i["value"][next(iter(i["value"]))] for i in got) == ["2500", "Ana"]
    bad = [{"idCustomField": text["id"], "value": {"text": "Bo"}},
           {"idCustomField": number["id"], "value": {"number": "a lot"}}]
    with pytest.raises(ResourceUnavailable):
        client.fetch_json(f"/cards/{card.id}/customFields", http_method="PUT",
                          post_args={"customFieldItems": bad})
    again = client.fetch_json(f"/cards/{card.id}/customFieldItems")
    assert "Bo" not in json.dumps(again)  # nothing half-written
