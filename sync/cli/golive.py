"""CLI of ``mcm-sync go-live``: take a trial's state store from the sandbox to the real services."""

from __future__ import annotations

import gettext

import click

from sync.cli.app import AppContext, echo_json, pass_app
from sync.cli.support.helptext import HelpCommand


def _counts(counts: dict[str, int], t: gettext.NullTranslations) -> str:
    shown = [f"{n} {what}" for what, n in counts.items() if n]
    return ", ".join(shown) or t.gettext("nothing")


@click.command("go-live", cls=HelpCommand)
@click.option("--dry-run", is_flag=True, help="Only say what would be kept and set aside.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable summary.")
@pass_app
def go_live(app: AppContext, dry_run: bool, as_json: bool) -> None:
    """Take the trial's state store from the sandbox to the real services (or back).

    After setting `sandbox: false`: keep the alliance's items, stakeholders with their consent,
    minutes, meeting dates, decisions and audit trail; set the sandbox's board, channel,
    audience and webhook ids, journal, event queue and bookmarks aside. A full copy of the store
    is kept first (its place is printed); everything is done in one transaction. Then run
    `mcm-sync doctor` and `mcm-sync bootstrap` against the real services.

    Exit codes: 0 done (or nothing to do), 2 the store is missing, locked or another
    alliance's."""
    outcome = app.alliance.go_live(dry_run=dry_run)
    if as_json:
        echo_json(outcome.as_dict())
        return
    t = app.texts
    if outcome.nothing_to_do:
        click.echo(t.gettext("go-live: the state store already belongs to the %(mode)s "
                             "services: nothing to set aside") % {"mode": outcome.to_mode})
        return
    values = {"from": outcome.from_mode, "to": outcome.to_mode,
              "kept": _counts(outcome.kept, t), "aside": _counts(outcome.set_aside, t)}
    if dry_run:
        click.echo(t.gettext("go-live (%(from)s -> %(to)s): would keep %(kept)s") % values)
        click.echo("  " + t.gettext("would set aside: %(aside)s") % values)
        click.echo(t.gettext("nothing written (dry run); without --dry-run a copy of the store "
                             "is kept first"))
        return
    click.echo(t.gettext("go-live (%(from)s -> %(to)s): kept %(kept)s") % values)
    click.echo("  " + t.gettext("set aside: %(aside)s") % values)
    click.echo("  " + t.gettext("copy of the old store: %(path)s") % {"path": outcome.backup})
    click.echo(t.gettext("next: mcm-sync -c %(config)s doctor, then bootstrap")
               % {"config": app.config_path or "mcm-sync.yaml"})
