"""Load a playbook: merge the language-neutral structure with one language's texts.

``structure.yaml`` holds the ids, owners, timing, templates and the guide's numbers;
``text/<language>.yaml`` holds every title and description keyed by those ids. Both files are
checked against strict schemas (:mod:`playbooks.spec`) and against each other; every problem
is collected and raised together as one :class:`PlaybookError`, each naming its file and key
path, so a translator can fix a file in one pass.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, get_args

from pydantic import ValidationError

from playbooks.model import (
    STATUSES,
    ActionPlanTemplate,
    AgendaItem,
    Column,
    Facts,
    Meeting,
    MeetingSeries,
    Playbook,
    Role,
    Step,
    Task,
    Timing,
)
from playbooks.spec import (
    TEMPLATE_NAMES,
    StructureSpec,
    TextSpec,
    read_yaml,
    validation_problems,
)
from sync.errors import PlaybookError, Problem

STEP_KEYS = ("scope", "start", "research", "publish", "promote", "sustain")
REQUIRED_COLUMNS = (
    "number",
    "action",
    "local_problem",
    "description",
    "budget",
    "resources",
    "responsible",
    "timeline",
    "status",
    "due",
)
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


def _duplicates(
    values: Iterable[str], where: Callable[[int], str], what: str, source: str
) -> list[Problem]:
    """One problem per repeated value, at the location of its second and later uses."""
    seen: Counter[str] = Counter()
    problems = []
    for index, value in enumerate(values):
        seen[value] += 1
        if seen[value] > 1:
            problems.append(
                Problem(source, where(index), f"duplicate {what} '{value}'", "ids must be unique")
            )
    return problems


def _unknown(
    value: str, known: Iterable[str], location: str, what: str, source: str
) -> list[Problem]:
    known = list(known)
    if value in known:
        return []
    return [
        Problem(source, location, f"unknown {what} '{value}'", f"use one of: {', '.join(known)}")
    ]


def check_structure(spec: StructureSpec, source: str) -> list[Problem]:
    """Cross-field rules of ``structure.yaml`` that a schema cannot say."""
    problems: list[Problem] = []
    facts = spec.facts
    for index, role in enumerate(spec.roles):
        problems += _unknown(role, get_args(Role), f"roles[{index}]", "role", source)
    for index, name in enumerate(spec.templates):
        problems += _unknown(name, TEMPLATE_NAMES, f"templates[{index}]", "template", source)
    for section in ("roles", "templates", "agenda"):
        values = getattr(spec, section)
        problems += _duplicates(values, lambda i, s=section: f"{s}[{i}]", "key", source)
    for section in ("sectors", "participation_ladder", "action_planning_parts", "monitoring_modes"):
        values = getattr(facts, section)
        problems += _duplicates(values, lambda i, s=section: f"facts.{s}[{i}]", "key", source)
    for section in ("columns", "statuses", "process", "smart"):
        values = getattr(spec.action_plan, section)
        problems += _duplicates(values, lambda i, s=section: f"action_plan.{s}[{i}]", "key", source)

    keys = tuple(step.key for step in spec.steps)
    if keys != STEP_KEYS:
        problems.append(
            Problem(
                source,
                "steps",
                f"the steps must be {', '.join(STEP_KEYS)} in this order (got {', '.join(keys)})",
                "the six steps of the guide are fixed",
            )
        )
    problems += _check_tasks(spec, source)
    problems += _check_meetings(spec, source)

    for low, high in (
        ("members_min", "members_max"),
        ("plenaries_min", "plenaries_max"),
        ("duration_months_min", "duration_months_max"),
    ):
        if getattr(facts, low) > getattr(facts, high):
            problems.append(Problem(source, f"facts.{low}", f"is greater than {high}"))
    longest = round(facts.duration_months_max * 52 / 12)
    if spec.plan_weeks > longest:
        problems.append(
            Problem(
                source,
                "plan_weeks",
                f"{spec.plan_weeks} weeks is longer than "
                f"{facts.duration_months_max} months ({longest} weeks)",
            )
        )
    if set(spec.action_plan.statuses) != set(STATUSES):
        problems.append(
            Problem(source, "action_plan.statuses", f"must be exactly {', '.join(STATUSES)}")
        )
    for column in REQUIRED_COLUMNS:
        if column not in spec.action_plan.columns:
            problems.append(Problem(source, "action_plan.columns", f"missing column '{column}'"))
    return problems


def _check_tasks(spec: StructureSpec, source: str) -> list[Problem]:
    """Task ids, owners, templates and timing within the plan."""
    problems: list[Problem] = []
    seen: dict[str, str] = {}
    sustain_task = None
    for s, step in enumerate(spec.steps):
        for t, task in enumerate(step.tasks):
            where = f"steps[{s}].tasks[{t}]"
            if task.id in seen:
                problems.append(
                    Problem(
                        source,
                        f"{where}.id",
                        f"duplicate task id '{task.id}'",
                        f"already used at {seen[task.id]}",
                    )
                )
            seen.setdefault(task.id, where)
            if not task.id.startswith(f"{step.key}."):
                problems.append(
                    Problem(
                        source, f"{where}.id", f"task id '{task.id}' must start with '{step.key}.'"
                    )
                )
            problems += _unknown(task.owner_role, spec.roles, f"{where}.owner_role", "role", source)
            for i, name in enumerate(task.templates):
                problems += _unknown(
                    name, spec.templates, f"{where}.templates[{i}]", "template", source
                )
            end = task.timing.offset_weeks + task.timing.duration_weeks
            if end > spec.plan_weeks:
                problems.append(
                    Problem(
                        source,
                        f"{where}.timing",
                        f"ends in week {end}, after the plan's {spec.plan_weeks} weeks",
                        "shorten the task or start it earlier",
                    )
                )
            if task.id == spec.sustainability_task:
                sustain_task = (where, task)
    if sustain_task is None:
        problems.append(
            Problem(source, "sustainability_task", f"no task with id '{spec.sustainability_task}'")
        )
    else:
        where, task = sustain_task
        lead_weeks = round(spec.facts.sustainability_lead_months * 52 / 12)
        latest = spec.plan_weeks - lead_weeks
        if task.timing.offset_weeks > latest:
            problems.append(
                Problem(
                    source,
                    f"{where}.timing.offset_weeks",
                    f"the sustainability plan starts in week {task.timing.offset_weeks}, less than "
                    f"{spec.facts.sustainability_lead_months} months before the plan ends "
                    f"(week {spec.plan_weeks})",
                    f"start it in week {latest} or earlier",
                )
            )
    return problems


def _check_meetings(spec: StructureSpec, source: str) -> list[Problem]:
    """The plenary series: 4-5 meetings, in date order, within the plan, serving real steps."""
    facts = spec.facts
    problems: list[Problem] = []
    count = len(spec.meetings)
    if not facts.plenaries_min <= count <= facts.plenaries_max:
        problems.append(
            Problem(
                source,
                "meetings",
                f"{count} meetings; the guide asks for {facts.plenaries_min}-{facts.plenaries_max}",
            )
        )
    keys = [m.key for m in spec.meetings]
    problems += _duplicates(keys, lambda i: f"meetings[{i}].key", "meeting key", source)
    step_keys = [step.key for step in spec.steps]
    previous = -1
    for index, meeting in enumerate(spec.meetings):
        where = f"meetings[{index}]"
        if meeting.offset_weeks >= spec.plan_weeks:
            problems.append(
                Problem(
                    source,
                    f"{where}.offset_weeks",
                    f"week {meeting.offset_weeks} is after the plan's {spec.plan_weeks} weeks",
                )
            )
        if meeting.offset_weeks <= previous:
            problems.append(
                Problem(source, f"{where}.offset_weeks", "meetings must be in date order")
            )
        previous = meeting.offset_weeks
        for i, key in enumerate(meeting.steps):
            problems += _unknown(key, step_keys, f"{where}.steps[{i}]", "step", source)
    return problems


def _expected_ids(spec: StructureSpec) -> dict[str, list[str]]:
    """For each text section, the ids the structure says it must translate."""
    facts = spec.facts
    plan = spec.action_plan
    return {
        "roles": spec.roles,
        "templates": spec.templates,
        "sectors": facts.sectors,
        "participation_ladder": facts.participation_ladder,
        "action_planning_parts": facts.action_planning_parts,
        "monitoring_modes": facts.monitoring_modes,
        "steps": [step.key for step in spec.steps],
        "tasks": [task.id for step in spec.steps for task in step.tasks],
        "meetings": [meeting.key for meeting in spec.meetings],
        "agenda": spec.agenda,
        "columns": plan.columns,
        "statuses": plan.statuses,
        "process": plan.process,
        "smart": plan.smart,
    }


def check_texts(spec: StructureSpec, texts: TextSpec, source: str) -> list[Problem]:
    """Every id translated, nothing extra, and checklists as long as the structure says."""
    problems: list[Problem] = []
    for section, ids in _expected_ids(spec).items():
        given: dict[str, Any] = getattr(texts, section)
        for key in ids:
            if key not in given:
                problems.append(
                    Problem(
                        source,
                        f"{section}.{key}",
                        "missing translation",
                        "copy the entry from en.yaml and translate it",
                    )
                )
        for key in given:
            if key not in ids:
                problems.append(
                    Problem(
                        source,
                        f"{section}.{key}",
                        "translation for an unknown id",
                        "remove it, or add the id to structure.yaml",
                    )
                )
    for step in spec.steps:
        for task in step.tasks:
            text = texts.tasks.get(task.id)
            if text is not None and len(text.checklist) != task.checklist_items:
                problems.append(
                    Problem(
                        source,
                        f"tasks.{task.id}.checklist",
                        f"has {len(text.checklist)} items; structure.yaml says "
                        f"{task.checklist_items}",
                        "every language has the same checklist items, in the same order",
                    )
                )
    return problems


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
                    owner_role=task.owner_role,  # type: ignore[arg-type]  # checked against Role
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
            )
            for number, m in enumerate(spec.meetings, start=1)
        ],
    )
    action_plan = ActionPlanTemplate(
        columns=[Column(key=key, title=texts.columns[key]) for key in plan.columns],
        statuses=_labels(texts.statuses, plan.statuses),  # type: ignore[arg-type]
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
    "available_languages",
    "build_playbook",
    "load_playbook",
    "load_playbook_files",
    "validate_all",
]
