"""TrelloConnector against the real sandbox, through py-trello: every method, faults, errors."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from connectors.identity import make_token, token_in, with_marker
from connectors.pacing import TrelloPacer
from connectors.retry import RetryPolicy
from connectors.trello.connector import TrelloConnector, _invitee
from sync.core.errors import AuthError, FatalRemoteError, NotFoundError, RetriableRemoteError

server_module = pytest.importorskip(
    "connectors.sandbox.core.server", reason="sandbox not built yet"
)
testing = pytest.importorskip("connectors.sandbox.clients.testing")
admin = testing.admin

KEY = "sandbox-key-0123456789abcdef"
TOKEN = "coordinator-token-SECRET-42"  # for a server that is not there; the sandbox issues its own
ANA = "ana@example.org"
FAST = RetryPolicy(max_attempts=4, max_total_seconds=30, initial_wait=0.0, jitter=0.0)


class Sleeps(list[float]):
    """A sleep that records instead of sleeping (retry waits and pacing)."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def sandbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.delenv(name, raising=False)
    server = server_module.SandboxServer(port=0, rate_limits=False, data_dir=tmp_path)
    server.start()
    yield server
    server.stop()


def connect(sandbox: Any, token: str | None = None, **kwargs: Any) -> TrelloConnector:
    sleeps = Sleeps()
    issued = testing.issued(sandbox)["trello"]
    return TrelloConnector(
        issued["api_key"],
        issued["token"] if token is None else token,
        base_url=sandbox.base_urls["trello"],
        policy=kwargs.pop("policy", FAST),
        pacer=TrelloPacer(sleep=sleeps),
        sleep=sleeps,
        **kwargs,
    )


@pytest.fixture
def trello(sandbox: Any) -> TrelloConnector:
    return connect(sandbox)


def fault(sandbox: Any, method: str, path: str, mode: str, **spec: Any) -> None:
    body = {"service": "trello", "method": method, "path": path, "mode": mode, **spec}
    admin(sandbox, "POST", "/_sandbox/faults", body)


def stat(sandbox: Any, key: str) -> dict[str, int]:
    return dict(admin(sandbox, "GET", "/_sandbox/stats").get("trello", {}).get(key, {}))


def board_with_lists(trello: TrelloConnector) -> tuple[Any, Any, Any]:
    desc = with_marker("Friesland alliance", make_token("frl", "board"), "board")
    board = trello.create_board("Friesland alliance", desc)
    todo = trello.create_list(board.id, "To do")
    doing = trello.create_list(board.id, "Doing")
    return board, todo, doing


def card_desc(key: str, number: str = "FRL-1") -> str:
    return with_marker("Map the stakeholders", make_token("frl", key), number)


# ---------------------------------------------------------------- every method


def test_board_lists_labels_cards_checklists_in_one_snapshot(
    sandbox: Any, trello: TrelloConnector
) -> None:
    me = trello.me()
    assert me.id and me.full_name == "mcm-sync coordinator"
    board, todo, doing = board_with_lists(trello)
    assert token_in(board.desc) == make_token("frl", "board") and board.url.startswith("http")
    assert [b.id for b in trello.find_boards() if b.id == board.id] == [board.id]
    assert (todo.name, doing.name) == ("To do", "Doing") and todo.pos < doing.pos
    step = trello.create_label(board.id, "Step 1", "green")
    plain = trello.create_label(board.id, "Meeting", None)
    assert (step.name, step.color, plain.color) == ("Step 1", "green", None)
    due = dt.datetime(2026, 3, 2, 12, 0, tzinfo=dt.UTC)
    card = trello.create_card(
        todo.id,
        "FRL-1 · Map",
        card_desc("task:1"),
        due=due,
        label_ids=[step.id],
        member_ids=[me.id],
    )
    assert (card.list_id, card.due, card.label_ids, card.member_ids) == (
        todo.id,
        due,
        (step.id,),
        (me.id,),
    )
    calls = trello.calls
    checklist = trello.create_checklist(card.id, "Steps", ["Ask", "Ask", "Write"])
    assert trello.calls - calls == 4  # the checklist + one per item
    assert [i.name for i in checklist.items] == ["Ask", "Ask", "Write"]
    assert checklist.card_id == card.id and not any(i.complete for i in checklist.items)

    before = stat(sandbox, "GET /1/boards/{id}").get("200", 0)
    calls = trello.calls
    snap = trello.snapshot(board.id)
    assert trello.calls - calls == 1
    assert stat(sandbox, "GET /1/boards/{id}").get("200", 0) - before == 1
    assert snap.board.id == board.id and snap.board.name == "Friesland alliance"
    assert [x.name for x in snap.lists] == ["To do", "Doing"]
    assert {x.name for x in snap.labels} == {"Step 1", "Meeting"}
    assert [c.id for c in snap.cards] == [card.id]
    assert snap.cards[0].due == due and snap.cards[0].label_ids == (step.id,)
    assert [(c.id, [i.name for i in c.items]) for c in snap.checklists] == [
        (checklist.id, ["Ask", "Ask", "Write"])
    ]
    assert me.id in {m.id for m in snap.members}


