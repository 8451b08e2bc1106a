"""The root imports its commands only when they are used, and its registry tells the truth.

``sync.cli.main.COMMANDS`` names every command by module and attribute with the short help
``mcm-sync --help`` shows; here every entry resolves to a click command of that name, its
short help is the command's own, and ``--version`` / ``--help`` in a fresh interpreter import
no command module and none of the heavy libraries. A quiet ``mcm-sync sync`` process (the
cron run) imports none of what only other commands, or a sync with something to do, need.
"""

from __future__ import annotations

import click
import pytest
from click.testing import CliRunner

from sync.cli.main import COMMANDS, cli
from sync.cli.support.lazy import LazyCommand, LazyGroup, load_target
from tests.support.processes import cli_process
from tests.support.synced import Synced, until_quiet

# Libraries that neither --version nor --help needs (the start-up profile).
HEAVY = ("sqlalchemy", "pydantic", "docx", "icalendar", "werkzeug", "jinja2", "matplotlib",
         "email_validator", "rich", "slack_sdk", "trello", "mailchimp_marketing", "requests")

# What a quiet sync process does not need (issue 24's start-up profile), imported where used:
# the documents' and reports' libraries, rich (a progress bar is for a terminal), the
# Mailchimp SDK (only for an audience with people to push), Babel's date and number modules
# (dates and amounts written or typed for people; the config's country check needs only
# babel.core), the playbook's loader with its schemas and checks (the fitted playbook is read
# back from beside the state store: sync.core.kept.playbook), email_validator (the config's
# addresses are kept as valid: sync.core.kept.addresses), and our modules for other commands
# or for a sync with something to do (bootstrap's; the engine's plan and its apply, init's
# questions: sync.core.init_config). And no pydantic model is built: the config and the
# action-plan rows are kept validated beside the state store (sync.core.kept.config, .rows),
# so pydantic never builds a validator, which is when it imports its plugin loader (and with
# it looks up every installed distribution's entry points).
NOT_IN_A_QUIET_SYNC = (
    "pydantic.plugin._loader",
    "docx", "icalendar", "werkzeug", "jinja2", "matplotlib", "rich", "mailchimp_marketing",
    "babel.dates", "babel.numbers", "playbooks.loader", "playbooks.spec", "playbooks.checks",
    "email_validator",
    "sync.audience.model", "sync.bootstrap", "sync.engine.plan", "sync.engine.apply",
    "sync.engine.item", "sync.doctor", "sync.core.init_config",
    "sync.documents", "sync.fleet", "sync.serve", "sync.realtime.hosted",
    "sync.realtime.process", "sync.state.events")


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_registered_command_resolves_to_itself(name: str) -> None:
    entry = COMMANDS[name]
    command = load_target(entry.target)
    assert isinstance(command, click.Command)
    assert command.name == name, f"{entry.target} is the command {command.name!r}, not {name!r}"
    own = command.get_short_help_str(limit=10_000)
    assert entry.short_help == own, \
        f"the registry's short help of `{name}` differs from its docstring's: {own!r}"
    for sub_name, target in entry.attached.items():
        assert load_target(target).name == sub_name


def test_the_root_lists_every_registered_command() -> None:
    ctx = click.Context(cli)
    assert cli.list_commands(ctx) == sorted(COMMANDS)
    assert all(cli.get_command(ctx, name) is not None for name in COMMANDS)
    sandbox = cli.get_command(ctx, "sandbox")
    assert isinstance(sandbox, click.Group)
    assert set(COMMANDS["sandbox"].attached) | {"serve"} == set(sandbox.commands)


def test_the_lazy_help_is_what_click_writes_for_the_loaded_commands() -> None:
    lazy = CliRunner().invoke(LazyGroup(name="mcm-sync", lazy_commands=COMMANDS), ["--help"])
    eager = click.Group(name="mcm-sync", commands=LazyGroup(lazy_commands=COMMANDS).load_all())
    loaded = CliRunner().invoke(eager, ["--help"])
    assert lazy.exit_code == loaded.exit_code == 0
    assert lazy.output == loaded.output
    assert "sync " in lazy.output and "Keep every action item in step" in lazy.output


@pytest.mark.parametrize("args", [("--version",), ("--help",)], ids=" ".join)
def test_version_and_help_import_no_command(args: tuple[str, ...]) -> None:
    found = cli_process(*args)
    modules = found.modules
    commands = {entry.target.partition(":")[0] for entry in COMMANDS.values()}
    assert sorted(commands & set(modules)) == []
    assert sorted({m.partition(".")[0] for m in modules} & set(HEAVY)) == []
    if args == ("--help",):
        assert all(name in found.output for name in COMMANDS)
        # The version is read from the installed metadata only when shown (sync.__version__).
        assert "importlib.metadata" not in modules


@pytest.mark.parametrize("synced_template", ["sqlite"], indirect=True)
def test_a_quiet_sync_process_imports_only_what_it_runs(alliance: Synced) -> None:
    until_quiet(alliance)
    found = cli_process("-c", str(alliance.config_path), "sync")
    assert "sync (quiet: nothing new) done" in found.output
    modules = found.modules
    # The process did run a sync: the command, the engine and the connectors are there.
    assert {"sync.cli.sync", "sync.engine.run", "connectors.trello.connector"} <= set(modules)
    # A package is in sys.modules whenever any module of it is.
    imported = sorted(set(NOT_IN_A_QUIET_SYNC) & set(modules))
    assert imported == [], f"a quiet sync imported {imported}"


def test_a_lazy_group_refuses_a_target_that_is_not_a_command() -> None:
    group = LazyGroup(lazy_commands={"x": LazyCommand("sync.cli.main:COMMANDS", "X.")})
    with pytest.raises(TypeError, match="not a click command"):
        group.get_command(click.Context(group), "x")
