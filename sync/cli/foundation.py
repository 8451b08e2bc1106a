"""CLI commands of the foundation: ``init``, ``validate``, ``playbook``, ``template``.

Thin by design: each command parses its options, loads what it needs through the library
(``sync.core.config``, ``playbooks``) and prints. Errors are raised as ``McmSyncError`` and turned
into messages and exit codes by :class:`sync.cli.app.McmGroup`.
"""

from __future__ import annotations

import datetime as dt
import gettext
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
from click.decorators import FC

from playbooks import available_languages, load_action_plan, load_playbook
from playbooks.loader import validate_all
from playbooks.model import Playbook
from playbooks.present import playbook_as_dict, playbook_as_markdown, playbook_as_text
from sync.actionplan.calendar import after_end, alliance_playbook
from sync.audience.store import StakeholderStore
from sync.cli.app import AppContext, echo_json, output_file_or_folder, pass_app, write_output
from sync.cli.support.helptext import HelpCommand, HelpGroup
from sync.cli.support.i18n import N_, texts
from sync.cli.support.params import COUNTRY, START_DATE, TIMEZONE, TextParam
from sync.cli.support.usage import error_line
from sync.core.config import Config, default_config_path, parse_config
from sync.core.errors import Problem, UserError
from sync.core.init_config import ANSWER_CHECKS, new_config_text, zone_for
from sync.core.places import suggested_zone, zone_mismatch
from sync.doctor.live import address_warnings
from sync.documents.render import list_templates, render_template
from sync.documents.word import markdown_to_docx
from sync.plenary.meetings import meeting_schedule


def _action_rows(config: Config, playbook: Playbook) -> tuple[list[Any], list[Problem]]:
    """The alliance's own action-plan rows and their SMART warnings (none if no file)."""
    if not config.action_plan:
        return [], []
    loaded = load_action_plan(config.resolve_path(config.action_plan), playbook, config.people)
    return list(loaded.rows), list(loaded.warnings)


def _question(question: str, kind: click.ParamType[Any], default: Any,
              asking: gettext.NullTranslations) -> Any:
    """Ask until the answer passes ``kind``'s check; a refusal is said in the language of
    ``asking`` (click's own prompt would say it in English) and the question asked again."""
    while True:
        answer = click.prompt(asking.gettext(question), default=default, value_proc=str)
        try:
            return kind.convert(answer, None, None)
        except click.BadParameter as refused:
            click.echo(error_line(refused.message, asking))


@click.command(cls=HelpCommand)
@click.option("--name", type=TextParam(ANSWER_CHECKS["name"]),
              help="Alliance name, e.g. 'Friesland Newcomer Mediation Alliance'.")
@click.option("--slug", type=TextParam(ANSWER_CHECKS["slug"]),
              help="Short id, lowercase: item numbers and channel names (e.g. frl).")
@click.option("--region", type=TextParam(ANSWER_CHECKS["region"]),
              help="The region the alliance serves.")
@click.option("--country", type=COUNTRY, help="Country, ISO 3166 two-letter code (e.g. NL, IE).")
@click.option("--timezone", type=TIMEZONE,
              help="IANA time zone of the meetings (default: the country's, e.g. Europe/Dublin).")
@click.option("--language", type=click.Choice(["en", "nl", "fr", "sv"]), help="Alliance language.")
@click.option("--start-date", type=START_DATE,
              help="Start date, YYYY-MM-DD or day first (15-01-2027, 15.1.2027).")
@click.option("--duration", "duration_months", type=click.IntRange(12, 36), help="Months (12-36).")
@click.option("--coordinator-name", type=TextParam(ANSWER_CHECKS["coordinator_name"]),
              help="Your name.")
@click.option("--coordinator-email", type=TextParam(ANSWER_CHECKS["coordinator_email"]),
              help="Your e-mail address.")
@click.option("--organisation", type=TextParam(ANSWER_CHECKS["organisation"]),
              help="Your organisation.")
