"""A click group whose commands are imported only when one is run or its help is asked for.

Start-up is most of a cron run's time, and most of start-up was importing every command's
module (and with them SQLAlchemy, python-docx, icalendar, werkzeug ...) to run one command.
:class:`LazyGroup` knows each command by where it lives (``"module:attribute"``) and by its
short help, so ``mcm-sync --help`` lists every command without importing any of them, and
``mcm-sync sync`` imports only ``sync.cli.sync``. What it holds is :data:`sync.cli.main.COMMANDS`
(the one registry); a test checks that every entry resolves and that its short help is the
command's own.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass, field

import click

from sync.cli.support.helptext import HelpCommand, HelpGroup


@dataclass(frozen=True)
class LazyCommand:
    """Where a command lives and the short help the root's ``--help`` shows for it.

    ``attached``: subcommands put on the group when it is loaded (a group whose module does
    not know them, like the members' actions on the sandbox), name -> ``"module:attribute"``.
    """

    target: str
    short_help: str
    attached: Mapping[str, str] = field(default_factory=dict)


def load_target(target: str) -> click.Command:
    """The click command at ``"module:attribute"`` (imports its module)."""
    module_name, _, attribute = target.partition(":")
    command = getattr(importlib.import_module(module_name), attribute)
    if not isinstance(command, click.Command):
        raise TypeError(f"{target} is not a click command")
    return command


class LazyGroup(HelpGroup):
    """A group with eager commands (``add_command``) and lazy ones (``lazy_commands``); its
    help in the coordinator's language (:class:`HelpGroup`)."""

    def __init__(self, *args: object, lazy_commands: Mapping[str, LazyCommand] | None = None,
                 **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]  # click.Group's own arguments, passed through
        self.lazy_commands: dict[str, LazyCommand] = dict(lazy_commands or {})

    def add_lazy_command(self, name: str, entry: LazyCommand) -> None:
        """Register a command by where it lives, without importing it."""
        self.lazy_commands[name] = entry

    def list_commands(self, ctx: click.Context) -> list[str]:
        """Every command name, loaded or not, sorted as click sorts them."""
        return sorted(set(self.commands) | set(self.lazy_commands))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        """The command, imported now if it was not yet (and then kept)."""
        if cmd_name not in self.commands and cmd_name in self.lazy_commands:
            self.add_command(self.load(cmd_name), cmd_name)
        return self.commands.get(cmd_name)

    def load(self, name: str) -> click.Command:
        """Import the lazy command ``name`` and put its attached subcommands on it."""
        entry = self.lazy_commands[name]
        command = load_target(entry.target)
        if entry.attached:
            if not isinstance(command, click.Group):
                raise TypeError(f"{entry.target} has subcommands attached but is no group")
            for sub_name, sub_target in entry.attached.items():
                if sub_name not in command.commands:
                    command.add_command(load_target(sub_target), sub_name)
        return command

    def load_all(self) -> dict[str, click.Command]:
        """Every command, imported (for the documentation and the tests that walk the tree)."""
        ctx = click.Context(self)
        return {name: command for name in self.list_commands(ctx)
                if (command := self.get_command(ctx, name)) is not None}

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The Commands section as click writes it, from the registry's short helps for the
        commands not imported (so ``--help`` imports none)."""
        rows: list[tuple[str, click.Command]] = []
        for name in self.list_commands(ctx):
            command = self.commands.get(name)
            if command is None:
                # A stand-in that shortens the registry's text the way click shortens help.
                command = HelpCommand(name, help=self.lazy_commands[name].short_help)
            if not command.hidden:
                rows.append((name, command))
        if not rows:
            return
        limit = formatter.width - 6 - max(len(name) for name, _ in rows)
        with formatter.section("Commands"):
            formatter.write_dl([(name, command.get_short_help_str(limit))
                                for name, command in rows])
