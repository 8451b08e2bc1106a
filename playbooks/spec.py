"""The shapes of the playbook's YAML files, and reading YAML into :class:`Problem` lists.

These models describe the files as written (``structure.yaml`` and ``text/<lang>.yaml``), not
the merged :class:`playbooks.model.Playbook`. They are strict: an unknown key, a string where a
number belongs or a number where a text belongs is reported, never coerced, so a typo in a
translation cannot slip through silently.
"""

from __future__ import annotations

from typing import Annotated, Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from playbooks.errors import Problem, key_path
from playbooks.yaml_text import TextDateLoader

Text = Annotated[str, Field(min_length=1)]
TEMPLATE_NAMES = (
    "briefing",
    "invitation",
    "charter",
    "agenda",
    "minutes",
    "communication_plan",
    "swot",
    "stakeholders",
    "action_plan",
    "profile",
)


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


# --- structure.yaml -----------------------------------------------------------------------


class TimingSpec(_Spec):
    """Offset and duration in weeks from the alliance's start."""

    offset_weeks: int = Field(ge=0)
    duration_weeks: int = Field(ge=1)


class TaskSpec(_Spec):
    """A task as the structure file declares it (no texts)."""

    id: str
    owner_role: str
    timing: TimingSpec
    templates: list[str] = []
    checklist_items: int = Field(ge=1)


class StepSpec(_Spec):
    """A step: its key and its tasks."""

    key: str
    tasks: list[TaskSpec] = Field(min_length=1)


class FactsSpec(_Spec):
    """The guide's numbers, and the keys of its lists (labels come from the text files)."""

    members_min: int
    members_max: int
    plenaries_min: int
    plenaries_max: int
    duration_months_min: int
    duration_months_max: int
    project_years: int
    sustainability_lead_months: int
    briefing_min_reasons: int
    sectors: list[str] = Field(min_length=1)
    participation_ladder: list[str] = Field(min_length=5, max_length=5)
    action_planning_parts: list[str] = Field(min_length=6, max_length=6)
    monitoring_modes: list[str] = Field(min_length=3, max_length=3)


class MeetingSpec(_Spec):
    """A plenary meeting: key, week and the steps it serves."""

    key: str
    offset_weeks: int = Field(ge=0)
    steps: list[str] = []
    optional: bool = False  # left out of a series of the guide's minimum (4) plenaries


class ActionPlanSpec(_Spec):
    """Keys of the action table's columns, statuses, process steps and SMART criteria."""

    columns: list[str] = Field(min_length=1)
    statuses: list[str]
    process: list[str] = Field(min_length=3, max_length=3)
    smart: list[str] = Field(min_length=5, max_length=5)


class StructureSpec(_Spec):
    """The whole ``structure.yaml``."""

    plan_weeks: int = Field(ge=1)
    sustainability_task: str
    roles: list[str] = Field(min_length=1)
    templates: list[str]
    facts: FactsSpec
    steps: list[StepSpec] = Field(min_length=6, max_length=6)
    meetings: list[MeetingSpec] = Field(min_length=1)
    agenda: list[str] = Field(min_length=1)
    action_plan: ActionPlanSpec


# --- text/<language>.yaml -----------------------------------------------------------------


class StepText(_Spec):
    """A step's texts."""

    title: Text
    goal: Text


class TaskText(_Spec):
    """A task's texts; the checklist's length must match the structure's ``checklist_items``."""

    title: Text
    description: Text
    checklist: list[Text] = Field(min_length=1)
    outcome: Text


class MeetingText(_Spec):
    """A meeting's texts."""

    title: Text
    purpose: Text


class TextSpec(_Spec):
    """The whole ``text/<language>.yaml``: every label, keyed by the structure's ids."""

    title: Text
    roles: dict[str, Text]
    templates: dict[str, Text]
    sectors: dict[str, Text]
    participation_ladder: dict[str, Text]
    action_planning_parts: dict[str, Text]
    monitoring_modes: dict[str, Text]
    steps: dict[str, StepText]
    tasks: dict[str, TaskText]
    meetings: dict[str, MeetingText]
    agenda: dict[str, Text]
    columns: dict[str, Text]
    statuses: dict[str, Text]
    process: dict[str, Text]
    smart: dict[str, Text]


# --- reading -----------------------------------------------------------------------------


class _DuplicateCheckingLoader(TextDateLoader):
    """A safe loader that records duplicate mapping keys (PyYAML silently keeps the last)."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.duplicates: list[tuple[int, str]] = []

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            if key in seen:
                self.duplicates.append((key_node.start_mark.line + 1, str(key)))
            seen.add(key)
        mapping: dict[Any, Any] = super().construct_mapping(node, deep=deep)
        return mapping


def read_yaml(text: str, source: str) -> tuple[Any, list[Problem]]:
    """Parse YAML text; syntax errors and duplicate keys come back as problems."""
    loader = _DuplicateCheckingLoader(text)
    try:
        data = loader.get_single_data()
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark else ""
        reason = getattr(exc, "problem", None) or str(exc)
        return None, [
            Problem(source, where, f"not valid YAML: {reason}", "check indentation and quoting")
        ]
    finally:
        loader.dispose()
    problems = [
        Problem(source, f"line {line}", f"duplicate key '{key}'", "each id may appear only once")
        for line, key in loader.duplicates
    ]
    return data, problems


_HINTS = {
    "extra_forbidden": "remove it, or check its spelling against structure.yaml / en.yaml",
    "missing": "add it",
}


def validation_problems(error: ValidationError, source: str) -> list[Problem]:
    """Turn pydantic's errors into problems: unknown key, missing key, wrong type."""
    problems = []
    for item in error.errors(include_url=False):
        kind = item["type"]
        if kind == "extra_forbidden":
            message = "unknown key"
        elif kind == "missing":
            message = "missing key"
        elif kind == "string_too_short":
            message = "must not be empty"
        elif kind.endswith("_type") or kind.endswith("_parsing"):
            got = type(item.get("input")).__name__
            message = f"wrong type: {item['msg'].lower()} (got {got})"
        else:
            message = item["msg"]
        problems.append(
            Problem(source, key_path(tuple(item["loc"])), message, _HINTS.get(kind, ""))
        )
    return problems
