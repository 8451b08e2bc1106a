"""Playbooks: the guide's six steps, tasks, meetings and action-plan template as validated data.

Public API: :func:`load_playbook` and :func:`available_languages` (the guide in a language),
:func:`load_action_plan` (an alliance's own action-plan rows), and the models.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# Where each public name lives. Imported on first use (PEP 562), so that importing a light
# module of the package (``playbooks.errors``, which every command's error handling needs)
# does not build the pydantic models: about a third of a cron run's start-up.
_HOMES = {
    "ActionPlanFile": "playbooks.action_plan",
    "load_action_plan": "playbooks.action_plan",
    "available_languages": "playbooks.loader",
    "load_playbook": "playbooks.loader",
    "load_playbook_files": "playbooks.loader",
    "validate_all": "playbooks.loader",
    **dict.fromkeys(["STATUSES", "ActionPlanTemplate", "ActionRow", "AgendaItem", "Column",
                     "Facts", "Meeting", "MeetingSeries", "Playbook", "Step", "Task", "Timing"],
                    "playbooks.model"),
}

if TYPE_CHECKING:
    from playbooks.action_plan import ActionPlanFile, load_action_plan
    from playbooks.loader import (
        available_languages,
        load_playbook,
        load_playbook_files,
        validate_all,
    )
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


def __getattr__(name: str) -> Any:
    """A public name, imported from its module the first time it is asked for."""
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'playbooks' has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value
    return value


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
