"""CLI commands of the sync: ``sync`` (once or ``--watch``), ``status``, ``log``."""

from __future__ import annotations

import contextlib
import datetime as dt
import random
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

import click

from sync.cli.app import AppContext, echo_json, pass_app, report_error
from sync.core.errors import REPORTED, ConflictsUnresolved, UserError
from sync.engine.texts import WHERE
from sync.reports.digest import parse_duration

if TYPE_CHECKING:
    from sync.runner import SyncOutcome

ProgressFn = Callable[[int, int, str], None]


def _summary_line(outcome: SyncOutcome) -> str:
    result = outcome.result
    writes = sum(result.writes.values())
    mode = "full" if result.full else "quiet: nothing new" if result.quiet else "incremental"
    new = len(result.created_items)
    new_items = f"{new} new items" + (f" ({', '.join(result.created_items)})" if new else "")
    extras = [", digest posted" if outcome.digest_posted else "",
              f", {len(outcome.reminders)} meeting reminders" if outcome.reminders else "",
              f", {len(result.duplicates_removed)} duplicate messages removed"
              if result.duplicates_removed else ""]
    return (f"sync ({mode}) done: {len(result.changes)} changes, {new_items}, "
            f"{len(result.conflicts)} conflicts, {result.comments} comments copied, "
            f"{writes} writes" + "".join(extras))


# Where a change came from, as the coordinator calls it (one map with the thread notes).
PLACE = WHERE


@contextlib.contextmanager
def _progress_bar(shown: bool) -> Iterator[ProgressFn | None]:
    """A progress bar on stderr when a person watches it; none (and rich not even imported:
    it is a good part of a cron run's start-up) under cron, in a pipe or with --json."""
    if not shown or not sys.stderr.isatty():
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    console = Console(stderr=True)
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  console=console, transient=True, disable=not console.is_terminal) as bar:
        task = bar.add_task("sync", total=None)

        def progress(done: int, total: int, what: str) -> None:
            bar.update(task, completed=done, total=total, description=f"sync {what}")

        yield progress


def _run_once(app: AppContext, full: bool, sandbox: bool | None, as_json: bool) -> None:
    app.alliance.validate()
    with _progress_bar(not as_json) as progress:
        outcome = app.alliance.sync(full=full, sandbox=sandbox, progress=progress)
    if as_json:
        echo_json(outcome.as_dict())
    else:
        click.echo(_summary_line(outcome))
        for change in outcome.result.changes:
            who = f"{change['actor']} in " if change["actor"] else "in "
            click.echo(f"  {change['item']}: {change['field']} {change['old']} -> {change['new']} "
                       f"({who}{PLACE.get(change['side'], change['side'])})")
        if outcome.audience is not None:
            pushed = outcome.audience
            click.echo(f"  audience: {pushed.sent} people sent in {pushed.write_calls} write "
                       f"calls; {len(pushed.failed)} refused")
        for conflict in outcome.result.conflicts:
            click.echo(f"  conflict: {conflict.field}: kept {conflict.winner_value} "
                       f"({conflict.winner_side}), not applied {conflict.loser_value} "
                       f"({conflict.loser_side})")
    if outcome.unresolved:
        raise ConflictsUnresolved(f"{outcome.unresolved} conflicts need a decision",
                                  hint="see `mcm-sync status`")


def _dry_run(app: AppContext, full: bool, sandbox: bool | None, as_json: bool) -> None:
    """Read and decide like a sync, print what it would do, write nothing anywhere."""
    result = app.alliance.preview_sync(full=full, sandbox=sandbox)
    if as_json:
        echo_json({"dry_run": True, "changes": result.changes,
                   "new_items": result.created_items, "would_make": result.writes,
                   "conflicts": [c.__dict__ for c in result.conflicts]})
        return
    click.echo(f"dry run: {len(result.changes)} changes, {len(result.created_items)} new items, "
               f"{len(result.conflicts)} conflicts; nothing was written")
    for change in result.changes:
        click.echo(f"  would set {change['item']} {change['field']}: {change['old']} -> "
                   f"{change['new']} (from {PLACE.get(change['side'], change['side'])})")
    for new in result.created_items:
        click.echo(f"  would add an item for the {new}")
    for what, count in result.writes.items():
        click.echo(f"  would make {count} x {what}")
    for conflict in result.conflicts:
        click.echo(f"  conflict: {conflict.field}: {conflict.winner_value} "
                   f"({conflict.winner_side}) vs {conflict.loser_value} ({conflict.loser_side})")


