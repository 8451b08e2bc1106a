"""``mcm-sync serve``: the HTTP endpoints on waitress, the worker, and the backstop sync.

:class:`Service` starts, in this order: the state store (migrated; the queue table exists),
the connectors (real services or the sandbox), the alliance's scope (board, channel, audience,
our identities), waitress on ``host:port`` with :class:`sync.serve.hooks.HookApp`, the worker
thread, and then the registrations that need a listening server (the board's Trello webhook,
the sandbox Slack app's URLs). The worker first processes whatever a previous server left
pending (a kill between acknowledgement and processing loses nothing), then waits: woken by
each new delivery it drains the queue, and every ``reconcile_every`` it runs the ordinary sync
(full when due), the backstop for deliveries that never arrive: both are one
:meth:`sync.api.Alliance.work`, the turn a ``mcm-sync worker`` takes, so the two modes run the
same drain (:func:`sync.realtime.process.drain`) and the same sync, stakeholder push,
reminders and digest. Each turn takes the alliance's lock, so a ``mcm-sync sync`` from cron
and the server never write at the same time (the later one waits or is refused).
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Self

from sync.core.errors import StateError, UserError
from sync.core.services import Connected, Secrets, connect, sandbox_credentials
from sync.engine.read import prepare
from sync.serve.answers import alliance_answer
from sync.serve.guard import FrontLimits, create_server
from sync.serve.hooks import MAILCHIMP_PREFIX, TRELLO_PATH, HookApp, Scope
from sync.serve.register import (
    ensure_mailchimp_webhook,
    ensure_trello_webhook,
    register_sandbox_slack_app,
)
from sync.serve.socket_mode import connect_socket_mode
from sync.serve.watch import EventWatch
from sync.state.events import EventQueue
from sync.state.store import StateStore

if TYPE_CHECKING:  # for the annotation only: a Service is handed the alliance it serves
    from sync.realtime.hosted import HostedAlliance

log = logging.getLogger("mcm_sync.serve")
LOCK_WAIT = 0.2  # seconds between tries while a sync holds the alliance's lock


@dataclasses.dataclass
class ServeOptions:
    """How to serve: address, the public URL the vendors call, secrets, the backstop."""

    host: str = "127.0.0.1"
    port: int = 8080
    public_url: str = ""
    secrets: Secrets | None = None
    reconcile_every: float | None = 900.0  # seconds; None: no backstop sync in the server
    register: bool = True
    work: bool = True  # False: acknowledge and queue only (tests of a kill before processing)
    sandbox: bool | None = None
    socket_mode_token: str = ""  # Slack over Socket Mode (an xapp- token) instead of HTTP
    limits: FrontLimits = dataclasses.field(default_factory=FrontLimits)  # slow/idle clients


def _starting(environ: Any, start_response: Any) -> list[bytes]:
    """The answer while a server starts (its application needs the URL it listens on)."""
    start_response("503 Service Unavailable", [("Content-Type", "text/plain")])
    return [b"starting\n"]


class Listening:
    """What ``serve`` and ``serve --alliances`` share: waitress on ``host:port`` in a thread of
    its own, the service's other threads, stopping them, waiting for a stop, and the context
    manager. Subclasses define :meth:`start` and :meth:`stop`."""

    def __init__(self) -> None:
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.public_url = ""

    def start(self) -> Self:
        """Start the service; returns self."""
        raise NotImplementedError

    def stop(self) -> None:
        """Stop the service (idempotent)."""
        raise NotImplementedError

    def _listen(self, options: ServeOptions, make_app: Callable[[], Any], name: str) -> None:
        """Bind ``host:port`` (answering 503 until ``make_app``, which may use :attr:`url`
        and :attr:`public_url`, has built the application), then serve in a thread."""
        self.server = create_server(_starting, options.host, options.port, options.limits)
        port = self.server.effective_port
        self.url = f"http://{options.host}:{port}"
        self.public_url = (options.public_url or self.url).rstrip("/")
        self.app = make_app()
        self.server.application = self.app
        self._spawn(self._serve_http, name)

    def _serve_http(self) -> None:
        """waitress's loop; closing its sockets from :meth:`stop` may end it mid-select."""
        try:
            self.server.run()
        except (OSError, ValueError):
            if not self._stop.is_set():
                raise

    def _spawn(self, target: Callable[[], None], name: str) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    def _close_listener(self) -> None:
        """Close the listener and open connections, then join every thread (``_stop`` set)."""
        server = getattr(self, "server", None)
        if server is not None:
            for channel in list(server._map.values()):  # the listener and open connections
                with contextlib.suppress(Exception):
                    channel.handle_close()
            server.task_dispatcher.shutdown()
        for thread in self._threads:
            thread.join(timeout=10)
        self._threads = []

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def wait(self) -> None:
        """Block until :meth:`stop` (from a signal handler) is called."""
        while not self._stop.wait(0.5):
            pass


