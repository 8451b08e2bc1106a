"""``serve`` holds its front under abuse (issue 25, item 7), with real sockets on loopback.

120 slow clients (one byte at a time, never finishing a request) do not keep ``/healthz`` or
a member's card move out; a connection that never completes its request is closed at its
deadline; deeply nested JSON is a 400 before it is parsed; a signature header with a
trailing newline or non-ASCII characters is a 401. Every loop here is bounded and every
socket closed by the test itself.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from connectors.sandbox.clients.testing import issued
from sync.api import Alliance as Engine
from sync.serve.guard import FrontLimits, create_server, json_too_deep
from sync.serve.server import ServeOptions, Service
from tests.support.serving import wait_for
from tests.support.synced import Synced

SLOW_CLIENTS = 120


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Synced, Service]]:
    alliance = Synced(tmp_path_factory.mktemp("front"))
    alliance.cli("bootstrap", "--only", "trello,slack")
    service = Service(Engine(alliance.config),
                      ServeOptions(port=0, reconcile_every=None)).start()
    yield alliance, service
    service.stop()
    alliance.close()


def _session() -> requests.Session:
    session = requests.Session()
    session.trust_env = False
    return session


def _port(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


def _raw(port: int, request: bytes, timeout: float = 5.0) -> bytes:
    """Send ``request`` as is on a fresh connection; the answer's first bytes."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as conn:
        conn.sendall(request)
        return conn.recv(4096)


class SlowClients:
    """``count`` connections, each sending a request's start one byte at a time."""

    def __init__(self, port: int, count: int) -> None:
        self.sockets = []
        for _ in range(count):
            conn = socket.create_connection(("127.0.0.1", port), timeout=5)
            conn.setblocking(False)
            self.sockets.append(conn)
        self.start = b"POST /hooks/trello HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 500
        self.sent = 0
        self.closed_by_server = 0

    def trickle(self) -> None:
        """One more byte on every connection still open."""
        byte = self.start[self.sent % len(self.start):][:1]
        self.sent += 1
        for conn in list(self.sockets):
            try:
                conn.send(byte)
            except OSError:
                self.sockets.remove(conn)
                self.closed_by_server += 1
                conn.close()

    def close(self) -> None:
        """Close what is left."""
        for conn in self.sockets:
            conn.close()


def test_health_and_a_members_move_get_through_120_slow_clients(
        served: tuple[Synced, Service]) -> None:
    alliance, service = served
    port = _port(service.url)
    slow = SlowClients(port, SLOW_CLIENTS)
    answered, probes = 0, 11
    try:
        alliance.move("FRL-3", "doing")
        session = _session()
        for _ in range(probes):  # about 6 s of slow clients, a byte every 0.5 s
            slow.trickle()
            try:
                if session.get(f"{service.url}/healthz", timeout=3).status_code == 200:
                    answered += 1
            except requests.RequestException:
                pass
            session.close()  # a new connection each time, as a probe does
            time.sleep(0.5)
        wait_for(lambda: alliance.item("FRL-3").status == "doing", timeout=20)
    finally:
        slow.close()
    assert answered == probes
    # The flood churned its own connections: the oldest waiters were closed for newcomers.
    assert slow.closed_by_server > 0


def test_a_request_never_completed_is_closed_at_its_deadline() -> None:
    limits = FrontLimits(request_deadline=1.0)

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]

    server = create_server(app, "127.0.0.1", 0, limits)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        port = server.effective_port
        with socket.create_connection(("127.0.0.1", port), timeout=10) as idle, \
                socket.create_connection(("127.0.0.1", port), timeout=10) as slow:
            slow.sendall(b"GET /healthz HTTP/1.1\r\n")
            started = time.monotonic()
            deadline = started + 8
            closed: set[str] = set()
            while len(closed) < 2 and time.monotonic() < deadline:
                slow.send(b"X")  # keeps it active: an idle timeout alone would not close it
                for name, conn in (("idle", idle), ("slow", slow)):
                    conn.settimeout(0.2)
                    try:
                        if conn.recv(1) == b"":
                            closed.add(name)
                    except TimeoutError:
                        pass
                    except OSError:
                        closed.add(name)
            assert closed == {"idle", "slow"}
            assert time.monotonic() - started < 6
        assert _raw(port, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").startswith(b"HTTP/1.1 200")
    finally:
        server.close()


@pytest.mark.parametrize("body", [b"[" * 200_000, b'{"a":' * 100_000, b"[" * 65 + b"]" * 65])
def test_deeply_nested_json_is_a_400(served: tuple[Synced, Service], body: bytes) -> None:
    alliance, service = served
    secret = issued(alliance.server)["slack"]["signing_secret"]
    stamp = str(int(time.time()))
    signature = "v0=" + hmac.new(secret.encode(), b"v0:" + stamp.encode() + b":" + body,
                                 hashlib.sha256).hexdigest()
    answer = _session().post(f"{service.url}/hooks/slack/events", data=body, timeout=10,
                             headers={"X-Slack-Request-Timestamp": stamp,
                                      "X-Slack-Signature": signature})
    assert answer.status_code == 400, answer.text
    assert "nests deeper" in answer.text


def test_json_depth_counts_brackets_outside_strings_only() -> None:
    assert not json_too_deep(b'{"text": "' + b"[" * 1000 + b'"}')
    assert not json_too_deep(b"[" * 64 + b"]" * 64)
    assert json_too_deep(b"[" * 65 + b"]" * 65)


@pytest.mark.parametrize(("header", "status"), [
    (b"%s\r\n ", b"401"),  # a folded line: the value ends in a newline once unfolded
    (b"%s \t", b"401"),
    (b"\xc3\xa9%s", b"401"),  # non-ASCII: compare_digest refused to compare it (a 500)
    (b"%s\n", b"400"),  # a bare LF: refused by the HTTP parser before any of our code
])
def test_a_trello_signature_with_stray_bytes_is_refused(served: tuple[Synced, Service],
                                                        header: bytes, status: bytes) -> None:
    alliance, service = served
    body = b'{"action": {}, "model": {}}'
    secret = issued(alliance.server)["trello"]["app_secret"]
    digest = hmac.new(secret.encode(), body + b"http://forged.example/hooks/trello",
                      hashlib.sha1).digest()
    value = header.replace(b"%s", base64.b64encode(digest))
    request = (b"POST /hooks/trello HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
               b"X-Trello-Webhook: " + value + b"\r\nContent-Length: "
               + str(len(body)).encode() + b"\r\nConnection: close\r\n\r\n" + body)
    answer = _raw(_port(service.url), request)
    assert answer.split(b"\r\n", 1)[0].split(b" ")[1] == status, answer
