"""``mcm-sync doctor``: the read-only check a coordinator runs before going live."""

from __future__ import annotations

import gettext
from typing import TYPE_CHECKING

import click

from sync.cli.app import AppContext, echo_json, pass_app
from sync.cli.services import _services_option
from sync.cli.support.doctor_texts import translate_check
from sync.cli.support.helptext import HelpCommand
from sync.cli.support.i18n import N_

if TYPE_CHECKING:
    from sync.api.services import DoctorReport

# The status column (``--json`` keeps ok/warn/fail).
MARKS = {"ok": N_("ok"), "warn": N_("WARN"), "fail": N_("FAIL")}


def print_report(report: DoctorReport, t: gettext.NullTranslations) -> None:
    """The table: service, check, status, what was found; the fix under each warn/fail."""
    checks = [translate_check(check, t) for check in report.checks]
    width = max([len(c.name) for c in checks] + [5])
    marks = {status: t.gettext(mark) for status, mark in MARKS.items()}
    service, check_, status = t.gettext("service"), t.gettext("check"), t.gettext("status")
    first = max([len(c.service) for c in checks] + [len(service), 10])
    third = max([len(mark) for mark in marks.values()] + [len(status), 6])
    found = t.gettext("found")
    click.echo(f"{service:{first}} {check_:{width}} {status:{third}} {found}")
    for check in checks:
        click.echo(f"{check.service:{first}} {check.name:{width}} {marks[check.status]:{third}} "
                   f"{check.detail}")
        if check.fix and check.status != "ok":
            click.echo(f"{'':{first}} {'':{width}} {'':{third}} "
                       + t.gettext("fix: %(fix)s") % {"fix": check.fix})
    counts = {s: sum(1 for c in report.checks if c.status == s) for s in MARKS}
    click.echo(t.gettext("doctor: %(ok)d ok, %(warn)d warn, %(fail)d fail") % counts)


@click.command(cls=HelpCommand)
@click.option("--only", help="Comma list of services: trello,slack,mailchimp.")
@click.option("--sandbox/--no-sandbox", default=None, help="Override the config's sandbox switch.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable report.")
@pass_app
def doctor(app: AppContext, only: str | None, sandbox: bool | None, as_json: bool) -> None:
    """Check credentials, permissions, board, channels, audience and people (read-only).

    Exit 0 when nothing fails (warnings are advice), 4 when a service refuses something,
    2 for a config error. No secret is ever printed.
    """
    report = app.alliance.doctor(only=_services_option(only), sandbox=sandbox)
    if as_json:
        echo_json(report.as_dict())
    else:
        print_report(report, app.texts)
    code = report.exit_code()
    if code:
        click.get_current_context().exit(code)
