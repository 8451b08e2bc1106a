"""CLI commands that reach the services: ``sandbox serve``, ``plan``, ``bootstrap``."""

from __future__ import annotations

import gettext
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from sync.api.services import ALL_SERVICES, SERVER_INFO, announce_sandbox, sandbox_data_dir
from sync.cli.app import AppContext, echo_json, pass_app
from sync.cli.support.helptext import HelpCommand, HelpGroup
from sync.cli.support.i18n import N_, texts
from sync.cli.support.messages import translate_text
from sync.core.errors import UserError

if TYPE_CHECKING:
    from sync.api.services import BootstrapResult, Plan


def _services_option(value: str | None) -> tuple[str, ...]:
    if value is None:
        return ALL_SERVICES
    chosen = tuple(part.strip() for part in value.split(",") if part.strip())
    if not chosen:
        raise UserError(f"--only {value!r} names no service",
                        hint="use a comma list of trello, slack, mailchimp, or leave --only out")
    unknown = [name for name in chosen if name not in ALL_SERVICES]
    if unknown:
        raise UserError(f"unknown service {', '.join(unknown)} in --only",
                        hint="use a comma list of trello, slack, mailchimp")
    return chosen


# The plan's actions as the coordinator reads them (``--json`` keeps the English keys).
ACTIONS = {"create": N_("create"), "adopt": N_("adopt"), "complete": N_("complete"),
           "update": N_("update"), "nothing": N_("nothing")}


def _action(action: str, t: gettext.NullTranslations) -> str:
    return t.gettext(ACTIONS[action]) if action in ACTIONS else action


def _print_plan(plan: Plan, t: gettext.NullTranslations) -> None:
    symbols = {"create": "+", "adopt": "=", "complete": "~", "update": "~", "nothing": " "}
    app = click.get_current_context().find_object(AppContext)
    verbose = bool(app and app.verbose)
    width = max([len(_action(action, t)) for action in ACTIONS] + [8])
    for change in plan.changes:
        if change.action != "nothing" or verbose:
            click.echo(f"{symbols[change.action]} {change.service:9} {change.kind:11} "
                       f"{_action(change.action, t):{width}} {change.detail}")
    for service, counts in plan.counts().items():
        summary = ", ".join(f"{n} {_action(action, t)}" for action, n in sorted(counts.items()))
        click.echo(f"{service}: {summary}")


@click.command(cls=HelpCommand)
@click.option("--only", help="Comma list of services: trello,slack,mailchimp.")
@click.option("--sandbox/--no-sandbox", default=None, help="Override the config's sandbox switch.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable plan.")
@pass_app
def plan(app: AppContext, only: str | None, sandbox: bool | None, as_json: bool) -> None:
    """Show what bootstrap would do, per service, without writing anything."""
    result = app.alliance.plan(only=_services_option(only), sandbox=sandbox)
    if as_json:
        echo_json({"changes": [c.as_dict() for c in result.plan.changes],
                   "counts": result.plan.counts()})
    else:
        _print_plan(result.plan, app.texts)


def _summary(result: BootstrapResult, sandbox_url: str) -> dict[str, Any]:
    return {"applied": result.applied, "links": result.links, "unresolved": result.unresolved,
            "pending": result.pending, "sandbox_page": f"{sandbox_url}/" if sandbox_url else ""}


@click.command(cls=HelpCommand)
@click.option("--dry-run", is_flag=True, help="Only show the plan (same as `mcm-sync plan`).")
@click.option("--only", help="Comma list of services: trello,slack,mailchimp.")
@click.option("--sandbox/--no-sandbox", default=None, help="Override the config's sandbox switch.")
@click.option("--adopt", is_flag=True, help="Rebuild a lost (empty or corrupt) state store: set "
              "it aside and adopt what exists in Trello, Slack and Mailchimp.")
@click.option("--allow-large", is_flag=True, help="Go on above sync.max_items items (each "
              "is a card and a message).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable summary.")
