"""Run the sandbox: in a background thread (tests, ``sandbox: true``) or in the foreground.

``SandboxServer`` binds loopback only unless ``allow_remote`` is given. It accepts only
the credentials it issued (``core.credentials``): with a data folder it writes them to
``credentials.json`` there, and ``serve`` prints them. ``serve()`` is the entry point the
CLI command ``mcm-sync sandbox serve`` calls.
"""

from __future__ import annotations

import logging
import re
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType, TracebackType
from typing import Any, TextIO

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from connectors.sandbox.core.app import SandboxApp
from connectors.sandbox.core.errors import SandboxConfigError
from connectors.sandbox.core.network import is_loopback
from connectors.sandbox.core.store import SandboxStore

log = logging.getLogger(__name__)
# Trello puts a token in the path of /1/tokens/{token}/webhooks: never echo it.
_TOKEN_IN_PATH = re.compile(r"(/tokens/)[^/]+(/|$)")


class _QuietHandler(WSGIRequestHandler):
    """werkzeug's handler without its access log, which would print tokens in query strings."""

    echo: TextIO | None = None

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """Log method, path (never the query: it carries keys/tokens) and status."""
        if self.echo is not None:
            path = _TOKEN_IN_PATH.sub(r"\1***\2", self.path.split("?", 1)[0])
            print(f"{self.command} {path} {code}", file=self.echo, flush=True)

    def log_error(self, format: str, *args: Any) -> None:
        """Keep werkzeug's error lines (never carry query strings) at debug level."""
        log.debug(format, *args)


class _Stop(Exception):
    """Raised by the signal handler to leave ``serve_forever``."""


def _check_free(host: str, port: int) -> None:
    """Raise ``OSError`` if ``host:port`` cannot be bound (werkzeug would print and exit)."""
    if port == 0:
        return
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as werkzeug binds
        probe.bind((host, port))


class SandboxServer:
    """One HTTP server with the three emulators; a context manager (start/stop)."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 8765,
        data_dir: Path | None = None,
        rate_limits: bool = True,
        allow_remote: bool = False,
        *,
        clock: Callable[[], float] = time.time,
        echo: TextIO | None = None,
    ) -> None:
        # An IPv6 literal may come as in a URL: [::1].
        host = host.strip()
        if host.startswith("[") and host.endswith("]"):
            host = host[1:-1]
        if not allow_remote and not is_loopback(host):
            raise SandboxConfigError(
                f"refusing to listen on non-loopback address {host!r}",
                setting="host",
                hint="use 127.0.0.1, or pass --allow-remote if you really mean it",
            )
        _check_free(host, port)
        self.clock = clock
        self.store = SandboxStore(data_dir)
        self.app = SandboxApp(self.store, rate_limits=rate_limits, clock=clock)
        self.credentials_file: Path | None = None
        if self.store.path is not None:
            self.credentials_file = self.app.people.credentials.write_file(self.store.path.parent)
        handler = type("SandboxRequestHandler", (_QuietHandler,), {"echo": echo})
        self._server: BaseWSGIServer = make_server(
            host, port, self.app, threaded=True, request_handler=handler
        )
        self.host = host
        self.port = int(self._server.server_port)
        self._thread: threading.Thread | None = None
        self._closed = False

    @property
    def url(self) -> str:
        """``http://HOST:PORT`` (IPv6 hosts in brackets)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def base_urls(self) -> dict[str, str]:
        """The base URL to give each SDK."""
        return {
            "trello": self.url + "/trello",
            "slack": self.url + "/slack/api/",
            "mailchimp": self.url + "/mailchimp/3.0",
        }

    def start(self) -> SandboxServer:
        """Serve in a background daemon thread; returns self."""
        if self._thread is None:
            # A short poll interval makes stop() quick (tests start and stop many servers).
            self._thread = threading.Thread(
                target=self._server.serve_forever,
                kwargs={"poll_interval": 0.05},
                name="sandbox-http",
                daemon=True,
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the port and the database (idempotent)."""
        if self._closed:
            return
        self._closed = True
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=5)
        self._server.server_close()
        self.store.close()

    def serve_forever(self, ready: Callable[[], None] | None = None) -> None:
        """Serve in the foreground until SIGINT/SIGTERM, then close cleanly.

        ``ready`` runs once the signal handlers are in place (it prints the URLs): a
        supervisor that stops us as soon as it reads them must not kill us half-way.
        """

        def stop_signal(signum: int, frame: FrameType | None) -> None:
            raise _Stop

        previous = {sig: signal.signal(sig, stop_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            if ready is not None:
                ready()
            self._server.serve_forever()
        except (_Stop, KeyboardInterrupt):
            pass
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            self._closed = True
            self._server.server_close()
            self.store.close()

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.stop()


def serve(
    host: str = "127.0.0.1",
    port: int = 8765,
    data_dir: Path | None = None,
    rate_limits: bool = True,
    allow_remote: bool = False,
    echo: Callable[[str], None] | None = None,
) -> None:
    """Run the sandbox in the foreground: print the base URLs, block until Ctrl-C/SIGTERM.

    ``echo`` prints a line (the CLI passes ``click.echo``); default ``print``.
    ``SandboxConfigError`` for a non-loopback host without ``allow_remote``; ``OSError`` if the
    port is taken.
    """

    def say(line: str) -> None:
        if echo is not None:
            echo(line)
        else:
            print(line, flush=True)  # flushed: a supervising process reads the URLs at once

    server = SandboxServer(host, port, data_dir, rate_limits, allow_remote)

    def announce() -> None:
        say(f"mcm-sync sandbox on {server.url} (data: {data_dir or 'in memory'})")
        for name, url in server.base_urls.items():
            say(f"  {name:<10} {url}")
        say(f"  page       {server.url}/")
        say("Credentials this sandbox issued (it refuses any other):")
        for service, values in server.app.people.credentials.coordinator().items():
            for name, value in values.items():
                say(f"  {service}.{name:<15} {value}")
        if server.credentials_file is not None:
            say(f"  (also in {server.credentials_file} and GET {server.url}/_sandbox/credentials)")
        say("Press Ctrl-C to stop.")

    server.serve_forever(ready=announce)
    say("sandbox stopped")


if __name__ == "__main__":  # pragma: no cover - python -m connectors.sandbox.core.server
    serve(data_dir=Path(sys.argv[1]) if len(sys.argv) > 1 else None)
