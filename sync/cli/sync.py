"""CLI commands of the sync: ``sync`` (once or ``--watch``), ``status``, ``log``."""

from __future__ import annotations

import contextlib
import random
import signal
import sys
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import click

from sync.api.inputs import parse_duration
from sync.api.runs import WHERE, Conflict, plural
from sync.cli.app import AppContext, echo_json, pass_app, report_error
from sync.cli.support.helptext import HelpCommand
from sync.cli.support.i18n import N_, cli_language, texts
from sync.core.errors import REPORTED, ConflictsUnresolved, UserError

if TYPE_CHECKING:
    from sync.api.runs import ProgressFn, SyncOutcome

def _channel_read(read: dict[str, Any] | None, t: Any) -> str:
    """What a distributed Slack app's run read of the actions channel, and what waits."""
    if not read:
        return ""
    if read["read"] == "incremental":
        said = t.gettext(", Slack: new messages read (the reconciliation continues next run)")
    elif read["reconciliation_finished"]:
        said = t.gettext(", Slack: reconciliation page %(page)d read, a pass finished") \
            % {"page": read["page"]}
    else:
        said = t.gettext(", Slack: reconciliation page %(page)d read (continues next run)") \
            % {"page": read["page"]}
    if read["threads_deferred"]:
        said += t.ngettext(", %(n)d thread left for a later run",
                           ", %(n)d threads left for a later run", read["threads_deferred"]) \
            % {"n": read["threads_deferred"]}
    return str(said)


def _summary_line(outcome: SyncOutcome, language: str | None = None) -> str:
    result = outcome.result
    writes = sum(result.writes.values())
    t = texts(language)
    mode = (t.gettext("full") if result.full else t.gettext("quiet: nothing new")
            if result.quiet else t.gettext("incremental"))
    new = len(result.created_items)
    reminders, duplicates = len(outcome.reminders), len(result.duplicates_removed)
    extras = [t.gettext(", digest posted") if outcome.digest_posted else "",
              t.ngettext(", %(n)d meeting reminder", ", %(n)d meeting reminders", reminders)
              % {"n": reminders} if reminders else "",
              t.ngettext(", %(n)d duplicate message removed",
                         ", %(n)d duplicate messages removed", duplicates)
              % {"n": duplicates} if duplicates else "",
              t.gettext(", copied cards made items of their own: %(items)s")
              % {"items": ", ".join(result.card_copies)} if result.card_copies else "",
              _channel_read(result.slack_read, t)]
    counts = [t.ngettext("%(n)d change", "%(n)d changes", len(result.changes)),
              t.ngettext("%(n)d new item", "%(n)d new items", new),
              t.ngettext("%(n)d conflict", "%(n)d conflicts", len(result.conflicts)),
              t.ngettext("%(n)d comment copied", "%(n)d comments copied", result.comments),
              t.ngettext("%(n)d write", "%(n)d writes", writes)]
    numbers = [len(result.changes), new, len(result.conflicts), result.comments, writes]
    shown = [text % {"n": n} for text, n in zip(counts, numbers, strict=True)]
    if new:
        shown[1] += f" ({', '.join(result.created_items)})"
    return (t.gettext("sync (%(mode)s) done: ") % {"mode": mode} + ", ".join(shown)
            + "".join(extras))


def conflict_line(conflict: Conflict, language: str | None = None) -> str:
    """One conflict as the summary says it: the item, the field, and what was (not) decided.

    Under ``conflict_policy: ask`` nothing is applied: both values wait for ``mcm-sync
    resolve``; under another policy the winner is applied and the loser recorded.
    """
    t = texts(language)
    values = {"where": f"{conflict.item} {conflict.field}" if conflict.item else conflict.field,
              "kept": conflict.winner_value, "kept_side": conflict.winner_side,
              "lost": conflict.loser_value, "lost_side": conflict.loser_side,
              "item": conflict.item or "ITEM",
              "field": f" --field {conflict.field}" if conflict.field != "status" else ""}
    if conflict.waiting:
        return t.gettext("conflict waiting %(where)s: %(kept)s (%(kept_side)s) or %(lost)s "
                         "(%(lost_side)s), nothing applied; decide with `mcm-sync resolve "
                         "%(item)s --take SIDE%(field)s`") % values
    return t.gettext("conflict %(where)s: kept %(kept)s (%(kept_side)s), not applied "
                     "%(lost)s (%(lost_side)s, recorded)") % values


