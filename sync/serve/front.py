"""``mcm-sync serve --alliances DIR``: one HTTP front for every alliance of a folder.

The front verifies, routes, stores and wakes; it never processes. Each delivery is routed to
its alliance (:mod:`sync.serve.routes`), verified with that alliance's own secrets and handled
by the same :class:`sync.serve.hooks.HookApp` as ``serve -c`` (filters, dedup keys, refusals),
written to *that* alliance's durable queue (its state store's ``events`` table) and committed
before the answer; then, on PostgreSQL, a drain job of the alliance is deferred in the job
engine (:class:`sync.fleet.jobs.Deliveries`), whose ``NOTIFY`` wakes a worker at once. The
engine runs one job per alliance at a time (its ``lock``), whichever machine it runs on.

The front keeps no state beyond caches (the routing table, parsed playbooks): everything it
writes goes to the database, so several fronts can serve one folder behind a proxy.

What matches no alliance: a Trello delivery for an unknown name or board is answered 410 (Trello
then deletes that webhook), as ``serve -c`` answers a board that is not its own; a Slack
request from a channel of no alliance is verified against the known signing secrets (401 if
none verifies) and acknowledged without being stored (Slack retries anything but a 2xx); a
Mailchimp post for an unknown audience is 404 (a URL secret no alliance has: 403).

On start the front listens, then reads the folder and registers each routed alliance's Trello
webhook to ``<public URL>/hooks/trello/<name>`` (the config file's name), its Mailchimp
webhook, and on a sandbox the Slack app's URLs; an alliance routed later (bootstrapped, or its
config added) is registered when the background refresh finds it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from werkzeug.wrappers import Request, Response

from sync.core.errors import DatabaseUnavailable
from sync.core.services import connect
from sync.fleet.jobs import Deliveries
from sync.realtime.hosted import AllianceFactory, HostedAlliance
from sync.serve.answers import alliance_answer
from sync.serve.hooks import (
    MAILCHIMP_PREFIX,
    SLACK_COMMANDS_PATH,
    SLACK_EVENTS_PATH,
    SLACK_INTERACTIVE_PATH,
    TRELLO_PATH,
    HookApp,
    Refused,
    form_fields,
    interaction,
    json_body,
    json_response,
    read_body,
)
from sync.serve.register import (
    ensure_mailchimp_webhook,
    ensure_trello_webhook,
    register_sandbox_slack_app,
)
from sync.serve.routes import (
    Route,
    Router,
    RoutingTable,
    event_channel,
    interaction_channel,
    trello_board,
)
from sync.serve.server import Listening, ServeOptions
from sync.serve.verify import mailchimp_problem, slack_problem
from sync.state.db import database_unavailable
from sync.state.events import EventQueue
from sync.state.store import StateStore

log = logging.getLogger("mcm_sync.serve")
# Seconds between complete re-reads of every alliance (in between, only the new and changed).
FULL_REFRESH = 600.0
RETRY_AFTER = 5  # seconds, in a 503's Retry-After while the database is unavailable
NOT_HERE = ("This channel belongs to no alliance served here: type /alliance in your "
            "alliance's channel.")


class AllianceQueue:
    """The alliance's durable queue for one delivery (opened, written, committed, closed):
    the front keeps no connection per alliance, so a thousand alliances cost none at rest."""

    def __init__(self, route: Route) -> None:
        self.route = route

    def put(self, source: str, dedup_key: str, kind: str, subject: str,
            payload: Mapping[str, Any]) -> bool:
        """:meth:`EventQueue.put` on the alliance's store (migrated when it was routed)."""
        config = self.route.config
        with EventQueue(config.state_location, schema=config.state_schema,
                        migrate=False) as events:
            return events.put(source, dedup_key, kind, subject, payload)


