"""The playbook as typed data: steps, tasks, meetings, the action-plan table and the guide's facts.

A playbook is assembled from two kinds of YAML file in ``playbooks/data/``: one
language-neutral *structure* (ids, timing, owner roles, templates, the guide's numbers) and
one *text* file per language (titles, goals, descriptions, checklists keyed by those ids).
The loader (``playbooks.loader``) merges them into these models, so every language has the
same ids and the same timing by construction, and a missing translation is an error.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict, Field

# The one place the statuses are spelled out, in the order of the board's lists; every other
# place (config, engine, CLI, reports, tests) derives from these names. A new status also needs
# its label in each language's playbook texts (playbooks.checks asks for exactly these).
Status = Literal["todo", "doing", "blocked", "done", "cancelled"]
STATUSES: tuple[Status, ...] = get_args(Status)
# Where an item's work ends; every other status is open (so is a new one, unless listed here).
CLOSED_STATUSES: tuple[Status, ...] = ("done", "cancelled")
OPEN_STATUSES: tuple[Status, ...] = tuple(s for s in STATUSES if s not in CLOSED_STATUSES)
Role = Literal[
    "coordinator", "chair", "secretariat", "communications", "evaluator", "member", "all_members"
]


class _Model(BaseModel):
    # defer_build: a model's validator is built when it first validates. A scheduled run
    # reads the fitted playbook back without validating it (sync.core.kept.playbook) and
    # validates only the action-plan rows, so it builds ActionRow's validator alone.
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


class Timing(_Model):
    """When a task runs, relative to the alliance's start date."""

    offset_weeks: int = Field(ge=0)
    duration_weeks: int = Field(ge=1)

    def due_date(self, start: dt.date) -> dt.date:
        """The task's due date for an alliance that starts on ``start``."""
        return start + dt.timedelta(weeks=self.offset_weeks + self.duration_weeks)


class Task(_Model):
    """One task of a step, e.g. ``scope.define-region``."""

    id: str
    step: str
    title: str
    description: str
    checklist: list[str] = Field(min_length=1)
    owner_role: Role
    timing: Timing
    templates: list[str] = []
    outcome: str = Field(description="the measurable outcome that says the task is done")


class Step(_Model):
    """One of the guide's six steps."""

    key: str
    number: int = Field(ge=1, le=6)
    title: str
    goal: str
    tasks: list[Task] = Field(min_length=1)


class AgendaItem(_Model):
    """One item of the plenary meeting agenda template."""

    key: str
    title: str


class Meeting(_Model):
    """One plenary meeting of the series."""

    number: int = Field(ge=1)
    key: str
    title: str
    purpose: str
    offset_weeks: int = Field(ge=0)
    steps: list[str] = []
    optional: bool = Field(default=False, description="left out of a series of 4 plenaries")


class MeetingSeries(_Model):
    """The 4-5 plenary meetings over the alliance's duration, with the agenda template."""

    min_meetings: int = 4
    max_meetings: int = 5
    agenda: list[AgendaItem]
    meetings: list[Meeting]


class Column(_Model):
    """A column of the regional action plan table."""

    key: str
    title: str


class ActionPlanTemplate(_Model):
    """The guide's action table: columns plus status vocabulary with localised labels."""

    columns: list[Column]
    statuses: dict[str, str]  # label by status: exactly STATUSES (playbooks.checks)
    process: list[str] = Field(description="the three-step process: identify, analyse, tabulate")
    smart: dict[str, str] = Field(description="the SMART criteria, key -> explanation")


class Facts(_Model):
    """The guide's numbers and lists that the steps rely on."""

    members_min: int = 8
    members_max: int = 12
    plenaries_min: int = 4
    plenaries_max: int = 5
    duration_months_min: int = 12
    duration_months_max: int = 18
    plan_weeks: int = Field(default=78, description="length of the reference plan the timing uses")
    project_years: int = 2
    sustainability_lead_months: int = 6
    briefing_min_reasons: int = 5
    sectors: dict[str, str]
    participation_ladder: list[str] = Field(min_length=5, max_length=5)
    action_planning_parts: list[str] = Field(min_length=6, max_length=6)
    monitoring_modes: list[str] = Field(min_length=3, max_length=3)


class Playbook(_Model):
    """The whole playbook in one language."""

    language: str
    title: str
    facts: Facts
    roles: dict[str, str]
    steps: list[Step] = Field(min_length=6, max_length=6)
    meetings: MeetingSeries
    action_plan: ActionPlanTemplate
    templates: dict[str, str] = Field(description="template name -> localised title")

    def task(self, task_id: str) -> Task:
        """The task with this id; KeyError if there is none."""
        for step in self.steps:
            for task in step.tasks:
                if task.id == task_id:
                    return task
        raise KeyError(task_id)

    def all_tasks(self) -> list[Task]:
        """Every task, in step order."""
        return [task for step in self.steps for task in step.tasks]

    def ids(self) -> set[str]:
        """Every stable id: step keys, task ids, meeting keys, agenda keys, column keys."""
        ids = {f"step:{s.key}" for s in self.steps}
        ids |= {f"task:{t.id}" for t in self.all_tasks()}
        ids |= {f"meeting:{m.key}" for m in self.meetings.meetings}
        ids |= {f"agenda:{a.key}" for a in self.meetings.agenda}
        ids |= {f"column:{c.key}" for c in self.action_plan.columns}
        return ids


class ActionRow(_Model):
    """One row of an alliance's own regional action plan (the guide's action table)."""

    number: str = ""
    action: str = Field(min_length=3)
    local_problem: str = ""
    description: str = ""
    budget_eur: Decimal | None = Field(default=None, ge=0)
    resources: str = ""
    responsible: str = ""
    timeline: str = ""
    due: dt.date | None = None
    status: Status = "todo"
    step: str = "publish"
    outcome: str = ""
    key: str = Field(default="", description="stable row id; derived from the action if empty")