@click.command("sync")
@click.option("--full", is_flag=True, help="Compare every card and message (else incremental; "
              "a full reconciliation also runs when sync.full_reconcile_every has passed).")
@click.option("--dry-run", is_flag=True, help="Show what would change; write nothing.")
@click.option("--watch", is_flag=True, help="Keep syncing every --interval until stopped.")
@click.option("--interval", default=None,
              help="With --watch: 30s..24h, e.g. 5m (default 5m).")
@click.option("--sandbox/--no-sandbox", default=None, help="Override the config's sandbox switch.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable result.")
@pass_app
def sync_command(app: AppContext, full: bool, dry_run: bool, watch: bool, interval: str | None,
                 sandbox: bool | None, as_json: bool) -> None:
    """Keep every action item in step across Trello, Slack and the state store.

    Run it from cron or a systemd timer (once), or with --watch. Exit codes: 0 ok,
    2 config error, 3 unresolved conflicts, 4 a service failed after retries.
    """
    if interval is not None and not watch:
        raise UserError(f"--interval {interval} only goes with --watch",
                        hint="add --watch to keep syncing, or leave --interval out for one run")
    if dry_run:
        if watch:
            raise UserError("--dry-run and --watch do not go together",
                            hint="a dry run reads and decides once")
        _dry_run(app, full, sandbox, as_json)
        return
    if not watch:
        _run_once(app, full, sandbox, as_json)
        return
    interval = interval or "5m"
    period = parse_duration(interval, "--interval").total_seconds()
    if not 30 <= period <= 86400:
        # Faster than 30 s only burns the vendors' rate limits; slower than a day, use cron.
        raise UserError(f"--interval {interval} is out of range",
                        hint="use 30s..24h; for rarer runs schedule `mcm-sync sync` with cron")
    stop = threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        while not stop.is_set():
            try:
                _run_once(app, full, sandbox, as_json)
            except REPORTED as error:  # keep watching: the next round may succeed
                report_error(error)
            full = False
            # Jitter, so that many alliances on one host don't hit the APIs in lockstep.
            stop.wait(period * random.uniform(0.9, 1.1))
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)


