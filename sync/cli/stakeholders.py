"""CLI commands of the stakeholder database: ``stakeholders``, ``forget``, ``newsletter``.

Thin by design: parse, open the state store, call ``sync.audience.stakeholders`` /
``sync.audience.apply``
/ ``sync.audience.forget`` / ``sync.audience.newsletter``, print. Errors are raised as
``McmSyncError`` and turned into messages and exit codes by :class:`sync.cli.app.McmGroup`.
"""

from __future__ import annotations

import datetime as dt
import gettext
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
from sync.cli.support.helptext import HelpCommand, HelpGroup
from sync.cli.support.params import DATE
from sync.core.config import Config
from sync.core.errors import RemoteError, UserError
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


@click.group(cls=HelpGroup)
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
    t = app.texts
    for change in report.consent_changes:
        click.echo(t.gettext("consent: %(file)s: %(change)s") % {"file": file, "change": change},
                   err=True)
    if report.held:
        count = len(report.consent_changes)
        raise UserError(f"{file}: the import would change the consent of {count} "
                        f"{'person' if count == 1 else 'people'}; nothing was imported",
                        hint="check the lines above, then run again with --yes")
    for problem in report.skipped:
        click.echo(t.gettext("skipped: %(problem)s") % {"problem": problem}, err=True)
    for moved in report.moved_rows:
        click.echo(t.gettext("moved: %(file)s: %(moved)s") % {"file": file, "moved": moved},
                   err=True)
    for row in report.erased_rows:
        click.echo(t.gettext("erased: %(file)s: row %(row)s was erased on request (forget); "
                             "not imported") % {"file": file, "row": row}, err=True)
    counts = report.counts
    values = {"file": file, "added": counts.added, "updated": counts.updated,
              "unchanged": counts.unchanged, "erased": len(report.erased_rows),
              "n": len(report.skipped)}
    if dry_run:
        line = t.ngettext("would import %(file)s: %(added)d new, %(updated)d changed, "
                          "%(unchanged)d unchanged, %(erased)d erased, %(n)d problem skipped",
                          "would import %(file)s: %(added)d new, %(updated)d changed, "
                          "%(unchanged)d unchanged, %(erased)d erased, %(n)d problems skipped",
                          len(report.skipped))
    else:
        line = t.ngettext("imported %(file)s: %(added)d new, %(updated)d changed, "
                          "%(unchanged)d unchanged, %(erased)d erased, %(n)d problem skipped",
                          "imported %(file)s: %(added)d new, %(updated)d changed, "
                          "%(unchanged)d unchanged, %(erased)d erased, %(n)d problems skipped",
                          len(report.skipped))
    click.echo(line % values)


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
    t = app.texts
    if not records:
        click.echo(t.gettext("no stakeholders yet; import a file with `mcm-sync stakeholders "
                             "import`"))
        return
    for record in records:
        person = record.person
        who = str(person.email) or "-"
        click.echo(
            f"{who:34} {person.organisation[:34]:34} {person.sector[:22]:22} "
            f"{person.influence or '-':6} {audience_state(record)}"
        )
    click.echo(t.ngettext("%(n)d stakeholder", "%(n)d stakeholders", len(records))
               % {"n": len(records)})


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
    click.echo(app.texts.ngettext("wrote %(n)d stakeholder to %(path)s",
                                  "wrote %(n)d stakeholders to %(path)s", count)
               % {"n": count, "path": output})


def _print_push(result: Any, t: gettext.NullTranslations) -> None:
    for pulled in result.pulled:
        if pulled.status in ("unsubscribed", "cleaned", "archived"):
            kept = (t.gettext("left archived") if pulled.status == "archived"
                    else t.gettext("never re-subscribed"))
            click.echo(t.gettext("mailchimp: %(person)s is %(status)s; %(kept)s")
                       % {"person": pulled.key, "status": pulled.status, "kept": kept})
    counts = ", ".join(f"{n} {what}" for what, n in sorted(result.plan.counts().items()))
    people = len(result.plan.writes)
    if result.dry_run:
        click.echo(t.ngettext("would send %(n)d person (%(counts)s)",
                              "would send %(n)d people (%(counts)s)", people)
                   % {"n": people, "counts": counts or t.gettext("nothing")})
        return
    click.echo(t.ngettext("pushed %(sent)d of %(n)d person in %(calls)d write calls "
                          "(%(batches)d batches) [%(counts)s]",
                          "pushed %(sent)d of %(n)d people in %(calls)d write calls "
                          "(%(batches)d batches) [%(counts)s]", people)
               % {"sent": result.sent, "n": people, "calls": result.write_calls,
                  "batches": result.batches, "counts": counts or t.gettext("nothing to do")})


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
                connected.need_audience(),
                audience_id,
                alliance_slug=config.alliance.slug,
                sector_titles=_sector_titles(app),
                dry_run=dry_run,
            )
    if as_json:
        echo_json(result.as_dict())
    else:
        _print_push(result, app.texts)
    for email, reason in result.failed:
        click.echo(app.texts.gettext("refused: %(email)s: %(reason)s")
                   % {"email": email, "reason": reason}, err=True)
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