def test_update_card_is_absolute_and_cards_batch_reads_ten_per_call(
    trello: TrelloConnector,
) -> None:
    board, todo, doing = board_with_lists(trello)
    label = trello.create_label(board.id, "Step 2", "blue")
    me = trello.me()
    cards = [trello.create_card(todo.id, f"Card {n}", f"text {n}") for n in range(12)]
    first = cards[0]
    calls = trello.calls
    moved = trello.update_card(
        first.id,
        list_id=doing.id,
        name="Renamed",
        due=dt.date(2026, 5, 1),
        due_complete=True,
        member_ids=[me.id],
        label_ids=[label.id],
    )
    assert trello.calls - calls == 1
    assert (moved.list_id, moved.name, moved.due_complete) == (doing.id, "Renamed", True)
    assert moved.due == dt.datetime(2026, 5, 1, 12, tzinfo=dt.UTC)
    assert (moved.member_ids, moved.label_ids) == ((me.id,), (label.id,))
    cleared = trello.update_card(first.id, due=None, member_ids=[], label_ids=[], closed=True)
    assert (cleared.due, cleared.member_ids, cleared.label_ids, cleared.closed) == (
        None,
        (),
        (),
        True,
    )
    with pytest.raises(TypeError, match="colour"):
        trello.update_card(first.id, colour="red")

    missing = "0" * 24
    calls = trello.calls
    found = trello.cards([c.id for c in cards] + [missing])
    assert trello.calls - calls == 2  # 13 ids: ten, then three
    assert [c.id for c in found] == [c.id for c in cards]
    assert found[0].closed and found[0].name == "Renamed" and found[1].name == "Card 1"
    assert trello.cards([]) == []
    assert trello.snapshot(board.id, include_closed_cards=False).cards[0].id == cards[1].id


def test_checkitem_comment_and_invitation(sandbox: Any, trello: TrelloConnector) -> None:
    board, todo, _ = board_with_lists(trello)
    card = trello.create_card(todo.id, "Agenda", card_desc("meeting:1"))
    checklist = trello.create_checklist(card.id, "Agenda", [])
    assert checklist.items == ()
    item = trello.add_checkitem(checklist.id, "Welcome")
    assert item.name == "Welcome" and not item.complete
    action_id = trello.add_comment(card.id, "moved to Done by Ana in Slack")
    comments = trello.board_actions(board.id, types=["commentCard"])
    assert [(a.id, a.card_id, a.data["text"]) for a in comments] == [
        (action_id, card.id, "moved to Done by Ana in Slack")
    ]

    calls = trello.calls
    ana = trello.invite_member(board.id, ANA, "Ana Jansen")
    assert trello.calls - calls == 2  # the members before, the invitation
    assert ana is not None and ana.full_name == "Ana Jansen"
    calls = trello.calls
    bo = trello.invite_member(board.id, "bo@example.org", "Bo Berg")
    assert trello.calls - calls == 1  # the previous answer stands in for "before"
    assert bo is not None and bo.full_name == "Bo Berg" and bo.id != ana.id
    assert {ana.id, bo.id} <= {m.id for m in trello.snapshot(board.id).members}


