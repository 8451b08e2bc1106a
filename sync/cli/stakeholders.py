"""CLI commands of the stakeholder database: ``stakeholders``, ``forget``, ``newsletter``.

Thin by design: parse, open the state store, call ``sync.audience.stakeholders`` /
``sync.audience.apply``
/ ``sync.audience.forget`` / ``sync.audience.newsletter``, print. Errors are raised as
``McmSyncError`` and turned into messages and exit codes by :class:`sync.cli.app.McmGroup`.
"""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path
from typing import Any

import click

from sync.audience.apply import push
from sync.audience.forget import forget as forget_person
from sync.audience.forget import plan_forget
from sync.audience.newsletter import build, create_draft
from sync.audience.stakeholders import (
    audience_state,
    export_file,
    export_text,
    import_file,
    summary,
)
from sync.audience.store import StakeholderStore
from sync.cli.app import AppContext, echo_json, pass_app
from sync.cli.support.params import DATE
from sync.core.config import Config
from sync.core.errors import RemoteError, UserError
from sync.core.plural import plural
from sync.core.services import connect
from sync.state.store import StateStore

_SANDBOX = click.option(
    "--sandbox/--no-sandbox", default=None, help="Override the config's sandbox switch."
)


def _audience_id(config: Config, store: StateStore) -> str:
    found = store.get_resource("mailchimp", "audience", "audience")
    audience_id = found.remote_id if found else config.mailchimp.audience_id
    if not audience_id:
        raise UserError(
            "no Mailchimp audience yet",
            hint="run `mcm-sync bootstrap` first (or set mailchimp.audience_id)",
        )
    return audience_id


def _sector_titles(app: AppContext) -> dict[str, str]:
    return dict(app.alliance.playbook.facts.sectors)


@click.group()
def stakeholders() -> None:
    """The stakeholder database (the guide's template) and its Mailchimp audience."""


@stakeholders.command("import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--skip-invalid", is_flag=True, help="Import the good rows, list the bad ones.")
@click.option("--dry-run", is_flag=True, help="Validate and count; store nothing.")
@click.option("--yes", is_flag=True, help="Apply changes of people's newsletter consent.")
@pass_app
def import_command(app: AppContext, file: Path, skip_invalid: bool, dry_run: bool,
                   yes: bool) -> None:
    """Import a CSV file (UTF-8, header row); every row is validated first.

    Blank cells keep what the database holds. Changing someone's consent needs --yes.
    """
    titles = {title: key for key, title in _sector_titles(app).items()}
    with app.alliance.store() if dry_run else app.alliance.writing() as store:
        report = import_file(
            StakeholderStore(store),
            file,
            skip_invalid=skip_invalid,
            dry_run=dry_run,
            sector_names=titles,
            allow_consent_changes=yes,
        )
    for change in report.consent_changes:
        click.echo(f"consent: {file}: {change}", err=True)
    if report.held:
        count = len(report.consent_changes)
        raise UserError(f"{file}: the import would change the consent of {count} "
                        f"{'person' if count == 1 else 'people'}; nothing was imported",
                        hint="check the lines above, then run again with --yes")
    for problem in report.skipped:
        click.echo(f"skipped: {problem}", err=True)
    for moved in report.moved_rows:
        click.echo(f"moved: {file}: {moved}", err=True)
    for row in report.erased_rows:
        click.echo(
            f"erased: {file}: row {row} was erased on request (forget); not imported", err=True
        )
    counts = report.counts
    verb = "would import" if dry_run else "imported"
    click.echo(
        f"{verb} {file}: {counts.added} new, {counts.updated} changed, "
        f"{counts.unchanged} unchanged, {len(report.erased_rows)} erased, "
        f"{plural(len(report.skipped), 'problem')} skipped"
    )


