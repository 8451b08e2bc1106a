"""The sandbox core: stats, faults, settings, rate-limit helpers, persistence, concurrency,
loopback binding and the HTML page. Trello (py-trello) is the SDK used to drive it."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests
from trello.exceptions import ResourceUnavailable

from connectors.sandbox.clients.testing import FakeClock, admin, member_token, trello_client
from connectors.sandbox.core.errors import SandboxConfigError
from connectors.sandbox.core.ratelimit import ConcurrencyLimiter, MethodLimiter, WindowLimiter
from connectors.sandbox.core.server import SandboxServer, is_loopback
from connectors.sandbox.core.store import SandboxStore

Admin = Callable[..., Any]


def _board_with_list(server: SandboxServer) -> tuple[Any, Any]:
    board = trello_client(server).add_board("Alliance", default_lists=False)
    return board, board.add_list("To do")


# -- stats ----------------------------------------------------------------------------------


def test_stats_count_each_call_by_route_and_status(sandbox: SandboxServer, admin: Admin) -> None:
    board, todo = _board_with_list(sandbox)
    todo.add_card("One")
    todo.add_card("Two")
    with pytest.raises(ResourceUnavailable):
        trello_client(sandbox).get_board("0" * 24)
    stats = admin("GET", "/_sandbox/stats")
    assert stats["trello"]["POST /1/cards"] == {"200": 2}
    assert stats["trello"]["POST /1/boards"] == {"200": 1}
    assert stats["trello"]["GET /1/boards/{id}"] == {"404": 1}
    assert admin("POST", "/_sandbox/stats/reset") == {"ok": True}
    assert admin("GET", "/_sandbox/stats") == {}


def test_unknown_route_is_counted_as_requested(sandbox: SandboxServer, admin: Admin) -> None:
    answer = requests.get(f"{sandbox.url}/trello/1/nothing?key=k&token=t", timeout=5)
    assert answer.status_code == 404
    assert answer.text == "Cannot GET /1/nothing"
    assert admin("GET", "/_sandbox/stats")["trello"] == {"GET /1/nothing": {"404": 1}}


# -- faults ---------------------------------------------------------------------------------


def test_error_fault_fails_before_applying_and_counts_down(
    sandbox: SandboxServer, admin: Admin
) -> None:
    board, todo = _board_with_list(sandbox)
    fault = {"service": "trello", "method": "POST", "path": "/1/cards", "mode": "error"}
    admin("POST", "/_sandbox/faults", {**fault, "status": 503, "count": 2})
    for _ in range(2):
        with pytest.raises(ResourceUnavailable) as failure:
            todo.add_card("Blocked")
        assert failure.value._status == 503
    todo.add_card("Passes")  # the count is spent
    assert [c.name for c in board.open_cards()] == ["Passes"]
    assert admin("GET", "/_sandbox/stats")["trello"]["POST /1/cards"] == {"503": 2, "200": 1}


def test_drop_after_apply_loses_the_answer_but_keeps_the_object(
    sandbox: SandboxServer, admin: Admin
) -> None:
    board, todo = _board_with_list(sandbox)
    admin(
        "POST",
        "/_sandbox/faults",
        {"service": "trello", "method": "POST", "path": "/1/cards", "mode": "drop_after_apply"},
    )
    with pytest.raises(requests.exceptions.ConnectionError):
        todo.add_card("Created anyway")
    admin("DELETE", "/_sandbox/faults")
    assert [c.name for c in board.open_cards()] == ["Created anyway"]
    assert admin("GET", "/_sandbox/stats")["trello"]["POST /1/cards"] == {"dropped": 1}


def test_wildcard_ratelimit_and_delay_faults(sandbox: SandboxServer, admin: Admin) -> None:
    board, todo = _board_with_list(sandbox)
    admin("POST", "/_sandbox/faults", {"path": "/1/boards/*", "mode": "ratelimit", "count": 1})
    with pytest.raises(ResourceUnavailable) as failure:
        board.open_cards()
    assert failure.value._status == 429
    assert failure.value._msg.startswith('{"error":"API_TOKEN_LIMIT_EXCEEDED"')
    admin("POST", "/_sandbox/faults", {"method": "GET", "mode": "delay", "seconds": 0.15})
    started = time.monotonic()
    assert board.open_cards() == []
    assert time.monotonic() - started >= 0.15
    assert len(admin("GET", "/_sandbox/faults")) == 1  # no count: armed until disarmed
    admin("DELETE", "/_sandbox/faults")
    assert admin("GET", "/_sandbox/faults") == []


def test_bad_fault_is_refused(sandbox: SandboxServer) -> None:
    with pytest.raises(urllib.error.HTTPError) as failure:
        admin(sandbox, "POST", "/_sandbox/faults", {"mode": "explode"})
    assert failure.value.code == 400


# -- rate limits ----------------------------------------------------------------------------


def test_window_limiter_with_injected_clock() -> None:
    clock = FakeClock(start=1000.0, step=0.0)
    limiter = WindowLimiter(3, 10.0, clock)
    assert [limiter.hit("t") for _ in range(3)] == [None, None, None]
    assert limiter.hit("t") == pytest.approx(10.0)
    assert limiter.hit("other") is None
    clock.advance(10.0)
    assert limiter.hit("t") is None


def test_method_limiter_gives_retry_after_per_method() -> None:
    clock = FakeClock(start=0.0, step=0.0)
    limiter = MethodLimiter({"conversations.create": 2}, default=50, clock=clock)
    assert limiter.hit("tok", "conversations.create") is None
    assert limiter.hit("tok", "conversations.create") is None
    assert limiter.hit("tok", "conversations.create") == 60
    assert limiter.hit("tok", "chat.update") is None
    clock.advance(30)
    assert limiter.hit("tok", "conversations.create") == 30


def test_concurrency_limiter() -> None:
    limiter = ConcurrencyLimiter(2)
    assert limiter.acquire("k") and limiter.acquire("k")
    assert not limiter.acquire("k")
    limiter.release("k")
    assert limiter.active("k") == 1 and limiter.acquire("k")


def test_trello_token_limit_then_window_passes(sandbox_rl: SandboxServer) -> None:
    client = trello_client(sandbox_rl)
    board = client.add_board("Limited", default_lists=False, permission_level="public")
    for _ in range(99):
        client.get_board(board.id)
    with pytest.raises(ResourceUnavailable) as failure:
        client.get_board(board.id)
    assert failure.value._status == 429
    assert '"error":"API_TOKEN_LIMIT_EXCEEDED"' in failure.value._msg
    other = member_token(sandbox_rl, "other@example.org")
    assert trello_client(sandbox_rl, other).get_board(board.id).name == "Limited"
    sandbox_rl.clock.advance(10.0)
    assert client.get_board(board.id).name == "Limited"


def test_trello_members_routes_have_their_own_slow_window(sandbox_rl: SandboxServer) -> None:
    client = trello_client(sandbox_rl)
    for index in range(100):
        client.list_boards()
        if index % 50 == 49:
            sandbox_rl.clock.advance(10.0)  # stay under 100 per 10 s
    with pytest.raises(ResourceUnavailable) as failure:
        client.list_boards()
    assert failure.value._status == 429
    admin(sandbox_rl, "POST", "/_sandbox/settings", {"rate_limits": False})
    assert admin(sandbox_rl, "GET", "/_sandbox/settings")["rate_limits"] is False
    assert client.list_boards() == []


def test_trello_key_limit(sandbox_rl: SandboxServer) -> None:
    board = trello_client(sandbox_rl).add_board("Shared", default_lists=False,
                                                permission_level="public")
    clients = [trello_client(sandbox_rl, member_token(sandbox_rl, f"m{n}@example.org"))
               for n in range(5)]
    for index in range(299):  # 299 + the board creation = 300 for the key
        clients[index % 5].get_board(board.id)
    with pytest.raises(ResourceUnavailable) as failure:
        trello_client(sandbox_rl, member_token(sandbox_rl, "fresh@example.org")).list_boards()
    assert "API_KEY_LIMIT_EXCEEDED" in failure.value._msg


# -- persistence and concurrency -------------------------------------------------------------


def test_state_survives_a_restart(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with SandboxServer(port=0, data_dir=data, rate_limits=False) as first:
        board, todo = _board_with_list(first)
        todo.add_card("Persisted")
    with SandboxServer(port=0, data_dir=data, rate_limits=False) as second:
        again = trello_client(second).get_board(board.id)
        assert [c.name for c in again.open_cards()] == ["Persisted"]
        assert (data / "sandbox.sqlite3").exists()


def test_concurrent_writers_lose_nothing(sandbox: SandboxServer) -> None:
    board, todo = _board_with_list(sandbox)
    errors: list[BaseException] = []

    def write(worker: int) -> None:
        try:
            for index in range(10):
                todo.add_card(f"w{worker}-{index}")
        except BaseException as error:  # collected, asserted below
            errors.append(error)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    cards = board.open_cards()
    assert len({c.id for c in cards}) == 80
    assert sorted(c.idShort for c in cards) == list(range(1, 81))


def test_store_transaction_rolls_back() -> None:
    store = SandboxStore(None)
    with pytest.raises(RuntimeError), store.transaction():
        store.insert("t", "k", "a", {"x": 1})
        raise RuntimeError("boom")
    assert store.get("t", "k", "a") is None
    store.insert("t", "k", "b", {"x": 2}, parent="p")
    assert store.list("t", "k", "p") == [{"x": 2}]
    assert store.find("t", "k", x=2) == [{"x": 2}]
    assert store.next_counter("c") == 1 and store.next_counter("c") == 2
    first, second = store.object_id(1.0), store.object_id(1.0)
    assert len(first) == 24 and first < second


# -- binding and page -----------------------------------------------------------------------


def test_refuses_non_loopback_unless_allowed() -> None:
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("example.org")
    with pytest.raises(SandboxConfigError) as failure:
        SandboxServer(host="0.0.0.0", port=0)
    assert "non-loopback" in str(failure.value)


def test_page_shows_boards_as_columns_escaped(sandbox: SandboxServer) -> None:
    board, todo = _board_with_list(sandbox)
    todo.add_card("<script>alert(1)</script>")
    board.add_list("Done & dusted")
    with urllib.request.urlopen(sandbox.url + "/", timeout=5) as answer:
        page = answer.read().decode()
    assert "Alliance" in page and "To do" in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<script>alert" not in page
    assert "Done &amp; dusted" in page


def test_health_and_people(sandbox: SandboxServer, admin: Admin) -> None:
    assert "trello" in admin("GET", "/_sandbox/health")["services"]
    person = admin("POST", "/_sandbox/people", {"email": "Bo@Example.org", "name": "Bo"})
    assert person["email"] == "bo@example.org" and person["slack_id"].startswith("U")
    assert len(person["trello_id"]) == 24


def test_serve_prints_urls_and_stops_on_sigterm(tmp_path: Path) -> None:
    import signal
    import subprocess
    import sys

    script = (
        "import sys; from pathlib import Path; from connectors.sandbox.core.server import serve; "
        "serve(port=0, data_dir=Path(sys.argv[1]))"
    )
    process = subprocess.Popen(
        [sys.executable, "-c", script, str(tmp_path / "d")],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parents[3],
    )
    assert process.stdout is not None
    lines = [process.stdout.readline() for _ in range(4)]
    assert lines[1].split()[0] == "trello" and lines[1].split()[1].endswith("/trello")
    assert lines[3].split()[1].endswith("/mailchimp/3.0")
    announced = ""
    while "Press Ctrl-C" not in announced:  # the whole announcement, then stop it
        announced += process.stdout.readline()
    process.send_signal(signal.SIGTERM)
    rest, _ = process.communicate(timeout=10)
    rest = announced + rest
    assert process.returncode == 0
    assert "sandbox stopped" in rest
    # It issued credentials, printed them, and wrote them for the owner only.
    issued_file = tmp_path / "d" / "credentials.json"
    assert issued_file.stat().st_mode & 0o777 == 0o600
    issued = json.loads(issued_file.read_text(encoding="utf-8"))
    assert set(issued) == {"trello", "slack", "mailchimp"}
    assert set(issued["trello"]) == {"api_key", "token", "app_secret"}
    assert set(issued["slack"]) == {"bot_token", "signing_secret"}
    assert issued["slack"]["bot_token"].startswith("xoxb-")
    assert issued["mailchimp"]["api_key"].endswith("-us1")
    assert "Credentials this sandbox issued" in rest and issued["trello"]["token"] in rest


def test_credentials_are_kept_and_served_to_loopback_only(tmp_path: Path) -> None:
    """The sandbox issues credentials once, keeps them over a restart, serves them on
    GET /_sandbox/credentials (loopback), and refuses anything it did not issue."""
    from connectors.sandbox.core.admin import AdminAPI

    with SandboxServer(port=0, data_dir=tmp_path / "kept", rate_limits=False) as first:
        issued = admin(first, "GET", "/_sandbox/credentials")
    with SandboxServer(port=0, data_dir=tmp_path / "kept", rate_limits=False) as second:
        assert admin(second, "GET", "/_sandbox/credentials") == issued
        app = second.app
        remote = AdminAPI(app.call_stats, app.fault_registry, app.settings, app.people,
                          app.services)
        from werkzeug.test import EnvironBuilder
        from werkzeug.wrappers import Request

        builder = EnvironBuilder(path="/_sandbox/credentials", method="GET",
                                 environ_base={"REMOTE_ADDR": "192.0.2.7"})
        answer = remote(Request(builder.get_environ()))
        assert answer.status_code == 403 and b"token" not in answer.get_data()
