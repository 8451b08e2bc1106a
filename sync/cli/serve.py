"""``mcm-sync serve``: receive Trello webhooks, Slack events and Mailchimp webhooks in real time."""

from __future__ import annotations

import gettext
import os
import signal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from sync.api import hosting
from sync.api.inputs import checks, parse_duration
from sync.api.services import SECRET_VARIABLES, Secrets, configured_secrets
from sync.cli.app import AppContext, pass_app
from sync.cli.support.helptext import HelpCommand
from sync.cli.support.i18n import texts
from sync.cli.worker import DATABASE_ENV, _database_url, _folder
from sync.core.errors import UserError

if TYPE_CHECKING:
    from sync.api.config import Config

ENDPOINTS = ("/healthz", "/hooks/trello", "/hooks/slack/events", "/hooks/slack/interactive",
             "/hooks/slack/commands")


# The backstop sync re-reads the whole board, channel and audience: more often than this would
# spend the vendors' rate limits on nothing (deliveries carry the changes in real time).
SHORTEST_RECONCILE = 30
LONGEST_RECONCILE = 24 * 3600


def _public_url(ctx: click.Context, param: click.Parameter, value: str) -> str:
    """--public-url: an absolute http(s) URL, checked before anything is called."""
    if not value:
        return value
    try:
        return checks.http_url(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not an http(s) URL: give the address the "
                                 "vendors call, e.g. https://hooks.example.org behind a reverse "
                                 "proxy") from None


def _reconcile_seconds(text: str) -> float:
    """--reconcile-every as seconds, between 30 s and 24 h."""
    seconds = parse_duration(text, "--reconcile-every").total_seconds()
    if not SHORTEST_RECONCILE <= seconds <= LONGEST_RECONCILE:
        raise UserError(f"--reconcile-every {text}: between 30s and 24h",
                        hint="deliveries come in real time; the backstop only catches what "
                        "never arrived (15m is usual), or 'off'")
    return seconds


def _secrets(config: Config, use_sandbox: bool, socket_mode: bool) -> Secrets | None:
    """The three secrets from the config's settings, else the environment; on the sandbox,
    None: the service asks the sandbox for the ones it issued."""
    if use_sandbox:
        return None
    found = configured_secrets(config)
    needed = ("trello",) if socket_mode else ("trello", "slack")
    missing = [SECRET_VARIABLES[n] for n in needed if not getattr(found, n)]
    if missing:
        raise UserError(f"serve needs {' and '.join(missing)} to verify deliveries",
                        hint="Trello's app secret is on https://trello.com/app-key; Slack's "
                        "signing secret on the app's Basic Information page")
    return found


@click.command("serve", cls=HelpCommand)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option("--port", default=8080, show_default=True, type=click.IntRange(0, 65535),
              help="Port (0: any free).")
@click.option("--public-url", default="", callback=_public_url,
              help="The URL Trello and Slack call (https://... behind a reverse proxy); "
              "default http://HOST:PORT.")
@click.option("--reconcile-every", default="15m", show_default=True,
              help="The backstop sync's interval (30s..24h), or 'off'.")
@click.option("--no-register", is_flag=True, help="Do not register the Trello webhook (or the "
              "sandbox's Slack app URLs).")
@click.option("--socket-mode", is_flag=True, help="Slack over Socket Mode (no public URL "
              "needed; app-level token in SLACK_APP_TOKEN).")
@click.option("--sandbox/--no-sandbox", default=None, help="Override the config's sandbox switch.")
@click.option("--alliances", "folder", type=click.Path(file_okay=False, path_type=Path),
              default=None, help="Serve every alliance of this folder (one config per "
              "alliance): route, store and wake the workers; `mcm-sync worker` processes.")
@click.option("--database", default=None, help="With --alliances: the workers' PostgreSQL "
              f"job engine, to defer each delivery's drain (default ${DATABASE_ENV}; without "
              "it, a lone worker looks at the queues).")