@stakeholders.command("list")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable list.")
@pass_app
def list_command(app: AppContext, as_json: bool) -> None:
    """List the people with their newsletter state (unsubscribed and cleaned shown)."""
    with app.alliance.store() as store:
        records = StakeholderStore(store).people()
    if as_json:
        echo_json([summary(r) for r in records])
        return
    if not records:
        click.echo("no stakeholders yet; import a file with `mcm-sync stakeholders import`")
        return
    for record in records:
        person = record.person
        who = str(person.email) or "-"
        click.echo(
            f"{who:34} {person.organisation[:34]:34} {person.sector[:22]:22} "
            f"{person.influence or '-':6} {audience_state(record)}"
        )
    click.echo(plural(len(records), "stakeholder"))


@stakeholders.command("show")
@click.argument("email")
@pass_app
def show_command(app: AppContext, email: str) -> None:
    """Show everything stored about one person."""
    with app.alliance.store() as store:
        record = StakeholderStore(store).find_email(email)
    if record is None:
        raise UserError(
            f"no stakeholder with address {email}",
            hint="`mcm-sync stakeholders list` shows who is there",
        )
    for key, value in summary(record).items():
        if value not in ("", None):
            click.echo(f"{key:18} {value}")


@stakeholders.command("export")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write to this CSV file (default: standard output).",
)
@pass_app
def export_command(app: AppContext, output: Path | None) -> None:
    """Write the database as CSV in the import format (it round-trips)."""
    with app.alliance.store() as store:
        people = StakeholderStore(store)
        if output is None:
            sys.stdout.write(export_text(people.people()))
            return
        count = export_file(people, output)
    click.echo(f"wrote {count} stakeholders to {output}")


def _print_push(result: Any) -> None:
    for pulled in result.pulled:
        if pulled.status in ("unsubscribed", "cleaned", "archived"):
            kept = "left archived" if pulled.status == "archived" else "never re-subscribed"
            click.echo(f"mailchimp: {pulled.key} is {pulled.status}; {kept}")
    counts = ", ".join(f"{n} {what}" for what, n in sorted(result.plan.counts().items()))
    if result.dry_run:
        click.echo(f"would send {len(result.plan.writes)} people ({counts or 'nothing'})")
        return
    click.echo(
        f"pushed {result.sent} of {len(result.plan.writes)} people in "
        f"{result.write_calls} write calls ({result.batches} batches) "
        f"[{counts or 'nothing to do'}]"
    )


@stakeholders.command("push")
@click.option("--dry-run", is_flag=True, help="Show who would be sent; write nothing.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable summary.")
@_SANDBOX
@pass_app
def push_command(app: AppContext, dry_run: bool, as_json: bool, sandbox: bool | None) -> None:
    """Bring the Mailchimp audience in step: consenting people, their fields and tags."""
    config = app.config
    opened = app.alliance.store if dry_run else app.alliance.writing
    with opened() as store:  # no store yet: "no Mailchimp audience yet", run bootstrap
        audience_id = _audience_id(config, store)
        with connect(config, ("mailchimp",), sandbox=sandbox) as connected:
            result = push(
                store,
                connected.mailchimp,  # type: ignore[arg-type]  # connect() made the one asked for
                audience_id,
                alliance_slug=config.alliance.slug,
                sector_titles=_sector_titles(app),
                dry_run=dry_run,
            )
    if as_json:
        echo_json(result.as_dict())
    else:
        _print_push(result)
    for email, reason in result.failed:
        click.echo(f"refused: {email}: {reason}", err=True)
    if result.failed:
        raise RemoteError(
            "mailchimp",
            f"{len(result.failed)} people were refused; the others were sent",
            hint="fix the addresses, then push again",
        )


def _confirmed(question: str) -> bool:
    """Ask; no answer (no terminal, end of input) is a no, not click's "Aborted!"."""
    try:
        return click.confirm(question, default=False)
    except click.Abort:
        return False


