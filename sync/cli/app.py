"""The ``mcm-sync`` command line: parse, load config, call the engine, map errors to exit codes.

Only ``sync/cli/`` modules import click. Every error of ours (:data:`sync.core.errors.REPORTED`)
is turned into one line per problem on stderr and its fixed exit code, in one place:
:meth:`McmGroup.invoke`. Exit codes are documented in docs/troubleshooting.md. The commands
themselves are registered on the root group by :mod:`sync.cli.main` (imported when used).
"""

from __future__ import annotations

import gettext
import json
import logging
import os
import sys
import traceback
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from connectors import masking
from sync.api import SCHEMA_VERSION, load_env_file
from sync.cli.support.i18n import texts
from sync.cli.support.lazy import LazyGroup
from sync.cli.support.messages import error_lines_in, error_prefix, internal_error_line
from sync.core.errors import REPORTED, ExitStatus, UserError, exit_status

if TYPE_CHECKING:  # imported where used: a command that needs no alliance never pays for them
    from sync.api import Alliance
    from sync.api.config import Config


class AppContext:
    """What every command gets: the config path (loaded lazily) and output switches."""

    def __init__(self, config_path: Path | None, verbose: int) -> None:
        self.config_path = config_path
        self.verbose = verbose
        self._config: Config | None = None
        self._alliance: Alliance | None = None

    @property
    def config(self) -> Config:
        """The validated config; loading it raises ConfigError with every problem."""
        if self._config is None:
            from sync.api.config import default_config_path, load_config

            self._config = load_config(self.config_path or default_config_path())
        return self._config

    @property
    def texts(self) -> gettext.NullTranslations:
        """The command line's words for this alliance (loads the config: its language)."""
        return texts(self.config.alliance.language)

    @property
    def alliance(self) -> Alliance:
        """The alliance of the config (its playbook and rows are read once, when first used)."""
        if self._alliance is None:
            from sync.api import Alliance

            self._alliance = Alliance(self.config, command=_command_name())
        return self._alliance


def _command_name() -> str:
    """``mcm-sync stakeholders push``: the running command, for the lock file's holder line."""
    ctx = click.get_current_context(silent=True)
    words = ctx.command_path.split()[1:] if ctx is not None else []
    return " ".join(["mcm-sync", *words])


pass_app = click.make_pass_decorator(AppContext)


def _show_version(ctx: click.Context, _option: click.Parameter, asked: bool) -> None:
    """``--version``: the package's version and the state store's schema, then exit.

    The version is read from the installed metadata only when asked (:mod:`sync`): a cron run
    never pays for :mod:`importlib.metadata`. The state store's schema is beside it: a store
    written by a newer mcm-sync is refused, so both numbers matter when reporting or upgrading.
    """
    if not asked or ctx.resilient_parsing:
        return
    from sync import __version__

    click.echo(f"mcm-sync, version {__version__} (state store schema {SCHEMA_VERSION})",
               color=ctx.color)
    ctx.exit()


def _check_output(value: Path | None, *, folder_ok: bool) -> Path | None:
    """An output path that can be written: its folder exists; a folder only if ``folder_ok``."""
    if value is None:
        return None
    target = Path(os.path.expanduser(str(value)))
    if target.is_dir() and not folder_ok:
        raise click.BadParameter(f"{value} is a folder: name a file in it")
    parent = target if target.is_dir() else target.parent
    if not parent.is_dir():
        raise click.BadParameter(f"{value}: the folder {parent} does not exist (create it "
                                 "first, or pick another path)")
    return target


def output_file(ctx: click.Context, param: click.Parameter, value: Path | None) -> Path | None:
    """click callback for ``-o FILE``: checked before the command does anything."""
    return _check_output(value, folder_ok=False)


def output_file_or_folder(ctx: click.Context, param: click.Parameter,
                          value: Path | None) -> Path | None:
    """click callback for ``-o FILE|FOLDER`` (a folder: the document's own file name)."""
    return _check_output(value, folder_ok=True)


def write_output(data: str | bytes, target: Path, what: str) -> Path:
    """Write ``data`` to ``target`` (checked by :func:`output_file`) and say where, on stderr,
    with the absolute path, and a word when it is outside the current folder. A failed write
    (a full disk, no permission) is a one-line error, exit 2."""
    try:
        if isinstance(data, bytes):
            target.write_bytes(data)
        else:
            target.write_text(data, encoding="utf-8")
    except OSError as exc:
        raise UserError(f"cannot write the {what} to {target}: {exc.strerror or exc}",
                        hint="check the path, its permissions and the free space") from None
    where = target.resolve()
    outside = not where.is_relative_to(Path.cwd().resolve())
    t = texts(alliance_language())
    click.echo(t.gettext("wrote %(path)s (outside the current folder)") % {"path": where}
               if outside else t.gettext("wrote %(path)s") % {"path": where}, err=True)
    return where


