"""The sandbox WSGI app: three emulated services on one port, plus admin and a page.

Per request: pick the service by mount, match its route, count the call in the stats, apply an
armed fault, authenticate, rate-limit (if on), and run the handler in one store transaction.
Admin calls live under ``/_sandbox/`` (stats, faults, settings, people, health), answered by
``core.admin`` over the app's own stats, faults and settings (``core.controls``), and ``/``
shows what the services hold (``core.page``).
"""

from __future__ import annotations

import contextlib
import importlib
import inspect
import logging
import socket
import time
from collections.abc import Callable, Iterable
from typing import Any

from werkzeug.exceptions import MethodNotAllowed, NotFound
from werkzeug.routing import RequestRedirect
from werkzeug.wrappers import Request, Response

from connectors.sandbox.core.admin import AdminAPI
from connectors.sandbox.core.controls import CallStats, Fault, FaultRegistry, Settings
from connectors.sandbox.core.page import render_page
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
        self.people = People(store, clock)
        self.services = (
            services if services is not None else load_services(store, self.people, clock)
        )
        self.call_stats = CallStats()
        self.fault_registry = FaultRegistry()
        self.settings = Settings(rate_limits=rate_limits)
        self.admin = AdminAPI(
            self.call_stats, self.fault_registry, self.settings, self.people, self.services
        )

    def service(self, name: str) -> ServiceEmulator:
        """The emulator of one service (KeyError if it is not loaded)."""
        for service in self.services:
            if service.name == name:
                return service
        raise KeyError(name)

    @property
    def rate_limits(self) -> bool:
        """Whether the vendors' rate limits are emulated (``/_sandbox/settings``)."""
        return self.settings.rate_limits

    @rate_limits.setter
    def rate_limits(self, on: bool) -> None:
        self.settings.rate_limits = on

    # -- stats and faults (also usable in-process; the admin API shares the same objects) ---

    def count(self, service: str, key: str, status: str) -> None:
        """Add one call to the stats."""
        self.call_stats.count(service, key, status)

    def stats(self) -> dict[str, dict[str, dict[str, int]]]:
        """A copy of the counters: ``{service: {"METHOD path": {"status": n}}}``."""
        return self.call_stats.snapshot()

    def reset_stats(self) -> None:
        """Zero every counter."""
        self.call_stats.reset()

    def arm(self, fault: Fault) -> None:
        """Arm a fault (after the ones already armed)."""
        self.fault_registry.arm(fault)

    def disarm(self) -> None:
        """Disarm every fault."""
        self.fault_registry.disarm()

    def faults(self) -> list[Fault]:
        """The armed faults."""
        return self.fault_registry.armed()

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
            return Response(render_page(self.services), mimetype="text/html")
        if path.startswith("/_sandbox/"):
            return self.admin(request)
        for service in self.services:
            if path == service.mount or path.startswith(service.mount + "/"):
                return self._handle_service(service, request, path[len(service.mount) :] or "/")
        return text_response(f"Cannot {request.method} {path}", 404)

    def _handle_service(self, service: ServiceEmulator, request: Request, rel: str) -> Response:
        method = request.method
        adapter = service.url_map.bind("sandbox", "/")
        try:
            rule, values = adapter.match(rel, method, return_rule=True)
        except MethodNotAllowed as refused:
            response = service.method_not_allowed_response(
                request, rel, list(refused.valid_methods or []))
            self.count(service.name, f"{method} {rel}", str(response.status_code))
            return response
        except (NotFound, RequestRedirect):
            response = service.not_found_response(request, rel)
            self.count(service.name, f"{method} {rel}", str(response.status_code))
            return response
        key = stats_key(method, rule.rule, dict(values))
        fault = self.fault_registry.take(service.name, method, (rel, key.split(" ", 1)[1]))
        if fault is not None and fault.mode in ("error", "ratelimit"):
            response = (
                service.ratelimited_fault(fault.seconds)
                if fault.mode == "ratelimit"
                else service.error_response(fault.status, "sandbox: injected fault")
            )
            self.count(service.name, key, str(response.status_code))
            return response
        if fault is not None and fault.mode == "delay":
            time.sleep(fault.seconds)
        response = self._run(service, request, str(rule.endpoint), dict(values))
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