@click.command()
@click.option("--step", help="Only this step: its number, key or name (e.g. 3, research).")
@click.option("--owner", help="Only items whose owner contains this text (e-mail or name).")
@click.option("--overdue", is_flag=True, help="Only overdue items.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable status.")
@pass_app
def status(app: AppContext, step: str | None, owner: str | None, overdue: bool,
           as_json: bool) -> None:
    """The action plan as a table, progress per step, overdue items highlighted."""
    from rich.console import Console
    from rich.table import Table

    from sync.reports.progress import item_rows, step_key, step_progress

    config = app.config
    book = app.alliance.playbook
    wanted = step_key(book, step) if step is not None else None
    today = dt.date.today()
    with app.alliance.store(required=True) as store:
        items = store.list_items()
        names = {str(p.email): p.name for p in config.people}
        rows = item_rows(items, today, step=wanted, owner=owner, overdue_only=overdue,
                         names=names)
        conflicts = store.list_conflicts()
        numbers = {i.id: i.number for i in items}
        ignored = [a for a in store.list_audit() if a.field == "reaction.ignored"]
        last_run = store.last_run("sync")
        last_quiet = store.get_bookmark("sync", "last_quiet")
    progress = step_progress(items, book, app.alliance.rows)
    last = {"run": last_run.finished_at or last_run.started_at if last_run else None,
            "outcome": last_run.outcome if last_run else None, "quiet_check": last_quiet}
    if as_json:
        echo_json({"items": [r.as_dict() for r in rows],
                   "progress": [{"step": p.key, "done": p.done, "total": p.total,
                                 "percent": p.percent} for p in progress],
                   "conflicts": [{"item": numbers.get(c.item_id, c.item_id), "field": c.field,
                                  "values": c.side_values, "winner": c.winner,
                                  "loser_value": c.loser_value, "at": c.created_at,
                                  "waiting": c.resolved_at is None}
                                 for c in conflicts],
                   "ignored_reactions": [{"item": numbers.get(a.item_id or "", a.item_id),
                                          "by": a.actor, "reaction": a.new, "at": a.at}
                                         for a in ignored],
                   "last_sync": last})
        return
    console = Console()
    table = Table(title=config.alliance.name)
    for column in ("number", "title", "step", "owner", "due", "status"):
        table.add_column(column)
    for row in rows:
        style = "bold red" if row.overdue else None
        table.add_row(row.number, row.title, row.step, row.owner, row.due or "", row.status,
                      style=style)
    console.print(table)
    for p in progress:
        console.print(f"{p.title}: {p.done}/{p.total} ({p.percent}%)")
    if last["run"]:
        quiet = f"; last check with nothing new {str(last_quiet)[:16]}" if last_quiet else ""
        console.print(f"last sync {str(last['run'])[:16]} ({last['outcome'] or 'running'})"
                      f"{quiet}")
    for c in conflicts:
        number = numbers.get(c.item_id, c.item_id)
        if c.resolved_at is None:  # conflict_policy: ask
            shown = ", ".join(f"{side} {value!r}" for side, value in c.side_values.items())
            console.print(f"[bold yellow]conflict waiting[/] {number} {c.field}: {shown} — "
                          f"decide with `mcm-sync resolve {number} --take SIDE`")
            continue
        console.print(f"[yellow]conflict[/] {number} {c.field}: "
                      f"kept {c.side_values.get(c.winner)!r} ({c.winner}), not applied "
                      f"{c.loser_value!r} — {c.created_at[:16]}")
    for a in ignored:  # reactions of people outside the alliance (slack.reactions_from)
        emoji = (a.new or {}).get("emoji", "") if isinstance(a.new, dict) else a.new
        console.print(f"[yellow]ignored reaction[/] {numbers.get(a.item_id or '', a.item_id)}: "
                      f":{emoji}: by {a.actor} — {a.at[:16]}")


@click.command()
@click.option("--item", "number", help="Only this item (e.g. FRL-12).")
@click.option("--limit", default=200, show_default=True, type=click.IntRange(min=1),
              help="At most this many lines (1 or more).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable log.")
@pass_app
def log(app: AppContext, number: str | None, limit: int, as_json: bool) -> None:
    """The audit trail: when, who, where from, old -> new."""
    with app.alliance.store(required=True) as store:
        item_id = None
        if number:
            item = store.get_item_by_number(number)
            if item is None:
                raise UserError(f"no item {number}", hint="see `mcm-sync status` for the numbers")
            item_id = item.id
        entries = store.list_audit(item_id, limit=limit)
        numbers = {i.id: i.number for i in store.list_items()}
    if as_json:
        echo_json([{"at": e.at, "item": numbers.get(e.item_id or "", ""), "actor": e.actor,
                    "source": e.source, "field": e.field, "old": e.old, "new": e.new}
                   for e in entries])
        return
    for e in entries:
        old, new = ("-" if v is None else v for v in (e.old, e.new))
        added = e.old is None and e.field in ("comment", "created")
        what = f"{new}" if added else f"{old} -> {new}"
        click.echo(f"{e.at[:19]}  {numbers.get(e.item_id or '', '-'):8} {e.field:8} {what}  "
                   f"({e.actor or '?'} in {PLACE.get(e.source, e.source)})")



@click.command()
@click.argument("number")
@click.option("--take", required=True,
              help="The side whose value wins (trello, slack, hub) or the value itself.")
@click.option("--field", help="The field, when the item has conflicts on several.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable result.")
@pass_app
def resolve(app: AppContext, number: str, take: str, field: str | None, as_json: bool) -> None:
    """Decide a conflict that waits for you (conflict_policy: ask).

    The chosen value becomes the agreed one; the next `mcm-sync sync` writes it to Trello and
    Slack. Example: mcm-sync resolve FRL-7 --take trello
    """
    from sync.engine.conflicts import resolve as resolve_conflict

    with app.alliance.writing(required=True) as store:
        done = resolve_conflict(store, number, take, field)
    if as_json:
        echo_json(done.__dict__)
        return
    click.echo(f"{done.number}: {done.field} = {done.value} (from {done.taken_from}); "
               "run `mcm-sync sync` to apply it everywhere")