class Service(Listening):
    """One running ``serve``: start(), then stop() (or use as a context manager)."""

    def __init__(self, alliance: HostedAlliance, options: ServeOptions) -> None:
        super().__init__()
        self.alliance = alliance
        self.options = options
        self.config = alliance.config
        self._wake = threading.Event()
        self._stack = contextlib.ExitStack()
        self.processed = 0
        self.batches = 0
        self.watch = EventWatch(alliance.config.slack.actions_channel
                                or f"{alliance.config.alliance.slug}-actions")
        self.errors: list[str] = []
        self._refused = ""  # the last reason the store was refused (its lock held...)

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> Service:
        """Open everything, listen, register, start the worker; returns self."""
        alliance, options = self.alliance, self.options
        alliance.validate()
        # Every turn of the worker (Alliance.work) reuses the same SDK clients and pacers.
        alliance.keep_connections = True
        self._stack.callback(alliance.close)
        try:
            use_sandbox = self.config.sandbox if options.sandbox is None else options.sandbox
            services = ("trello", "slack") + (
                ("mailchimp",) if use_sandbox or self.config.mailchimp.api_key else ())
            self.connected: Connected = self._stack.enter_context(
                connect(self.config, services, sandbox=options.sandbox))
            self.queue = self._stack.enter_context(EventQueue(self.config.state_location,
                                                      schema=self.config.state_schema))
            with alliance.store(bind=True) as store:
                self.settings = prepare(self.config, alliance.playbook, alliance.rows,
                                        self.connected.need_board(),
                                        self.connected.need_chat(), store).settings
                self._listen(options, lambda: self._hook_app(store), "serve-http")
                if options.register:
                    self._register(store)
            if options.socket_mode_token:
                self._socket_mode()
            if options.work:
                self._spawn(self._work, "serve-worker")
        except BaseException:
            self.stop()
            raise
        return self

    def _hook_app(self, store: StateStore) -> HookApp:
        settings = self.settings
        audience = store.get_resource("mailchimp", "audience", "audience")
        scope = Scope(board_id=settings.board_id,
                      trello_callback_url=self.public_url + TRELLO_PATH,
                      actions_channel=settings.actions_channel,
                      audience_id=audience.remote_id if audience else
                      (self.config.mailchimp.audience_id or ""),
                      me_trello=settings.me_board, me_slack=settings.me_chat)
        secrets = self.options.secrets or sandbox_secrets(self.connected.sandbox_url)
        return HookApp(self.queue, secrets, scope, self._wake.set, command=self._command)

    def _register(self, store: StateStore) -> None:
        what = ensure_trello_webhook(self.connected.need_board(), store, self.settings.board_id,
                                     self.public_url + TRELLO_PATH)
        log.info("trello webhook %s", what)
        audience = self.app.scope.audience_id
        secret = self.app.secrets.mailchimp
        if audience and secret and self.connected.audience is not None:
            what = ensure_mailchimp_webhook(self.connected.audience, store, audience,
                                            f"{self.public_url}{MAILCHIMP_PREFIX}{secret}")
            log.info("mailchimp webhook %s", what)
        if self.connected.sandbox_url:
            register_sandbox_slack_app(self.connected.sandbox_url, self.public_url)

    def _socket_mode(self) -> None:
        if self.connected.sandbox_url:
            raise UserError("the sandbox does not emulate Slack's Socket Mode",
                            hint="use --public-url on the sandbox; Socket Mode is for real Slack")
        token = self.config.slack.token
        if token is None:
            raise UserError("slack.token is not set", hint="set SLACK_BOT_TOKEN")
        self.socket = connect_socket_mode(self.app, self.options.socket_mode_token,
                                          token.get_secret_value(), self.config.slack.base_url)

    def stop(self) -> None:
        """Stop listening and working; close the store and the connectors."""
        self._stop.set()
        self._wake.set()
        socket = getattr(self, "socket", None)
        if socket is not None:
            with contextlib.suppress(Exception):
                socket.close()
            self.socket = None
        self._close_listener()
        self._stack.close()

    # ------------------------------------------------------------------ the worker

    def _work(self) -> None:
        """Drain the queue when woken, the backstop sync when it is due: both through
        :meth:`sync.api.Alliance.work`, the very turn a ``mcm-sync worker`` takes (its lock,
        its drain, the sync with the stakeholder push, reminders and digest)."""
        every = self.options.reconcile_every
        last_sync = time.monotonic()
        while not self._stop.is_set():
            due = every is not None and time.monotonic() - last_sync >= every
            # The lock only when there is work.
            if (due or self.queue.pending(1)) and self._turn(scheduled=due) and due:
                last_sync = time.monotonic()
            left = 1.0 if every is None else every - (time.monotonic() - last_sync)
            self._wake.wait(timeout=min(max(0.05, left), 30.0))
            self._wake.clear()

    def _turn(self, *, scheduled: bool) -> bool:
        """One :meth:`HostedAlliance.work`; False if a sync holds the alliance's lock (try again
        soon). A failure is logged and counted, never the end of serving."""
        try:
            outcome = self.alliance.work(scheduled=scheduled, sandbox=self.options.sandbox,
                                         stopped=self._stop.is_set)
        except StateError as exc:  # the lock is held (a sync from cron): try again soon
            # Said once per reason: a store that stays refused must show, not flood the log.
            said, self._refused = self._refused == str(exc), str(exc)
            (log.debug if said else log.info)("waiting for the alliance's store: %s", exc)
            time.sleep(LOCK_WAIT)
            self._wake.set()
            return False
        except Exception as exc:
            log.warning("the scheduled sync failed: %s", exc)
            self.errors.append(str(exc))
            if scheduled:  # a failing sync is when the watch matters most (bot removed...)
                self._watch([])
            return True
        drained = outcome.drained
        self.processed += drained.processed
        self.batches += drained.batches
        self.errors += drained.errors
        if scheduled:
            self._watch(outcome.sync.result.changes if outcome.sync is not None else [])
        return True

    def _watch(self, changes: list[dict[str, Any]]) -> None:
        """After a backstop: Slack's events still arriving, Trello's webhook still active."""
        try:
            channel = next((c for c in self.connected.need_chat().list_channels()
                            if c.id == self.settings.actions_channel), None)
            in_channel: bool | None = None if channel is None else bool(channel.is_member)
        except Exception as exc:  # the check is advice: a failure must not stop serving
            log.info("could not check the bot's membership of the actions channel: %s", exc)
            in_channel = None
        said = self.watch.after_backstop(in_channel, changes)
        if said:
            log.warning("%s", said)
        if not self.options.register:
            return
        try:
            with StateStore.open(self.config.state_location,
                                 schema=self.config.state_schema) as store:
                what = ensure_trello_webhook(self.connected.need_board(), store,
                                             self.settings.board_id,
                                             self.public_url + TRELLO_PATH)
        except Exception as exc:
            log.warning("could not check the Trello webhook: %s", exc)
            return
        if what != "adopted":
            log.warning("trello webhook %s (Trello had disabled it after failed deliveries, "
                        "or it had gone)", what)

    # ------------------------------------------------------------------ /alliance

    def _command(self, form: Any) -> str:
        store = StateStore.open(self.config.state_location, schema=self.config.state_schema)
        try:
            return alliance_answer(self.config, self.alliance.playbook, store,
                                   str(form.get("user_id") or ""))
        finally:
            store.close()


def sandbox_secrets(url: str) -> Secrets:
    """The secrets the sandbox at ``url`` issued (its Trello app secret and Slack signing
    secret), as the vendors issue them; Mailchimp's is ours (it goes in the hook's URL)."""
    issued = sandbox_credentials(url)
    return Secrets(trello=issued["trello"]["app_secret"],
                   slack=issued["slack"]["signing_secret"],
                   mailchimp="sandbox-mailchimp-webhook-secret")
