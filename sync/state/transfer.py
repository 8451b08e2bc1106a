"""Copy one state store into another, row for row: SQLite -> PostgreSQL, or a test's fork.

Both stores are opened (and so migrated to the current schema) first; every table of the
schema is copied in foreign-key order inside one transaction of the target, which must be
empty. PostgreSQL's ``SERIAL`` counters are then moved past the copied ids, so the next
journal intent or audit line does not collide with a copied one.
"""

from __future__ import annotations

from sync.state.schema import TABLES
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
