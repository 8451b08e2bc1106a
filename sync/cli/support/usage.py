"""click's own usage errors in the coordinator's language ("No such option", "Missing
argument", "Error: ...", "Try ... for help") and the refusals of ``init``'s answers.

click marks these texts for gettext's default domain, which reads compiled ``.mo`` files of
its own, so our catalogue cannot reach them. Instead the root group
(:class:`sync.cli.app.McmGroup`) hands each usage error to :func:`localised`, which keeps
click's message as written and translates it here against the English templates below (the
texts of click 8.x, with ``%(name)s`` where click puts a value). A value that is itself one
of them, or one of our own refusals (:data:`sync.cli.support.params.REFUSALS`), is translated
too; option names, commands and typed values are kept. In English nothing is wrapped, and a
message that matches no template is printed as click wrote it.
"""

from __future__ import annotations

import gettext
from typing import IO, Any

import click

from sync.cli.support.i18n import N_
from sync.cli.support.messages import translate_nested
from sync.cli.support.params import REFUSALS

# click's texts (click/exceptions.py, parser.py, core.py, types.py), as it formats them.
CLICK_TEMPLATES: tuple[str, ...] = (
    N_("No such option %(name)s. Did you mean %(possibility)s?"),
    N_("No such option %(name)s. (Did you mean one of: %(possibilities)s?)"),
    N_("No such option %(name)s."),
    N_("No such command %(name)s. Did you mean %(possibility)s?"),
    N_("No such command %(name)s. (Did you mean one of: %(possibilities)s?)"),
    N_("No such command %(name)s."),
    N_("Missing command."),
    N_("Missing argument %(name)s."),
    N_("Missing option %(name)s."),
    N_("Missing parameter %(name)s."),
    N_("Invalid value for %(param)s: %(message)s"),
    N_("Invalid value: %(message)s"),
    N_("Option %(name)s requires an argument."),
    N_("Option %(name)s requires %(n)s arguments."),
    N_("Option %(name)s does not take a value."),
    N_("Got unexpected extra argument (%(args)s)"),
    N_("Got unexpected extra arguments (%(args)s)"),
    N_("%(value)s is not one of %(choices)s."),
    N_("%(value)s is not a valid integer."),
    N_("%(value)s is not in the range %(range)s."),
)
TEMPLATES: tuple[str, ...] = CLICK_TEMPLATES + REFUSALS


def translate_usage(message: str, t: gettext.NullTranslations) -> str:
    """A usage error's message (or a refused answer) in the language of ``t``."""
    return translate_nested(message, t, TEMPLATES, depth=3)


def error_line(message: str, t: gettext.NullTranslations) -> str:
    """``Error: message`` as click prints it, in the language of ``t``."""
    return t.gettext("Error: %(message)s") % {"message": translate_usage(message, t)}


class LocalisedUsageError(click.UsageError):
    """A usage error of click's, shown in the coordinator's language (same exit code 2)."""

    def __init__(self, error: click.UsageError, t: gettext.NullTranslations) -> None:
        super().__init__(error.format_message(), error.ctx)
        self.texts = t

    def format_message(self) -> str:
        """click's message, translated."""
        return translate_usage(self.message, self.texts)

    def show(self, file: IO[Any] | None = None) -> None:
        """The usage line, the hint to ``--help`` and the error, as click shows them."""
        to_stderr = file is None
        ctx = self.ctx
        if ctx is not None:
            hint = ""
            if ctx.command.get_help_option(ctx) is not None:
                option = max(ctx.command.get_help_option_names(ctx), key=len)
                hint = self.texts.gettext("Try '%(command)s' for help.") % {
                    "command": f"{ctx.command_path} {option}"} + "\n"
            click.echo(f"{ctx.get_usage()}\n{hint}", file=file, err=to_stderr, color=ctx.color)
        click.echo(self.texts.gettext("Error: %(message)s") % {"message": self.format_message()},
                   file=file, err=to_stderr, color=ctx.color if ctx is not None else None)


def localised(error: click.UsageError, t: gettext.NullTranslations) -> click.UsageError:
    """``error`` to raise in the language of ``t`` (itself in English, or for click's help
    shown for a group called without a command)."""
    if type(t) is gettext.NullTranslations or isinstance(
            error, click.exceptions.NoArgsIsHelpError | LocalisedUsageError):
        return error
    return LocalisedUsageError(error, t)