@click.option(
    "--sandbox/--no-sandbox",
    default=True,
    show_default=True,
    help="Start on the embedded sandbox (no accounts needed).",
)
@click.option("--force", is_flag=True, help="Overwrite an existing config file.")
@pass_app
def init(app: AppContext, /, force: bool, sandbox: bool, **answers: Any) -> None:
    """Write a config file for a new alliance (asks for what the options don't give).

    Each answer is checked as it is typed and asked again when it is wrong.
    """
    target = app.config_path or default_config_path()
    if target.exists() and not force:
        raise UserError(f"{target} already exists", hint="pass --force to overwrite it")
    questions: dict[str, tuple[str, click.ParamType[Any], Any]] = {
        "name": (N_("Alliance name"), TextParam(ANSWER_CHECKS["name"]), None),
        "slug": (N_("Short id (lowercase, e.g. frl)"), TextParam(ANSWER_CHECKS["slug"]), None),
        "region": (N_("Region"), TextParam(ANSWER_CHECKS["region"]), None),
        "country": (N_("Country (two-letter code)"), COUNTRY, "NL"),
        "timezone": (N_("Time zone"), TIMEZONE, None),
        "language": (N_("Language (en, nl, fr, sv)"), click.Choice(["en", "nl", "fr", "sv"]),
                     "en"),
        "start_date": (N_("Start date (YYYY-MM-DD or DD-MM-YYYY)"), START_DATE,
                       dt.date.today().isoformat()),
        "duration_months": (N_("Duration in months"), click.IntRange(12, 36), 18),
        "coordinator_name": (N_("Your name"), TextParam(ANSWER_CHECKS["coordinator_name"]),
                             None),
        "coordinator_email": (N_("Your e-mail"), TextParam(ANSWER_CHECKS["coordinator_email"]),
                              None),
        "organisation": (N_("Your organisation"), TextParam(ANSWER_CHECKS["organisation"]),
                         None),
    }
    asked = False
    for key, (question, kind, default) in questions.items():
        if answers.get(key) not in (None, ""):
            continue
        if key == "timezone":
            # The country's own zone, asked once the country is known; given every other
            # answer as an option, a country of one zone needs no question.
            default = suggested_zone(answers["country"])
            if default and not asked:
                answers[key] = default
                continue
            default = default or zone_for(answers["country"])
        # The questions in the coordinator's language: once the alliance's language is
        # answered (or given), it chooses, unless MCM_SYNC_LANG says otherwise.
        asking = texts(answers.get("language"))
        answers[key] = _question(question, kind, default, asking)
        asked = True
    text = new_config_text(sandbox=sandbox, **answers)
    # Validate before writing: never leave a config behind that `validate` would refuse.
    parse_config(text, str(target), target.resolve())
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")
    click.echo(texts(answers.get("language")).gettext(
        "wrote %(path)s; next: mcm-sync -c %(path)s validate") % {"path": target})


@click.command(cls=HelpCommand)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable result.")
@pass_app
def validate(app: AppContext, as_json: bool) -> None:
    """Check the config, the playbooks and the action-plan file; exit 2 on any error."""
    config = app.config
    problems = validate_all()
    if problems:
        from sync.core.errors import PlaybookError

        raise PlaybookError(problems)
    playbook = app.alliance.playbook
    rows, warnings = _action_rows(config, playbook)
    source = str(app.config_path or default_config_path())
    items = []
    if Path(config.state_path).exists():
        with app.alliance.store() as store:
            items = store.list_items()
    warnings += after_end(config, playbook, rows, items, source=source)
    warnings += address_warnings(config, source)
    zone = zone_mismatch(config.alliance.country, config.alliance.timezone)
    if zone:
        warnings.append(Problem(source, "alliance.timezone", zone))
    if as_json:
        echo_json(
            {
                "ok": True,
                "config": source,
                "language": config.alliance.language,
                "tasks": len(playbook.all_tasks()),
                "action_rows": len(rows),
                "warnings": [str(w) for w in warnings],
            }
        )
        return
    t = texts(config.alliance.language)
    for warning in warnings:
        click.echo(t.gettext("warning: %(warning)s") % {"warning": warning}, err=True)
    counted = [
        t.ngettext("%(n)d person", "%(n)d people", len(config.people)) % {"n": len(config.people)},
        t.ngettext("playbook '%(language)s' with %(n)d task",
                   "playbook '%(language)s' with %(n)d tasks", len(playbook.all_tasks()))
        % {"language": playbook.language, "n": len(playbook.all_tasks())},
        t.ngettext("%(n)d action-plan row", "%(n)d action-plan rows", len(rows)) % {"n": len(rows)},
        t.ngettext("%(n)d warning", "%(n)d warnings", len(warnings)) % {"n": len(warnings)},
    ]
    click.echo(t.gettext("ok: %(source)s is valid (%(counts)s)")
               % {"source": source, "counts": ", ".join(counted)})


@click.group(cls=HelpGroup)
def playbook() -> None:
    """Show the guide's six steps, their tasks and the meeting series."""


