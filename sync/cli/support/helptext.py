"""``--help`` in the coordinator's language: commands' help, the command lists, options' help.

click takes a command's help from its docstring when the command is defined, in English.
:class:`HelpCommand` and :class:`HelpGroup` translate it when the help is written: the help
text, the short help of the command lists (the first sentence, translated, then shortened as
click shortens it) and every option's help, through the catalogue of
:mod:`sync.cli.support.i18n`; click's own words (``Usage:``, ``Options``, ``Commands``) go
through the same catalogue in :class:`HelpFormatter`. The help's language is chosen by
``MCM_SYNC_LANG`` or the locale: ``--help`` reads no config (it must stay fast).

The catalogue's entries come from :func:`extract`, a Babel extraction method (see
``docs/dates-and-languages.md``): the texts marked with ``gettext``/``ngettext``/``N_`` as
Babel's own Python extractor finds them, and the help texts of ``sync/cli``: every docstring
of a function (a command's help), its first sentence (the command lists' short help) and
every ``help=`` string. A text without a translation stays English.
"""

from __future__ import annotations

import ast
import gettext
import inspect
from collections.abc import Iterator
from typing import IO, Any

import click
from click.utils import _make_default_short_help

from sync.cli.support.i18n import N_, texts

# click's own words in the help (click translates them with Python's global gettext only).
CLICK_WORDS = (N_("Usage:"), N_("Options"), N_("Commands"), N_("Show this message and exit."),
               N_("Show the version and exit."))
WHOLE = 10_000  # a limit no short help reaches: the untruncated first sentence


def _texts() -> gettext.NullTranslations:
    return texts(None)


def help_text(text: str, t: gettext.NullTranslations | None = None) -> str:
    """A command's help text (its docstring, cleaned as click cleans it), translated."""
    cleaned = inspect.cleandoc(text).partition("\f")[0]
    return (t or _texts()).gettext(cleaned) if cleaned else cleaned


def first_sentence(text: str) -> str:
    """The short help click makes of ``text`` when nothing shortens it (the catalogue's key)."""
    return _make_default_short_help(inspect.cleandoc(text).partition("\f")[0], WHOLE)


def short_help(command: click.Command, limit: int) -> str:
    """The command's short help in the coordinator's language, shortened to ``limit``."""
    t = _texts()
    if command.short_help:
        return help_text(command.short_help, t).strip()
    if not command.help:
        return ""
    return _make_default_short_help(t.gettext(first_sentence(command.help)), limit).strip()


class HelpFormatter(click.HelpFormatter):
    """click's formatter, with its own words (usage, section headings) translated."""

    def write_usage(self, prog: str, args: str = "", prefix: str | None = None) -> None:
        """The usage line, its prefix translated."""
        if prefix is None:
            prefix = _texts().gettext("Usage:") + " "
        super().write_usage(prog, args, prefix)

    def write_heading(self, heading: str) -> None:
        """A section's heading, translated."""
        super().write_heading(_texts().gettext(heading))


class HelpContext(click.Context):
    """A context whose help is written by :class:`HelpFormatter`."""

    formatter_class = HelpFormatter


class TranslatedHelp(click.Command):
    """What :class:`HelpCommand` and :class:`HelpGroup` share: help translated when written."""

    context_class = HelpContext

    def format_help_text(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The help text (the docstring), translated."""
        original = self.help
        self.help = help_text(original) if original else original
        try:
            super().format_help_text(ctx, formatter)
        finally:
            self.help = original

    def get_short_help_str(self, limit: int = 45) -> str:
        """The short help of the command lists, translated then shortened."""
        return short_help(self, limit)

    def format_options(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The options with their help translated (the defaults and ranges as click adds
        them)."""
        params = self.get_params(ctx)
        originals = [param.help if isinstance(param, click.Option) else None for param in params]
        t = _texts()
        try:
            for param in params:
                if isinstance(param, click.Option) and param.help:
                    param.help = t.gettext(param.help)
            super().format_options(ctx, formatter)
        finally:
            for param, original in zip(params, originals, strict=True):
                if isinstance(param, click.Option):
                    param.help = original


class HelpCommand(TranslatedHelp):
    """A command whose ``--help`` speaks the coordinator's language."""


class HelpGroup(TranslatedHelp, click.Group):
    """A group whose ``--help`` (and its commands' help) speaks the coordinator's language."""

    command_class = HelpCommand
    group_class = type  # its subgroups are of its own class


# --------------------------------------------------------------------------- extraction


def _help_strings(tree: ast.AST) -> Iterator[tuple[int, str]]:
    """Every docstring of a function or module, its first sentence, and every ``help=``."""
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            doc = ast.get_docstring(node)
            decorated = any("command" in ast.unparse(d) or "group" in ast.unparse(d)
                            for d in node.decorator_list)
            if doc and decorated:
                yield node.lineno, inspect.cleandoc(doc).partition("\f")[0]
                yield node.lineno, first_sentence(doc)
        elif (isinstance(node, ast.keyword) and node.arg in ("help", "short_help")
              and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)):
            yield node.value.lineno, inspect.cleandoc(node.value.value)


def extract(fileobj: IO[bytes], keywords: Any, comment_tags: Any,
            options: Any) -> Iterator[tuple[Any, ...]]:
    """A Babel extraction method: the marked texts (Babel's Python extractor) and the help
    texts of the commands (``pybabel extract -F babel.cfg``)."""
    from babel.messages.extract import extract_python

    source = fileobj.read()
    fileobj.seek(0)
    yield from extract_python(fileobj, keywords, comment_tags, options)
    for line, text in _help_strings(ast.parse(source)):
        yield line, "", text, []