@pass_app
def serve(app: AppContext, host: str, port: int, public_url: str, reconcile_every: str,
          no_register: bool, socket_mode: bool, sandbox: bool | None, folder: Path | None,
          database: str | None) -> None:
    """Serve the webhook endpoints until Ctrl-C or SIGTERM (see docs/realtime.md).

    Endpoints: /healthz, /hooks/trello, /hooks/slack/events, /hooks/slack/interactive,
    /hooks/slack/commands, /hooks/mailchimp/<secret>. Secrets come from TRELLO_APP_SECRET,
    SLACK_SIGNING_SECRET and MAILCHIMP_WEBHOOK_SECRET (the sandbox's own on a sandbox).

    With --alliances DIR, one front for every alliance of the folder (see
    docs/hosting.md): Trello calls /hooks/trello/<name> (the config file's name); each
    alliance's secrets come from its config (trello.app_secret, slack.signing_secret,
    mailchimp.webhook_secret), else from the variables above.
    """
    if folder is not None:
        if app.config_path is not None:
            raise UserError("serve takes either -c CONFIG (one alliance) or --alliances DIR "
                            "(every alliance of a folder), not both",
                            hint="drop -c to serve the folder's alliances")
        if socket_mode or sandbox is not None or reconcile_every != "15m":
            raise UserError("--socket-mode, --sandbox and --reconcile-every are for one "
                            "alliance (-c); with --alliances the workers run the schedules",
                            hint="run `mcm-sync worker --alliances DIR` beside this front")
        _serve_folder(_folder(folder), _database_url(database), host=host, port=port,
                      public_url=public_url, register=not no_register)
        return
    if database is not None:
        raise UserError("--database goes with --alliances",
                        hint="one alliance's state store is set in its config (state.url)")
    every = None if reconcile_every == "off" else _reconcile_seconds(reconcile_every)
    use_sandbox = app.config.sandbox if sandbox is None else sandbox
    t = app.texts
    if app.config.real_time == "none":
        click.echo(t.gettext("warning: %(warning)s") % {"warning": t.gettext(
            "real_time is none in the config, so item messages carry no status buttons; set "
            "real_time: %(mode)s for them (docs/going-live.md)")
            % {"mode": "socket_mode" if socket_mode else "serve"}}, err=True)
    app_token = os.environ.get("SLACK_APP_TOKEN", "") if socket_mode else ""
    if socket_mode and not app_token:
        raise UserError("--socket-mode needs SLACK_APP_TOKEN (an app-level xapp- token)",
                        hint="create it on the Slack app's Basic Information page, scope "
                        "connections:write")
    options = hosting.ServeOptions(host=host, port=port, public_url=public_url,
                                   secrets=_secrets(app.config, use_sandbox, socket_mode),
                                   reconcile_every=every,
                                   register=not no_register, sandbox=sandbox,
                                   socket_mode_token=app_token)
    _run(hosting.serve(app.alliance, options), ENDPOINTS, t)


def _serve_folder(folder: Path, database: str | None, *, host: str, port: int,
                  public_url: str, register: bool) -> None:
    """``serve --alliances``: the front; the environment's secrets are only a fallback."""
    found = {name: os.environ.get(variable, "") for name, variable in SECRET_VARIABLES.items()}
    options = hosting.ServeOptions(host=host, port=port, public_url=public_url,
                                   secrets=Secrets(**found), register=register)
    front = hosting.front(folder, options, database=database)
    t = texts()  # many alliances: the variable or the locale chooses
    _run(front, ("/healthz", "/hooks/trello/<alliance>", *ENDPOINTS[2:]), t)
    served = len(front.router.table.routes)
    click.echo(t.ngettext("served %(n)d alliance; registered %(registered)d",
                          "served %(n)d alliances; registered %(registered)d", served)
               % {"n": served, "registered": len(front.registered)})


def _run(service: Any, endpoints: tuple[str, ...], t: gettext.NullTranslations) -> None:
    """Start ``service``, print where it listens, serve until Ctrl-C or SIGTERM."""
    previous = signal.signal(signal.SIGTERM, lambda *_: service.stop())
    try:
        service.start()
        click.echo(t.gettext("serving on %(url)s (public URL %(public)s)")
                   % {"url": service.url, "public": service.public_url})
        for path in endpoints:
            click.echo(f"  {service.public_url}{path}")
        click.echo(t.gettext("press Ctrl-C to stop"))
        service.wait()
    except KeyboardInterrupt:
        pass
    finally:
        service.stop()
        signal.signal(signal.SIGTERM, previous)
