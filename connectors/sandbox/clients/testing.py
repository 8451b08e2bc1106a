"""Point the vendors' own SDKs at a running sandbox; a controllable clock; admin calls.

Used by the sandbox's tests and by the connectors' tests. Nothing here patches an SDK: each
one is configured through its public options (see API-NOTES section 4). The clients use the
credentials the sandbox issued (``issued(server)``) unless a test passes others, exactly as a
real client must use what the vendor issued.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from typing import TYPE_CHECKING, Any

import requests

if TYPE_CHECKING:
    import mailchimp_marketing
    from slack_sdk import WebClient
    from trello import TrelloClient

    from connectors.sandbox.core.server import SandboxServer

TRELLO_HOST = "https://api.trello.com"


class _Issued:
    """The default credential of the helpers below: what the sandbox issued the coordinator."""

    def __repr__(self) -> str:
        return "ISSUED"


ISSUED: Any = _Issued()
_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class RewritingSession(requests.Session):
    """A requests session that sends ``https://api.trello.com/...`` to another base URL.

    py-trello hard-codes the Trello host; it accepts any session as ``http_service``.
    """

    def __init__(self, base: str) -> None:
        super().__init__()
        self.base = base.rstrip("/")
        self.trust_env = False  # loopback only: never route through an environment proxy

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> Any:
        """Rewrite the Trello host, then send as usual."""
        if isinstance(url, str):
            # py-trello's create_hook posts to trello.com, everything else to api.trello.com.
            for host in (TRELLO_HOST, "https://trello.com"):
                if url.startswith(host + "/"):
                    url = self.base + url[len(host) :]
                    break
        return super().request(method, url, *args, **kwargs)


def issued(server: SandboxServer) -> dict[str, dict[str, str]]:
    """The coordinator's credentials the sandbox issued (as ``GET /_sandbox/credentials``)."""
    return server.app.people.credentials.coordinator()


def member_tokens(server: SandboxServer, email: str) -> dict[str, str]:
    """The tokens the sandbox issued to the member with this e-mail (``trello``, ``slack``)."""
    return server.app.people.member_tokens(email)


def member_token(server: SandboxServer, email: str, service: str = "trello") -> str:
    """The member's issued token for ``service`` (``trello`` or ``slack``)."""
    return member_tokens(server, email)[service]


def trello_client(server: SandboxServer, token: Any = ISSUED, key: Any = ISSUED) -> TrelloClient:
    """A py-trello client (key/token mode) talking to the sandbox."""
    from trello import TrelloClient

    credentials = issued(server)["trello"]
    return TrelloClient(
        api_key=credentials["api_key"] if key is ISSUED else key,
        api_secret=credentials["token"] if token is ISSUED else token,
        http_service=RewritingSession(server.base_urls["trello"]),
    )


def slack_client(server: SandboxServer, token: Any = ISSUED) -> WebClient:
    """A slack_sdk WebClient talking to the sandbox (no proxy from the environment)."""
    from slack_sdk import WebClient

    if token is ISSUED:
        token = issued(server)["slack"]["bot_token"]
    client = WebClient(token=token, base_url=server.base_urls["slack"])
    client.proxy = None
    return client


def mailchimp_client(server: SandboxServer, api_key: Any = ISSUED) -> mailchimp_marketing.Client:
    """A mailchimp_marketing 3.0.80 client talking to the sandbox."""
    import mailchimp_marketing

    if api_key is ISSUED:
        api_key = issued(server)["mailchimp"]["api_key"]
    client = mailchimp_marketing.Client()
    client.set_config({"api_key": api_key, "server": "us1"})
    client.api_client.host = server.base_urls["mailchimp"]
    return client


def admin(server: SandboxServer, method: str, path: str, body: Any = None) -> Any:
    """Call the admin API (``/_sandbox/...``); returns the decoded JSON answer.

    ``urllib.error.HTTPError`` is raised for an error status.
    """
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        server.url + path, data=data, method=method, headers={"Content-Type": "application/json"}
    )
    with _NO_PROXY.open(request, timeout=10) as answer:
        text = answer.read()
    return json.loads(text) if text else None


class FakeClock:
    """A clock tests move by hand; each reading also ticks by ``step`` so times stay unique."""

    def __init__(self, start: float | None = None, step: float = 1e-6) -> None:
        self._now = time.time() if start is None else start
        self._step = step
        self._lock = threading.Lock()

    def __call__(self) -> float:
        """The current fake time (ticks by ``step``)."""
        with self._lock:
            self._now += self._step
            return self._now

    def advance(self, seconds: float) -> None:
        """Move time forward."""
        with self._lock:
            self._now += seconds
