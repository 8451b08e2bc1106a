"""The sandbox WSGI app: three emulated services on one port, plus admin and a page.

Per request: pick the service by mount, match its route, count the call in the stats, apply an
armed fault, authenticate, rate-limit (if on), and run the handler in one store transaction.
Admin calls live under ``/_sandbox/`` (stats, faults, settings, people, health) and ``/``
shows what the services hold.
"""

from __future__ import annotations

import contextlib
import fnmatch
import importlib
import inspect
import logging
import socket
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from werkzeug.exceptions import MethodNotAllowed, NotFound
from werkzeug.routing import RequestRedirect
from werkzeug.wrappers import Request, Response

from connectors.sandbox.core.people import People
from connectors.sandbox.core.service import (
    AuthFailure,
    Identity,
    ServiceEmulator,
    ServiceError,
    stats_key,
    text_response,
)
from connectors.sandbox.core.store import SandboxStore

log = logging.getLogger(__name__)

SERVICE_MODULES = {
    "trello": "connectors.sandbox.trello.emulator",
    "slack": "connectors.sandbox.slack.emulator",
    "mailchimp": "connectors.sandbox.mailchimp.emulator",
}
FAULT_MODES = ("error", "drop_after_apply", "delay", "ratelimit")
DROPPED = "dropped"


def load_services(
    store: SandboxStore, people: People, clock: Callable[[], float]
) -> list[ServiceEmulator]:
    """Instantiate the emulator each service module defines (a module not written yet is
    skipped, so the three emulators can be developed independently)."""
    services = []
    for name, module_name in SERVICE_MODULES.items():
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as error:
            if error.name != module_name:
                raise
            log.warning("sandbox: no %s emulator (%s not found)", name, module_name)
            continue
        classes = [
            obj
            for obj in vars(module).values()
            if inspect.isclass(obj)
            and issubclass(obj, ServiceEmulator)
            and obj is not ServiceEmulator
            and obj.name == name
        ]
        if classes:
            services.append(classes[0](store, people, clock))
    return services


@dataclass
class Fault:
    """One armed fault; ``count`` None means until disarmed.

    ``skip`` lets that many matching requests through first, so a test can break a run at its
    k-th write (crash-point enumeration) without knowing which object that write is.
    """

    service: str
    method: str
    path: str
    mode: str
    status: int = 503
    seconds: float = 0.0
    count: int | None = None
    skip: int = 0

    def matches(self, service: str, method: str, paths: Iterable[str]) -> bool:
        """True if this fault applies (``*`` wildcards in each field)."""
        return (
            fnmatch.fnmatchcase(service, self.service)
            and fnmatch.fnmatchcase(method.upper(), self.method.upper())
            and any(fnmatch.fnmatchcase(p, self.path) for p in paths)
        )


