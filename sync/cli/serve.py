"""``mcm-sync serve``: receive Trello webhooks, Slack events and Mailchimp webhooks in real time."""

from __future__ import annotations

import os
import signal

import click

from sync.cli.app import AppContext, pass_app
from sync.core.errors import UserError
from sync.reports.digest import parse_duration
from sync.serve.hooks import Secrets
from sync.serve.server import ServeOptions, Service

SECRET_VARIABLES = {"trello": "TRELLO_APP_SECRET", "slack": "SLACK_SIGNING_SECRET",
                    "mailchimp": "MAILCHIMP_WEBHOOK_SECRET"}


def _secrets(use_sandbox: bool, socket_mode: bool) -> Secrets | None:
    """The three secrets from the environment; on the sandbox, None: the service asks the
    sandbox for the ones it issued."""
    if use_sandbox:
        return None
    found = {name: os.environ.get(variable, "") for name, variable in SECRET_VARIABLES.items()}
    needed = ("trello",) if socket_mode else ("trello", "slack")
    missing = [SECRET_VARIABLES[n] for n in needed if not found[n]]
    if missing:
        raise UserError(f"serve needs {' and '.join(missing)} to verify deliveries",
                        hint="Trello's app secret is on https://trello.com/app-key; Slack's "
                        "signing secret on the app's Basic Information page")
    return Secrets(**found)


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option("--port", default=8080, show_default=True, type=int, help="Port (0: any free).")
@click.option("--public-url", default="", help="The URL Trello and Slack call (https://... "
              "behind a reverse proxy); default http://HOST:PORT.")
@click.option("--reconcile-every", default="15m", show_default=True,
              help="The backstop sync's interval (30s..24h), or 'off'.")
@click.option("--no-register", is_flag=True, help="Do not register the Trello webhook (or the "
              "sandbox's Slack app URLs).")
@click.option("--socket-mode", is_flag=True, help="Slack over Socket Mode (no public URL "
              "needed; app-level token in SLACK_APP_TOKEN).")
@click.option("--sandbox/--no-sandbox", default=None, help="Override the config's sandbox switch.")
@pass_app
def serve(app: AppContext, host: str, port: int, public_url: str, reconcile_every: str,
          no_register: bool, socket_mode: bool, sandbox: bool | None) -> None:
    """Serve the webhook endpoints until Ctrl-C or SIGTERM (see README: Real time).

    Endpoints: /healthz, /hooks/trello, /hooks/slack/events, /hooks/slack/interactive,
    /hooks/slack/commands, /hooks/mailchimp/<secret>. Secrets come from TRELLO_APP_SECRET,
    SLACK_SIGNING_SECRET and MAILCHIMP_WEBHOOK_SECRET (the sandbox's own on a sandbox).
    """
    every = (None if reconcile_every == "off"
             else parse_duration(reconcile_every, "--reconcile-every").total_seconds())
    use_sandbox = app.config.sandbox if sandbox is None else sandbox
    app_token = os.environ.get("SLACK_APP_TOKEN", "") if socket_mode else ""
    if socket_mode and not app_token:
        raise UserError("--socket-mode needs SLACK_APP_TOKEN (an app-level xapp- token)",
                        hint="create it on the Slack app's Basic Information page, scope "
                        "connections:write")
    options = ServeOptions(host=host, port=port, public_url=public_url,
                           secrets=_secrets(use_sandbox, socket_mode), reconcile_every=every,
                           register=not no_register, sandbox=sandbox,
                           socket_mode_token=app_token)
    service = Service(app.alliance, options)
    previous = signal.signal(signal.SIGTERM, lambda *_: service.stop())
    try:
        service.start()
        click.echo(f"serving on {service.url} (public URL {service.public_url})")
        for path in ("/healthz", "/hooks/trello", "/hooks/slack/events",
                     "/hooks/slack/interactive", "/hooks/slack/commands"):
            click.echo(f"  {service.public_url}{path}")
        click.echo("press Ctrl-C to stop")
        service.wait()
    except KeyboardInterrupt:
        pass
    finally:
        service.stop()
        signal.signal(signal.SIGTERM, previous)
