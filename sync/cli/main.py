"""The ``mcm-sync`` command tree: the root group of :mod:`sync.cli.app` with every command on it.

The command modules define their commands without knowing the root; this module alone puts
them together, so the CLI modules import each other in one direction only (commands ->
``app``), and the whole tree is listed in one place.
"""

from __future__ import annotations

from sync.cli import (
    doctor,
    foundation,
    golive,
    meetings,
    sandbox_members,
    serve,
    services,
    slack,
    stakeholders,
    worker,
)
from sync.cli import sync as sync_commands
from sync.cli.app import cli

for command in (
    foundation.init,
    foundation.validate,
    foundation.playbook,
    foundation.template,
    services.plan,
    services.bootstrap,
    golive.go_live,
    doctor.doctor,
    services.sandbox,
    sync_commands.sync_command,
    sync_commands.status,
    sync_commands.log,
    sync_commands.resolve,
    meetings.meeting,
    meetings.minutes,
    meetings.report_command,
    meetings.profile_command,
    stakeholders.stakeholders,
    stakeholders.forget,
    stakeholders.newsletter,
    serve.serve,
    slack.slack,
    worker.worker,
):
    cli.add_command(command)

# A member's actions on the sandbox live under `mcm-sync sandbox` beside `serve`.
for command in (
    sandbox_members.move,
    sandbox_members.react,
    sandbox_members.reply,
    sandbox_members.comment,
    sandbox_members.add_card,
    sandbox_members.archive,
    sandbox_members.unsubscribe,
    sandbox_members.bounce,
    sandbox_members.change_email,
    sandbox_members.update_profile,
    sandbox_members.signup,
):
    services.sandbox.add_command(command)


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="mcm-sync")


__all__ = ["cli", "main"]

if __name__ == "__main__":  # pragma: no cover
    main()