class SandboxApp:
    """The WSGI application. ``rate_limits`` can be switched at run time (settings)."""

    def __init__(
        self,
        store: SandboxStore,
        *,
        rate_limits: bool = True,
        clock: Callable[[], float] = time.time,
        services: list[ServiceEmulator] | None = None,
    ) -> None:
        self.store = store
        self.clock = clock
        self.rate_limits = rate_limits
        self.people = People(store, clock)
        self.services = (
            services if services is not None else load_services(store, self.people, clock)
        )
        self._lock = threading.Lock()
        self._stats: dict[str, dict[str, dict[str, int]]] = defaultdict(
            lambda: defaultdict(lambda: defaultdict(int))
        )
        self._faults: list[Fault] = []

    def service(self, name: str) -> ServiceEmulator:
        """The emulator of one service (KeyError if it is not loaded)."""
        for service in self.services:
            if service.name == name:
                return service
        raise KeyError(name)

    # -- stats and faults (also usable in-process) --------------------------------------

    def count(self, service: str, key: str, status: str) -> None:
        """Add one call to the stats."""
        with self._lock:
            self._stats[service][key][status] += 1

    def stats(self) -> dict[str, dict[str, dict[str, int]]]:
        """A copy of the counters: ``{service: {"METHOD path": {"status": n}}}``."""
        with self._lock:
            return {
                service: {key: dict(codes) for key, codes in calls.items()}
                for service, calls in self._stats.items()
            }

    def reset_stats(self) -> None:
        """Zero every counter."""
        with self._lock:
            self._stats.clear()

    def arm(self, fault: Fault) -> None:
        """Arm a fault (after the ones already armed)."""
        if fault.mode not in FAULT_MODES:
            raise ValueError(f"unknown fault mode {fault.mode!r}")
        with self._lock:
            self._faults.append(fault)

    def disarm(self) -> None:
        """Disarm every fault."""
        with self._lock:
            self._faults.clear()

    def faults(self) -> list[Fault]:
        """The armed faults."""
        with self._lock:
            return list(self._faults)

    def _take_fault(self, service: str, method: str, paths: Iterable[str]) -> Fault | None:
        """The first matching armed fault, its count spent by one."""
        paths = list(paths)
        with self._lock:
            for fault in self._faults:
                if fault.matches(service, method, paths):
                    if fault.skip > 0:
                        fault.skip -= 1
                        continue
                    if fault.count is not None:
                        fault.count -= 1
                        if fault.count <= 0:
                            self._faults.remove(fault)
                    return fault
        return None

    # -- WSGI ---------------------------------------------------------------------------

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        """The WSGI entry point."""
        request = Request(environ)
        response = self.handle(request)
        return response(environ, start_response)

    def handle(self, request: Request) -> Response:
        """Route one request to the page, the admin API or a service."""
        path = request.path
        if path == "/":
            from connectors.sandbox.core.page import render_page

            return Response(render_page(self), mimetype="text/html")
        if path.startswith("/_sandbox/"):
            from connectors.sandbox.core.admin import handle_admin

            return handle_admin(self, request)
        for service in self.services:
            if path == service.mount or path.startswith(service.mount + "/"):
                return self._handle_service(service, request, path[len(service.mount) :] or "/")
        return text_response(f"Cannot {request.method} {path}", 404)

    def _handle_service(self, service: ServiceEmulator, request: Request, rel: str) -> Response:
        method = request.method
        adapter = service.url_map.bind("sandbox", "/")
        try:
            rule, values = adapter.match(rel, method, return_rule=True)
        except (NotFound, MethodNotAllowed, RequestRedirect):
            response = service.not_found_response(request, rel)
            self.count(service.name, f"{method} {rel}", str(response.status_code))
            return response
        key = stats_key(method, rule.rule, values)
        fault = self._take_fault(service.name, method, (rel, key.split(" ", 1)[1]))
        if fault is not None and fault.mode in ("error", "ratelimit"):
            response = (
                service.ratelimited_response()
                if fault.mode == "ratelimit"
                else service.error_response(fault.status, "sandbox: injected fault")
            )
            self.count(service.name, key, str(response.status_code))
            return response
        if fault is not None and fault.mode == "delay":
            time.sleep(fault.seconds)
        response = self._run(service, request, str(rule.endpoint), values)
        if fault is not None and fault.mode == "drop_after_apply":
            self.count(service.name, key, DROPPED)
            self._drop(request)
        self.count(service.name, key, str(response.status_code))
        return response

    def _run(
        self, service: ServiceEmulator, request: Request, endpoint: str, values: dict[str, Any]
    ) -> Response:
        """Authenticate, rate-limit and run the handler in one transaction."""
        try:
            identity: Identity = service.authenticate(request)
        except AuthFailure as failure:
            return failure.response
        limits_on = self.rate_limits  # read once: settings may switch it mid-request
        if limits_on:
            limited = service.check_rate_limit(request, identity)
            if limited is not None:
                return limited
        try:
            early = service.before_transaction(request, identity, endpoint, values)
            if early is not None:
                return early
            with self.store.transaction():
                response = service.dispatch(request, identity, endpoint, values)
            service.after_commit()
            return response
        except ServiceError as error:
            return error.response or service.error_response(error.status, error.message)
        except Exception:
            log.exception("sandbox: %s handler %s failed", service.name, endpoint)
            return service.error_response(500, "sandbox: internal error")
        finally:
            if limits_on:
                service.finish_request(request, identity)

    @staticmethod
    def _drop(request: Request) -> None:
        """Close the connection without an answer (the write is already committed)."""
        request.get_data()  # drain the body so the client sees a close, not a reset mid-send
        sock = request.environ.get("werkzeug.socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        # werkzeug's server treats a ConnectionError from the app as a dropped connection.
        raise ConnectionAbortedError("sandbox: dropped after apply (fault)")
