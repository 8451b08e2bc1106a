"""The state store's tables and migrations: SQLAlchemy Core, imported only to migrate.

The tables are SQLAlchemy Core ``Table`` definitions, so one definition compiles to each
database's DDL (``INTEGER PRIMARY KEY AUTOINCREMENT`` on SQLite, ``SERIAL`` on PostgreSQL):
:func:`ddl` compiles a step for the open store's database. Migration *n* (1-based) takes a
store from schema version ``n - 1`` to ``n``; a step is a DDL element, a portable SQL string,
or a function of the open :class:`Database` (data migrations); :func:`sync.state.schema.migrate`
applies them. Never edit a released step: append a new one, and add a test that upgrades
from the previous version.

This module is the only one of the store that needs SQLAlchemy on SQLite, and a store at the
current schema never loads it: a scheduled sync starts without it. Copying a store
(:data:`TABLES`) and searching every cell (:func:`text_columns`) load it too.

Nothing secret is stored here: ``identity_token`` is the short hash we embed in the objects we
create to find them again (see ``connectors.identity``), not a credential.
"""

from __future__ import annotations

import functools
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.sqlite.pysqlite import SQLiteDialect_pysqlite
from sqlalchemy.schema import CreateIndex, CreateTable, ExecutableDDLElement

from sync.state import SCHEMA_VERSION
from sync.state.db import Database
from sync.state.schema.names import replace_vendor_checks
from sync.state.schema.stamp import V9 as _V9

Step = Any  # a DDL element, a portable SQL string, or a function of the Database
_meta = sa.MetaData()


def _text(name: str, *, default: str | None = None, nullable: bool = False) -> sa.Column[Any]:
    server_default = sa.text(default) if default is not None else None
    return sa.Column(name, sa.Text, nullable=nullable, server_default=server_default)


def _serial() -> sa.Column[Any]:
    return sa.Column("id", sa.Integer, primary_key=True, autoincrement=True)


_AUTOINCREMENT: dict[str, Any] = {"sqlite_autoincrement": True}  # ids are never reused, as before

# The vendor lists versions 1, 2 and 5 wrote into CHECK constraints (released: never edited).
# Version 8 replaces each by a rule any service name satisfies (``names.name_rule``); the
# tables below declare them as the versions that create the tables made them.
VENDOR_CHECKS: dict[tuple[str, str], str] = {
    ("items", "source"): "source IN ('playbook', 'file', 'trello', 'slack', 'cli')",
    ("item_sides", "side"): "side IN ('trello', 'slack', 'file')",
    ("audit", "source"): "source IN ('trello', 'slack', 'cli', 'file', 'playbook', 'hub')",
    ("events", "source"): "source IN ('trello', 'slack', 'mailchimp')",
}

# Version 1: what bootstrap needs (alliance, remote resources, items and their sides, the
# intent journal, read cursors).
alliance = sa.Table(
    "alliance", _meta,
    sa.Column("slug", sa.Text, primary_key=True),
    _text("name"), _text("created_at"),
    # Added by version 7 (ALTER TABLE below); declared here for copies and erasure searches.
    _text("mode", default="''"), _text("went_live_at", default="''"),
)
# The alliance table as version 1 created it (a released step never changes).
_alliance_v1 = sa.Table(
    "alliance", sa.MetaData(),
    sa.Column("slug", sa.Text, primary_key=True),
    _text("name"), _text("created_at"),
)
resources = sa.Table(
    "resources", _meta,
    _text("service"), _text("kind"), _text("logical_key"), _text("remote_id"),
    _text("url", default="''"), _text("identity_token", default="''"),
    _text("data", default="'{}'"), _text("updated_at"),
    sa.PrimaryKeyConstraint("service", "kind", "logical_key"),
)
items = sa.Table(
    "items", _meta,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("number", sa.Text, nullable=False, unique=True),
    sa.Column("key", sa.Text, nullable=False, unique=True),
    _text("kind"), _text("title"), _text("step", default="''"), _text("owner", default="''"),
    _text("due", nullable=True), _text("status"),
    sa.Column("revision", sa.Integer, nullable=False, server_default=sa.text("1")),
    _text("created_at"), _text("updated_at"), _text("source"),
    sa.CheckConstraint("kind IN ('task', 'action', 'meeting', 'member')"),
    sa.CheckConstraint(VENDOR_CHECKS["items", "source"]),
)
item_sides = sa.Table(
    "item_sides", _meta,
    sa.Column("item_id", sa.Text, sa.ForeignKey("items.id", ondelete="CASCADE"),
              nullable=False),
    _text("side"), _text("remote_id"), _text("base", default="'{}'"),
    _text("fingerprint", default="''"), _text("updated_at"),
    sa.PrimaryKeyConstraint("item_id", "side"),
    sa.CheckConstraint(VENDOR_CHECKS["item_sides", "side"]),
)
journal = sa.Table(
    "journal", _meta,
    _serial(), _text("run_id"),
    sa.Column("item_id", sa.Text, sa.ForeignKey("items.id", ondelete="SET NULL")),
    _text("service"), _text("operation"), _text("identity_token"),
    _text("state", default="'open'"), _text("detail", default="'{}'"),
    _text("remote_id", nullable=True), _text("created_at"), _text("closed_at", nullable=True),
    sa.CheckConstraint("state IN ('open', 'done', 'failed', 'abandoned')"),
    **_AUTOINCREMENT,
)
bookmarks = sa.Table(
    "bookmarks", _meta,
    _text("side"), _text("scope"), _text("cursor"), _text("updated_at"),
    sa.PrimaryKeyConstraint("side", "scope"),
)
_V1: tuple[Step, ...] = (
    CreateTable(_alliance_v1), CreateTable(resources), CreateTable(items), CreateTable(item_sides),
    CreateIndex(sa.Index("item_sides_remote", item_sides.c.side, item_sides.c.remote_id)),
    CreateTable(journal),
    CreateIndex(sa.Index("journal_state", journal.c.state, journal.c.service)),
    CreateTable(bookmarks),
)