def change_line(change: dict[str, Any], language: str | None = None) -> str:
    """One applied change: the item, the field, old -> new, who and where."""
    t = texts(language)
    place = t.gettext(PLACE.get(change["side"], change["side"]))
    values = {"item": change["item"], "field": change["field"], "old": change["old"],
              "new": change["new"], "who": change["actor"], "where": place}
    if change["actor"]:
        return t.gettext("%(item)s: %(field)s %(old)s -> %(new)s (%(who)s in %(where)s)") % values
    return t.gettext("%(item)s: %(field)s %(old)s -> %(new)s (in %(where)s)") % values


# The places' names, marked for the catalogue (PLACE holds them in English).
_PLACE_NAMES = (N_("Trello"), N_("Slack"), N_("the action plan"), N_("mcm-sync"),
                N_("the minutes"))


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
        click.echo(_summary_line(outcome, app.config.alliance.language))
        language = app.config.alliance.language
        for change in outcome.result.changes:
            click.echo(f"  {change_line(change, language)}")
        if outcome.audience is not None:
            pushed = outcome.audience
            click.echo("  " + texts(language).ngettext(
                "audience: %(n)d person sent in %(calls)d write calls; %(refused)d refused",
                "audience: %(n)d people sent in %(calls)d write calls; %(refused)d refused",
                pushed.sent) % {"n": pushed.sent, "calls": pushed.write_calls,
                                "refused": len(pushed.failed)})
        for conflict in outcome.result.conflicts:
            click.echo(f"  {conflict_line(conflict, language)}")
    if outcome.unresolved:
        # Said in English here and translated where errors are printed (sync/cli/support/
        # messages.py), like every error of ours.
        needs = "needs" if outcome.unresolved == 1 else "need"
        raise ConflictsUnresolved(f"{plural(outcome.unresolved, 'conflict')} {needs} a decision",
                                  hint="see `mcm-sync status`")


def _dry_run(app: AppContext, full: bool, sandbox: bool | None, as_json: bool) -> None:
    """Read and decide like a sync, print what it would do, write nothing anywhere."""
    result = app.alliance.preview_sync(full=full, sandbox=sandbox)
    if as_json:
        echo_json({"dry_run": True, "changes": result.changes,
                   "new_items": result.created_items, "would_make": result.writes,
                   "conflicts": [c.__dict__ for c in result.conflicts]})
        return
    language = app.config.alliance.language
    t = texts(language)
    counts = [t.ngettext("%(n)d change", "%(n)d changes", len(result.changes)),
              t.ngettext("%(n)d new item", "%(n)d new items", len(result.created_items)),
              t.ngettext("%(n)d conflict", "%(n)d conflicts", len(result.conflicts))]
    numbers = (len(result.changes), len(result.created_items), len(result.conflicts))
    shown = ", ".join(text % {"n": n} for text, n in zip(counts, numbers, strict=True))
    click.echo(t.gettext("dry run: %(counts)s; nothing was written") % {"counts": shown})
    for change in result.changes:
        click.echo("  " + t.gettext("would set %(item)s %(field)s: %(old)s -> %(new)s (from "
                                    "%(where)s)")
                   % {"item": change["item"], "field": change["field"], "old": change["old"],
                      "new": change["new"],
                      "where": t.gettext(PLACE.get(change["side"], change["side"]))})
    for new in result.created_items:
        click.echo("  " + t.gettext("would add an item for the %(new)s") % {"new": new})
    for what, count in result.writes.items():
        click.echo("  " + t.gettext("would make %(n)d x %(what)s") % {"n": count, "what": what})
    for conflict in result.conflicts:
        click.echo("  " + t.gettext("would %(conflict)s")
                   % {"conflict": conflict_line(conflict, language)})


@click.command("sync", cls=HelpCommand)
@click.option("--full", is_flag=True, help="Compare every card and message (else incremental; "
              "a full reconciliation also runs when sync.full_reconcile_every has passed).")
@click.option("--dry-run", is_flag=True, help="Show what would change; write nothing.")
@click.option("--watch", is_flag=True, help="Keep syncing every --interval until stopped.")
@click.option("--interval", default=None,
              help="With --watch: 30s..24h, e.g. 5m (default 5m).")
@click.option("--sandbox/--no-sandbox", default=None, help="Override the config's sandbox switch.")
@click.option("--allow-large", is_flag=True, help="Go on above sync.max_items items (each "
              "is a card and a message).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable result.")
@pass_app
def sync_command(app: AppContext, full: bool, dry_run: bool, watch: bool, interval: str | None,
                 sandbox: bool | None, allow_large: bool, as_json: bool) -> None:
    """Keep every action item in step across Trello, Slack and the state store.

    Run it from cron or a systemd timer (once), or with --watch. Exit codes: 0 ok,
    2 config error, 3 unresolved conflicts, 4 a service failed after retries.
    """
    app.alliance.allow_large = allow_large
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


