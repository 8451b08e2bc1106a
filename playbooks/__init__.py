"""Playbooks: the guide's six steps, tasks, meetings and action-plan template as validated data."""
