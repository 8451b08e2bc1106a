"""Playbooks: the guide's six steps, tasks, meetings and action-plan template as validated data.

Public API: :func:`load_playbook` and :func:`available_languages` (the guide in a language),
:func:`load_action_plan` (an alliance's own action-plan rows), and the models.
"""

from playbooks.action_plan import ActionPlanFile, load_action_plan
from playbooks.loader import available_languages, load_playbook, load_playbook_files, validate_all
from playbooks.model import (
    STATUSES,
    ActionPlanTemplate,
    ActionRow,
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

__all__ = [
    "STATUSES",
    "ActionPlanFile",
    "ActionPlanTemplate",
    "ActionRow",
    "AgendaItem",
    "Column",
    "Facts",
    "Meeting",
    "MeetingSeries",
    "Playbook",
    "Step",
    "Task",
    "Timing",
    "available_languages",
    "load_action_plan",
    "load_playbook",
    "load_playbook_files",
    "validate_all",
]