@click.command(cls=HelpCommand)
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
    t = app.texts
    if plan.nothing_to_do:
        click.echo(t.gettext("%(email)s was already erased; nothing to do")
                   % {"email": plan.email})
        return
    state = sum(plan.traces.values())
    where = [
        t.gettext("the stakeholder database (%(organisation)s)")
        % {"organisation": plan.organisation} if plan.in_store else "",
        (t.gettext("the Mailchimp audience (delete-permanent)") if plan.in_store
         # Not one of ours: Mailchimp is asked all the same (someone may have added the
         # address there by hand), but nothing says it is there.
         else t.gettext("the Mailchimp audience if it is there (it is not in the stakeholder "
                        "database; Mailchimp is asked to delete it permanently)"))
        if not plan.already_erased else "",
        *(t.gettext("export %(path)s") % {"path": path} for path in plan.exports),
        t.ngettext("the state store (%(n)d row)", "the state store (%(n)d rows)", state)
        % {"n": state} if state and not plan.member else "",
    ]
    places = "; ".join(w for w in where if w) or t.gettext("nothing")
    click.echo((t.gettext("would erase %(email)s from: %(places)s") if dry_run
                else t.gettext("erasing %(email)s from: %(places)s"))
               % {"email": plan.email, "places": places})
    for line in plan.remains():
        click.echo((t.gettext("would remain: %(line)s") if dry_run
                    else t.gettext("remains: %(line)s")) % {"line": line})
    if dry_run:
        return
    if not yes and not _confirmed(t.gettext("Erase this person for good?")):
        raise UserError(
            "not confirmed; nothing was erased",
            hint="pass --yes to erase without the question (needed without a terminal)",
        )
    with app.alliance.writing() as store:
        plan = plan_forget(store, email, members)  # again, under the lock: what is there now
        if plan.nothing_to_do:
            click.echo(t.gettext("%(email)s was erased meanwhile; nothing to do")
                       % {"email": plan.email})
            return
        found = store.get_resource("mailchimp", "audience", "audience")
        audience_id = found.remote_id if found else config.mailchimp.audience_id
        if audience_id and not plan.already_erased:
            with connect(config, ("mailchimp",), sandbox=sandbox) as connected:
                result = forget_person(
                    store,
                    plan,
                    connected.audience,
                    audience_id,
                )
        else:
            result = forget_person(store, plan, None, "")
    click.echo(t.gettext("erased: audit hash %(hash)s..., %(day)s; mailchimp: %(remote)s; "
                         "exports cleaned: %(n)d")
               % {"hash": plan.digest[:12], "day": result.erased_at[:10],
                  "remote": result.remote, "n": len(result.exports_cleaned)})


@click.group(cls=HelpGroup)
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
            click.echo(app.texts.gettext(
                "wrote %(path)s: %(subject)s (%(completed)d completed, %(upcoming)d coming up); "
                "Mailchimp not touched")
                % {"path": preview, "subject": letter.subject, "completed": letter.completed,
                   "upcoming": letter.upcoming})
            return
        audience_id = _audience_id(config, store)
        with connect(config, ("mailchimp",), sandbox=sandbox) as connected:
            result = create_draft(
                config,
                store,
                connected.need_audience(),
                audience_id,
                letter,
            )
    t = app.texts
    made = (t.gettext("draft %(id)s made: %(subject)s (never sent: review and send it in "
                      "Mailchimp)") if result.created
            else t.gettext("draft %(id)s unchanged since the last draft; not made again: "
                           "%(subject)s (never sent: review and send it in Mailchimp)"))
    click.echo(made % {"id": result.record.campaign_id, "subject": letter.subject})
