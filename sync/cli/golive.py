"""CLI of ``mcm-sync go-live``: take a trial's state store from the sandbox to the real services."""

from __future__ import annotations

import click

from sync.cli.app import AppContext, echo_json, pass_app


def _counts(counts: dict[str, int]) -> str:
    shown = [f"{n} {what}" for what, n in counts.items() if n]
    return ", ".join(shown) or "nothing"


@click.command("go-live")
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
    if outcome.nothing_to_do:
        click.echo(f"go-live: the state store already belongs to the {outcome.to_mode} "
                   "services: nothing to set aside")
        return
    verb = "would keep" if dry_run else "kept"
    click.echo(f"go-live ({outcome.from_mode} -> {outcome.to_mode}): {verb} "
               f"{_counts(outcome.kept)}")
    click.echo(f"  {'would set' if dry_run else 'set'} aside: {_counts(outcome.set_aside)}")
    if dry_run:
        click.echo("nothing written (dry run); without --dry-run a copy of the store is kept "
                   "first")
        return
    click.echo(f"  copy of the old store: {outcome.backup}")
    click.echo(f"next: mcm-sync -c {app.config_path or 'mcm-sync.yaml'} doctor, then bootstrap")
