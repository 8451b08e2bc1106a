"""CLI of ``mcm-sync worker``: run many alliances' schedules in one process, and its status."""

from __future__ import annotations

import datetime as dt
import gettext
import os
import signal
import threading
from pathlib import Path
from typing import TYPE_CHECKING

import click
from rich.console import Console
from rich.table import Table

from sync.api import hosting
from sync.api.inputs import parse_duration
from sync.cli.app import echo_json
from sync.cli.support.helptext import HelpGroup
from sync.cli.support.i18n import N_, texts
from sync.core.errors import EveryAllianceFailed, UserError

if TYPE_CHECKING:
    from sync.api.hosting import CycleReport

DATABASE_ENV = "MCM_SYNC_DATABASE_URL"

_alliances = click.option(
    "--alliances", "folder", type=click.Path(file_okay=False, path_type=Path),
    envvar="MCM_SYNC_ALLIANCES", help="Folder with one config (*.yaml) per alliance.")
_database = click.option(
    "--database", default=None,
    help=f"PostgreSQL URL of the workers' job engine (default ${DATABASE_ENV}; without it, "
    "a single worker runs the folder in-process). A password only as ${VAR}.")


def _folder(folder: Path | None, *, one_store_each: bool = True) -> Path:
    if folder is None:
        raise UserError("no folder of alliances given",
                        hint="pass --alliances DIR (one config per alliance in it)")
    if not folder.is_dir():
        raise UserError(f"--alliances {folder}: no such folder",
                        hint="give the folder that holds one config (*.yaml) per alliance")
    if not hosting.alliance_configs(folder):
        raise UserError(f"--alliances {folder}: no alliance config (*.yaml) in it",
                        hint="put one mcm-sync config per alliance in the folder")
    shared = hosting.shared_stores(folder) if one_store_each else []
    if shared:
        first, second = shared[0]
        raise UserError(f"--alliances {folder}: {first.name} and {second.name} name one state "
                        "store", hint="give each alliance its own: state.path: "
                        ".mcm-sync/<slug>/state.db (or state.schema on PostgreSQL)")
    return folder


def _database_url(database: str | None) -> str | None:
    value = database or os.environ.get(DATABASE_ENV) or None
    if value and "${" in value:
        value = os.path.expandvars(value)
    return value


@click.group(cls=HelpGroup, invoke_without_command=True)
@_alliances
@_database
@click.option("--once", is_flag=True, help="Run one cycle (every alliance that is due) and exit.")
@click.option("--interval", default="5m", show_default=True,
              help="How often each alliance is synced: 30s..24h.")
@click.option("--concurrency", default=4, show_default=True, type=click.IntRange(1, 32),
              help="Alliances run at the same time by this worker.")
@click.option("--keep-history", default="6h", show_default=True,
              help="With --database: how long finished runs stay in the job history "
              "(1h..90d; never under two intervals).")
@click.option("--json", "as_json", is_flag=True, help="With --once: the cycle as JSON.")
@click.pass_context
def worker(ctx: click.Context, folder: Path | None, database: str | None, once: bool,
           interval: str, concurrency: int, keep_history: str, as_json: bool) -> None:
    """Keep every alliance of a folder in step: sync (with full reconciliations), digests,
    meeting reminders. Start several workers on one PostgreSQL database (--database) to share
    the alliances: each is synced by one worker at a time, and a worker that dies has its
    alliances taken over by the others. One alliance's failure never stops the others
    (see `mcm-sync worker status`)."""
    if ctx.invoked_subcommand is not None:
        ctx.obj = {"folder": folder, "database": database}
        return
    period = parse_duration(interval, "--interval")
    if not 30 <= period.total_seconds() <= 86400:
        raise UserError(f"--interval {interval} is out of range", hint="use 30s..24h")
    keep = parse_duration(keep_history, "--keep-history")
    if not 3600 <= keep.total_seconds() <= 90 * 86400:
        raise UserError(f"--keep-history {keep_history} is out of range", hint="use 1h..90d")
    running = hosting.worker(_folder(folder), database=_database_url(database),
                             interval=period, concurrency=concurrency, keep_history=keep)
    stop = threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())

    def log_cycle(cycle: CycleReport) -> None:
        # A long-running worker's log: one line per cycle, with the time (cron has none).
        stamp = dt.datetime.now().astimezone().isoformat(timespec="seconds")
        click.echo(f"{stamp} {cycle_line(cycle, texts())}")

    try:
        report = running.run(once=once, stop=stop, on_cycle=None if once else log_cycle)
    except KeyboardInterrupt:
        return
    finally:
        signal.signal(signal.SIGTERM, previous)
        running.close()
    if as_json:
        echo_json(report.as_dict())
    elif once:
        click.echo(cycle_line(report, texts()))
    if once and report.all_failed:
        # Isolation keeps one alliance's failure from the others; all of them failing is
        # the services or the setup, which the scheduler running --once must see.
        raise EveryAllianceFailed(
            f"every alliance failed ({len(report.outcomes)})",
            hint="see the errors above and `mcm-sync worker status`")


