"""Our errors in the coordinator's language: the framing and the messages users meet most.

The engine raises its errors in English and knows nothing of the command line's language
(``sync/core`` must not import ``sync/cli``). The one place that prints them
(:func:`sync.cli.app.report_error`) translates here what it owns, ``error:`` and ``hint:``,
and the messages and hints of the common user errors, each written below as the English
template the engine formats (``%(name)s`` where it puts a value). A message that matches a
template is translated with its values put back as they were: file names, key paths, values
and the vendors' own text are never translated. A message that matches none stays English;
``tests/cli/test_cli_language.py`` raises each of these errors and checks its Dutch, so a
template that drifts from the engine's wording is caught.
"""

from __future__ import annotations

import gettext
import re
from functools import cache

from connectors.errors import ConnectorSettingError, RemoteError
from playbooks.errors import InputError, Problem
from sync.cli.support.i18n import N_
from sync.core.errors import McmSyncError, error_lines

# The English templates, as the engine formats them (sync/core/config.py, env_file.py,
# services.py, state_url.py; sync/state/lock.py, store.py, binding.py; sync/bootstrap).
TEMPLATES: tuple[str, ...] = (
    # config and secrets files
    N_("config file not found"),
    N_("run `mcm-sync init` or pass -c FILE"),
    N_("secrets file not found"),
    N_("check the path given to --env-file or MCM_SYNC_ENV_FILE"),
    N_("cannot read: %(reason)s"),
    N_("line %(number)s"),
    N_("check indentation and quoting"),
    N_("not valid YAML: %(problem)s"),
    N_("the config must be a mapping of sections"),
    # the config's validation
    N_("unknown key"),
    N_("remove it, or check its spelling against config.example.yaml"),
    N_("add it; see config.example.yaml"),
    N_("Field required"),
    N_("write dates as YYYY-MM-DD"),
    # a remote service's failure (its own words stay as they are)
    N_("try again later; nothing is lost"),
    # secrets in the environment
    N_("environment variable %(name)s is not set"),
    N_("export %(name)s=... before running mcm-sync"),
    N_("%(setting)s is not set"),
    N_("set %(variable)s in the environment, or use sandbox: true to try mcm-sync without "
       "accounts"),
    # the state store's lock
    N_("another mcm-sync run holds the lock (%(holder)s)"),
    N_("wait for it to finish; the lock (%(path)s) is released when that process ends"),
    N_("wait for it to finish; the lock (PostgreSQL advisory lock of schema %(schema)s) is "
       "released when that process ends"),
    # a store of another alliance, or of the other services
    N_("state store %(path)s belongs to alliance %(found)s, not %(slug)s"),
    N_("if you changed alliance.slug, put %(found)s back (the slug is the store's identity); "
       "if this is another alliance, give it its own store: state.path: "
       ".mcm-sync/<slug>/state.db (or state.schema on PostgreSQL)"),
    N_("point state.path (or state.url and state.schema) in the config at this alliance's "
       "own store"),
    N_("state store %(path)s holds the items of another alliance (%(foreign)s-...), not those "
       "of %(slug)s (%(prefix)s-...)"),
    N_("give each alliance its own store: state.path: .mcm-sync/<slug>/state.db in each "
       "config (or state.schema on PostgreSQL)"),
    N_("state store %(path)s was made on the sandbox, but the config points at the real "
       "services (sandbox: false)"),
    N_("state store %(path)s is bound to the real services, but the config points at the "
       "sandbox (sandbox: true)"),
    N_("run `mcm-sync go-live --dry-run`, then `mcm-sync go-live`: it keeps the stakeholders, "
       "minutes, meetings and action plan and sets the %(mode)s ids aside (or set sandbox: "
       "%(flag)s again)"),
    # the exit statuses 3 and 4 of sync and worker --once (sync/cli/sync.py, worker.py)
    N_("%(n)s conflict needs a decision"),
    N_("%(n)s conflicts need a decision"),
    N_("see `mcm-sync status`"),
    N_("every alliance failed (%(n)s)"),
    N_("see the errors above and `mcm-sync worker status`"),
    # the command line's own errors (sync/cli)
    N_("%(path)s already exists"),
    N_("pass --force to overwrite it"),
    N_("cannot write the %(what)s to %(path)s: %(reason)s"),
    N_("check the path, its permissions and the free space"),
    N_("no item %(number)s"),
    N_("see `mcm-sync status` for the numbers"),
    N_("%(number)s has no %(side)s side yet"),
    N_("run `mcm-sync sync` first"),
    N_("run `mcm-sync bootstrap` first"),
    N_("unknown service %(names)s in --only"),
    N_("use a comma list of trello, slack, mailchimp"),
    N_("no Mailchimp audience yet"),
    N_("run `mcm-sync bootstrap` first (or set mailchimp.audience_id)"),
    N_("%(file)s: the import would change the consent of %(n)s person; nothing was imported"),
    N_("%(file)s: the import would change the consent of %(n)s people; nothing was imported"),
    N_("check the lines above, then run again with --yes"),
    N_("no stakeholder with address %(email)s"),
    N_("`mcm-sync stakeholders list` shows who is there"),
    N_("not confirmed; nothing was erased"),
    N_("pass --yes to erase without the question (needed without a terminal)"),
    N_("serve needs %(secrets)s to verify deliveries"),
    N_("Trello's app secret is on https://trello.com/app-key; Slack's signing secret on the "
       "app's Basic Information page"),
    # bootstrap's pending and unresolved lines about people (sync/bootstrap/apply.py)
    N_("trello: %(person)s: invited; has no Trello account yet (the invitation e-mail asks "
       "them to sign up; nothing to do for you)"),
    N_("trello: %(person)s: not found on the board; set trello_username in the config or ask "
       "them to accept the invitation"),
    N_("slack: %(person)s: no Slack user with this e-mail; invite them to the workspace or set "
       "slack_id in the config"),
)