@click.command(cls=HelpCommand)
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

    config = app.config
    found = app.alliance.status(step=step, owner=owner, overdue=overdue)
    if as_json:
        echo_json(found.as_dict())
        return
    rows, progress, conflicts, ignored = found.items, found.progress, found.conflicts, \
        found.ignored
    last, last_quiet = found.last_sync, found.last_sync["quiet_check"]
    language = cli_language(config.alliance.language)
    t = texts(config.alliance.language)
    # Status names and step titles in the coordinator's language (the playbook has them).
    words = app.alliance.playbook_in(language)
    statuses = words.action_plan.statuses
    steps = {s.key: s.title for s in words.steps}
    console = Console()
    table = Table(title=config.alliance.name)
    for column in (t.gettext("number"), t.gettext("title"), t.gettext("step"),
                   t.gettext("owner"), t.gettext("due"), t.gettext("status")):
        table.add_column(column)
    for row in rows:
        style = "bold red" if row.overdue else None
        table.add_row(row.number, row.title, steps.get(row.step, row.step), row.owner,
                      row.due or "", statuses.get(row.status, row.status),
                      style=style)
    console.print(table)
    for p in progress:
        console.print(f"{steps.get(p.key, p.title)}: {p.done}/{p.total} ({p.percent}%)")
    if last["run"]:
        quiet = (t.gettext("; last check with nothing new %(at)s") % {"at": str(last_quiet)[:16]}
                 if last_quiet else "")
        outcome = last["outcome"] or t.gettext("running")
        console.print(t.gettext("last sync %(at)s (%(outcome)s)")
                      % {"at": str(last["run"])[:16], "outcome": outcome} + quiet)
    for c in conflicts:
        number = found.number(c.item_id)
        if c.resolved_at is None:  # conflict_policy: ask
            shown = ", ".join(f"{side} {value!r}" for side, value in c.offered())
            console.print("[bold yellow]" + t.gettext("conflict waiting") + "[/] "
                          + t.gettext("%(number)s %(field)s: %(values)s — decide with "
                                      "`mcm-sync resolve %(number)s --take SIDE`")
                          % {"number": number, "field": c.field, "values": shown})
            continue
        console.print("[yellow]" + t.gettext("conflict") + "[/] "
                      + t.gettext("%(number)s %(field)s: kept %(kept)s (%(side)s), not "
                                  "applied %(lost)s — %(at)s")
                      % {"number": number, "field": c.field,
                         "kept": repr(c.side_values.get(c.winner)), "side": c.winner,
                         "lost": repr(c.loser_value), "at": c.created_at[:16]})
    for a in ignored:  # reactions and presses of people outside the alliance
        number = found.number(a.item_id)
        new = a.new if isinstance(a.new, dict) else {"emoji": a.new}
        if a.field == "button.ignored":
            console.print(f"[yellow]ignored button press[/] {number}: {new.get('status', '')} "
                          f"by {a.actor} — {a.at[:16]}")
            continue
        console.print(f"[yellow]ignored reaction[/] {number}: :{new.get('emoji', '')}: by "
                      f"{a.actor} — {a.at[:16]}")


@click.command(cls=HelpCommand)
@click.option("--item", "number", help="Only this item (e.g. FRL-12).")
@click.option("--limit", default=200, show_default=True,
              type=click.IntRange(min=1, max=1_000_000),
              help="At most this many lines (1 to 1,000,000).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable log.")
@pass_app
def log(app: AppContext, number: str | None, limit: int, as_json: bool) -> None:
    """The audit trail: when, who, where from, old -> new."""
    t = app.texts
    entries = app.alliance.log(number=number, limit=limit)
    if as_json:
        echo_json([entry.as_dict() for entry in entries])
        return
    for entry in entries:
        e = entry.entry
        old, new = ("-" if v is None else v for v in (e.old, e.new))
        added = e.old is None and e.field in ("comment", "created", "conflict")
        what = f"{new}" if added else f"{old} -> {new}"
        where = t.gettext("%(who)s in %(where)s") % {
            "who": e.actor or "?", "where": t.gettext(PLACE.get(e.source, e.source))}
        click.echo(f"{e.at[:19]}  {entry.item or '-':8} {e.field:8} {what}  "
                   f"({where})")



@click.command(cls=HelpCommand)
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
    done = app.alliance.resolve(number, take, field)
    if as_json:
        echo_json(done.__dict__)
        return
    click.echo(app.texts.gettext("%(number)s: %(field)s = %(value)s (from %(side)s); run "
                                 "`mcm-sync sync` to apply it everywhere")
               % {"number": done.number, "field": done.field, "value": done.value,
                  "side": done.taken_from})
