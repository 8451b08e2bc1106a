"""Schema version 9: the store's write stamp, a value database triggers replace on every write.

A long-running worker keeps what an alliance's run read from its store (bookmarks, resources,
the binding, the queue found empty...) for the alliance's next run (:mod:`sync.state.kept`).
It may use them only while nobody wrote the store since: a cron ``sync``, ``serve`` storing a
delivery, ``resolve``, ``meeting schedule``, a second worker, a newer mcm-sync migrating. The
stamp says so in one read, whoever wrote and however: every write to any table but the
record of runs (a quiet run's row, inserted and deleted again) and the time of the last quiet
check (the ``("sync", "last_quiet")`` bookmark) sets it to a new random number. Random rather
than counted: a store replaced by another file or a restored copy never shows the stamp a
worker kept by coincidence of two counters. What a quiet run writes leaves it as it was, so a
quiet alliance keeps its reads from run to run.

SQLite's triggers fire per row, PostgreSQL's per statement (the bookmarks per row: their
``WHEN`` names the row), both after the write, in its transaction: a rolled-back write leaves
the stamp as it was.
"""

from __future__ import annotations

from typing import Any

from sync.state.db import Database

# Every table a write to which a kept read may depend on: all of them but ``runs``.
STAMPED = ("alliance", "resources", "items", "item_sides", "journal", "bookmarks", "conflicts",
           "audit", "counters", "stakeholders", "erasures", "settings", "exports",
           "newsletters", "events")
# (``state_revision`` is written only by the triggers of stamped tables, and by migrations.)
# The bookmark a quiet run writes; it moves no stamp (``mcm-sync status`` reads it).
UNSTAMPED_BOOKMARK = ("sync", "last_quiet")
_QUIET_ROW = f"scope <> '{UNSTAMPED_BOOKMARK[1]}' OR side <> '{UNSTAMPED_BOOKMARK[0]}'"


def _sqlite_triggers(db: Database) -> None:
    for table in STAMPED:
        for event in ("INSERT", "UPDATE", "DELETE"):
            row = "OLD" if event == "DELETE" else "NEW"
            when = ("" if table != "bookmarks" else
                    " WHEN " + _QUIET_ROW.replace("scope", f"{row}.scope")
                    .replace("side", f"{row}.side"))
            db.execute_raw(
                f"CREATE TRIGGER {table}_{event.lower()}_stamp AFTER {event} ON {table}{when}"
                " BEGIN UPDATE store_stamp SET value = random() WHERE id = 1; END")


def _postgres_triggers(db: Database) -> None:
    schema = f'"{db.schema}".' if db.schema else ""
    # The schema is written into the function: it runs whatever the caller's search_path.
    db.execute_raw(
        f"CREATE FUNCTION {schema}move_store_stamp() RETURNS trigger LANGUAGE plpgsql AS"
        f" $$ BEGIN UPDATE {schema}store_stamp SET value = (random() * 9e15)::bigint"
        " WHERE id = 1; RETURN NULL; END $$")
    for table in STAMPED:
        if table == "bookmarks":
            for event, row in (("INSERT OR UPDATE", "NEW"), ("DELETE", "OLD")):
                when = _QUIET_ROW.replace("scope", f"{row}.scope").replace("side", f"{row}.side")
                db.execute_raw(
                    f"CREATE TRIGGER bookmarks_{event.split()[0].lower()}_stamp AFTER {event}"
                    f" ON bookmarks FOR EACH ROW WHEN ({when})"
                    f" EXECUTE FUNCTION {schema}move_store_stamp()")
            db.execute_raw(f"CREATE TRIGGER bookmarks_truncate_stamp AFTER TRUNCATE ON bookmarks"
                           f" FOR EACH STATEMENT EXECUTE FUNCTION {schema}move_store_stamp()")
            continue
        db.execute_raw(
            f"CREATE TRIGGER {table}_stamp AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE"
            f" ON {table} FOR EACH STATEMENT EXECUTE FUNCTION {schema}move_store_stamp()")


def _stamp_triggers(db: Database) -> None:
    """The one place the two dialects need different DDL (as for the revision's triggers)."""
    if db.dialect.name == "sqlite":
        _sqlite_triggers(db)
    else:
        _postgres_triggers(db)


V9: tuple[Any, ...] = (
    "CREATE TABLE store_stamp (id INTEGER PRIMARY KEY CHECK (id = 1), value BIGINT NOT NULL)",
    "INSERT INTO store_stamp (id, value) VALUES (1, 0)",
    _stamp_triggers,
    # (:func:`sync.state.schema.migrate` then sets its first random value, as after any
    # migration.)
)

STAMP_QUERY = "SELECT value FROM store_stamp WHERE id = 1"


def move_stamp(db: Database) -> None:
    """Set a new stamp (a migration, which no trigger sees: DDL and the schema version)."""
    value = "random()" if db.dialect.name == "sqlite" else "(random() * 9e15)::bigint"
    db.execute_raw(f"UPDATE store_stamp SET value = {value} WHERE id = 1")
