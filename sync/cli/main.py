"""The ``mcm-sync`` command tree: every command, where it lives and its short help, in one place.

The command modules define their commands without knowing the root; :data:`COMMANDS` alone
puts them together, so the CLI modules import each other in one direction only (commands ->
``app``), and the whole tree is listed here. The root imports a command's module only when
that command runs or its own ``--help`` is asked for (:class:`sync.cli.support.lazy.LazyGroup`):
``mcm-sync --version`` and ``mcm-sync --help`` import none of them, ``mcm-sync sync`` only
``sync.cli.sync``. The short help is the one ``mcm-sync --help`` shows; it must be the
command's own (the first sentence of its docstring), which ``tests/cli/test_cli_lazy.py`` checks.

A new command: one line here (and its page under ``docs/commands/``).
"""

from __future__ import annotations

from sync.cli.app import cli
from sync.cli.support.lazy import LazyCommand
from sync.cli.support.startup import hold_collector

# The members' actions on the sandbox, attached to `mcm-sync sandbox` beside its `serve`.
SANDBOX_MEMBERS = {
    "move": "sync.cli.sandbox_members:move",
    "react": "sync.cli.sandbox_members:react",
    "reply": "sync.cli.sandbox_members:reply",
    "comment": "sync.cli.sandbox_members:comment",
    "add-card": "sync.cli.sandbox_members:add_card",
    "archive": "sync.cli.sandbox_members:archive",
    "unsubscribe": "sync.cli.sandbox_members:unsubscribe",
    "bounce": "sync.cli.sandbox_members:bounce",
    "change-email": "sync.cli.sandbox_members:change_email",
    "update-profile": "sync.cli.sandbox_members:update_profile",
    "signup": "sync.cli.sandbox_members:signup",
}

COMMANDS: dict[str, LazyCommand] = {
    "init": LazyCommand(
        "sync.cli.foundation:init",
        "Write a config file for a new alliance (asks for what the options don't give)."),
    "validate": LazyCommand(
        "sync.cli.foundation:validate",
        "Check the config, the playbooks and the action-plan file; exit 2 on any error."),
    "playbook": LazyCommand(
        "sync.cli.foundation:playbook",
        "Show the guide's six steps, their tasks and the meeting series."),
    "template": LazyCommand(
        "sync.cli.foundation:template",
        "Render the guide's templates (briefing, charter, agenda, ...) for your alliance."),
    "plan": LazyCommand(
        "sync.cli.services:plan",
        "Show what bootstrap would do, per service, without writing anything."),
    "bootstrap": LazyCommand(
        "sync.cli.services:bootstrap",
        "Create the alliance's board, channels and audience; never anything twice."),
    "go-live": LazyCommand(
        "sync.cli.golive:go_live",
        "Take the trial's state store from the sandbox to the real services (or back)."),
    "doctor": LazyCommand(
        "sync.cli.doctor:doctor",
        "Check credentials, permissions, board, channels, audience and people (read-only)."),
    "sandbox": LazyCommand(
        "sync.cli.services:sandbox",
        "The embedded sandbox: local emulators of Trello, Slack and Mailchimp.",
        attached=SANDBOX_MEMBERS),
    "sync": LazyCommand(
        "sync.cli.sync:sync_command",
        "Keep every action item in step across Trello, Slack and the state store."),
    "status": LazyCommand(
        "sync.cli.sync:status",
        "The action plan as a table, progress per step, overdue items highlighted."),
    "log": LazyCommand(
        "sync.cli.sync:log",
        "The audit trail: when, who, where from, old -> new."),
    "resolve": LazyCommand(
        "sync.cli.sync:resolve",
        "Decide a conflict that waits for you (conflict_policy: ask)."),
    "meeting": LazyCommand(
        "sync.cli.meetings:meeting",
        "The plenary meetings: their dates and agendas."),
    "minutes": LazyCommand(
        "sync.cli.meetings:minutes",
        "Minutes of the plenary meetings."),
    "report": LazyCommand(
        "sync.cli.meetings:report_command",
        "Publish the Regional Alliance Action Plan: the guide's table by step, with progress."),
    "profile": LazyCommand(
        "sync.cli.meetings:profile_command",
        "Render the alliance's short public profile (guide, step 2) from the config and state."),
    "stakeholders": LazyCommand(
        "sync.cli.stakeholders:stakeholders",
        "The stakeholder database (the guide's template) and its Mailchimp audience."),
    "forget": LazyCommand(
        "sync.cli.stakeholders:forget",
        "Erase a person (GDPR): Mailchimp delete-permanent, state, exports; keep a tombstone."),
    "newsletter": LazyCommand(
        "sync.cli.stakeholders:newsletter",
        "Progress newsletters from the alliance's real state (drafts only, never sent)."),
    "serve": LazyCommand(
        "sync.cli.serve:serve",
        "Serve the webhook endpoints until Ctrl-C or SIGTERM (see docs/realtime.md)."),
    "slack": LazyCommand(
        "sync.cli.slack:slack",
        "The Slack app: its manifest for a workspace admin."),
    "worker": LazyCommand(
        "sync.cli.worker:worker",
        "Keep every alliance of a folder in step: sync (with full reconciliations), digests, "
        "meeting reminders."),
}

for name, entry in COMMANDS.items():
    cli.add_lazy_command(name, entry)


def main() -> None:
    """Console-script entry point: the command, with start-up's garbage collection held back
    (:mod:`sync.cli.support.startup`)."""
    hold_collector()
    cli(prog_name="mcm-sync")


__all__ = ["COMMANDS", "cli", "main"]

if __name__ == "__main__":  # pragma: no cover
    main()
