"""Schema 8: the store accepts any service name where it listed the vendors (issue 20).

The store names a side or a source by the service's name (a connector's ``service_name``, the
registry's key, ``sync.core.services.SERVICES``) or by one of the fixed values (``file``,
``cli``, ``playbook``, ``hub``). Versions 1 to 7 held those names to lists of vendors in CHECK
constraints, so a second board or chat service would have needed a migration; version 8
replaces each list by :func:`name_rule`, which any well-formed name satisfies: 1 to 32
characters, each a lower-case ASCII letter, a digit or ``_``. Every value a version-7 store can
hold satisfies it; a malformed name (``Trello Board!``, ``Slack``, '') is still refused by the
database. One text for both databases: SQLite has no regular expressions, ``trim(x, chars)``
is in both.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from sync.state.db import Database

NAME_CHARACTERS = "abcdefghijklmnopqrstuvwxyz0123456789_"
NAME_LENGTH = 32


def name_rule(column: str) -> str:
    """The CHECK expression that ``column`` holds a service name (or a fixed value)."""
    return (f"length({column}) BETWEEN 1 AND {NAME_LENGTH}"
            f" AND trim({column}, '{NAME_CHARACTERS}') = ''")


def replace_vendor_checks(db: Database, vendor_checks: Mapping[tuple[str, str], str]) -> None:
    """Replace each vendor list (``(table, column) -> "column IN (...)"``, as version 7 has it)
    by :func:`name_rule`, every row kept.

    PostgreSQL alters a CHECK in place. SQLite cannot: each table is made again from its own
    stored ``CREATE TABLE`` text with only the CHECK changed (so columns, defaults and keys are
    exactly as they were), its rows copied, the old table dropped and the new one renamed,
    then its indexes, triggers and AUTOINCREMENT counter restored: the procedure SQLite
    documents for changes ALTER TABLE cannot make (foreign keys are off meanwhile and checked
    before the commit: :func:`sync.state.schema.migrate`).
    """
    for (table, column), vendors in vendor_checks.items():
        if db.dialect.name == "postgresql":
            _replace_on_postgresql(db, table, column, vendors)
        else:
            _rebuild_on_sqlite(db, table, vendors, f"CHECK ({name_rule(column)})")


def _quoted(text: str) -> list[str]:
    return re.findall(r"'([^']*)'", text)


def _replace_on_postgresql(db: Database, table: str, column: str, vendors: str) -> None:
    # PostgreSQL named the constraint itself; it is found by its values (shown as
    # ``source = ANY (ARRAY['playbook'::text, ...])``).
    found = [str(row[0]) for row in db.execute(
        "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint"
        " WHERE conrelid = to_regclass(?) AND contype = 'c'", (table,)).fetchall()
        if _quoted(str(row[1])) == _quoted(vendors)]
    if len(found) != 1:
        raise RuntimeError(f"{table}: expected one CHECK ({vendors}), found {found}")
    db.execute_raw(f'ALTER TABLE {table} DROP CONSTRAINT "{found[0]}"')
    db.execute_raw(f"ALTER TABLE {table} ADD CONSTRAINT {table}_{column}_name"
                   f" CHECK ({name_rule(column)})")


def _rebuild_on_sqlite(db: Database, table: str, vendors: str, rule: str) -> None:
    created = str(db.execute("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?",
                             (table,)).one()[0])
    old_check = f"CHECK ({vendors})"
    head = re.match(rf'CREATE TABLE\s+"?{table}"?\s*\(', created)
    if head is None or created.count(old_check) != 1:
        raise RuntimeError(f"{table}: its CREATE TABLE is not the one version 7 made")
    new_table = f"{table}_v8"
    db.execute_raw(f"CREATE TABLE {new_table} (" + created[head.end():].replace(old_check, rule))
    kept = [str(row[0]) for row in db.execute(
        "SELECT sql FROM sqlite_master WHERE tbl_name = ? AND type IN ('index', 'trigger')"
        " AND sql IS NOT NULL ORDER BY type, name", (table,)).fetchall()]
    counter = db.execute("SELECT seq FROM sqlite_sequence WHERE name = ?", (table,)).fetchone() \
        if _has_sequence(db) else None
    db.execute_raw(f"INSERT INTO {new_table} SELECT * FROM {table}")
    db.execute_raw(f"DROP TABLE {table}")  # its indexes and triggers go with it
    db.execute_raw(f"ALTER TABLE {new_table} RENAME TO {table}")
    for statement in kept:
        db.execute_raw(statement)
    if counter is not None:  # ids are never reused, even those of rows deleted since
        db.execute("UPDATE sqlite_sequence SET seq = ? WHERE name = ?", (counter[0], table))


def _has_sequence(db: Database) -> bool:
    return db.execute("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_sequence'"
                      ).fetchone() is not None