@playbook.command("list")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable list.")
def playbook_list(as_json: bool) -> None:
    """List the playbook languages with their step and task counts."""
    rows = []
    for language in available_languages():
        book = load_playbook(language)
        rows.append(
            {
                "language": language,
                "title": book.title,
                "steps": len(book.steps),
                "tasks": len(book.all_tasks()),
            }
        )
    if as_json:
        echo_json(rows)
        return
    for row in rows:
        click.echo(
            f"{row['language']}  {row['title']}  ({row['steps']} steps, {row['tasks']} tasks)"
        )


def _language_option() -> Callable[[FC], FC]:
    """The shared --lang option."""
    return click.option(
        "--lang",
        "language",
        type=click.Choice(["en", "nl", "fr", "sv"]),
        default=None,
        help="Language (default: the alliance's, else en).",
    )


def _language(app: AppContext, language: str | None) -> str:
    """The explicit language, else the config's if a config is present, else English."""
    if language:
        return language
    path = app.config_path or default_config_path()
    return app.config.alliance.language if path.exists() else "en"


@playbook.command("show")
@_language_option()
@click.option("--step", help="Only this step (key like 'scope' or number 1-6).")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "markdown", "json"]),
    default="text",
    show_default=True,
    help="text for the terminal, markdown for a document, json for scripts.",
)
@pass_app
def playbook_show(app: AppContext, language: str | None, step: str | None, fmt: str) -> None:
    """Show the steps and tasks (with timing, owner role, checklist)."""
    book = load_playbook(_language(app, language))
    if step is not None:
        keys = [s.key for s in book.steps]
        wanted = [s for s in book.steps if s.key == step or str(s.number) == step]
        if not wanted:
            raise UserError(f"no step '{step}'", hint=f"use one of {', '.join(keys)} or 1-6")
        book = book.model_copy(update={"steps": wanted})
    if fmt == "json":
        echo_json(playbook_as_dict(book))
    elif fmt == "markdown":
        click.echo(playbook_as_markdown(book))
    else:
        click.echo(playbook_as_text(book))


@click.group(cls=HelpGroup)
def template() -> None:
    """Render the guide's templates (briefing, charter, agenda, ...) for your alliance."""


@template.command("list")
@_language_option()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable list.")
@pass_app
def template_list(app: AppContext, language: str | None, as_json: bool) -> None:
    """List the templates that can be rendered."""
    infos = list_templates(_language(app, language))
    if as_json:
        echo_json([{"name": i.name, "title": i.title, "format": i.format} for i in infos])
        return
    for info in infos:
        click.echo(f"{info.name:20} {info.format:9} {info.title}")


@template.command("render")
@click.argument("name")
@_language_option()
@click.option(
    "--meeting",
    "meeting_number",
    type=int,
    default=1,
    show_default=True,
    help="Plenary meeting number (agenda, minutes).",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path),
    default=None,
    callback=output_file_or_folder,
    help="Write to this file (a folder: use the template's file name); default stdout.",
)
@click.option("--format", "fmt", type=click.Choice(["markdown", "docx"]), default="markdown",
              show_default=True, help="docx: a Word document (headings and tables kept; -o FILE).")
@pass_app
def template_render(
    app: AppContext, name: str, language: str | None, meeting_number: int, output: Path | None,
    fmt: str,
) -> None:
    """Render template NAME filled with the alliance's data."""
    config = app.config
    lang = language or config.alliance.language
    book = alliance_playbook(config, lang)
    rows, _ = _action_rows(config, book)
    items, people, dates = [], [], None
    if Path(config.state_path).exists():
        with app.alliance.store() as store:
            # The meeting calendar (moves included) dates every template's plenaries.
            dates = {m.key: m.date for m in meeting_schedule(config, book, store)}
            if name in ("action_plan", "stakeholders"):
                items = store.list_items()
                people = [record.person for record in StakeholderStore(store).people()]
    document = render_template(name, config, book, rows=rows, language=lang,
                               meeting_number=meeting_number, items=items, stakeholders=people,
                               meeting_dates=dates)
    if fmt == "docx":
        if not document.media_type.startswith("text/markdown"):
            raise UserError(f"{name} is a {document.media_type.split(';')[0]} table, not a "
                            "document", hint="render it without --format docx")
        if output is None:
            raise UserError("a Word document is binary", hint="pass -o FILE.docx (or a folder)")
        body = markdown_to_docx(document.text, title=document.text.partition("\n")[0]
                                .lstrip("# "), language=lang)
        filename = document.filename.rsplit(".", 1)[0] + ".docx"
        write_output(body, output / filename if output.is_dir() else output, "document")
        return
    if output is None:
        click.echo(document.text, nl=not document.text.endswith("\n"))
        return
    write_output(document.text, output / document.filename if output.is_dir() else output,
                 "document")
