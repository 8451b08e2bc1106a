"""The state store's schema version and its migration, for SQLite and PostgreSQL.

The tables and the ordered list of migrations are in :mod:`sync.state.schema.tables`
(SQLAlchemy Core), loaded only when a store must be migrated: opening a store at the current
schema (every scheduled sync) reads its version and stops there, without SQLAlchemy.
:func:`migrate` applies the missing steps in one transaction (both databases have
transactional DDL), so a store is either fully at the new version or untouched.

Where the version is kept is the one difference: SQLite's ``PRAGMA user_version`` (0 for a new
file, as since version 1), PostgreSQL's one-row ``schema_version`` table in the alliance's
schema.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from typing import Any

from sync.core.errors import StateError
from sync.state import SCHEMA_VERSION
from sync.state.db import Database, DatabaseError

__all__ = ["SCHEMA_VERSION", "column_names", "migrate", "record_version", "schema_version",
           "text_columns"]

Step = Any  # a DDL element, a portable SQL string, or a function of the Database
STAMPED_SINCE = 9  # the schema version that made the store's write stamp


def schema_version(db: Database) -> int:
    """The schema version recorded in the database (0 for a new file or schema)."""
    if db.dialect.name == "sqlite":
        return int(db.execute("PRAGMA user_version").one()[0])
    exists = db.execute("SELECT to_regclass('schema_version')").fetchone()
    if exists is None or exists[0] is None:
        return 0
    row = db.execute("SELECT MAX(version) FROM schema_version").fetchone()
    return int(row[0] or 0) if row else 0


# PostgreSQL stores (database and schema) this process has seen with their version table: a
# worker opens each alliance's store every few minutes, and the next open asks for the
# version in one round trip instead of two (whether the table exists, then the version). The
# version itself is read at every open: a newer mcm-sync may have migrated the store since.
_VERSIONED: set[str] = set()


def _version_at_open(db: Database) -> int:
    """:func:`schema_version` before the migration's transaction, the table's existence not
    asked again on PostgreSQL once seen (a schema dropped since is asked about afresh)."""
    if db.dialect.name == "sqlite":
        return schema_version(db)
    if db.where in _VERSIONED:
        try:
            row = db.execute("SELECT MAX(version) FROM schema_version").fetchone()
            return int(row[0] or 0) if row else 0
        except DatabaseError:  # autocommit: the failed statement spoils no transaction
            _VERSIONED.discard(db.where)
    version = schema_version(db)
    if version:
        _VERSIONED.add(db.where)
    return version


def record_version(db: Database, version: int) -> None:
    """Write the schema version (inside the migration's transaction)."""
    if db.dialect.name == "sqlite":
        # The database header's user_version commits or rolls back with the transaction.
        db.execute(f"PRAGMA user_version = {int(version)}")
    else:
        db.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
        db.execute("DELETE FROM schema_version")
        db.execute("INSERT INTO schema_version (version) VALUES (?)", (int(version),))


def _run(db: Database, step: Step) -> None:
    if isinstance(step, str):
        db.execute_raw(step)
        return
    # A DDL element can only come from the tables module, which loaded SQLAlchemy.
    tables = sys.modules.get("sync.state.schema.tables")
    if tables is not None and tables.is_ddl(step):
        db.execute_raw(tables.ddl(step, db))
    else:
        step(db)


def migrate(
    db: Database,
    *,
    target: int | None = None,
    migrations: Sequence[Sequence[Step | Callable[[Database], None]]] | None = None,
    where: str = "state store",
) -> int:
    """Bring the database to schema ``target`` (default: the last of ``migrations``, the
    store's own by default) in one transaction; returns the old version.

    A failure leaves the database untouched. Refuses a database newer than this code knows
    (an older mcm-sync must not write to it).
    """
    known = SCHEMA_VERSION if migrations is None else len(migrations)
    target = known if target is None else target
    current = _version_at_open(db)
    if current > known:
        raise StateError(
            f"{where} has schema version {current}, but this mcm-sync only knows up to "
            f"version {known}",
            hint="upgrade mcm-sync (the store was written by a newer version); "
            "do not delete the store, it holds the ids of everything created",
        )
    if current >= target:
        return current
    if migrations is None:
        from sync.state.schema.tables import MIGRATIONS

        migrations = MIGRATIONS
    sqlite = db.dialect.name == "sqlite"
    keys_on = sqlite and bool(db.execute("PRAGMA foreign_keys").one()[0])
    if keys_on:
        # A step may make a table again (SQLite cannot alter a CHECK): with foreign keys on,
        # dropping the old table would delete its children's rows. The pragma only takes effect
        # outside a transaction; the keys are checked before the commit instead.
        db.execute("PRAGMA foreign_keys = OFF")
    try:
        db.begin()
        try:
            if db.dialect.migration_lock:
                db.execute(db.dialect.migration_lock)
            current = schema_version(db)  # another process may have migrated meanwhile
            if current < target:
                for step in migrations[current:target]:
                    for statement in step:
                        _run(db, statement)
                if sqlite:
                    _check_foreign_keys(db, where)
                record_version(db, target)
                if target >= STAMPED_SINCE:
                    # No trigger sees DDL: a worker's kept reads must not outlive a migration.
                    from sync.state.schema.stamp import move_stamp

                    move_stamp(db)
        except BaseException:
            db.rollback()
            raise
        db.commit()
    finally:
        if keys_on:
            db.execute("PRAGMA foreign_keys = ON")
    return current


def _check_foreign_keys(db: Database, where: str) -> None:
    broken = db.execute("PRAGMA foreign_key_check").fetchall()
    if broken:
        raise StateError(f"{where}: the migration would break {len(broken)} reference(s), first"
                         f" in table {broken[0][0]}", hint="nothing was changed; report this")


def column_names(db: Database) -> dict[str, list[str]]:
    """Every table's column names, in order (the test that no credential column exists, and
    the one that both databases have the same schema)."""
    if db.dialect.name == "sqlite":
        tables = [str(row[0]) for row in db.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            " ORDER BY name").fetchall()]
        return {table: [str(row["name"]) for row in db.execute(
            f'PRAGMA table_info("{table}")').fetchall()] for table in tables}
    found: dict[str, list[str]] = {}
    for row in db.execute(
            "SELECT table_name, column_name FROM information_schema.columns"
            " WHERE table_schema = current_schema() ORDER BY table_name, ordinal_position"
    ).fetchall():
        found.setdefault(str(row[0]), []).append(str(row[1]))
    return found


def text_columns(skip: frozenset[str] = frozenset()) -> list[tuple[str, str, tuple[str, ...]]]:
    """Every (table, text column, primary-key columns) of the schema, tables in ``skip`` left
    out: what a search of every cell (the right to erasure) walks, on either database."""
    from sync.state.schema.tables import text_columns as of_the_tables

    return of_the_tables(skip)
