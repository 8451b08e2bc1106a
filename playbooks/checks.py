"""Rules of the playbook files that a schema cannot say: ids, owners, timing, translations.

Each function returns a list of :class:`Problem` (empty when all is well) instead of raising,
so the loader can report every problem of both files at once.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from functools import partial
from typing import Any, get_args

from playbooks.errors import Problem
from playbooks.model import STATUSES, Role
from playbooks.spec import TEMPLATE_NAMES, StructureSpec, TextSpec

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
        problems += _duplicates(values, partial("{}[{}]".format, section), "key", source)
    for section in ("sectors", "participation_ladder", "action_planning_parts", "monitoring_modes"):
        values = getattr(facts, section)
        problems += _duplicates(values, partial("facts.{}[{}]".format, section), "key", source)
    for section in ("columns", "statuses", "process", "smart"):
        values = getattr(spec.action_plan, section)
        problems += _duplicates(values, partial("action_plan.{}[{}]".format, section), "key",
                                source)

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
