"""Copy one state store into another, row for row: SQLite -> PostgreSQL, or a test's fork.

Both stores are opened (and so migrated to the current schema) first; every table of the
schema is copied in foreign-key order inside one transaction of the target, which must be
empty. PostgreSQL's ``SERIAL`` counters are then moved past the copied ids, so the next
journal intent or audit line does not collide with a copied one.

Going live (``mcm-sync go-live``) is built on it: it moves a trial's state store from the
sandbox to the real services. A trial on the sandbox fills the store with two kinds of things.
What belongs to the alliance is kept: the action items with their state (status, owner, due
date, title, numbers), the stakeholders and their consent, the imported minutes and the
meeting dates (the ``hub`` resources), the decisions (conflicts and their resolutions), the
audit trail, the erasure tombstones and the export list. What belonged to the sandbox is set
aside: every id of the board, chat and audience services (Trello's board, lists, labels and
cards, Slack's channels, messages and people, Mailchimp's audience and webhooks), the journal
of intents, the event queue, the read bookmarks, the runs and the newsletter drafts (campaigns
of the sandbox's audience). Stakeholders are marked "not pushed" so the real audience gets
them; an unsubscribe is kept (a person who said no stays out).

A full copy of the store is made first (a SQLite file beside it, or a PostgreSQL schema beside
the alliance's), then everything is set aside in one transaction and the store is bound to the
services the config now points at (:mod:`sync.state.binding`), so ``doctor`` and ``bootstrap``
work against them: bootstrap creates the board, channels and audience again and gives every
kept item its card in the list of its status; the next ``sync`` posts the item messages. The
same move works the other way (a live store taken back to a sandbox).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sync.core.errors import StateError
from sync.state.binding import mode_of, recorded_mode
from sync.state.db import is_url, masked, schema_name
from sync.state.schema.tables import TABLES
from sync.state.store import StateStore


def copy_store(source: StateStore, target: StateStore) -> dict[str, int]:
    """Copy every row of ``source`` into the empty ``target``; rows copied per table."""
    if target.get_alliance() is not None or target.list_items():
        raise ValueError(f"the target state store {target.path} is not empty")
    copied: dict[str, int] = {}
    src, dst = source._conn, target._conn
    with target.transaction():
        for table in TABLES:
            rows = src.execute(f"SELECT * FROM {table.name}").fetchall()
            copied[table.name] = len(rows)
            if not rows:
                continue
            columns = rows[0].keys()
            marks = ", ".join("?" * len(columns))
            statement = f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({marks})"
            for row in rows:
                dst.execute(statement, tuple(row))
            serial = table.c.get("id")
            if dst.dialect.name == "postgresql" and serial is not None and serial.autoincrement \
                    is True:
                dst.execute(f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'),"
                            f" (SELECT MAX(id) FROM {table.name}))")
    return copied


# ---------------------------------------------------------------- go-live

# The store names no vendor: the caller passes the remote services as data (name -> role:
# ``board``, ``chat`` or ``audience``, the registry's ``sync.core.services.SERVICES``), and an
# item's side is shown by what it is on its service's role.
SIDE_NOUNS = {"board": "card", "chat": "message"}
# Whole tables that only hold what the sandbox (or the services left behind) did.
SET_ASIDE_TABLES = ("journal", "events", "bookmarks", "runs", "newsletters")
# Kept whole: what belongs to the alliance (shown by name; ``counters`` and ``settings``,
# the item numbers handed out and the store's salt, are kept too).
KEPT_TABLES = {"items": "items", "stakeholders": "stakeholders", "conflicts": "decisions",
               "audit": "audit lines", "erasures": "erasures", "exports": "export files"}
# The alliance's own records among the resources (service "hub"), by kind.
KEPT_RECORDS = {"minutes": "minutes", "meeting_date": "meeting dates"}


@dataclass
class GoLive:
    """What ``go-live`` keeps and sets aside (counts per kind), and where the copy went."""

    from_mode: str
    to_mode: str
    kept: dict[str, int] = field(default_factory=dict)
    set_aside: dict[str, int] = field(default_factory=dict)
    backup: str = ""
    dry_run: bool = True
    nothing_to_do: bool = False

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form (``go-live --json``)."""
        return {"from": self.from_mode, "to": self.to_mode, "dry_run": self.dry_run,
                "nothing_to_do": self.nothing_to_do, "kept": self.kept,
                "set_aside": self.set_aside, "backup": self.backup}


def _count(store: StateStore, sql: str, params: tuple[Any, ...] = ()) -> int:
    row = store._one(sql, params)
    return int(row[0]) if row else 0


