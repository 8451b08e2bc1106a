"""What every emulated service shares: identities, errors, the service base class, responses.

A service (Trello, Slack, Mailchimp) subclasses :class:`ServiceEmulator`, declares its routes
in a werkzeug ``Map`` relative to its mount, and writes one ``handle_<endpoint>`` method per
route. The app (``connectors.sandbox.core.app``) does the rest around it: stats, faults,
authentication, rate limits and the transaction.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from werkzeug.routing import Map
from werkzeug.wrappers import Request, Response

from connectors.sandbox.core.people import People
from connectors.sandbox.core.store import SandboxStore


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """A JSON response (UTF-8, compact)."""
    return Response(
        json.dumps(data, separators=(",", ":")),
        status=status,
        mimetype="application/json",
        headers=headers,
    )


def text_response(text: str, status: int, headers: dict[str, str] | None = None) -> Response:
    """A plain-text response, as Trello sends most of its errors."""
    return Response(text, status=status, mimetype="text/plain", headers=headers)


@dataclass(frozen=True)
class Identity:
    """Who makes a request: the credential (for rate-limit buckets only) and the person."""

    service: str
    # The token / API key as sent; used as a rate-limit bucket key, never logged or shown.
    credential_key: str = field(repr=False)
    person: dict[str, Any]

    @property
    def is_member(self) -> bool:
        """True for a ``sandbox-member:<email>`` credential, False for the coordinator/bot."""
        return not self.person.get("is_bot", False)


class AuthFailure(Exception):
    """Raised by ``authenticate``: carries the vendor's own 401 response."""

    def __init__(self, response: Response) -> None:
        super().__init__(f"authentication failed ({response.status_code})")
        self.response = response


class ServiceError(Exception):
    """Raised by a handler to answer with an error; the transaction is rolled back.

    With only ``status`` and ``message`` the service's ``error_response`` formats the body;
    ``response`` overrides it with a ready response (for errors with extra fields).
    """

    def __init__(self, status: int, message: str, response: Response | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.response = response


_PLACEHOLDER = re.compile(r"<(?:[^:<>]+:)?([^<>]+)>")


def stats_key(method: str, rule: str, values: dict[str, Any]) -> str:
    """``"<METHOD> <rule>"`` with id placeholders as ``{id}`` and the others as sent.

    A placeholder counts as an id when its name ends in ``id`` or ``hash``
    (``<card_id>``, ``<subscriber_hash>``); ``/1/boards/<board_id>/cards/<filter>`` requested
    as ``.../cards/open`` gives ``GET /1/boards/{id}/cards/open``.
    """

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name.lower().endswith(("id", "hash")):
            return "{id}"
        return str(values.get(name, "{" + name + "}"))

    return f"{method} {_PLACEHOLDER.sub(replace, rule)}"


class ServiceEmulator:
    """Base class of an emulated service. Subclasses set ``name``, ``mount`` and ``url_map``.

    Rules in ``url_map`` are relative to the mount (``/1/cards/<card_id>`` for Trello) and
    their endpoint is the handler name without ``handle_``. A handler has the signature
    ``handle_x(self, request, identity, **values) -> Response`` and runs inside one store
    transaction; it may raise :class:`ServiceError` to answer with an error.
    """

    name: str = ""
    mount: str = ""
    url_map: Map = Map()

    def __init__(
        self, store: SandboxStore, people: People, clock: Callable[[], float] = time.time
    ) -> None:
        self.store = store
        self.people = people
        self.clock = clock

    # -- hooks the app calls, in this order ---------------------------------------------

    def authenticate(self, request: Request) -> Identity:
        """Who is calling; raise ``AuthFailure`` with the vendor's 401 when not allowed."""
        raise NotImplementedError

    def check_rate_limit(self, request: Request, identity: Identity) -> Response | None:
        """The vendor's 429 response when over a limit, else None (only if limits are on).

        When this returns None the app calls :meth:`finish_request` once the request is done,
        so a concurrency limit can release its slot there.
        """
        return None

    def finish_request(self, request: Request, identity: Identity) -> None:
        """Called after a request that passed ``check_rate_limit`` (e.g. to free a slot)."""

    def before_transaction(
        self, request: Request, identity: Identity, endpoint: str, values: dict[str, Any]
    ) -> Response | None:
        """Work that must not hold the store lock (e.g. calling out); a response ends it."""
        return None

    def dispatch(
        self, request: Request, identity: Identity, endpoint: str, values: dict[str, Any]
    ) -> Response:
        """Call ``handle_<endpoint>``; the app has already opened the transaction."""
        handler = getattr(self, "handle_" + endpoint)
        return handler(request, identity, **values)

    def after_commit(self) -> None:
        """Called after a handler's transaction committed (e.g. to send webhooks)."""

    def admin_route(self, request: Request) -> Response | None:
        """An admin route of this service under ``/_sandbox/`` (None: not one of its own)."""
        return None

    # -- vendor formats ----------------------------------------------------------------

    def error_response(self, status: int, message: str) -> Response:
        """An error body in the vendor's format (plain text by default)."""
        return text_response(message, status)

    def ratelimited_response(self) -> Response:
        """The vendor's 429 response (used by rate limits and the ``ratelimit`` fault)."""
        return self.error_response(429, "rate limit exceeded")

    def ratelimited_fault(self, seconds: float) -> Response:
        """The ``ratelimit`` fault's answer: the vendor's 429. ``seconds`` is the wait a test
        chose; only a vendor that sends ``Retry-After`` says it (the others ignore it)."""
        return self.ratelimited_response()

    def not_found_response(self, request: Request, relative_path: str) -> Response:
        """The answer to a path no route matches."""
        return self.error_response(404, f"Cannot {request.method} {relative_path}")

    def method_not_allowed_response(
        self, request: Request, relative_path: str, allowed: list[str]
    ) -> Response:
        """The answer to a method a matched path does not take (vendors differ: 404 here)."""
        return self.not_found_response(request, relative_path)

    def admin_action(self, action: str, body: dict[str, Any]) -> Any:
        """An admin action on this service (``POST /_sandbox/<service>/<action>``): what a
        person does in the vendor's own interface (e.g. unsubscribe from a newsletter)."""
        raise KeyError(action)

    def render_page(self) -> str:
        """An HTML fragment (everything escaped) showing this service's objects."""
        return ""

    # -- helpers for handlers -----------------------------------------------------------

    def request_params(self, request: Request) -> dict[str, Any]:
        """Query, form and JSON body merged (body wins), as the vendors accept all three."""
        params: dict[str, Any] = dict(request.args.items())
        if request.form:
            params.update(request.form.items())
        if request.is_json:
            body = request.get_json(silent=True)
            if isinstance(body, dict):
                params.update(body)
        return params

    def now(self) -> float:
        """The current time from the injected clock."""
        return self.clock()