class FrontApp:
    """The WSGI app of the front: route, then hand to the alliance's :class:`HookApp`."""

    def __init__(self, router: Router, deliveries: Deliveries,
                 alliance_factory: AllianceFactory) -> None:
        self.router = router
        self.deliveries = deliveries
        # Makes the alliance whose playbook /alliance answers from (the face: sync.api.Alliance).
        self.alliance_factory = alliance_factory
        self._alliances: dict[str, tuple[int, HostedAlliance]] = {}  # for /alliance (playbooks)

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        """The WSGI entry point (refusals logged as by ``serve -c``)."""
        request = Request(environ)
        path = MAILCHIMP_PREFIX + "***" if request.path.startswith(MAILCHIMP_PREFIX) \
            else request.path
        try:
            response = self.handle(request)
        except Refused as refused:
            log.warning("refused %s %s: %s (%d)", request.method, path, refused.reason,
                        refused.status)
            response = Response(refused.reason + "\n", refused.status, mimetype="text/plain")
        except Exception as exc:
            if not (isinstance(exc, DatabaseUnavailable) or database_unavailable(exc)):
                raise
            # The queue is out of reach (a PostgreSQL restart): nothing was acknowledged, so
            # the vendor sends it again (Trello, Slack and Mailchimp retry a 5xx); a delivery
            # stored before the failure is stored once (the queue's dedup key).
            log.warning("%s %s: the database is unavailable: answered 503 (the sender "
                        "retries)", request.method, path)
            response = Response("the database is unavailable; retry later\n", 503,
                                mimetype="text/plain", headers={"Retry-After": str(RETRY_AFTER)})
        return response(environ, start_response)

    def hooks(self, route: Route, trello_callback_url: str | None = None) -> HookApp:
        """The alliance's handlers, with its secrets, scope, queue and wake-up."""
        scope = route.scope if trello_callback_url is None else dataclasses.replace(
            route.scope, trello_callback_url=trello_callback_url)
        return HookApp(AllianceQueue(route), route.secrets, scope,  # type: ignore[arg-type]  # AllianceQueue has the put() deliveries use; /healthz (counts()) is the front's
                       lambda: self.deliveries.arrived(route.name),
                       command=lambda form: self._command(route, form))

    def _route(self, find: Callable[[RoutingTable], Route | None]) -> Route | None:
        """``find(table)``, and again after re-reading the folder if it found nothing."""
        found = find(self.router.current())
        return found if found is not None else find(self.router.current(missed=True))

    def handle(self, request: Request) -> Response:
        """Answer one request (raises :class:`Refused` for bad input)."""
        path, method = request.path, request.method
        if path == "/healthz" and method in ("GET", "HEAD"):
            return json_response({"ok": True, "alliances": len(self.router.table.routes)})
        if path == TRELLO_PATH or path.startswith(TRELLO_PATH + "/"):
            if method in ("HEAD", "GET"):
                return Response("", 200)  # Trello's check when the webhook is created
            if method == "POST":
                return self.trello(request, path[len(TRELLO_PATH) + 1:])
        if method == "POST" and path in (SLACK_EVENTS_PATH, SLACK_INTERACTIVE_PATH,
                                         SLACK_COMMANDS_PATH):
            return self.slack(request, path)
        if path.startswith(MAILCHIMP_PREFIX) and method in ("GET", "HEAD", "POST"):
            return self.mailchimp(request, path[len(MAILCHIMP_PREFIX):])
        return Response("not found\n", 404, mimetype="text/plain")

    def trello(self, request: Request, name: str) -> Response:
        """By the alliance's name in the URL, else by the delivery's board; then verified."""
        body = read_body(request)
        if name:
            route = self._route(lambda table: table.routes.get(name))
        else:
            route = self._route(lambda table: table.board(trello_board(json_body(body))))
        if route is None:
            raise Refused(410, "no alliance here has this webhook's board")
        callback = None if name else self.router.public_url + TRELLO_PATH
        return self.hooks(route, callback).on_trello(body, request.headers)

    def slack(self, request: Request, path: str) -> Response:
        """Events, button presses and slash commands, by their channel."""
        body = read_body(request)
        channel = ""
        with contextlib.suppress(Refused):  # unreadable: no channel, verified below
            if path == SLACK_EVENTS_PATH:
                channel = event_channel(json_body(body))
            elif path == SLACK_INTERACTIVE_PATH:
                channel = interaction_channel(interaction(body))
            else:
                channel = form_fields(body).get("channel_id", "")
        route = self._route(lambda table: table.channel(channel)) if channel else None
        if route is not None:
            hooks = self.hooks(route)
            if path == SLACK_EVENTS_PATH:
                return hooks.on_event(json_body(hooks.slack_verified(body, request.headers)))
            if path == SLACK_INTERACTIVE_PATH:
                return hooks.on_interaction(interaction(hooks.slack_verified(
                    body, request.headers)))
            return hooks.on_command(form_fields(hooks.slack_verified(body, request.headers)))
        self._slack_genuine(body, request)
        if path == SLACK_EVENTS_PATH:
            data = json_body(body)
            if data.get("type") == "url_verification":
                return json_response({"challenge": str(data.get("challenge") or "")})
        if path == SLACK_COMMANDS_PATH:
            return json_response({"response_type": "ephemeral", "text": NOT_HERE})
        # Acknowledged (Slack retries anything else and turns failing subscriptions off).
        log.info("slack request from a channel of no alliance: ignored")
        return Response("", 200)

    def _slack_genuine(self, body: bytes, request: Request) -> None:
        """:class:`Refused` 401 unless one of the alliances' Slack apps signed ``body``."""
        stamp = request.headers.get("X-Slack-Request-Timestamp")
        signature = request.headers.get("X-Slack-Signature")
        problems = [slack_problem(body, secret, stamp, signature)
                    for secret in sorted(self.router.table.slack_secrets())]
        if None not in problems:
            first = problems[0] if problems else None  # a str: None is not among them
            raise Refused(401, first or "no Slack signing secret known")

    def mailchimp(self, request: Request, secret: str) -> Response:
        """By the post's audience (``data[list_id]``), then the alliance's URL secret."""
        if request.method == "POST":
            body = read_body(request)
            audience = form_fields(body).get("data[list_id]", "")
            route = self._route(lambda table: table.audience(audience)) if audience else None
            if route is not None:
                return self.hooks(route).on_mailchimp("POST", secret, body)
        if all(mailchimp_problem(secret, known)
               for known in self.router.table.mailchimp_secrets()):
            raise Refused(403, "wrong or missing secret in the webhook URL")
        if request.method in ("GET", "HEAD"):
            return Response("", 200)  # Mailchimp's check when the webhook is saved
        raise Refused(404, "not the audience of an alliance served here")

    def _command(self, route: Route, form: Mapping[str, str]) -> str:
        """``/alliance`` for the alliance of the channel it was typed in."""
        cached = self._alliances.get(route.name)
        if cached is None or cached[0] != id(route.config):
            cached = self._alliances[route.name] = (id(route.config),
                                                    self.alliance_factory(route.config))
        config = route.config
        with StateStore.open(config.state_location, schema=config.state_schema) as store:
            return alliance_answer(config, cached[1].playbook, store,
                                   str(form.get("user_id") or ""))