_PLACEHOLDER = re.compile(r"%\\\((\w+)\\\)s")


def _pattern(template: str) -> re.Pattern[str]:
    """The template as a regular expression: each ``%(name)s`` catches its value."""
    seen: set[str] = set()

    def group(match: re.Match[str]) -> str:
        name = match.group(1)
        if name in seen:  # the same value twice: it must be the same text
            return f"(?P={name})"
        seen.add(name)
        return f"(?P<{name}>.+?)"

    return re.compile(_PLACEHOLDER.sub(group, re.escape(template)), re.DOTALL)


@cache
def _patterns(templates: tuple[str, ...]) -> tuple[tuple[str, re.Pattern[str]], ...]:
    return tuple((template, _pattern(template)) for template in templates)


def match_template(text: str, templates: tuple[str, ...]) -> tuple[str, dict[str, str]] | None:
    """The first of ``templates`` that ``text`` is made from, and the values put in it."""
    for template, pattern in _patterns(templates):
        found = pattern.fullmatch(text)
        if found:
            return template, found.groupdict()
    return None


def translate_text(text: str, t: gettext.NullTranslations,
                   templates: tuple[str, ...] = TEMPLATES) -> str:
    """``text`` in the language of ``t`` if it is one of ``templates``, else as it is."""
    if not text or type(t) is gettext.NullTranslations:
        return text
    found = match_template(text, templates)
    if found is None:
        return text
    template, values = found
    return t.gettext(template) % values


def translate_nested(text: str, t: gettext.NullTranslations, templates: tuple[str, ...],
                     depth: int = 2) -> str:
    """:func:`translate_text`, and each value put in the template translated the same way
    when it is one of ``templates`` too (a refusal inside ``Invalid value for ...``)."""
    if not text or depth <= 0 or type(t) is gettext.NullTranslations:
        return text
    found = match_template(text, templates)
    if found is None:
        return text
    template, values = found
    inner = {name: translate_nested(value, t, templates, depth - 1)
             for name, value in values.items()}
    return t.gettext(template) % inner


def _with_hint(text: str, hint: str, t: gettext.NullTranslations) -> str:
    if not hint:
        return text
    return t.gettext("%(text)s (hint: %(hint)s)") % {"text": text,
                                                      "hint": translate_text(hint, t)}


def _problem_line(problem: Problem, t: gettext.NullTranslations) -> str:
    location = translate_text(problem.location, t)
    where = f"{problem.source}: {location}" if location else problem.source
    return _with_hint(f"{where}: {translate_text(problem.message, t)}", problem.hint, t)


def error_lines_in(error: BaseException, t: gettext.NullTranslations) -> list[str]:
    """The lines of one of our errors (as :func:`sync.core.errors.error_lines`), translated."""
    if isinstance(error, InputError) and error.problems:
        return [_problem_line(problem, t) for problem in error.problems]
    if isinstance(error, McmSyncError) and type(error).lines is McmSyncError.lines:
        return [_with_hint(translate_text(str(error), t), error.hint, t)]
    if isinstance(error, RemoteError | ConnectorSettingError):  # the vendor's words, our hint
        return [_with_hint(str(error), error.hint, t)]
    return error_lines(error)


def error_prefix(t: gettext.NullTranslations) -> str:
    """``error: `` in the language of ``t``."""
    return t.gettext("error: ")


def internal_error_line(error: BaseException, t: gettext.NullTranslations) -> str:
    """The line for a bug: what it was, and how to tell us."""
    return t.gettext("internal error: %(kind)s: %(error)s (hint: run with -v for the stack "
                     "trace and report it)") % {"kind": type(error).__name__, "error": error}