# A cycle's outcomes as the coordinator reads them (``--json`` keeps the English words).
OUTCOMES = {"ok": N_("ok"), "conflicts": N_("conflicts"), "failed": N_("failed"),
            "busy": N_("busy")}


def cycle_line(report: CycleReport, t: gettext.NullTranslations) -> str:
    """:meth:`CycleReport.summary` in the coordinator's language (the same line in English)."""
    counts: dict[str, int] = {}
    for outcome in report.outcomes.values():
        counts[outcome] = counts.get(outcome, 0) + 1
    parts = [", ".join(f"{n} {t.gettext(OUTCOMES[outcome]) if outcome in OUTCOMES else outcome}"
                       for outcome, n in sorted(counts.items()))
             or t.gettext("nothing due")]
    failed = sorted(n for n, o in report.outcomes.items() if o == "failed")
    if failed:
        parts.append(t.gettext("failed: %(alliances)s") % {"alliances": "; ".join(
            f"{n} ({report.errors[n]})" if report.errors.get(n) else n for n in failed)})
    return t.gettext("worker cycle: %(parts)s") % {"parts": ", ".join(parts)}


# `worker status`'s table as the coordinator reads it (``--json`` keeps the English keys).
STATUS_COLUMNS = (N_("alliance"), N_("last run"), N_("outcome"), N_("next run"), N_("lag"),
                  N_("events"), N_("last error"))


def _when(value: object, now: dt.datetime) -> str:
    if not isinstance(value, str) or value == "now":
        return str(value or "-")
    seconds = (dt.datetime.fromisoformat(value) - now).total_seconds()
    ago = abs(seconds)
    span = f"{ago:.0f}s" if ago < 120 else f"{ago / 60:.0f}m" if ago < 7200 else \
        f"{ago / 3600:.1f}h"
    return f"in {span}" if seconds > 0 else f"{span} ago"


def _waiting(since: object, now: dt.datetime) -> str:
    """Deliveries waiting for a worker: since how long ("-": none announced)."""
    if not isinstance(since, str):
        return "-"
    return "waiting " + _when(since, now).removesuffix(" ago")


@worker.command("status")
@_alliances
@_database
@click.option("--json", "as_json", is_flag=True, help="Machine-readable status.")
@click.pass_context
def worker_status(ctx: click.Context, folder: Path | None, database: str | None,
                  as_json: bool) -> None:
    """Every alliance's last run, next run, lag, deliveries waiting and last error."""
    given = ctx.obj or {}
    folder = _folder(folder or given.get("folder"), one_store_each=False)
    now = dt.datetime.now(dt.UTC)
    rows = hosting.worker_status(folder, _database_url(database or given.get("database")),
                                 now)
    if as_json:
        echo_json(rows)
        return
    t = texts()  # many alliances: the variable or the locale chooses
    table = Table(*(t.gettext(column) for column in STATUS_COLUMNS))
    for row in rows:
        lag = int(str(row["lag_seconds"]))
        table.add_row(str(row["alliance"]), _when(row["last_run"], now), str(row["outcome"]),
                      _when(row["next_run"], now), f"{lag}s" if lag else "-",
                      _waiting(row["events_waiting_since"], now),
                      str(row["last_error"]) or "-")
    Console(width=160).print(table)