# Version 2: what the sync needs on top (conflicts, the audit trail, runs) and a counter table
# so item numbers are never reused, even after an item is deleted.
conflicts = sa.Table(
    "conflicts", _meta,
    _serial(),
    sa.Column("item_id", sa.Text, sa.ForeignKey("items.id", ondelete="CASCADE"),
              nullable=False),
    _text("field"), _text("side_values", default="'{}'"), _text("winner"),
    _text("loser_value", default="'null'"), _text("policy"), _text("created_at"),
    _text("resolved_at", nullable=True),
    sa.Column("announced", sa.Integer, nullable=False, server_default=sa.text("0")),
    **_AUTOINCREMENT,
)
audit = sa.Table(
    "audit", _meta,
    _serial(), _text("at"),
    sa.Column("item_id", sa.Text, sa.ForeignKey("items.id", ondelete="SET NULL")),
    _text("actor", default="''"), _text("source"), _text("field"),
    _text("old", default="'null'"), _text("new", default="'null'"),
    sa.CheckConstraint(VENDOR_CHECKS["audit", "source"]),
    **_AUTOINCREMENT,
)
runs = sa.Table(
    "runs", _meta,
    sa.Column("id", sa.Text, primary_key=True),
    _text("command"), _text("started_at"), _text("finished_at", nullable=True),
    _text("outcome", nullable=True),
)
counters = sa.Table(
    "counters", _meta,
    sa.Column("prefix", sa.Text, primary_key=True),
    sa.Column("next", sa.Integer, nullable=False),
    sa.CheckConstraint("next >= 1"),
)


def _continue_numbers(db: Database) -> None:
    """Continue after the numbers a version-1 store handed out (``FRL-41`` -> next 42).

    Prefixes such as ``FRL`` never contain a dash; see ``Alliance.item_prefix``.
    """
    highest: dict[str, int] = {}
    for row in db.execute("SELECT number FROM items").fetchall():
        prefix, _, digits = str(row["number"]).partition("-")
        if prefix and digits.isdigit():
            highest[prefix] = max(highest.get(prefix, 0), int(digits))
    for prefix, number in highest.items():
        db.execute("INSERT INTO counters (prefix, next) VALUES (?, ?)", (prefix, number + 1))


_V2: tuple[Step, ...] = (
    CreateTable(conflicts),
    CreateIndex(sa.Index("conflicts_open", conflicts.c.resolved_at, conflicts.c.item_id)),
    CreateTable(audit),
    CreateIndex(sa.Index("audit_item", audit.c.item_id, audit.c.id)),
    CreateTable(runs), CreateTable(counters),
    _continue_numbers,
)

