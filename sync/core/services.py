"""Build the connectors of a run from the config, on the real services or the sandbox.

With ``sandbox: true`` (or ``--sandbox``) an in-process sandbox server is started on a free
loopback port, with its data in ``<state folder>/sandbox`` so that what bootstrap made today is
there tomorrow, and the connectors are pointed at it with the credentials that sandbox
issued (``GET /_sandbox/credentials``, loopback only): it refuses any other, as the vendors
do. Otherwise the config's secrets and optional ``base_url`` settings are used.

The secrets that prove a webhook delivery genuine (:class:`Secrets`: the config's, else the
environment's) are read here too, so that ``serve`` verifies with them and ``doctor`` checks
them from one place.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from connectors.masking import remember_secret
from connectors.rate_limits import SLACK_DISTRIBUTED_LIMIT
from sync.core.config import Config
from sync.core.errors import UserError

if TYPE_CHECKING:  # the connectors are imported when connecting, not with the config
    from pydantic import SecretStr

    from connectors.limits import RateLimits
    from connectors.roles import AudienceService, BoardService, ChatService

ALL_SERVICES = ("trello", "slack", "mailchimp")
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
        """The board service; connect() was asked for it (``"trello"`` in ``services``)."""
        if self.board is None:
            raise RuntimeError("connect() was not asked for the board service")
        return self.board

    def need_chat(self) -> ChatService:
        """The chat service; connect() was asked for it (``"slack"`` in ``services``)."""
        if self.chat is None:
            raise RuntimeError("connect() was not asked for the chat service")
        return self.chat

    def need_audience(self) -> AudienceService:
        """The audience service; connect() was asked for it (``"mailchimp"`` in ``services``)."""
        if self.audience is None:
            raise RuntimeError("connect() was not asked for the audience service")
        return self.audience


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
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with opener.open(f"{url}/_sandbox/health", timeout=1) as answer:
            if answer.status != 200:
                return None
        return RunningSandbox(url, bool(info.get("rate_limits", True)))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def sandbox_credentials(url: str) -> dict[str, dict[str, str]]:
    """The coordinator's credentials a running sandbox issued (``GET /_sandbox/credentials``)."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
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
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
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


# Where each credential of the real services is read when the config names none, and its
# name among the sandbox's issued credentials.
_VARIABLES = {"trello.api_key": "TRELLO_API_KEY", "trello.token": "TRELLO_TOKEN",
              "slack.token": "SLACK_BOT_TOKEN", "mailchimp.api_key": "MAILCHIMP_API_KEY"}
_ISSUED = {"trello.api_key": "api_key", "trello.token": "token", "slack.token": "bot_token",
           "mailchimp.api_key": "api_key"}


def _add_connectors(connected: Connected, services: Sequence[str],
                    credential: Callable[[str], str], *,
                    base_urls: tuple[str | None, str | None, str | None],
                    mailchimp_server: str, slack_app: str, sleep: Callable[[float], None],
                    limits: RateLimits | None, slack_window: Callable[[], float]) -> None:
    """Make the connectors of ``services`` on ``connected``, the sandbox's and the real
    services' alike: ``credential(setting)`` gives a secret and ``slack_window()`` a distributed
    Slack app's window (each asked only for a service asked for), ``limits`` the deployment's
    shared pacing (None: no pacing across processes)."""
    # Imported here, and Mailchimp's only when it is asked for (a sync without an audience to
    # push never is): the SDKs are a good part of a run's start-up.
    from connectors.pacing import ConnectionGate, SlackPacer, TrelloPacer
    from connectors.slack.connector import SlackConnector
    from connectors.trello.connector import TrelloConnector

    trello_url, slack_url, mailchimp_url = base_urls
    if "trello" in services:
        key, token = credential("trello.api_key"), credential("trello.token")
        connected.board = TrelloConnector(
            key, token, base_url=trello_url,
            pacer=TrelloPacer(sleep=sleep, limits=limits, api_key=key, token=token))
    if "slack" in services:
        bot = credential("slack.token")
        connected.chat = SlackConnector(
            bot, base_url=slack_url,
            pacer=SlackPacer(sleep=sleep, limits=limits, token=bot,
                             windows=sleep is not _never_sleep), pacer_sleep=sleep,
            app_class=slack_app, distributed_window=slack_window())
    if "mailchimp" in services:
        from connectors.mailchimp.connector import MailchimpConnector

        api_key = credential("mailchimp.api_key")
        connected.audience = MailchimpConnector(
            api_key, server=mailchimp_server, base_url=mailchimp_url,
            # Without shared limits (a sandbox that emulates none) nothing gates connections.
            pacer=ConnectionGate(limits=limits, api_key=api_key) if limits else None)


@contextlib.contextmanager
def connect(config: Config, services: Sequence[str] = ALL_SERVICES, *,
            sandbox: bool | None = None, sandbox_url: str | None = None) -> Iterator[Connected]:
    """Yield the connectors for ``services``; stops an embedded sandbox afterwards.

    ``sandbox_url`` points at an already running sandbox (``mcm-sync sandbox serve``) instead
    of starting one in-process.
    """
    from sync.limits import limits_for

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
            _add_connectors(
                connected, services,
                lambda setting: issued[setting.partition(".")[0]][_ISSUED[setting]],
                base_urls=(f"{base}/trello", f"{base}/slack/api/", f"{base}/mailchimp/3.0"),
                mailchimp_server="us1", slack_app=config.slack.app_distribution,
                sleep=sleep, limits=limits, slack_window=lambda: _sandbox_slack_window(base))
            yield connected
            return
        connected = Connected()

        def configured(setting: str) -> str:
            service, _, key = setting.partition(".")
            return _secret(getattr(getattr(config, service), key), setting, _VARIABLES[setting])

        _add_connectors(
            connected, services, configured,
            base_urls=(config.trello.base_url, config.slack.base_url, config.mailchimp.base_url),
            mailchimp_server=config.mailchimp.server, slack_app=config.slack.app_distribution,
            sleep=time.sleep, limits=limits_for(config.state_url),
            slack_window=lambda: SLACK_DISTRIBUTED_LIMIT.seconds)
        yield connected
    finally:
        if server is not None:
            server.stop()
