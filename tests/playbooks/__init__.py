"""The playbooks: the guide as data, action plans, dates, statuses, the calendar."""
