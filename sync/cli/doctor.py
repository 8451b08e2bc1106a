"""``mcm-sync doctor``: the read-only check a coordinator runs before going live."""

from __future__ import annotations

import click

from sync.cli.app import AppContext, echo_json, pass_app
from sync.cli.services import _services_option
from sync.doctor.report import DoctorReport

MARKS = {"ok": "ok", "warn": "WARN", "fail": "FAIL"}


def print_report(report: DoctorReport) -> None:
    """The table: service, check, status, what was found; the fix under each warn/fail."""
    width = max([len(c.name) for c in report.checks] + [5])
    click.echo(f"{'service':10} {'check':{width}} {'status':6} found")
    for check in report.checks:
        click.echo(f"{check.service:10} {check.name:{width}} {MARKS[check.status]:6} "
                   f"{check.detail}")
        if check.fix and check.status != "ok":
            click.echo(f"{'':10} {'':{width}} {'':6} fix: {check.fix}")
    counts = {s: sum(1 for c in report.checks if c.status == s) for s in MARKS}
    click.echo(f"doctor: {counts['ok']} ok, {counts['warn']} warn, {counts['fail']} fail")


@click.command()
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
        print_report(report)
    code = report.exit_code()
    if code:
        click.get_current_context().exit(code)
