"""The front's bounds: slow and idle connections, per client and in total; nested JSON.

waitress alone bounds connections by idleness (``channel_timeout``) and stops *accepting* at
``connection_limit``: a client trickling one byte every few seconds is never idle, and 120
of them kept the listener closed to everyone, the vendors and ``/healthz`` included. Here:

* a connection must deliver a whole request within :attr:`FrontLimits.request_deadline` of
  starting to wait for one (its opening, or the end of its last answer), else it is closed;
  a request being served is never cut;
* when a connection opens and its client already holds :attr:`FrontLimits.per_client`
  connections waiting for a request (or all clients hold :attr:`FrontLimits.waiting`), the
  *oldest* waiting one is closed: the newcomer (a vendor's delivery, a health probe) is
  served and a flood only churns its own connections;
* waitress's own ``connection_limit`` stays above that, so the listener never stops accepting,
  and its event loop uses ``poll`` (no 1,024-descriptor ceiling of ``select``).

:func:`json_too_deep` bounds a JSON body's nesting before it is parsed (Python's parser
recurses: 200,000 ``[`` raised RecursionError, a 500).
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Any

import waitress.server
from waitress.channel import HTTPChannel

MAX_JSON_DEPTH = 64  # the vendors' payloads nest under 10 levels


@dataclass(frozen=True)
class FrontLimits:
    """How long and how many: the bounds of the listening front (see the module docstring)."""

    request_deadline: float = 15.0  # seconds to send a whole request once waiting for one
    per_client: int = 32  # connections one address may hold waiting for a request
    waiting: int = 256  # connections all addresses may hold waiting for a request
    threads: int = 4
    max_body: int = 2 * 1024 * 1024

    @property
    def connection_limit(self) -> int:
        """waitress's hard ceiling: room for the waiting ones and those being served."""
        return self.waiting + 64


class GuardedChannel(HTTPChannel):
    """waitress's HTTP channel with a request deadline and the eviction of the oldest waiter."""

    limits = FrontLimits()

    def __init__(self, server: Any, sock: Any, addr: Any, adj: Any, map: Any = None) -> None:
        super().__init__(server, sock, addr, adj, map=map)
        self.waiting_since = self.creation_time
        self._evict_oldest_waiter()

    def _client(self) -> str:
        return str(self.addr[0]) if isinstance(self.addr, tuple) else str(self.addr)

    def _waiting(self) -> bool:
        return not self.requests and not self.will_close and not self.close_when_flushed

    def _evict_oldest_waiter(self) -> None:
        """Make room when this client, or everyone, holds too many waiting connections."""
        channels: dict[int, Any] = self.server.active_channels  # type: ignore[assignment]  # the stubs say a channel; it is the socket map
        waiters = [c for c in list(channels.values())
                   if isinstance(c, GuardedChannel) and c is not self and c._waiting()]
        mine = [c for c in waiters if c._client() == self._client()]
        for crowd, bound in ((mine, self.limits.per_client), (waiters, self.limits.waiting)):
            if len(crowd) >= bound:
                oldest = min(crowd, key=lambda c: c.waiting_since)
                oldest.will_close = True  # closed by the event loop on its next turn
                if oldest in waiters:
                    waiters.remove(oldest)
                if oldest in mine:
                    mine.remove(oldest)

    def readable(self) -> bool:
        """waitress's rule, and close a connection past its request deadline."""
        if (self._waiting() and time.time() - self.waiting_since
                > self.limits.request_deadline):
            self.will_close = True
            return False
        return bool(super().readable())

    def received(self, data: bytes) -> bool:
        """Take bytes; a completed request stops the clock until its answer is sent."""
        taken = bool(super().received(data))
        if self.requests:
            self.waiting_since = time.time()
        return taken

    def service(self) -> None:
        """Serve the queued requests; the next one's deadline runs from the last answer."""
        try:
            super().service()
        finally:
            self.waiting_since = time.time()


def create_server(app: Any, host: str, port: int, limits: FrontLimits | None = None,
                  **options: Any) -> Any:
    """A waitress server on ``host:port`` with :class:`GuardedChannel` and ``limits``."""
    limits = limits or FrontLimits()
    channel = type("Channel", (GuardedChannel,), {"limits": limits})
    server = waitress.server.create_server(
        app, host=host, port=port, threads=limits.threads, ident="mcm-sync",
        max_request_body_size=limits.max_body, connection_limit=limits.connection_limit,
        channel_timeout=max(1, int(limits.request_deadline)), cleanup_interval=5,
        asyncore_use_poll=True, **options)
    server.channel_class = channel  # type: ignore[union-attr]  # one host:port: never a MultiSocketServer
    return server


_STRINGS = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_NOT_BRACKETS = re.compile(rb"[^\[\]{}]+")


def json_too_deep(body: bytes, limit: int = MAX_JSON_DEPTH) -> bool:
    """True if ``body`` opens more than ``limit`` nested arrays or objects (strings skipped)."""
    if body.count(b"[") + body.count(b"{") <= limit:
        return False
    brackets = _NOT_BRACKETS.sub(b"", _STRINGS.sub(b"", body))
    depth = 0
    for byte in brackets:
        depth += 1 if byte in b"[{" else -1
        if depth > limit:
            return True
    return False


__all__ = ["MAX_JSON_DEPTH", "FrontLimits", "GuardedChannel", "create_server", "json_too_deep"]