class FrontService(Listening):
    """One running ``serve --alliances``: start(), then stop() (or a context manager)."""

    def __init__(self, folder: Path, options: ServeOptions, alliance_factory: AllianceFactory,
                 *, database: str | None = None, refresh_every: float = 30.0) -> None:
        super().__init__()
        self.folder = folder
        self.alliance_factory = alliance_factory
        self.options = options
        self.database = database
        self.refresh_every = refresh_every
        self._refresh_now = threading.Event()
        self._new: queue.SimpleQueue[Route] = queue.SimpleQueue()
        self._sandboxes: set[str] = set()
        self.registered: list[str] = []  # alliances whose webhooks were registered
        self.errors: list[str] = []

    def start(self) -> FrontService:
        """Listen, read the folder, register every routed alliance; returns self."""
        options = self.options
        try:
            self.deliveries = Deliveries(self.database)

            def make_app() -> FrontApp:
                self.router = Router(self.folder, self.public_url, fallback=options.secrets,
                                     every=self.refresh_every, on_new=self._found)
                return FrontApp(self.router, self.deliveries, self.alliance_factory)

            self._listen(options, make_app, "front-http")
            self.router.refresh()
            self._register_new()  # before start() returns: the vendors know where to call
            self._spawn(self._refreshing, "front-refresh")
        except BaseException:
            self.stop()
            raise
        return self

    def _found(self, route: Route) -> None:
        self._new.put(route)
        self._refresh_now.set()

    def _refreshing(self) -> None:
        """Every ``refresh_every`` seconds read the alliances not routed yet and the changed
        configs, every ``FULL_REFRESH`` seconds all of them (a re-bootstrap recording other
        channels); register what is new."""
        last_full = time.monotonic()
        while not self._stop.is_set():
            woken = self._refresh_now.wait(self.refresh_every)  # woken: a route to register
            self._refresh_now.clear()
            if self._stop.is_set():
                return
            try:
                if not woken:
                    full = time.monotonic() - last_full >= FULL_REFRESH
                    self.router.refresh(missing_only=not full)
                    last_full = time.monotonic() if full else last_full
                    self._refresh_now.clear()  # what it found is registered just below
                self._register_new()
            except Exception as exc:  # the front keeps serving what it has
                log.warning("re-reading the alliances failed: %s", exc)

    def _register_new(self) -> None:
        while not self._new.empty():
            route = self._new.get()
            if self.options.register:
                self._register(route)

    def _register(self, route: Route) -> None:
        """The alliance's Trello (and Mailchimp) webhook; on a sandbox, its Slack app."""
        config = route.config
        if config.sandbox and not route.sandbox_url:
            log.warning("%s: its sandbox is not running: nothing registered", route.name)
            return  # connect() would start one of its own, which no vendor calls from
        services = ("trello", "mailchimp") if route.scope.audience_id and (
            config.sandbox or config.mailchimp.api_key) else ("trello",)
        try:
            with connect(config, services, sandbox_url=route.sandbox_url or None) as connected, \
                    StateStore.open(config.state_location, schema=config.state_schema) as store:
                what = ensure_trello_webhook(connected.need_board(), store, route.scope.board_id,
                                             route.scope.trello_callback_url)
                log.info("%s: trello webhook %s", route.name, what)
                secret = route.secrets.mailchimp
                if connected.audience is not None and secret:
                    ensure_mailchimp_webhook(connected.audience, store, route.scope.audience_id,
                                             f"{self.public_url}{MAILCHIMP_PREFIX}{secret}")
            if route.sandbox_url and route.sandbox_url not in self._sandboxes:
                register_sandbox_slack_app(route.sandbox_url, self.public_url)
                self._sandboxes.add(route.sandbox_url)
            self.registered.append(route.name)
        except Exception as exc:  # isolation: the other alliances are registered all the same
            log.warning("%s: registering its webhooks failed: %s", route.name, exc)
            self.errors.append(f"{route.name}: {exc}")

    def stop(self) -> None:
        """Stop listening; close the engine's pool."""
        self._stop.set()
        self._refresh_now.set()
        self._close_listener()
        deliveries = getattr(self, "deliveries", None)
        if deliveries is not None:
            deliveries.close()

