"""Build the connectors of a run from the config, on the real services or the sandbox.

With ``sandbox: true`` (or ``--sandbox``) an in-process sandbox server is started on a free
loopback port, with its data in ``<state folder>/sandbox`` so that what bootstrap made today is
there tomorrow, and the connectors are pointed at it with the credentials that sandbox
issued (``GET /_sandbox/credentials``, loopback only): it refuses any other, as the vendors
do. Otherwise the config's secrets and optional ``base_url`` settings are used.

Which connector a service name gives is the registry's (:data:`SERVICES`, a
:class:`ServiceRegistry`): board, chat and audience services, each keyed by its name (the
connector's ``service_name``), with what people call it and a factory that makes its
connector from a :class:`Wiring`. Trello, Slack and Mailchimp are registered; a second chat
service would be one more entry (and its connector module), not an edit of :func:`connect`.

The secrets that prove a webhook delivery genuine (:class:`Secrets`: the config's, else the
environment's) are read here too, so that ``serve`` verifies with them and ``doctor`` checks
them from one place.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from connectors.masking import remember_secret
from sync.core.config import Config
from sync.core.errors import UserError

if TYPE_CHECKING:  # the connectors are imported when connecting, not with the config
    from urllib.request import OpenerDirector

    from pydantic import SecretStr

    from connectors.limits import RateLimits
    from connectors.roles import AudienceService, BoardService, ChatService

SERVER_INFO = "server.json"


@dataclass
class Connected:
    """The connectors of one run, by role, and, in sandbox mode, where the sandbox page is.

    A role not asked of :func:`connect` is None; the ``need_*`` methods give a service the
    caller asked for (a programming error, not the user's, if it is missing).
    """

    board: BoardService | None = None
    chat: ChatService | None = None
    audience: AudienceService | None = None
    sandbox_url: str = ""
    # The sandbox was started in this process for this run: it stops with it, so its page
    # is not worth printing (``mcm-sync sandbox serve`` keeps one running).
    embedded: bool = False

    def need_board(self) -> BoardService:
        """The board service; connect() was asked for it (its name in ``services``)."""
        if self.board is None:
            raise RuntimeError("connect() was not asked for the board service")
        return self.board

    def need_chat(self) -> ChatService:
        """The chat service; connect() was asked for it (its name in ``services``)."""
        if self.chat is None:
            raise RuntimeError("connect() was not asked for the chat service")
        return self.chat

    def need_audience(self) -> AudienceService:
        """The audience service; connect() was asked for it (its name in ``services``)."""
        if self.audience is None:
            raise RuntimeError("connect() was not asked for the audience service")
        return self.audience


def _loopback_opener() -> OpenerDirector:
    """An opener without proxies: the sandbox is on loopback, and proxies from the environment
    would intercept. (urllib is imported here, not with the config, which the engine's texts
    import for the registry.)"""
    import urllib.request

    return urllib.request.build_opener(urllib.request.ProxyHandler({}))


def sandbox_data_dir(config: Config) -> Path:
    """Where the embedded sandbox keeps its data: beside the state store."""
    return config.state_path.parent / "sandbox"


@dataclass(frozen=True)
class RunningSandbox:
    """A sandbox some other process serves: where, and whether it emulates rate limits."""

    url: str
    rate_limits: bool = True


def announce_sandbox(data_dir: Path, url: str, rate_limits: bool) -> Path:
    """Write ``server.json`` beside the sandbox data so that runs of mcm-sync find the server."""
    info = data_dir / SERVER_INFO
    data_dir.mkdir(parents=True, exist_ok=True)
    info.write_text(json.dumps({"url": url, "rate_limits": rate_limits}), encoding="utf-8")
    return info


def running_sandbox(data_dir: Path) -> RunningSandbox | None:
    """The sandbox already serving ``data_dir`` (``mcm-sync sandbox serve``), if any.

    The server writes ``server.json`` beside its data; we trust it only if the server answers,
    so a stale file left by a killed server is ignored.
    """
    info_file = data_dir / SERVER_INFO
    try:
        info = json.loads(info_file.read_text(encoding="utf-8"))
        url = str(info["url"])
        # No proxy: the sandbox is on loopback, and proxies from the environment would intercept.
        opener = _loopback_opener()
        with opener.open(f"{url}/_sandbox/health", timeout=1) as answer:
            if answer.status != 200:
                return None
        return RunningSandbox(url, bool(info.get("rate_limits", True)))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def sandbox_credentials(url: str) -> dict[str, dict[str, str]]:
    """The coordinator's credentials a running sandbox issued (``GET /_sandbox/credentials``)."""
    opener = _loopback_opener()
    try:
        with opener.open(f"{url.rstrip('/')}/_sandbox/credentials", timeout=5) as answer:
            issued = dict(json.loads(answer.read()))
    except (OSError, ValueError) as error:
        raise UserError(f"the sandbox at {url} did not give its credentials ({error})",
                        hint="start it again with `mcm-sync sandbox serve`") from None
    # Sandbox credentials are masked like real ones: logs are shared, habits carry over.
    remember_secret(*(value for service in issued.values() if isinstance(service, dict)
                      for value in service.values() if isinstance(value, str)))
    return issued


def _sandbox_slack_window(url: str) -> float:
    """The seconds of a distributed Slack app's one history call on this sandbox (Slack's 60
    unless a test shortened it, ``/_sandbox/settings``), so the client paces as it limits."""
    opener = _loopback_opener()
    try:
        with opener.open(f"{url.rstrip('/')}/_sandbox/settings", timeout=5) as answer:
            window = json.loads(answer.read()).get("slack_app_window")
    except (OSError, ValueError, AttributeError):
        window = None
    return float(window) if isinstance(window, int | float) and window > 0 else 60.0
@dataclass(frozen=True)
class Secrets:
    """What proves a delivery genuine: Trello's app secret, Slack's signing secret, and the
    secret in the Mailchimp webhook URL."""

    trello: str
    slack: str
    mailchimp: str

    def __post_init__(self) -> None:
        remember_secret(self.trello, self.slack, self.mailchimp)  # never in a log line


# Where serve reads each secret when the config names none (doctor names them too).
SECRET_VARIABLES = {"trello": "TRELLO_APP_SECRET", "slack": "SLACK_SIGNING_SECRET",
                    "mailchimp": "MAILCHIMP_WEBHOOK_SECRET"}


def configured_secrets(config: Config, fallback: Secrets | None = None) -> Secrets:
    """The real services' secrets: the config's (``trello.app_secret``...), else
    ``fallback``, else the environment's (:data:`SECRET_VARIABLES`); "" where none is set."""
    base = fallback or Secrets(*(os.environ.get(v, "") for v in SECRET_VARIABLES.values()))

    def own(value: SecretStr | None, default: str) -> str:
        return value.get_secret_value() if value is not None else default

    return Secrets(own(config.trello.app_secret, base.trello),
                   own(config.slack.signing_secret, base.slack),
                   own(config.mailchimp.webhook_secret, base.mailchimp))


def _never_sleep(seconds: float) -> None:
    """Pacing off: a sandbox without rate limits has no window to stay under."""


def _secret(value: SecretStr | None, setting: str, variable: str) -> str:
    if value is None:
        raise UserError(f"{setting} is not set",
                        hint=f"set {variable} in the environment, or use sandbox: true to try "
                        "mcm-sync without accounts")
    return value.get_secret_value()


# ---------------------------------------------------------------------- the registry


@dataclass(frozen=True)
class Wiring:
    """What a service's factory makes its connector with, on the sandbox or the real service:
    the config, the sandbox's address and issued credentials (``sandbox_url`` "" for the real
    services), and the deployment's pacing (``limits`` None: no pacing across processes)."""

    config: Config
    sleep: Callable[[float], None]
    limits: RateLimits | None
    sandbox_url: str = ""
    issued: Mapping[str, Mapping[str, str]] = field(default_factory=dict)

    def url(self, sandbox_path: str, configured: str | None) -> str | None:
        """The service's base URL: its path on the sandbox, else the config's (None: the
        SDK's own)."""
        return f"{self.sandbox_url}{sandbox_path}" if self.sandbox_url else configured

    def secret(self, service: str, issued_as: str, configured: SecretStr | None, setting: str,
               variable: str) -> str:
        """A credential: the one the sandbox issued (``issued_as`` among ``service``'s), else
        the config's ``setting`` (read from ``variable`` when the config names none)."""
        if self.sandbox_url:
            return self.issued[service][issued_as]
        return _secret(configured, setting, variable)

    def pacing(self, setting: str) -> tuple[Callable[[float], None], RateLimits | None]:
        """The sleep and shared limits a service's pacer uses: the run's, unless the service's
        ``pacing`` setting is ``none`` (a ``base_url`` that limits nothing: a test server, a
        sandbox without rate limits), when nothing is paced. The sandbox mode decides by
        what the sandbox emulates, whatever the setting."""
        if setting == "none" and not self.sandbox_url:
            return _never_sleep, None
        return self.sleep, self.limits


S = TypeVar("S")


@dataclass(frozen=True)
class Registered(Generic[S]):
    """One service mcm-sync can connect to: its name (its connector's ``service_name``, the
    key under which it is stored and reported), what people call it, and how its connector is
    made (imported when it is asked for: the SDKs are a good part of a run's start-up)."""

    name: str
    title: str
    make: Callable[[Wiring], S]


@dataclass
class ServiceRegistry:
    """The services by role, each keyed by name: where :func:`connect` finds a service, so a
    second chat (or board, or audience) service is registered here, not chosen by ``if``s
    across the code."""

    board: dict[str, Registered[BoardService]] = field(default_factory=dict)
    chat: dict[str, Registered[ChatService]] = field(default_factory=dict)
    audience: dict[str, Registered[AudienceService]] = field(default_factory=dict)

    def names(self, roles: Sequence[str] = ("board", "chat", "audience")) -> tuple[str, ...]:
        """The registered services' names of ``roles`` (board services first, then chat,
        then audience)."""
        return tuple(self.titles(roles))

    def role_of(self, name: str) -> str:
        """``board``, ``chat`` or ``audience``: the role of the service called ``name``."""
        for role, found in (("board", self.board), ("chat", self.chat),
                            ("audience", self.audience)):
            if name in found:
                return role
        raise UserError(f"unknown service {name!r}",
                        hint=f"the services are: {', '.join(self.names())}")

    def titles(self, roles: Sequence[str] = ("board", "chat", "audience")) -> dict[str, str]:
        """What people call each service of ``roles``, by name (``{"trello": "Trello"}``)."""
        by_role: dict[str, Mapping[str, Registered[Any]]] = {
            "board": self.board, "chat": self.chat, "audience": self.audience}
        return {name: entry.title for role in roles for name, entry in by_role[role].items()}

    def add_connectors(self, connected: Connected, services: Sequence[str],
                       wiring: Wiring) -> None:
        """Make the connectors of ``services`` (names) on ``connected``, each in its role; one
        service per role."""
        for name in services:
            role = self.role_of(name)
            if getattr(connected, role) is not None:
                raise UserError(f"two {role} services asked for at once ({name} is one)",
                                hint=f"choose one {role} service")
            if role == "board":
                connected.board = self.board[name].make(wiring)
            elif role == "chat":
                connected.chat = self.chat[name].make(wiring)
            else:
                connected.audience = self.audience[name].make(wiring)


def _trello(wiring: Wiring) -> BoardService:
    from connectors.pacing import TrelloPacer
    from connectors.trello.connector import TrelloConnector

    settings = wiring.config.trello
    key = wiring.secret("trello", "api_key", settings.api_key, "trello.api_key",
                        "TRELLO_API_KEY")
    token = wiring.secret("trello", "token", settings.token, "trello.token", "TRELLO_TOKEN")
    sleep, limits = wiring.pacing(settings.pacing)
    return TrelloConnector(
        key, token, base_url=wiring.url("/trello", settings.base_url),
        pacer=TrelloPacer(sleep=sleep, limits=limits, api_key=key, token=token))


def _slack(wiring: Wiring) -> ChatService:
    from connectors.pacing import SlackPacer
    from connectors.rate_limits import SLACK_DISTRIBUTED_LIMIT
    from connectors.slack.connector import SlackConnector

    settings = wiring.config.slack
    bot = wiring.secret("slack", "bot_token", settings.token, "slack.token", "SLACK_BOT_TOKEN")
    # A distributed app's window: the sandbox's (a test may shorten it), else Slack's.
    window = (_sandbox_slack_window(wiring.sandbox_url) if wiring.sandbox_url
              else SLACK_DISTRIBUTED_LIMIT.seconds)
    sleep, limits = wiring.pacing(settings.pacing)
    return SlackConnector(
        bot, base_url=wiring.url("/slack/api/", settings.base_url),
        pacer=SlackPacer(sleep=sleep, limits=limits, token=bot,
                         windows=sleep is not _never_sleep),
        pacer_sleep=sleep, app_class=settings.app_distribution,
        distributed_window=window)


def _mailchimp(wiring: Wiring) -> AudienceService:
    from connectors.mailchimp.connector import MailchimpConnector
    from connectors.pacing import ConnectionGate

    settings = wiring.config.mailchimp
    api_key = wiring.secret("mailchimp", "api_key", settings.api_key, "mailchimp.api_key",
                            "MAILCHIMP_API_KEY")
    return MailchimpConnector(
        api_key, server="us1" if wiring.sandbox_url else settings.server,
        base_url=wiring.url("/mailchimp/3.0", settings.base_url),
        # Without shared limits (a sandbox that emulates none) nothing gates connections.
        pacer=ConnectionGate(limits=wiring.limits, api_key=api_key) if wiring.limits else None)


SERVICES = ServiceRegistry()
SERVICES.board["trello"] = Registered("trello", "Trello", _trello)
SERVICES.chat["slack"] = Registered("slack", "Slack", _slack)
SERVICES.audience["mailchimp"] = Registered("mailchimp", "Mailchimp", _mailchimp)
ALL_SERVICES = SERVICES.names()


@contextlib.contextmanager
def connect(config: Config, services: Sequence[str] | None = None, *,
            sandbox: bool | None = None, sandbox_url: str | None = None) -> Iterator[Connected]:
    """Yield the connectors for ``services`` (registered names; None: every registered
    service), each in its role; stops an embedded sandbox afterwards.

    ``sandbox_url`` points at an already running sandbox (``mcm-sync sandbox serve``) instead
    of starting one in-process.
    """
    from sync.limits import limits_for

    services = ALL_SERVICES if services is None else services
    use_sandbox = config.sandbox if sandbox is None else sandbox
    server = None
    try:
        if use_sandbox:
            found = (RunningSandbox(sandbox_url) if sandbox_url
                     else running_sandbox(sandbox_data_dir(config)))
            if found is None:
                from connectors.sandbox.core.server import SandboxServer

                server = SandboxServer(port=0, data_dir=sandbox_data_dir(config))
                server.start()
                found = RunningSandbox(server.url, rate_limits=True)
            base = found.url.rstrip("/")
            issued = sandbox_credentials(base)
            connected = Connected(sandbox_url=base, embedded=server is not None)
            # Pace as for the real services only where the sandbox emulates their limits (and
            # then across the deployment, as the vendors count).
            sleep = time.sleep if found.rate_limits else _never_sleep
            limits = limits_for(config.state_url) if found.rate_limits else None
            SERVICES.add_connectors(connected, services,
                                    Wiring(config, sleep, limits, sandbox_url=base, issued=issued))
            yield connected
            return
        connected = Connected()
        SERVICES.add_connectors(connected, services,
                                Wiring(config, time.sleep, limits_for(config.state_url)))
        yield connected
    finally:
        if server is not None:
            server.stop()