@pass_app
def bootstrap(app: AppContext, dry_run: bool, only: str | None, sandbox: bool | None,
              adopt: bool, allow_large: bool, as_json: bool) -> None:
    """Create the alliance's board, channels and audience; never anything twice.

    Takes the alliance's lock: a second writer is refused (exit 2) naming the holder. More
    than sync.max_items items are refused (exit 2) before any call, unless --allow-large.
    """
    services = _services_option(only)
    app.alliance.allow_large = allow_large
    if dry_run:
        planned = app.alliance.plan(only=services, sandbox=sandbox)
        if as_json:
            echo_json({"changes": [c.as_dict() for c in planned.plan.changes]})
        else:
            _print_plan(planned.plan, app.texts)
        return
    app.alliance.validate()  # every input checked before the first remote call
    console = Console(stderr=True)
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  console=console, transient=True,
                  disable=as_json or not console.is_terminal) as progress:
        task = progress.add_task("bootstrap", total=None)

        def tick(done: int, total: int, what: str) -> None:
            progress.update(task, completed=done, total=total,
                            description=f"bootstrap: {what}")

        run = app.alliance.bootstrap(only=services, sandbox=sandbox, progress=tick,
                                     adopt=adopt)
    result, url = run.result, run.sandbox_url
    t = app.texts
    if run.set_aside is not None:
        click.echo(t.gettext("set the unusable state store aside as %(path)s; state rebuilt by "
                             "adopting what exists") % {"path": run.set_aside}, err=True)
    if as_json:
        echo_json(_summary(result, url))
        return
    creates = result.creates()
    counts = ", ".join(f"{n} {_action(a, t)}" for a, n in sorted(result.applied.items()))
    click.echo(t.gettext("bootstrap done: %(counts)s") % {"counts": counts}
               + ("" if creates else t.gettext(" (nothing created)")))
    for name, link in result.links.items():
        click.echo(f"  {name}: {link}")
    if url:
        click.echo("  " + t.gettext("sandbox page: %(url)s") % {"url": f"{url}/"})
    elif run.embedded_sandbox:
        click.echo("  " + t.gettext("sandbox: this run's own, stopped with it; to see the "
                                    "board, channels and audience, run `mcm-sync sandbox "
                                    "serve` and open the page it prints"))
    for line in result.pending:
        click.echo(t.gettext("pending: %(line)s") % {"line": translate_text(line, t)})
    for line in result.unresolved:
        click.echo(t.gettext("unresolved: %(line)s") % {"line": translate_text(line, t)},
                   err=True)


@contextmanager
def _until_stopped() -> Iterator[threading.Event]:
    """SIGTERM (a service manager's stop) sets the event; handler in place before we announce.

    Installed first so that a supervisor stopping us the moment it reads our URLs gets a
    clean stop rather than the default action (killed mid-way, server.json left behind).
    """
    stop = threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        yield stop
    finally:
        signal.signal(signal.SIGTERM, previous)


@click.group(cls=HelpGroup)
def sandbox() -> None:
    """The embedded sandbox: local emulators of Trello, Slack and Mailchimp."""


@sandbox.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Loopback address to bind.")
@click.option("--port", default=8765, show_default=True, type=click.IntRange(0, 65535),
              help="Port 1-65535 (0: any free).")
@click.option("--data", "data_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Data folder (default: the config's, else .mcm-sync/sandbox).")
@click.option("--rate-limits/--no-rate-limits", default=True, show_default=True,
              help="Emulate the vendors' rate limits.")
@click.option("--slack-app", "slack_app", type=click.Choice(["internal", "distributed"]),
              default="internal", show_default=True,
              help="The Slack app's class: distributed = outside the Marketplace (history "
                   "and replies at 1 call a minute, 15 messages a page).")
@click.option("--allow-remote", is_flag=True, help="Allow binding a non-loopback address.")
@pass_app
def sandbox_serve(app: AppContext, host: str, port: int, data_dir: Path | None,
                  rate_limits: bool, slack_app: str, allow_remote: bool) -> None:
    """Run the sandbox in the foreground until Ctrl-C (prints the three base URLs)."""
    from sync.api.services import start_sandbox

    config_file = app.config_path
    has_config = bool(config_file and config_file.exists())
    if data_dir is None:
        data_dir = sandbox_data_dir(app.config) if has_config else Path(".mcm-sync/sandbox")
    server = start_sandbox(host=host, port=port, data_dir=data_dir, rate_limits=rate_limits,
                           allow_remote=allow_remote, slack_app=slack_app)
    info = data_dir / SERVER_INFO
    with _until_stopped() as stop:
        server.start()
        try:
            announce_sandbox(data_dir, server.url, rate_limits)
            t = texts(app.config.alliance.language if has_config else None)
            click.echo(t.gettext("sandbox page: %(url)s") % {"url": f"{server.url}/"})
            for service, base in server.base_urls.items():
                click.echo(f"{service:10} {base}")
            click.echo(t.gettext("press Ctrl-C to stop"))
            while not stop.wait(0.5):
                pass
        except KeyboardInterrupt:
            pass
        finally:
            info.unlink(missing_ok=True)
            server.stop()
