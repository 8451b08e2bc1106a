"""CLI commands of the foundation: init, validate, playbook, template."""
