"""The Trello emulator through the real py-trello client (raw ``fetch_json`` only where
py-trello has no method: batch, board actions since, member invitations, webhooks by id)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pytest
import requests
from trello import TrelloClient
from trello.exceptions import ResourceUnavailable, Unauthorized

from connectors.sandbox.clients.testing import (
    RewritingSession,
    issued,
    member_token,
    trello_client,
)
from connectors.sandbox.core.server import SandboxServer

ANA = "ana@example.org"


@pytest.fixture
def client(sandbox: SandboxServer) -> TrelloClient:
    return trello_client(sandbox)


@pytest.fixture
def board(client: TrelloClient) -> Any:
    return client.add_board("Leeuwarden alliance", default_lists=False)


def test_board_with_lists_and_cards(client: TrelloClient, board: Any) -> None:
    todo, done = board.add_list("To do"), board.add_list("Done")
    first = todo.add_card("Map stakeholders", desc="Step 1")
    second = todo.add_card("Invite partners", position="top")
    assert len(board.id) == 24 and board.url.startswith("https://trello.com/b/")
    assert [lst.name for lst in board.open_lists()] == ["To do", "Done"]
    assert [c.name for c in todo.list_cards()] == ["Invite partners", "Map stakeholders"]
    # ids start with their second; ids made in the same second carry no order
    assert first.idShort == 1 and second.idShort == 2 and first.id[:8] <= second.id[:8]
    fetched = client.get_card(first.id)
    assert fetched.description == "Step 1" and fetched.idList == todo.id
    done.close()
    assert [lst.name for lst in board.open_lists()] == ["To do"]
    assert [lst.name for lst in board.closed_lists()] == ["Done"]
    boards = client.list_boards(board_filter="open")
    assert [b.name for b in boards] == ["Leeuwarden alliance"]


def test_defaults_lists_and_labels_on_new_board(client: TrelloClient) -> None:
    board = client.add_board("With defaults")
    assert [lst.name for lst in board.open_lists()] == ["To Do", "Doing", "Done"]
    assert sorted(label.color for label in board.get_labels()) == sorted(
        ["green", "yellow", "orange", "red", "purple", "blue"]
    )


def test_member_moves_a_card_and_the_action_names_them(
    sandbox: SandboxServer, client: TrelloClient, board: Any
) -> None:
    todo, doing = board.add_list("To do"), board.add_list("Doing")
    card = todo.add_card("Welcome pack")
    ana = trello_client(sandbox, member_token(sandbox, ANA))
    with pytest.raises(Unauthorized) as refused:  # a private board she is not on: no silent join
        ana.get_card(card.id)
    assert refused.value._msg.startswith("unauthorized permission requested")
    client.fetch_json(f"/boards/{board.id}/members", http_method="PUT",
                      post_args={"email": ANA, "fullName": "Ana"})
    ana.get_card(card.id).change_list(doing.id)
    moves = board.fetch_actions("updateCard:idList")
    assert len(moves) == 1
    move = moves[0]
    me = ana.fetch_json("/members/me")
    assert me["email"] == ANA
    assert move["idMemberCreator"] == me["id"]
    assert move["memberCreator"]["username"] == me["username"]
    assert move["data"]["listBefore"] == {"id": todo.id, "name": "To do"}
    assert move["data"]["listAfter"] == {"id": doing.id, "name": "Doing"}
    assert move["data"]["old"] == {"idList": todo.id}
    assert move["data"]["card"]["idList"] == doing.id
    mine = client.fetch_json("/members/me")["email"]
    assert [m.email for m in board.all_members()] == [mine, ""]  # others' e-mails: never


def test_card_updates_record_old_values(client: TrelloClient, board: Any) -> None:
    card = board.add_list("To do").add_card("Draft")
    card.set_name("Final")
    card.set_due(datetime(2025, 3, 1, 12, 0, tzinfo=UTC))
    card.set_due_complete()
    card.set_closed(True)
    card.fetch(eager=False)
    assert card.name == "Final" and card.closed is True
    assert card.due == "2025-03-01T12:00:00.000Z"
    actions = board.fetch_actions("updateCard")
    olds = [a["data"]["old"] for a in actions]
    assert olds == [{"closed": False}, {"dueComplete": False}, {"due": None}, {"name": "Draft"}]
    card.remove_due()
    assert client.fetch_json("/cards/" + card.id)["due"] is None


def test_update_card_many_fields_with_one_put(client: TrelloClient, board: Any) -> None:
    todo, done = board.add_list("To do"), board.add_list("Done")
    label = board.add_label("urgent", "red")
    card = todo.add_card("Task")
    me = client.fetch_json("/members/me")
    answer = client.fetch_json(
        "/cards/" + card.id,
        http_method="PUT",
        post_args={
            "idList": done.id,
            "closed": "true",
            "idLabels": label.id,
            "idMembers": me["id"],
            "due": None,
        },
    )
    assert answer["idList"] == done.id and answer["closed"] is True
    assert answer["idLabels"] == [label.id] and answer["idMembers"] == [me["id"]]
    kinds = [a["type"] for a in board.fetch_actions("all")]
    assert kinds[:4] == ["addLabelToCard", "addMemberToCard", "updateCard", "updateCard"]


def test_comments_members_and_labels_on_cards(
    sandbox: SandboxServer, client: TrelloClient, board: Any
) -> None:
    card = board.add_list("To do").add_card("Card")
    comment = card.comment("Looks good <b>")
    assert comment["type"] == "commentCard" and comment["data"]["text"] == "Looks good <b>"
    ana_id = trello_client(sandbox, member_token(sandbox, ANA)).fetch_json("/members/me")["id"]
    ana = client.get_member(ana_id)
    card.add_member(ana)
    label = board.add_label("partner", "green")
    card.add_label(label)
    card.fetch(eager=True)
    assert card.member_id == [ana_id] and [lab.name for lab in card.labels] == ["partner"]
    assert [c["data"]["text"] for c in card.comments] == ["Looks good <b>"]
    card.remove_member(ana)
    card.remove_label(label)
    types = [a["type"] for a in board.fetch_actions("all", action_limit=5)]
    assert types[:4] == [
        "removeLabelFromCard",
        "removeMemberFromCard",
        "addLabelToCard",
        "createLabel",
    ]
    with pytest.raises(ResourceUnavailable):
        board.add_label("bad", "magenta")


def test_checklists_and_check_items(client: TrelloClient, board: Any) -> None:
    card = board.add_list("To do").add_card("Onboarding")
    checklist = card.add_checklist("Steps", ["Call", "Visit"], [False, True])
    assert [(i["name"], i["checked"]) for i in checklist.items] == [
        ("Call", False),
        ("Visit", True),
    ]
    checklist.set_checklist_item("Call", True)
    card = client.get_card(card.id)  # card.fetch() keeps py-trello's stale checklist count
    items = card.checklists[0].items
    assert [i["state"] for i in items] == ["complete", "complete"]
    assert card.badges["checkItemsChecked"] == 2
    ticked = board.fetch_actions("updateCheckItemStateOnCard")
    assert ticked[0]["data"]["checkItem"]["state"] == "complete"
    item_id = items[0]["id"]
    client.fetch_json(
        f"/cards/{card.id}/checkItem/{item_id}",
        http_method="PUT",
        post_args={"state": "incomplete"},
    )
    card.checklists[0].delete_checklist_item("Visit")
    remaining = client.fetch_json(f"/cards/{card.id}/checklists")
    assert [(i["name"], i["state"]) for i in remaining[0]["checkItems"]] == [("Call", "incomplete")]
    assert [c.name for c in board.get_checklists()] == ["Steps"]


def test_custom_fields(client: TrelloClient, board: Any) -> None:
    card = board.add_list("To do").add_card("Partner")
    board.add_custom_field_definition("Sector", "text")
    board.add_custom_field_definition("Priority", "list", options=["High", "Low"])
    number = board.add_custom_field_definition("Score", "number")
    definitions = {d.name: d for d in board.get_custom_field_definitions()}
    card.set_custom_field("Social action", definitions["Sector"])
    card.set_custom_field("High", definitions["Priority"])
    client.fetch_json(
        f"/cards/{card.id}/customField/{number.id}/item",
        http_method="PUT",
        post_args={"value": {"number": "42"}},
    )
    fetched = client.get_card(card.id)
    values = {f.name: f.value for f in fetched.custom_fields}
    assert values == {"Sector": "Social action", "Priority": "High", "Score": 42.0}
    with pytest.raises(ResourceUnavailable) as failure:
        client.fetch_json(
            f"/cards/{card.id}/customField/{number.id}/item",
            http_method="PUT",
            post_args={"value": {"number": 42}},
        )
    assert failure.value._status == 400
    items = client.fetch_json(f"/cards/{card.id}/customFieldItems")
    assert len(items) == 3 and all(i["idModel"] == card.id for i in items)


def test_batch(client: TrelloClient, board: Any) -> None:
    card = board.add_list("To do").add_card("Batched")
    answer = client.fetch_json(
        "/batch", query_params={"urls": f"/boards/{board.id},/cards/{card.id},/cards/{'0' * 24}"}
    )
    assert answer[0]["200"]["name"] == "Leeuwarden alliance"
    assert answer[1]["200"]["id"] == card.id
    assert answer[2] == {"404": "Could not find the card"}
    eleven = ",".join([f"/boards/{board.id}"] * 11)
    with pytest.raises(ResourceUnavailable):
        client.fetch_json("/batch", query_params={"urls": eleven})


def test_actions_since_before_limit_and_page(client: TrelloClient, board: Any) -> None:
    todo = board.add_list("To do")
    first = todo.add_card("One")
    marker = board.fetch_actions("createCard")[0]
    todo.add_card("Two")
    todo.add_card("Three")
    newer = board.fetch_actions("createCard", since=marker["id"])
    assert [a["data"]["card"]["name"] for a in newer] == ["Three", "Two"]
    by_date = board.fetch_actions("createCard", since="2000-01-01T00:00:00Z")
    assert [a["data"]["card"]["name"] for a in by_date] == ["Three", "Two", "One"]
    older = board.fetch_actions("createCard", before=newer[-1]["id"])
    assert [a["data"]["card"]["id"] for a in older] == [first.id]
    page = client.fetch_json(
        f"/boards/{board.id}/actions", query_params={"filter": "createCard", "limit": 1, "page": 1}
    )
    assert [a["data"]["card"]["name"] for a in page] == ["Two"]
    with pytest.raises(ResourceUnavailable):
        board.fetch_actions("all", action_limit=1001)


def test_board_nested_get_and_fields(client: TrelloClient, board: Any) -> None:
    board.add_list("To do").add_card("Nested")
    nested = client.fetch_json(
        f"/boards/{board.id}",
        query_params={
            "fields": "name,url",
            "lists": "open",
            "cards": "open",
            "labels": "all",
            "checklists": "all",
            "customFields": "true",
        },
    )
    assert set(nested) == {
        "id",
        "name",
        "url",
        "lists",
        "cards",
        "labels",
        "checklists",
        "customFields",
    }
    assert [c["name"] for c in nested["cards"]] == ["Nested"]
    mine = client.fetch_json(
        "/members/me/boards", query_params={"filter": "open", "fields": "name"}
    )
    assert mine == [{"id": board.id, "name": "Leeuwarden alliance"}]


def test_invite_member_by_email(sandbox: SandboxServer, client: TrelloClient, board: Any) -> None:
    answer = client.fetch_json(
        f"/boards/{board.id}/members",
        http_method="PUT",
        post_args={"email": "bo@example.org", "fullName": "Bo Visser"},
    )
    mine = client.fetch_json("/members/me")["email"]
    assert [m.get("email") for m in answer["members"]] == [mine, None]  # Bo's is not shown
    bo_json = next(m for m in answer["members"] if m["fullName"] == "Bo Visser")
    assert bo_json["confirmed"] is False  # no Trello account yet: a placeholder
    assert [m["unconfirmed"] for m in answer["memberships"]] == [False, True]
    members = {m.full_name: m for m in board.all_members()}
    assert set(members) == {"mcm-sync coordinator", "Bo Visser"}
    bo = trello_client(sandbox, member_token(sandbox, "bo@example.org"))  # Bo signs up
    assert [b.name for b in bo.list_boards()] == ["Leeuwarden alliance"]
    again = client.fetch_json(f"/boards/{board.id}/members", query_params={"fields": "confirmed"})
    assert [m["confirmed"] for m in again] == [True, True]


def test_auth_errors(sandbox: SandboxServer) -> None:
    base = sandbox.base_urls["trello"]
    no_key = requests.get(f"{base}/1/members/me?token=t", timeout=5)
    assert (no_key.status_code, no_key.text) == (401, "invalid key")
    assert no_key.headers["Content-Type"].startswith("text/plain")
    key = issued(sandbox)["trello"]["api_key"]
    made_up = requests.get(f"{base}/1/members/me?key=0123abcd&token=t", timeout=5)
    assert (made_up.status_code, made_up.text) == (401, "invalid key")
    no_token = requests.get(f"{base}/1/members/me?key={key}", timeout=5)
    assert (no_token.status_code, no_token.text) == (401, "unauthorized permission requested")
    with pytest.raises(Unauthorized) as failure:
        trello_client(sandbox, "ATTA" + "0" * 64).list_boards()
    assert failure.value._msg.startswith("invalid token")
    header = requests.get(
        f"{base}/1/members/me",
        headers={
            "Authorization": f'OAuth oauth_consumer_key="{key}", '
            f'oauth_token="{member_token(sandbox, "cy@x.org")}"'
        },
        timeout=5,
    )
    assert header.status_code == 200 and header.json()["email"] == "cy@x.org"


def test_oauth_mode_client(sandbox: SandboxServer) -> None:
    oauth = TrelloClient(
        api_key=issued(sandbox)["trello"]["api_key"],
        api_secret="secret",
        token=member_token(sandbox, "dee@example.org"),
        token_secret="ts",
        http_service=RewritingSession(sandbox.base_urls["trello"]),
    )
    assert oauth.fetch_json("/members/me")["email"] == "dee@example.org"


def test_invalid_and_unknown_ids(client: TrelloClient) -> None:
    with pytest.raises(ResourceUnavailable) as bad:
        client.get_board("nope")
    assert (bad.value._status, bad.value._msg.split(" at ")[0]) == (400, "invalid id")
    with pytest.raises(ResourceUnavailable) as missing:
        client.fetch_json("/cards/" + "a" * 24)
    assert (missing.value._status, missing.value._msg.split(" at ")[0]) == (
        404,
        "Could not find the card",
    )


class _Hook(BaseHTTPRequestHandler):
    received: list[tuple[str, dict[str, str], bytes]] = []

    def do_HEAD(self) -> None:
        self.send_response(200)
        self.end_headers()

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.received.append((self.path, dict(self.headers), body))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def hook_url() -> Iterator[str]:
    _Hook.received = []
    httpd = HTTPServer(("127.0.0.1", 0), _Hook)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}/hook"
    httpd.shutdown()
    httpd.server_close()


def test_webhooks(client: TrelloClient, board: Any, hook_url: str, sandbox: SandboxServer) -> None:
    hook = client.create_hook(hook_url, board.id, desc="sync")
    assert [h.id for h in client.list_hooks()] == [hook.id]
    board.add_list("Triggers a delivery")
    for _ in range(40):  # deliveries are asynchronous; wait at most 2 s
        if _Hook.received:
            break
        threading.Event().wait(0.05)
    path, headers, body = _Hook.received[0]
    assert path == "/hook" and b'"createList"' in body and headers["X-Trello-Webhook"]
    updated = client.fetch_json(
        f"/webhooks/{hook.id}", http_method="PUT", post_args={"active": "false"}
    )
    assert updated["active"] is False
    hook.delete()
    assert client.list_hooks() == []
    dead = f"http://127.0.0.1:{sandbox.port}/nothing-here"
    with pytest.raises(ResourceUnavailable) as failure:
        client.fetch_json(
            "/webhooks", http_method="POST", post_args={"callbackURL": dead, "idModel": board.id}
        )
    assert "did not return 200" in failure.value._msg


def test_boards_belong_to_a_workspace_and_labels_take_the_current_palette(
    client: TrelloClient,
) -> None:
    workspace = client.fetch_json("/members/me")["idOrganizations"][0]
    board = client.add_board("In the workspace", default_lists=False)
    assert client.fetch_json(f"/boards/{board.id}")["idOrganization"] == workspace
    with pytest.raises(ResourceUnavailable) as refused:
        client.add_board("Nowhere", organization_id="0" * 24)
    assert refused.value._status == 400
    for color in ("green_dark", "sky_light", "black", None):
        assert board.add_label(f"label {color}", color).color == color
    with pytest.raises(ResourceUnavailable):
        board.add_label("bad", "turquoise")


def test_ids_are_time_based_and_carry_no_order_within_a_second(
    sandbox: SandboxServer, client: TrelloClient
) -> None:
    sandbox.app.service("trello").clock = lambda: 1_800_000_000.0  # one frozen second
    board = client.add_board("Same second", default_lists=False)
    todo = board.add_list("To do")
    cards = [todo.add_card(f"Card {i}") for i in range(12)]
    assert {c.id[:8] for c in cards} == {f"{1_800_000_000:08x}"}
    ids = [c.id for c in cards]
    assert ids != sorted(ids)  # random after the second (1 chance in 12! to be in order)
    # Actions are still listed newest first, by when they happened, not by id.
    created = [a["data"]["card"]["name"] for a in board.fetch_actions("createCard")]
    assert created == [f"Card {i}" for i in reversed(range(12))]


def test_a_made_up_token_or_key_is_refused(sandbox: SandboxServer) -> None:
    with pytest.raises(Unauthorized) as token:
        trello_client(sandbox, token="ATTA" + "1" * 64).fetch_json("/members/me")
    assert token.value._msg.startswith("invalid token")
    with pytest.raises(Unauthorized) as key:
        trello_client(sandbox, key="0" * 32).fetch_json("/members/me")
    assert key.value._msg.startswith("invalid key")
    assert trello_client(sandbox).fetch_json("/members/me")["username"]