def echo_json(data: Any) -> None:
    """Print ``data`` as JSON for scripts (stable key order, UTF-8)."""
    click.echo(json.dumps(data, indent=2, ensure_ascii=False, sort_keys=False, default=str))


def alliance_language() -> str | None:
    """The language of the running command's alliance, if its config is loaded (an error
    may come before or from reading it: then the variable or the locale chooses)."""
    ctx = click.get_current_context(silent=True)
    app = ctx.find_object(AppContext) if ctx is not None else None
    loaded = app._config if app is not None else None  # never load it to report an error
    return loaded.alliance.language if loaded is not None else None


def report_error(error: BaseException) -> None:
    """Print an error as one line per problem on stderr, each prefixed with ``error:``, in
    the coordinator's language (:mod:`sync.cli.support.messages`)."""
    t = texts(alliance_language())
    for line in error_lines_in(error, t):
        click.echo(masking.mask(error_prefix(t) + line), err=True)


def _localised(error: click.UsageError) -> click.UsageError:
    """A usage error of click's in the coordinator's language (:mod:`sync.cli.support.usage`)."""
    # Imported here: the translation tables (and the checks they name) only when one is shown.
    from sync.cli.support.usage import localised

    return localised(error, texts(alliance_language()))


class McmGroup(LazyGroup):
    """The root group: commands imported when used (:class:`LazyGroup`), the project's
    exceptions mapped to messages and exit codes."""

    def make_context(self, info_name: str | None, args: list[str],
                     parent: click.Context | None = None, **extra: Any) -> click.Context:
        """Parse the root's options; a usage error in the coordinator's language."""
        try:
            return super().make_context(info_name, args, parent, **extra)
        except click.UsageError as error:
            raise _localised(error) from None

    def invoke(self, ctx: click.Context) -> Any:
        """Run the command; turn our errors and unexpected ones into exit codes."""
        try:
            return super().invoke(ctx)
        except REPORTED as error:
            report_error(error)
            ctx.exit(int(exit_status(error)))
        except click.UsageError as error:  # a subcommand's: in the coordinator's language
            raise _localised(error) from None
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException):
            raise
        except KeyboardInterrupt:
            click.echo(texts(alliance_language()).gettext("interrupted"), err=True)
            ctx.exit(130)
        except BrokenPipeError:
            # The reader went away (`mcm-sync log | head`): stop quietly, as other tools do.
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - Python flushes it at exit
            ctx.exit(141)
        except Exception as error:  # a bug: say so, briefly, and keep the stack for -v
            app = ctx.find_object(AppContext)
            if app is not None and app.verbose:
                click.echo(masking.mask(traceback.format_exc()), err=True, nl=False)
            t = texts(alliance_language())
            click.echo(masking.mask(error_prefix(t) + internal_error_line(error, t)), err=True)
            ctx.exit(int(ExitStatus.INTERNAL))


@click.group(cls=McmGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "-c",
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Config file (default: ./mcm-sync.yaml or $MCM_SYNC_CONFIG).",
)
@click.option(
    "--env-file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Read secrets from this file of KEY=VALUE lines (systemd's EnvironmentFile format; "
    "default $MCM_SYNC_ENV_FILE). Variables already set win.",
)
@click.option("-v", "--verbose", count=True, help="More output (-vv for debug logs).")
@click.option("--version", is_flag=True, expose_value=False, is_eager=True,
              callback=_show_version,
              help="Show the version and exit.")
@click.pass_context
def cli(ctx: click.Context, config_path: Path | None, env_file: Path | None,
        verbose: int) -> None:
    """Run a regional alliance of the Migrant Community Mediators guide.

    Playbooks and templates for the guide's six steps; Trello, Slack and Mailchimp set up and
    kept in step. Exit codes: 0 ok, 1 internal error, 2 usage/config/input error,
    3 conflicts left unresolved, 4 a remote service failed.
    """
    level = logging.WARNING if verbose == 0 else logging.INFO if verbose == 1 else logging.DEBUG
    _log_to_stderr(level)
    ctx.obj = AppContext(config_path, verbose)
    # Before any config is read: its ${VAR} references may name the file's variables.
    load_env_file(env_file)


def _log_to_stderr(level: int) -> None:
    """One stderr handler of ours on the root logger, masking (replaced on each call).

    Every record of every library is masked where it is made (:func:`connectors.masking.install`),
    and our handler masks again what reaches it by another road."""
    masking.install()
    root = logging.getLogger()
    for handler in [h for h in root.handlers if isinstance(h, _McmHandler)]:
        root.removeHandler(handler)
    handler = _McmHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    handler.addFilter(masking.MaskingFilter())
    root.addHandler(handler)
    root.setLevel(level)


class _McmHandler(logging.StreamHandler):  # type: ignore[type-arg]  # generic only in typeshed
    """Our stderr handler (a class of its own so it can be found and replaced)."""