def test_invitee_is_told_apart_without_an_email() -> None:
    me = {"id": "a1", "username": "coord", "fullName": "Coordinator"}
    ana = {"id": "b2", "username": "ana", "fullName": "Ana Jansen"}
    bo = {"id": "c3", "username": "bo", "fullName": "Bo Berg"}
    assert _invitee([me], [me, ana], "ana@example.org", "Ana J.").id == "b2"  # type: ignore[union-attr]
    # Already a member (nothing new): the one member of that name.
    assert _invitee([me, ana], [me, ana], "a@x.org", "Ana Jansen").id == "b2"  # type: ignore[union-attr]
    # Two newcomers, neither named so: nobody is guessed.
    assert _invitee([me], [me, ana, bo], "x@y.org", "Someone") is None


# ---------------------------------------------------------------- board actions


def test_board_actions_since_an_action_oldest_first_with_a_member_move(
    sandbox: Any, trello: TrelloConnector
) -> None:
    board, todo, doing = board_with_lists(trello)
    card = trello.create_card(todo.id, "FRL-1 · Map", card_desc("task:1"))
    trello.invite_member(board.id, ANA, "Ana Jansen")
    seen = trello.board_actions(board.id)
    assert [a.type for a in seen] == [
        "createBoard",
        "createList",
        "createList",
        "createCard",
        "addMemberToBoard",
    ]  # oldest first
    bookmark = seen[-1].id

    ana = connect(sandbox, token=testing.member_token(sandbox, ANA))
    ana.update_card(card.id, list_id=doing.id)
    ana.add_comment(card.id, "started")
    calls = trello.calls
    new = trello.board_actions(board.id, since=bookmark)
    assert trello.calls - calls == 1
    assert [a.type for a in new] == ["updateCard", "commentCard"]
    move = new[0]
    assert (move.member_name, move.card_id) == ("Ana Jansen", card.id)
    assert move.member_id == ana.me().id != trello.me().id
    assert move.data["listBefore"]["id"] == todo.id and move.data["listAfter"]["id"] == doing.id
    assert trello.board_actions(board.id, since=new[-1].id) == []
    only_moves = trello.board_actions(board.id, since=bookmark, types=["updateCard"])
    assert [a.id for a in only_moves] == [move.id]


def test_board_actions_read_every_page(trello: TrelloConnector) -> None:
    board, todo, _ = board_with_lists(trello)
    for n in range(6):
        trello.create_card(todo.id, f"Card {n}", "")
    everything = trello.board_actions(board.id)
    trello.actions_page = 2
    calls = trello.calls
    paged = trello.board_actions(board.id)
    assert trello.calls - calls == len(everything) // 2 + 1
    assert [a.id for a in paged] == [a.id for a in everything]
    assert [a.type for a in paged].count("createCard") == 6


# ---------------------------------------------------------------- errors and faults


def test_refused_token_names_the_setting_and_hides_the_token(sandbox: Any) -> None:
    secret = "ATTA-made-up-not-issued-SECRET"  # a token the sandbox did not issue: 401
    trello = connect(sandbox, token=secret)
    with pytest.raises(AuthError) as caught:
        trello.find_boards()
    error = caught.value
    assert error.hint == "check trello.api_key / trello.token (TRELLO_API_KEY, TRELLO_TOKEN)"
    assert str(error).startswith("trello: the API key or token was refused")
    text = " ".join(error.lines())
    key = testing.issued(sandbox)["trello"]["api_key"]
    assert "SECRET" not in text and key not in text and "?" not in text
    assert trello.calls == 1  # refused credentials are not retried


def test_not_found_and_bad_request_quote_trellos_text_without_the_url(
    trello: TrelloConnector,
) -> None:
    with pytest.raises(NotFoundError, match="Could not find the card"):
        trello.update_card("0" * 24, name="x")
    with pytest.raises(FatalRemoteError) as caught:
        trello.update_card("not-an-id", name="x")
    assert not isinstance(caught.value, NotFoundError)
    assert "invalid id" in str(caught.value)
    assert "http" not in str(caught.value) and "ATTA" not in str(caught.value)