@click.command()
@click.argument("email")
@click.option("--dry-run", is_flag=True, help="Show what would be erased; erase nothing.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@_SANDBOX
@pass_app
def forget(app: AppContext, email: str, dry_run: bool, yes: bool, sandbox: bool | None) -> None:
    """Erase a person (GDPR): Mailchimp delete-permanent, state, exports; keep a tombstone."""
    config = app.config
    members = {str(p.email).lower(): f"people[{i}]: {p.name}"
               for i, p in enumerate(config.people)}
    with app.alliance.store() as store:  # read and ask first: no lock held during the question
        plan = plan_forget(store, email, members)
    if plan.nothing_to_do:
        click.echo(f"{plan.email} was already erased; nothing to do")
        return
    state = sum(plan.traces.values())
    where = [
        f"the stakeholder database ({plan.organisation})" if plan.in_store else "",
        ("the Mailchimp audience (delete-permanent)" if plan.in_store
         # Not one of ours: Mailchimp is asked all the same (someone may have added the
         # address there by hand), but nothing says it is there.
         else "the Mailchimp audience if it is there (it is not in the stakeholder database; "
         "Mailchimp is asked to delete it permanently)")
        if not plan.already_erased else "",
        *(f"export {path}" for path in plan.exports),
        f"the state store ({state} rows)" if state and not plan.member else "",
    ]
    click.echo(
        f"{'would erase' if dry_run else 'erasing'} {plan.email} from: "
        + ("; ".join(w for w in where if w) or "nothing")
    )
    for line in plan.remains():
        click.echo(f"{'would remain' if dry_run else 'remains'}: {line}")
    if dry_run:
        return
    if not yes and not _confirmed("Erase this person for good?"):
        raise UserError(
            "not confirmed; nothing was erased",
            hint="pass --yes to erase without the question (needed without a terminal)",
        )
    with app.alliance.writing() as store:
        plan = plan_forget(store, email, members)  # again, under the lock: what is there now
        if plan.nothing_to_do:
            click.echo(f"{plan.email} was erased meanwhile; nothing to do")
            return
        found = store.get_resource("mailchimp", "audience", "audience")
        audience_id = found.remote_id if found else config.mailchimp.audience_id
        if audience_id and not plan.already_erased:
            with connect(config, ("mailchimp",), sandbox=sandbox) as connected:
                result = forget_person(
                    store,
                    plan,
                    connected.mailchimp,
                    audience_id,
                )
        else:
            result = forget_person(store, plan, None, "")
    click.echo(
        f"erased: audit hash {plan.digest[:12]}..., {result.erased_at[:10]}; "
        f"mailchimp: {result.remote}; exports cleaned: {len(result.exports_cleaned)}"
    )


@click.group()
def newsletter() -> None:
    """Progress newsletters from the alliance's real state (drafts only, never sent)."""


@newsletter.command("draft")
@click.option(
    "--since",
    type=DATE,
    default=None,
    help="Start of the period (default: the last newsletter, else the start date).",
)
@click.option(
    "--preview",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the HTML to this file instead of making a Mailchimp draft.",
)
@_SANDBOX
@pass_app
def draft(
    app: AppContext, since: dt.date | None, preview: Path | None, sandbox: bool | None
) -> None:
    """Make a Mailchimp campaign draft (or a local preview) of the progress newsletter."""
    config = app.config
    book = app.alliance.playbook
    opened = app.alliance.store() if preview is not None else app.alliance.writing()
    with opened as store:
        letter = build(config, book, store, since=since,
                       rows=app.alliance.rows)
        if preview is not None:
            preview.parent.mkdir(parents=True, exist_ok=True)
            preview.write_text(letter.html, encoding="utf-8")
            click.echo(
                f"wrote {preview}: {letter.subject} ({letter.completed} completed, "
                f"{letter.upcoming} coming up); Mailchimp not touched"
            )
            return
        audience_id = _audience_id(config, store)
        with connect(config, ("mailchimp",), sandbox=sandbox) as connected:
            result = create_draft(
                config,
                store,
                connected.mailchimp,  # type: ignore[arg-type]  # connect() made the one asked for
                audience_id,
                letter,
            )
    state = "made" if result.created else "unchanged since the last draft; not made again"
    click.echo(
        f"draft {result.record.campaign_id} {state}: {letter.subject} "
        f"(never sent: review and send it in Mailchimp)"
    )
