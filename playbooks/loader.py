"""Load a playbook: merge the language-neutral structure with one language's texts.

``structure.yaml`` holds the ids, owners, timing, templates and the guide's numbers;
``text/<language>.yaml`` holds every title and description keyed by those ids. Both files are
checked against strict schemas (:mod:`playbooks.spec`) and against each other; every problem
is collected and raised together as one :class:`PlaybookError`, each naming its file and key
path, so a translator can fix a file in one pass.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from playbooks.checks import STEP_KEYS, check_structure, check_texts
from playbooks.errors import PlaybookError, Problem
from playbooks.model import (
    ActionPlanTemplate,
    AgendaItem,
    Column,
    Facts,
    Meeting,
    MeetingSeries,
    Playbook,
    Step,
    Task,
    Timing,
)
from playbooks.spec import StructureSpec, TextSpec, read_yaml, validation_problems

STRUCTURE_SOURCE = "playbooks/data/structure.yaml"
_TEXT_FOLDER = "data/text"


def _text_source(language: str) -> str:
    return f"playbooks/{_TEXT_FOLDER}/{language}.yaml"


def available_languages() -> list[str]:
    """The languages that have a text file, English first, then alphabetical."""
    folder = resources.files("playbooks").joinpath(_TEXT_FOLDER)
    names = sorted(
        item.name[: -len(".yaml")] for item in folder.iterdir() if item.name.endswith(".yaml")
    )
    return sorted(names, key=lambda name: (name != "en", name))


@cache
def load_playbook(language: str = "en") -> Playbook:
    """The packaged playbook in ``language`` (cached); :class:`PlaybookError` if invalid."""
    languages = available_languages()
    if language not in languages:
        raise PlaybookError(
            [
                Problem(
                    _text_source(language),
                    "",
                    f"no playbook in language '{language}'",
                    f"use one of: {', '.join(languages)}",
                )
            ]
        )
    package = resources.files("playbooks")
    structure = package.joinpath("data/structure.yaml").read_text(encoding="utf-8")
    text = package.joinpath(f"{_TEXT_FOLDER}/{language}.yaml").read_text(encoding="utf-8")
    return build_playbook(structure, STRUCTURE_SOURCE, text, _text_source(language), language)


def load_playbook_files(structure_path: Path, text_path: Path, language: str) -> Playbook:
    """A playbook from explicit files (tests, or an alliance's adapted copy); not cached."""
    contents = []
    for path in (structure_path, text_path):
        try:
            contents.append(Path(path).read_text(encoding="utf-8"))
        except OSError as exc:
            raise PlaybookError([Problem(str(path), "", f"cannot read: {exc.strerror}")]) from None
    return build_playbook(contents[0], str(structure_path), contents[1], str(text_path), language)


def validate_all() -> list[Problem]:
    """Every problem of every packaged language (structure problems reported once)."""
    problems: list[Problem] = []
    for language in available_languages():
        try:
            load_playbook(language)
        except PlaybookError as exc:
            problems.extend(p for p in exc.problems if p not in problems)
    return problems


def build_playbook(
    structure_text: str, structure_source: str, text: str, text_source: str, language: str
) -> Playbook:
    """Parse, check and merge one structure and one text file."""
    structure, problems = _parse(structure_text, structure_source, StructureSpec)
    texts, text_problems = _parse(text, text_source, TextSpec)
    problems += text_problems
    if structure is not None:
        problems += check_structure(structure, structure_source)
        if texts is not None:
            problems += check_texts(structure, texts, text_source)
    if problems or structure is None or texts is None:
        raise PlaybookError(problems)
    return _merge(structure, texts, language)


def _parse(text: str, source: str, model: type[Any]) -> tuple[Any, list[Problem]]:
    """YAML, then the strict schema; ``None`` when the file cannot be used at all."""
    data, problems = read_yaml(text, source)
    if data is None and not problems:
        problems = [Problem(source, "", "the file is empty", "see structure.yaml / en.yaml")]
    if problems and data is None:
        return None, problems
    if not isinstance(data, dict):
        return None, [*problems, Problem(source, "", "the file must be a mapping of sections")]
    try:
        return model.model_validate(data), problems
    except ValidationError as exc:
        return None, problems + validation_problems(exc, source)


def _labels(texts: dict[str, str], keys: Iterable[str]) -> dict[str, str]:
    return {key: texts[key] for key in keys}


def _merge(spec: StructureSpec, texts: TextSpec, language: str) -> Playbook:
    """Build the typed playbook; both inputs are already checked."""
    f = spec.facts
    plan = spec.action_plan
    steps = [
        Step(
            key=step.key,
            number=number,
            title=texts.steps[step.key].title,
            goal=texts.steps[step.key].goal,
            tasks=[
                Task(
                    id=task.id,
                    step=step.key,
                    title=texts.tasks[task.id].title,
                    description=texts.tasks[task.id].description,
                    checklist=list(texts.tasks[task.id].checklist),
                    owner_role=task.owner_role,
                    timing=Timing(**task.timing.model_dump()),
                    templates=list(task.templates),
                    outcome=texts.tasks[task.id].outcome,
                )
                for task in step.tasks
            ],
        )
        for number, step in enumerate(spec.steps, start=1)
    ]
    facts = Facts(
        **f.model_dump(
            exclude={"sectors", "participation_ladder", "action_planning_parts", "monitoring_modes"}
        ),
        plan_weeks=spec.plan_weeks,
        sectors=_labels(texts.sectors, f.sectors),
        participation_ladder=[texts.participation_ladder[k] for k in f.participation_ladder],
        action_planning_parts=[texts.action_planning_parts[k] for k in f.action_planning_parts],
        monitoring_modes=[texts.monitoring_modes[k] for k in f.monitoring_modes],
    )
    meetings = MeetingSeries(
        min_meetings=f.plenaries_min,
        max_meetings=f.plenaries_max,
        agenda=[AgendaItem(key=key, title=texts.agenda[key]) for key in spec.agenda],
        meetings=[
            Meeting(
                number=number,
                key=m.key,
                title=texts.meetings[m.key].title,
                purpose=texts.meetings[m.key].purpose,
                offset_weeks=m.offset_weeks,
                steps=list(m.steps),
                optional=m.optional,
            )
            for number, m in enumerate(spec.meetings, start=1)
        ],
    )
    action_plan = ActionPlanTemplate(
        columns=[Column(key=key, title=texts.columns[key]) for key in plan.columns],
        statuses=_labels(texts.statuses, plan.statuses),
        process=[texts.process[key] for key in plan.process],
        smart=_labels(texts.smart, plan.smart),
    )
    return Playbook(
        language=language,
        title=texts.title,
        facts=facts,
        roles=_labels(texts.roles, spec.roles),
        steps=steps,
        meetings=meetings,
        action_plan=action_plan,
        templates=_labels(texts.templates, spec.templates),
    )


__all__ = [
    "STEP_KEYS",
    "available_languages",
    "build_playbook",
    "load_playbook",
    "load_playbook_files",
    "validate_all",
]