def survey(store: StateStore, *, sandbox: bool, services: Mapping[str, str],
           sandbox_dir: Path | None = None) -> GoLive:
    """What a go-live to ``sandbox``'s kind of services would keep and set aside (reads only).

    ``services``: the remote services by name, each with its role (``{"trello": "board"}``).
    Nothing to do when the store's remote ids already are of that kind, or when it holds none
    (it is then only bound to the new kind).
    """
    to_mode = mode_of(sandbox)
    recorded = recorded_mode(store, sandbox_dir)
    outcome = GoLive(from_mode=recorded or "none", to_mode=to_mode)
    names = tuple(services)
    marks = ", ".join("?" * len(names))
    for table, shown in KEPT_TABLES.items():
        outcome.kept[shown] = _count(store, f"SELECT COUNT(*) FROM {table}")
    for kind, shown in KEPT_RECORDS.items():
        outcome.kept[shown] = _count(
            store, "SELECT COUNT(*) FROM resources WHERE service = 'hub' AND kind = ?", (kind,))
    for row in store._all(f"SELECT service, kind, COUNT(*) AS n FROM resources WHERE service IN"
                          f" ({marks}) GROUP BY service, kind ORDER BY service, kind",
                          names):
        outcome.set_aside[f"{row['service']} {row['kind']} ids"] = int(row["n"])
    for row in store._all("SELECT side, COUNT(*) AS n FROM item_sides WHERE side <> 'file'"
                          " GROUP BY side ORDER BY side"):
        noun = SIDE_NOUNS.get(services.get(row["side"], ""), "item")
        outcome.set_aside[f"{row['side']} {noun} ids"] = int(row["n"])
    for table in SET_ASIDE_TABLES:
        outcome.set_aside[table] = _count(store, f"SELECT COUNT(*) FROM {table}")
    outcome.nothing_to_do = recorded in ("", to_mode)
    return outcome


def backup_location(store_path: Path | str, location: Path | str, schema: str | None,
                    now: dt.datetime) -> tuple[Path | str, str | None, str]:
    """Where the copy goes: (location to open, schema, text for messages).

    SQLite: ``<name>.trial-<time>.db`` beside the file; PostgreSQL: a schema
    ``<schema>_trial_<time>`` in the same database.
    """
    stamp = now.strftime("%Y%m%dt%H%M%S")
    if is_url(str(location)):
        name = schema_name(f"{schema}_trial_{stamp}")
        return location, name, f"{masked(str(location))} (schema {name})"
    path = Path(location)
    copy = path.with_name(f"{path.stem}.trial-{stamp}{path.suffix or '.db'}")
    return copy, None, str(copy)


def go_live(store: StateStore, *, sandbox: bool, backup: tuple[Path | str, str | None, str],
            now: dt.datetime, services: Mapping[str, str],
            sandbox_dir: Path | None = None) -> GoLive:
    """Copy the store to ``backup``, then set the ids of ``services`` (as in :func:`survey`)
    aside and bind the store to ``sandbox``'s kind of services, in one transaction. The caller
    holds the run lock."""
    outcome = survey(store, sandbox=sandbox, services=services, sandbox_dir=sandbox_dir)
    outcome.dry_run = False
    if outcome.nothing_to_do:
        bound = store.get_alliance()
        store.set_mode(outcome.to_mode, went_live_at=bound.went_live_at if bound else "")
        return outcome
    location, schema, shown = backup
    if isinstance(location, Path) and location.exists():
        raise StateError(f"{location} exists already", hint="run `mcm-sync go-live` again "
                         "in a second (the copy is named after the time)")
    with StateStore.open(location, schema=schema) as copy:
        copy_store(store, copy)
    outcome.backup = shown
    names = tuple(services)
    marks = ", ".join("?" * len(names))
    db = store._conn
    with store.transaction():
        db.execute(f"DELETE FROM resources WHERE service IN ({marks})", names)
        db.execute("DELETE FROM item_sides WHERE side <> 'file'")
        for table in SET_ASIDE_TABLES:
            db.execute(f"DELETE FROM {table}")
        store.forget_reads()  # resources and bookmarks written past the store's methods
        # Pushed again to the real audience; an unsubscribe stays (the person said no).
        db.execute("UPDATE stakeholders SET pushed_fingerprint = '', pushed_status = '',"
                   " last_error = '', remote_status = CASE WHEN remote_status = 'unsubscribed'"
                   " THEN remote_status ELSE '' END, remote_changed_at = CASE WHEN"
                   " remote_status = 'unsubscribed' THEN remote_changed_at ELSE '' END")
        store.set_mode(outcome.to_mode, went_live_at=now.astimezone(dt.UTC).isoformat()
                       if not sandbox else "")
    return outcome
