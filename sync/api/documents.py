"""What ``validate`` finds, and the guide's templates rendered for one alliance.

:func:`validation` reads every input (playbooks, config, action plan) and gathers the
warnings that do not stop a run (SMART rows, dates after the alliance's end, addresses, a time
zone that does not fit the country); :func:`render_template` fills one of the guide's
templates with the alliance's data (its meeting calendar, items and stakeholders when the
state store has them).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from sync.core.errors import Problem

if TYPE_CHECKING:
    from playbooks.model import ActionRow, Playbook
    from sync.api.opened import OpenAlliance
    from sync.documents.render import RenderedDocument, TemplateInfo

__all__ = ["Validation", "render_template", "templates", "validation", "word_document"]


@dataclass(frozen=True)
class Validation:
    """A valid alliance's playbook and rows, with the warnings found on the way."""

    playbook: Playbook
    rows: list[ActionRow]
    warnings: list[Problem] = field(default_factory=list)


def _action_rows(alliance: OpenAlliance,
                 book: Playbook) -> tuple[list[ActionRow], list[Problem]]:
    """The alliance's own action-plan rows and their SMART warnings (none if no file)."""
    from playbooks import load_action_plan

    config = alliance.config
    if not config.action_plan:
        return [], []
    loaded = load_action_plan(config.resolve_path(config.action_plan), book, config.people)
    return list(loaded.rows), list(loaded.warnings)


def validation(alliance: OpenAlliance, source: str) -> Validation:
    """Check the playbooks, the config and the action-plan file (``source`` names the
    config in warnings); PlaybookError or InputError on an error, the warnings returned."""
    from playbooks.loader import validate_all
    from sync.actionplan.calendar import after_end
    from sync.core.errors import PlaybookError
    from sync.core.places import zone_mismatch
    from sync.doctor.live import address_warnings

    problems = validate_all()
    if problems:
        raise PlaybookError(problems)
    config = alliance.config
    book = alliance.playbook
    rows, warnings = _action_rows(alliance, book)
    items = []
    if Path(config.state_path).exists():
        with alliance.store() as store:
            items = store.list_items()
    warnings += after_end(config, book, rows, items, source=source)
    warnings += address_warnings(config, source)
    zone = zone_mismatch(config.alliance.country, config.alliance.timezone)
    if zone:
        warnings.append(Problem(source, "alliance.timezone", zone))
    return Validation(book, rows, warnings)


def templates(language: str) -> list[TemplateInfo]:
    """The templates that can be rendered, in ``language``."""
    from sync.documents.render import list_templates

    return list_templates(language)


def render_template(alliance: OpenAlliance, name: str, *, language: str | None = None,
                    meeting_number: int = 1) -> RenderedDocument:
    """Template ``name`` filled with the alliance's data, in ``language`` (default the
    alliance's); ``meeting_number`` for the agenda and minutes."""
    from sync.audience.store import StakeholderStore
    from sync.documents.render import render_template as render
    from sync.plenary.meetings import meeting_schedule

    config = alliance.config
    lang = language or config.alliance.language
    book = alliance.playbook_in(lang)
    rows, _ = _action_rows(alliance, book)
    items, people, dates = [], [], None
    if Path(config.state_path).exists():
        with alliance.store() as store:
            # The meeting calendar (moves included) dates every template's plenaries.
            dates = {m.key: m.date for m in meeting_schedule(config, book, store)}
            if name in ("action_plan", "stakeholders"):
                items = store.list_items()
                people = [record.person for record in StakeholderStore(store).people()]
    return render(name, config, book, rows=rows, language=lang, meeting_number=meeting_number,
                  items=items, stakeholders=people, meeting_dates=dates)


def word_document(document: RenderedDocument, language: str) -> bytes:
    """A rendered Markdown template as a Word document (headings and tables kept)."""
    from sync.documents.word import markdown_to_docx

    return markdown_to_docx(document.text, title=document.text.partition("\n")[0].lstrip("# "),
                            language=language)