# Version 3: the stakeholder database (issue 6): one row per person with the fingerprint of
# what was last pushed to the audience and what Mailchimp last said about them; erasure
# tombstones (a salted hash, never the address); store-wide settings such as that salt; the
# export files written (so that an erasure can clean them); and the newsletter drafts made.
stakeholders = sa.Table(
    "stakeholders", _meta,
    sa.Column("key", sa.Text, primary_key=True),
    _text("email", default="''"), _text("data", default="'{}'"),
    sa.Column("position", sa.Integer, nullable=False, server_default=sa.text("0")),
    _text("pushed_fingerprint", default="''"), _text("pushed_status", default="''"),
    _text("remote_status", default="''"), _text("remote_changed_at", default="''"),
    _text("last_error", default="''"), _text("created_at"), _text("updated_at"),
)
erasures = sa.Table(
    "erasures", _meta, sa.Column("hash", sa.Text, primary_key=True), _text("erased_at"),
)
settings = sa.Table(
    "settings", _meta, sa.Column("name", sa.Text, primary_key=True), _text("value"),
)
exports = sa.Table(
    "exports", _meta,
    sa.Column("path", sa.Text, primary_key=True), _text("kind"), _text("written_at"),
)
newsletters = sa.Table(
    "newsletters", _meta,
    _serial(), _text("created_at"), _text("since"), _text("language"), _text("subject"),
    _text("content_hash"), _text("campaign_id", default="''"), _text("web_id", default="''"),
    **_AUTOINCREMENT,
)
_V3: tuple[Step, ...] = (
    CreateTable(stakeholders),
    CreateIndex(sa.Index("stakeholders_email", stakeholders.c.email)),
    CreateTable(erasures), CreateTable(settings), CreateTable(exports), CreateTable(newsletters),
)


# Version 4 (issue 15): an explicit insertion order for items and runs, which SQLite gave
# implicitly (``rowid``) and PostgreSQL does not have: ``ORDER BY created_at, seq``.
def _number_rows(db: Database) -> None:
    """Existing SQLite stores keep their order: ``seq`` is the old ``rowid``."""
    if db.dialect.name == "sqlite":
        db.execute("UPDATE items SET seq = rowid")
        db.execute("UPDATE runs SET seq = rowid")


_V4: tuple[Step, ...] = (
    "ALTER TABLE items ADD COLUMN seq INTEGER NOT NULL DEFAULT 0",
    "ALTER TABLE runs ADD COLUMN seq INTEGER NOT NULL DEFAULT 0",
    _number_rows,
    "CREATE INDEX items_order ON items (created_at, seq)",
)


# Version 5: the durable queue of `mcm-sync serve` (webhook and event deliveries are written
# here before they are acknowledged; ``sync.state.events``). (source, dedup_key) is unique, so
# a redelivery (Slack's retries, a repeated event_id, Trello's re-sends) is stored once.
events = sa.Table(
    "events", _meta,
    _serial(), _text("source"), _text("dedup_key"), _text("kind"),
    _text("subject", default="''"), _text("payload", default="'{}'"), _text("received_at"),
    _text("state", default="'pending'"),
    sa.Column("attempts", sa.Integer, nullable=False, server_default=sa.text("0")),
    _text("processed_at", nullable=True), _text("note", default="''"),
    sa.CheckConstraint(VENDOR_CHECKS["events", "source"]),
    sa.CheckConstraint("state IN ('pending', 'done', 'ignored', 'failed')"),
    sa.UniqueConstraint("source", "dedup_key"),
    **_AUTOINCREMENT,
)
_V5: tuple[Step, ...] = (
    CreateTable(events),
    CreateIndex(sa.Index("events_state", events.c.state, events.c.id)),
)

# Version 6: the state's revision, a counter that database triggers move on every write to
# what a sync plans from (items, their sides, resources, the journal, conflicts, the audit
# trail, item numbers), whoever writes: a sync, ``serve``, ``resolve``, another tool. A
# scheduled sync that reads no remote change and finds the revision it last planned on knows
# its plan would be empty without reading the state or planning (``sync.engine.quiet``).
# Kept out of ``TABLES`` (its own MetaData): a copied store counts from its own start.
_revision_meta = sa.MetaData()
state_revision = sa.Table(
    "state_revision", _revision_meta,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("value", sa.Integer, nullable=False),
    sa.CheckConstraint("id = 1"),
)
WATCHED = ("items", "item_sides", "resources", "journal", "conflicts", "audit", "counters")