def test_a_card_whose_answer_was_dropped_is_adopted_not_duplicated(
    sandbox: Any, trello: TrelloConnector
) -> None:
    board, todo, _ = board_with_lists(trello)
    fault(sandbox, "POST", "/1/cards", "drop_after_apply", count=1)
    card = trello.create_card(todo.id, "FRL-1 · Map", card_desc("task:1"))
    assert stat(sandbox, "POST /1/cards") == {"dropped": 1}  # one POST: never repeated
    assert stat(sandbox, "GET /1/lists/{id}/cards") == {"200": 1}  # the lookup that adopted it
    cards = trello.snapshot(board.id).cards
    assert [c.id for c in cards] == [card.id]
    assert token_in(cards[0].desc) == make_token("frl", "task:1")


def test_dropped_answers_of_list_checklist_and_comment_are_adopted(
    sandbox: Any, trello: TrelloConnector
) -> None:
    board, todo, _ = board_with_lists(trello)
    card = trello.create_card(todo.id, "Agenda", card_desc("meeting:1"))
    for path in ("/1/lists", "/1/checklists", "/1/checklists/*/checkItems"):
        fault(sandbox, "POST", path, "drop_after_apply", count=1)
    fault(sandbox, "POST", "/1/cards/*/actions/comments", "drop_after_apply", count=1)
    done = trello.create_list(board.id, "Done")
    checklist = trello.create_checklist(card.id, "Agenda", ["Welcome", "Welcome", "Round"])
    comment = trello.add_comment(card.id, "hello")
    snap = trello.snapshot(board.id)
    assert [x.name for x in snap.lists] == ["To do", "Doing", "Done"] and done.name == "Done"
    assert [(c.id, [i.name for i in c.items]) for c in snap.checklists] == [
        (checklist.id, ["Welcome", "Welcome", "Round"])
    ]
    comments = trello.board_actions(board.id, types=["commentCard"])
    assert [a.id for a in comments] == [comment]


def test_a_create_without_a_token_is_not_repeated_after_a_lost_answer(
    sandbox: Any, trello: TrelloConnector
) -> None:
    board, todo, _ = board_with_lists(trello)
    fault(sandbox, "POST", "/1/cards", "drop_after_apply", count=1)
    with pytest.raises(RetriableRemoteError) as caught:
        trello.create_card(todo.id, "No token", "plain text")
    assert caught.value.outcome_unknown
    assert len(trello.snapshot(board.id).cards) == 1


def test_503_twice_is_retried_and_the_list_made_once(sandbox: Any, trello: TrelloConnector) -> None:
    board, _, _ = board_with_lists(trello)
    fault(sandbox, "POST", "/1/lists", "error", status=503, count=2)
    calls = trello.calls
    made = trello.create_list(board.id, "Blocked")
    # Three POSTs; before each repeat a lookup (a 5xx may have applied): two GETs.
    assert trello.calls - calls == 5
    assert stat(sandbox, "POST /1/lists") == {"503": 2, "200": 3}  # 2 earlier lists + this
    assert [x.name for x in trello.snapshot(board.id).lists].count("Blocked") == 1
    assert made.name == "Blocked"


def test_429_is_retried_after_a_backoff(sandbox: Any) -> None:
    sleeps = Sleeps()
    issued = testing.issued(sandbox)["trello"]
    trello = TrelloConnector(
        issued["api_key"],
        issued["token"],
        base_url=sandbox.base_urls["trello"],
        policy=RetryPolicy(max_attempts=3, initial_wait=0.5, jitter=0.0),
        pacer=TrelloPacer(sleep=Sleeps()),
        sleep=sleeps,
    )
    fault(sandbox, "GET", "/1/members/me/boards", "ratelimit", count=1)
    assert trello.find_boards() == []
    assert trello.calls == 2 and sleeps == [0.5]
    assert stat(sandbox, "GET /1/members/me/boards") == {"429": 1, "200": 1}


