"""CLI commands of the plenary cycle and the published documents.

``meeting schedule`` and ``meeting agenda N``, ``minutes import FILE``, ``report`` and
``profile``. The logic lives in :mod:`sync.plenary.meetings`, :mod:`sync.plenary.minutes`,
:mod:`sync.reports.report`
and :mod:`sync.reports.agenda`; this module parses options, opens the state store and prints.
"""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from sync.actionplan.calendar import alliance_playbook
from sync.cli.app import AppContext, echo_json, output_file, pass_app, write_output
from sync.cli.support.helptext import HelpCommand, HelpGroup
from sync.cli.support.i18n import N_, cli_language
from sync.cli.support.params import DATE
from sync.core.checks import chart_kind
from sync.plenary.ics import schedule_ics
from sync.plenary.meetings import apply_schedule, parse_adjustments
from sync.plenary.minutes import import_minutes, load_minutes
from sync.reports.agenda import render_agenda, render_profile
from sync.reports.report import (
    FORMATS,
    render_csv,
    render_html,
    render_markdown,
    report_chart,
    report_from_store,
)


def _write(text: str | bytes, output: Path | None, what: str) -> None:
    """Print ``text`` or write it to ``output`` (saying where, on stderr)."""
    if output is None:
        if isinstance(text, bytes):
            raise click.UsageError(f"the {what} is binary: pass -o FILE")
        click.echo(text, nl=not text.endswith("\n"))
        return
    write_output(text, output, what)


# --------------------------------------------------------------------------- meeting

# The schedule's table as the coordinator reads it (``--json`` keeps the English keys).
SCHEDULE_COLUMNS = (N_("N"), N_("Card"), N_("Meeting"), N_("Date"), N_("Time"), N_("Where"),
                    N_("Planned"), N_("Reminders"), N_("Status"))
ORIGINS = {"board": N_("board"), "adjusted": N_("adjusted")}


@click.group(cls=HelpGroup)
def meeting() -> None:
    """The plenary meetings: their dates and agendas."""


@meeting.command("schedule")
@click.option("--date", "dates", multiple=True, metavar="N=YYYY-MM-DD",
              help="Move meeting N (number or key) to this date; repeatable. Kept in the state "
              "store; the next sync moves the card.")
@click.option("--ics", "ics", type=click.Path(dir_okay=False, path_type=Path), default=None,
              callback=output_file,
              help="Also write the series as an iCalendar file (stable UIDs: a re-import "
              "updates the events).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_app
def meeting_schedule_command(app: AppContext, dates: tuple[str, ...], ics: Path | None,
                             as_json: bool) -> None:
    """Show (and with --date adjust) the plenary series and its Slack reminder days.

    Dates come from the alliance's start and the playbook; an adjusted date wins, else the
    meeting card's due date. Reminders go to the general channel a week and a day before,
    posted by `mcm-sync sync`.
    """
    config = app.config
    book = app.alliance.playbook
    adjustments = parse_adjustments(dates, book, within=(config.alliance.start_date,
                                                         config.alliance.end_date))
    with app.alliance.writing(bind=True) as store:
        schedule = apply_schedule(config, book, store, adjustments)
    if ics is not None:
        _write(schedule_ics(config, schedule), ics, "calendar")
    if as_json:
        echo_json([m.as_dict() for m in schedule])
        return
    t = app.texts
    # Status names in the coordinator's language (the playbook of that language has them).
    language = cli_language(config.alliance.language)
    words = book if language == book.language else alliance_playbook(config, language)
    statuses = words.action_plan.statuses
    table = Table(title=t.gettext("Plenary meetings of %(alliance)s")
                  % {"alliance": config.alliance.name})
    for column in SCHEDULE_COLUMNS:
        table.add_column(t.gettext(column))
    for m in schedule:
        data = m.as_dict()
        planned = "" if m.date == m.planned else m.planned.isoformat()
        origin = t.gettext(ORIGINS.get(m.origin, m.origin))
        table.add_row(str(m.number), m.item_number or "-", m.title,
                      f"{m.date.isoformat()}" + (f" ({origin})" if m.origin != "plan" else ""),
                      m.start_time.strftime("%H:%M"), m.where, planned,
                      ", ".join(data["reminders"]), statuses.get(m.status, m.status))
    Console(width=140).print(table)
    if not any(m.item_number for m in schedule):
        click.echo(t.gettext("no meeting cards yet: run `mcm-sync bootstrap` to create them"),
                   err=True)


@meeting.command("agenda")
@click.argument("number", type=int)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              callback=output_file, help="Write to this file; default stdout.")
@pass_app
def meeting_agenda(app: AppContext, number: int, output: Path | None) -> None:
    """Render the agenda of plenary NUMBER, filled in from the state.

    The guide's agenda, then the previous meeting's minutes (as imported), the open actions
    and the action plan's progress per step for its review.
    """
    config = app.config
    book = app.alliance.playbook
    rows = app.alliance.rows
    with app.alliance.store(bind=True) as store:
        text = render_agenda(config, book, rows, store, number)
    _write(text, output, "agenda")


# --------------------------------------------------------------------------- minutes


@click.group(cls=HelpGroup)
def minutes() -> None:
    """Minutes of the plenary meetings."""


