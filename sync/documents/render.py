"""Render the guide's templates (briefing, charter, agenda...) for one alliance, in its language.

Markdown templates live in ``playbooks/templates/<name>.md.j2`` and hold structure only: every
word comes from the label catalogue ``playbooks/data/labels/<lang>.yaml`` (the same keys in
every language), every fact from the config and the playbook. Jinja2 renders them with
``StrictUndefined`` (a missing label or field is an error, never an empty gap) and without
autoescaping, since the output is Markdown, not HTML; text a person typed is passed through the
``cell`` filter wherever it lands in a table, so a ``|`` or a line break cannot split a row.
The two tabular documents (the stakeholder database and the action plan as CSV) are written
with the :mod:`csv` module instead of a template.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Literal

import jinja2

from playbooks.labels import LABELS_FOLDER, cell, fill, format_date, inert, labels
from playbooks.loader import load_playbook
from playbooks.model import ActionRow, Playbook
from sync.actionplan.calendar import alliance_playbook
from sync.audience.model import TEMPLATE_COLUMNS, Stakeholder
from sync.core import csv_cells
from sync.core.config import Config
from sync.core.errors import UserError
from sync.documents.context import action_plan_table, base_context
from sync.documents.plan_state import progress_lines, with_state
from sync.documents.stakeholder_sheet import stakeholder_sheet
from sync.state.rows import Item

Format = Literal["markdown", "csv"]

# Template name -> output format. The names are fixed: the CLI and the playbook's tasks use them.
TEMPLATES: dict[str, Format] = {
    "briefing": "markdown",
    "invitation": "markdown",
    "charter": "markdown",
    "agenda": "markdown",
    "minutes": "markdown",
    "communication_plan": "markdown",
    "swot": "markdown",
    "stakeholders": "csv",
    "action_plan": "markdown",
    "action_plan_csv": "csv",
    "profile": "markdown",
}
_MEDIA_TYPES: dict[Format, str] = {
    "markdown": "text/markdown; charset=utf-8",
    "csv": "text/csv; charset=utf-8",
}
_EXTENSIONS: dict[Format, str] = {"markdown": "md", "csv": "csv"}
# Templates that belong to one plenary meeting: their file name carries its number.
_PER_MEETING = frozenset({"agenda", "minutes"})

# The guide's stakeholder database columns, plus e-mail and the GDPR consent: one list, the
# database model's (names `mcm-sync stakeholders import` accepts, so the file can be filled in
# and imported back).
STAKEHOLDER_COLUMNS = TEMPLATE_COLUMNS


@dataclass(frozen=True)
class TemplateInfo:
    """One template as listed by ``mcm-sync template list``."""

    name: str
    title: str
    format: Format
    filename: str


@dataclass(frozen=True)
class RenderedDocument:
    """A rendered template: the text and the file name and media type to save it under."""

    name: str
    filename: str
    media_type: str
    text: str


def _base_name(name: str) -> str:
    """``action_plan_csv`` -> ``action_plan``: the playbook's template the variant belongs to."""
    return name.removesuffix("_csv")


def _filename(name: str, slug: str, language: str, meeting_number: int | None = None) -> str:
    stem = _base_name(name).replace("_", "-")
    if name in _PER_MEETING and meeting_number is not None:
        stem = f"{stem}-{meeting_number}"
    return f"{slug}-{stem}.{language}.{_EXTENSIONS[TEMPLATES[name]]}"


def list_templates(language: str, *, slug: str | None = None) -> list[TemplateInfo]:
    """Every template with its title in ``language`` and the file name it renders to.

    Without ``slug`` the file name starts with the placeholder ``{slug}``.
    """
    book = load_playbook(language)
    text = labels(language)
    infos = []
    for name, kind in TEMPLATES.items():
        title = book.templates[_base_name(name)]
        if name != _base_name(name):
            title = fill(text["common"]["csv_variant"], title=title)
        infos.append(TemplateInfo(name, title, kind, _filename(name, slug or "{slug}", language)))
    return infos


@cache
def environment(html: bool = False) -> jinja2.Environment:
    """The Jinja2 environment of the templates and reports (autoescaped only for HTML).

    Markdown is not escaped as HTML; its table cells are escaped with the ``cell`` filter.
    """
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("playbooks", "templates"),
        autoescape=html,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["cell"] = cell
    env.filters["inert"] = inert
    env.filters["fill"] = fill
    return env


def _check_name(name: str) -> None:
    if name not in TEMPLATES:
        raise UserError(f"unknown template '{name}'", hint=f"use one of: {', '.join(TEMPLATES)}")


def _write_csv(header: Sequence[str], rows: Sequence[dict[str, str]]) -> str:
    buffer = io.StringIO()
    writer = csv_cells.dict_writer(buffer, header, lineterminator="\n")  # no formulas
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def render_template(
    name: str,
    config: Config,
    playbook: Playbook,
    *,
    rows: Sequence[ActionRow] = (),
    language: str | None = None,
    meeting_number: int = 1,
    items: Sequence[Item] = (),
    stakeholders: Sequence[Stakeholder] = (),
    meeting_dates: Mapping[str, dt.date] | None = None,
) -> RenderedDocument:
    """Render template ``name`` for the alliance in ``config``.

    ``language`` defaults to the playbook's; when it differs, the playbook in that language is
    used so labels and guide texts agree. ``rows`` are the alliance's own action-plan rows
    (action plan and minutes); ``meeting_number`` (1-based) picks the plenary of an agenda or
    minutes. ``items`` (the state store's) put the synced numbers, statuses and due dates and
    the shared progress figures into the action plan; ``stakeholders`` (the database's) are
    listed in the stakeholders sheet after the members; ``meeting_dates`` (meeting key -> date:
    the meeting calendar, moves included) date the plenaries, else the plan does. Raises
    :class:`UserError` for an unknown name or meeting number.
    """
    _check_name(name)
    lang = language or playbook.language
    book = playbook if lang == playbook.language else alliance_playbook(config, lang)
    meetings = book.meetings.meetings
    if not 1 <= meeting_number <= len(meetings):
        raise UserError(
            f"there is no plenary meeting {meeting_number}",
            hint=f"choose a meeting number from 1 to {len(meetings)}",
        )
    kind = TEMPLATES[name]
    if name == "stakeholders":
        header, table = stakeholder_sheet(config, book, STAKEHOLDER_COLUMNS, stakeholders)
        buffer = io.StringIO()
        csv_cells.writer(buffer, lineterminator="\n").writerows([header, *table])
        text = buffer.getvalue()
    elif name == "action_plan_csv":
        columns, plan_rows = action_plan_table(config, book, rows, for_csv=True)
        text = _write_csv(columns, plan_rows)
    else:
        context = base_context(config, book, rows, meeting_number, meeting_dates)
        if name == "action_plan":
            context["plan_groups"] = with_state(context["plan_groups"], book, rows, items)
            context["plan_progress"] = progress_lines(book, rows, items)
        text = environment().get_template(f"{name}.md.j2").render(context).rstrip() + "\n"
    filename = _filename(
        name, config.alliance.slug, lang, meeting_number if name in _PER_MEETING else None
    )
    return RenderedDocument(name, filename, _MEDIA_TYPES[kind], text)


__all__ = [
    "LABELS_FOLDER",
    "STAKEHOLDER_COLUMNS",
    "TEMPLATES",
    "RenderedDocument",
    "TemplateInfo",
    "format_date",
    "labels",
    "list_templates",
    "render_template",
]