def test_a_persistent_500_ends_after_bounded_attempts(
    sandbox: Any, trello: TrelloConnector
) -> None:
    board, _, _ = board_with_lists(trello)
    fault(sandbox, "GET", "/1/boards/*", "error", status=500)
    calls = trello.calls
    with pytest.raises(RetriableRemoteError) as caught:
        trello.snapshot(board.id)
    assert trello.calls - calls == FAST.max_attempts
    assert "HTTP 500" in str(caught.value) and "ATTA" not in str(caught.value)
    assert not caught.value.outcome_unknown


def test_an_unreachable_server_is_retriable_and_hides_the_token(tmp_path: Path) -> None:
    trello = TrelloConnector(
        KEY,
        TOKEN,
        base_url="http://127.0.0.1:9/trello",  # discard port: nothing listens
        policy=RetryPolicy(max_attempts=2, initial_wait=0.0, jitter=0.0),
        pacer=TrelloPacer(sleep=Sleeps()),
        sleep=Sleeps(),
    )
    with pytest.raises(RetriableRemoteError) as caught:
        trello.create_board("B", "no token")
    assert trello.calls == 2  # refused before sending: safe to repeat even a create
    assert not caught.value.outcome_unknown
    assert TOKEN not in str(caught.value) and KEY not in str(caught.value)


def test_board_goes_to_the_configured_workspace(sandbox: Any, trello: TrelloConnector) -> None:
    workspace = testing.trello_client(sandbox).fetch_json("/members/me")["idOrganizations"][0]
    board = trello.create_board("Workspace board", "desc", workspace)
    raw = testing.trello_client(sandbox).fetch_json(f"/boards/{board.id}")
    assert raw["idOrganization"] == workspace
    with pytest.raises(FatalRemoteError):
        trello.create_board("Elsewhere", "desc", "0" * 24)


def test_pacing_follows_the_quota_trellos_headers_state(sandbox: Any) -> None:
    # The sandbox states Trello's 100 per 10 s in every answer's x-rate-limit-* headers: the
    # connector paces at that less a reserve of 2 (98), not at its own 90 of before.
    sleeps = Sleeps()
    issued = testing.issued(sandbox)["trello"]
    trello = TrelloConnector(issued["api_key"], issued["token"],
                             base_url=sandbox.base_urls["trello"], policy=FAST,
                             pacer=TrelloPacer(sleep=sleeps), sleep=sleeps)
    for _ in range(98):
        trello.token_info()
    assert trello.rate_limit_headroom()["token"][1] == 100
    assert sum(sleeps) < 1.0  # 98 calls in the first window: no wait (at 90, the 91st waits)
    trello.token_info()
    assert sum(sleeps) > 9.0  # the 99th waits for the first to leave Trello's window


def test_ready_in_asks_the_pacer_for_the_operations_route_and_calls_nothing() -> None:
    now = [1000.0]
    pacer = TrelloPacer(clock=lambda: now[0], sleep=Sleeps())
    trello = TrelloConnector(KEY, TOKEN, base_url="http://127.0.0.1:9/trello", pacer=pacer,
                             sleep=Sleeps())
    assert trello.ready_in("add_comment") == 0.0
    for _ in range(90):
        pacer.acquire("/1/members/me/boards")
    now[0] += 20.0  # the token's window has passed, the members routes' has not
    assert trello.ready_in("add_comment") == trello.ready_in("card_comments") == 0.0
    assert trello.ready_in("find_boards") == pytest.approx(880.0)
    pacer.pause(4.0)  # a 429 holds every request back
    assert trello.ready_in("add_comment") == pytest.approx(4.0)
    assert trello.calls == 0


def test_inside_without_waiting_a_request_the_pacing_holds_is_refused_unsent() -> None:
    from connectors.retry import without_waiting

    now = [1000.0]
    sleeps = Sleeps()
    pacer = TrelloPacer(clock=lambda: now[0], sleep=sleeps)
    trello = TrelloConnector(KEY, TOKEN, base_url="http://127.0.0.1:9/trello", pacer=pacer,
                             sleep=sleeps)
    pacer.pause(4.0)
    with without_waiting(), pytest.raises(RetriableRemoteError) as caught:
        trello.add_comment("c1", "Hello")
    assert caught.value.retry_after == pytest.approx(4.0) and "paced" in str(caught.value)
    assert trello.calls == 0 and sleeps == []