@minutes.command("import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True, help="Check the file and list the actions; write nothing.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_app
def minutes_import(app: AppContext, file: Path, dry_run: bool, as_json: bool) -> None:
    """Import the minutes in FILE (YAML, or the Markdown of `template render minutes`).

    Every agreed action becomes an action item; the next `mcm-sync sync` gives it a Trello
    card and a Slack message. Importing the same file again creates nothing new. A person
    who is not in the alliance or a date that does not parse stops the import (exit 2)
    before anything is written.
    """
    config = app.config
    book = app.alliance.playbook
    checked = load_minutes(file, config, book)
    if dry_run:
        data: dict[str, Any] = {"meeting": checked.meeting.key, "dry_run": True,
                                "actions": [{"title": a.title, "owner": ",".join(a.owners),
                                             "due": a.due.isoformat()} for a in checked.actions]}
        if as_json:
            echo_json(data)
        else:
            t = app.texts
            click.echo(t.ngettext(
                "%(file)s: meeting %(number)d (%(title)s), %(n)d agreed action; nothing "
                "written (--dry-run)",
                "%(file)s: meeting %(number)d (%(title)s), %(n)d agreed actions; nothing "
                "written (--dry-run)", len(checked.actions))
                % {"file": file, "number": checked.meeting.number,
                   "title": checked.meeting.title, "n": len(checked.actions)})
        return
    with app.alliance.writing(bind=True) as store:
        result = import_minutes(store, config, checked)
    if as_json:
        echo_json({"meeting": checked.meeting.key,
                   "created": [{"number": i.number, "key": i.key, "title": i.title,
                                "owner": i.owner, "due": i.due} for i in result.created],
                   "existing": [i.number for i in result.existing]})
        return
    t = app.texts
    click.echo(t.ngettext(
        "%(file)s: meeting %(number)d (%(title)s): %(n)d new action item, %(old)d already "
        "imported",
        "%(file)s: meeting %(number)d (%(title)s): %(n)d new action items, %(old)d already "
        "imported", len(result.created))
        % {"file": file, "number": checked.meeting.number, "title": checked.meeting.title,
           "n": len(result.created), "old": len(result.existing)})
    for item in result.created:
        click.echo("  " + t.gettext("%(number)s %(title)s (%(owner)s, due %(due)s)")
                   % {"number": item.number, "title": item.title, "owner": item.owner,
                      "due": item.due})
    for action, item in result.differing:
        click.echo(t.gettext("warning: %(warning)s") % {"warning": t.gettext(
            "%(file)s: line %(line)d: action %(index)d was imported as %(number)s '%(title)s'; "
            "kept as is (change it on its card)") % {
                "file": file, "line": action.line, "index": action.index,
                "number": item.number, "title": item.title}}, err=True)
    if result.created:
        click.echo(t.gettext("run `mcm-sync sync` to create their cards and messages"))


# --------------------------------------------------------------------------- report, profile


def _picture_path(ctx: click.Context, param: click.Parameter, value: Path | None) -> Path | None:
    """--chart: the file's extension must be the format written (.png or .svg)."""
    if value is not None:
        try:
            chart_kind(value.suffix)
        except ValueError as exc:
            raise click.BadParameter(f"{value}: {exc}") from None
    return output_file(ctx, param, value)


@click.command("report", cls=HelpCommand)
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="markdown",
              show_default=True, help="Output format.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              callback=output_file, help="Write to this file; default stdout.")
@click.option("--chart", "chart", type=click.Path(dir_okay=False, path_type=Path), default=None,
              callback=_picture_path,
              help="Also save the progress picture (.png or .svg); markdown links to it.")
@click.option("--profile", "profile", is_flag=True,
              help="Render the alliance profile instead (same as `mcm-sync profile`).")
@click.option("--today", type=DATE, default=None,
              help="Report as of this date (default: today).")
@pass_app
def report_command(app: AppContext, fmt: str, output: Path | None, chart: Path | None,
                   profile: bool, today: dt.date | None) -> None:
    """Publish the Regional Alliance Action Plan: the guide's table by step, with progress.

    In the alliance's language; HTML embeds the progress picture (completion per step, and
    actions planned and done over time).
    """
    config = app.config
    book = app.alliance.playbook
    rows = app.alliance.rows
    day = today or dt.date.today()
    started = time.perf_counter()
    with app.alliance.store(bind=True) as store:
        report = report_from_store(config, book, rows, store, day)
    if profile:
        _write(render_profile(config, book, report), output, "profile")
        return
    if chart is not None:
        _write(report_chart(report, chart_kind(chart.suffix)), chart, "picture")
    if fmt == "html":
        text = render_html(report, report_chart(report, "png"))
    elif fmt == "csv":
        text = render_csv(report)
    else:
        link = ""
        if chart is not None:
            link = chart.name if output and chart.parent == output.parent else str(chart)
        text = render_markdown(report, chart_path=link)
    _write(text, output, "report")
    if app.verbose:
        click.echo(app.texts.gettext("report built in %(seconds).2f s")
                   % {"seconds": time.perf_counter() - started}, err=True)


@click.command("profile", cls=HelpCommand)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              callback=output_file, help="Write to this file; default stdout.")
@pass_app
def profile_command(app: AppContext, output: Path | None) -> None:
    """Render the alliance's short public profile (guide, step 2) from the config and state."""
    config = app.config
    book = app.alliance.playbook
    rows = app.alliance.rows  # validated before the store is opened
    with app.alliance.store(bind=True) as store:
        report = report_from_store(config, book, rows, store, dt.date.today())
    _write(render_profile(config, book, report), output, "profile")