def _revision_triggers(db: Database) -> None:
    """The triggers that move the revision: per row on SQLite, per statement on PostgreSQL.

    The one place the two dialects need different DDL (neither has the other's form).
    """
    if db.dialect.name == "sqlite":
        for table in WATCHED:
            for event in ("INSERT", "UPDATE", "DELETE"):
                db.execute_raw(
                    f"CREATE TRIGGER {table}_{event.lower()}_revision AFTER {event} ON {table}"
                    " BEGIN UPDATE state_revision SET value = value + 1 WHERE id = 1; END")
        return
    schema = f'"{db.schema}".' if db.schema else ""
    # The schema is written into the function: it runs whatever the caller's search_path.
    db.execute_raw(
        f"CREATE FUNCTION {schema}bump_state_revision() RETURNS trigger LANGUAGE plpgsql AS"
        f" $$ BEGIN UPDATE {schema}state_revision SET value = value + 1 WHERE id = 1;"
        " RETURN NULL; END $$")
    for table in WATCHED:
        db.execute_raw(
            f"CREATE TRIGGER {table}_revision AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE"
            f" ON {table} FOR EACH STATEMENT EXECUTE FUNCTION {schema}bump_state_revision()")


_V6: tuple[Step, ...] = (
    CreateTable(state_revision),
    "INSERT INTO state_revision (id, value) VALUES (1, 1)",
    _revision_triggers,
    # A worker records a run every few seconds per alliance: numbering the next run
    # (MAX(seq)) and finding the last one must not scan a table that grows by thousands a day.
    "CREATE INDEX runs_order ON runs (started_at, seq)",
    "CREATE INDEX runs_seq ON runs (seq)",
)


# Version 7 (issues 21 and 25): the store is bound to its alliance and to the kind of services
# it was made against. ``mode`` is ``sandbox`` (the embedded or a running sandbox) or ``live``
# (the real services, or whatever ``base_url`` stands in for them); '' for a store older than
# version 7 until a command infers it (``sync.state.binding``). ``went_live_at`` is set by
# ``mcm-sync go-live``. A store with no alliance row yet is bound by its first writing command.
_V7: tuple[Step, ...] = (
    "ALTER TABLE alliance ADD COLUMN mode TEXT NOT NULL DEFAULT ''",
    "ALTER TABLE alliance ADD COLUMN went_live_at TEXT NOT NULL DEFAULT ''",
)


# Version 8 (issue 20): any service name (or fixed value) instead of the vendor lists, so a
# second board or chat service needs no migration (:mod:`sync.state.schema.names`).
def _rule_for_names(db: Database) -> None:
    replace_vendor_checks(db, VENDOR_CHECKS)


_V8: tuple[Step, ...] = (_rule_for_names,)

# Version 9 (issue 24): the store's write stamp (:mod:`sync.state.schema.stamp`).
MIGRATIONS: tuple[tuple[Step, ...], ...] = (_V1, _V2, _V3, _V4, _V5, _V6, _V7, _V8, _V9)
if len(MIGRATIONS) != SCHEMA_VERSION:  # a new migration raises sync.state.SCHEMA_VERSION too
    raise RuntimeError(f"{len(MIGRATIONS)} migrations for schema version {SCHEMA_VERSION}")
# Every table, parents before children (for copying a store: ``sync.state.transfer``).
TABLES: tuple[sa.Table, ...] = tuple(_meta.sorted_tables)


def ddl(step: ExecutableDDLElement, db: Database) -> str:
    """The DDL text of ``step`` on the database of ``db``."""
    dialect = db.connection.dialect if db.dialect.name == "postgresql" else _sqlite_dialect()
    return str(step.compile(dialect=dialect))


@functools.cache
def _sqlite_dialect() -> sa.Dialect:
    return SQLiteDialect_pysqlite()


def is_ddl(step: Any) -> bool:
    """Whether a migration step is a DDL element (compiled by :func:`ddl`)."""
    return isinstance(step, ExecutableDDLElement)


def text_columns(skip: frozenset[str] = frozenset()) -> list[tuple[str, str, tuple[str, ...]]]:
    """Every (table, text column, primary-key columns) of the schema, tables in ``skip`` left
    out: what a search of every cell (the right to erasure) walks, on either database."""
    found = []
    for table in _meta.sorted_tables:
        if table.name in skip:
            continue
        keys = tuple(c.name for c in table.primary_key.columns)
        found += [(table.name, column.name, keys) for column in table.columns
                  if isinstance(column.type, sa.Text)]
    return found
