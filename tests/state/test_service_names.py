"""The store names sides and sources by service name (schema 8): a version-7 store migrates
with every row kept, and afterwards any well-formed service name is accepted (a second chat
service needs no migration) while a malformed one is refused by the database itself.

Both backends (the ``target`` fixture: a SQLite file, a schema of the session's PostgreSQL).
"""

from __future__ import annotations

from typing import Any

import pytest

from sync.core.errors import StateError
from sync.state.db import Database, IntegrityError
from sync.state.schema import column_names, migrate, schema_version
from sync.state.schema.tables import MIGRATIONS
from sync.state.store import StateStore
from tests.support.stores import StoreTarget

ITEM = ("INSERT INTO items (id, number, key, kind, title, status, created_at, updated_at, source)"
        " VALUES (?, ?, ?, 'task', ?, 'todo', 't', 't', ?)")
SIDE = "INSERT INTO item_sides (item_id, side, remote_id, updated_at) VALUES (?, ?, ?, 't')"
AUDIT = ("INSERT INTO audit (at, item_id, actor, source, field, old, new)"
         " VALUES ('t', ?, 'ana', ?, 'status', '\"todo\"', '\"doing\"')")
EVENT = ("INSERT INTO events (source, dedup_key, kind, received_at)"
         " VALUES (?, ?, 'message', 't')")


def _fill_version_7(db: Database) -> None:
    """Rows of every kind a version-7 store holds, the vendors' names among them."""
    db.execute("INSERT INTO alliance (slug, name, created_at, mode) VALUES"
               " ('frl', 'Friesland', 't', 'sandbox')")
    for number, source in enumerate(("playbook", "file", "trello", "slack", "cli"), 1):
        db.execute(ITEM, (f"i{number}", f"FRL-{number}", f"task:{number}", f"Task {number}",
                          source))
    for side, remote in (("trello", "card-1"), ("slack", "ts-1"), ("file", "row-1")):
        db.execute(SIDE, ("i1", side, remote))
    db.execute(SIDE, ("i2", "trello", "card-2"))
    for source in ("trello", "slack", "cli", "file", "playbook", "hub"):
        db.execute(AUDIT, ("i1", source))
    db.execute("DELETE FROM audit WHERE source = 'hub'")  # the highest id, never to be reused
    for number, source in enumerate(("trello", "slack", "mailchimp"), 1):
        db.execute(EVENT, (source, f"d{number}"))
    db.execute("INSERT INTO conflicts (item_id, field, winner, policy, created_at)"
               " VALUES ('i1', 'status', 'trello', 'newest', 't')")
    db.execute("INSERT INTO journal (run_id, item_id, service, operation, identity_token,"
               " created_at) VALUES ('r1', 'i2', 'slack', 'post', 'tok', 't')")
    db.execute("INSERT INTO resources (service, kind, logical_key, remote_id, updated_at)"
               " VALUES ('trello', 'board', 'board', 'b1', 't')")


def _every_row(db: Database) -> dict[str, list[tuple[str, ...]]]:
    """Every row of every table (the version's own table left out), in a stable order."""
    rows = {}
    for table, columns in column_names(db).items():
        if table == "schema_version":
            continue
        found = db.execute(f"SELECT {', '.join(columns)} FROM {table}").fetchall()
        rows[table] = sorted(tuple(repr(value) for value in row) for row in found)
    return rows


@pytest.fixture
def migrated_from_7(target: StoreTarget) -> Any:
    """A store made at version 7, filled, then opened (and so migrated) at the current one."""
    db = target.database()
    assert migrate(db, target=7) == 0
    _fill_version_7(db)
    with pytest.raises(IntegrityError):  # version 7 knows only the vendors
        db.execute(SIDE, ("i2", "teams", "msg-1"))
    before = _every_row(db)
    db.close()
    store = target.open()
    yield store, before
    store.close()


def test_a_version_7_store_migrates_with_every_row_kept(
        migrated_from_7: tuple[StateStore, dict[str, list[tuple[str, ...]]]]) -> None:
    store, before = migrated_from_7
    db = store._conn
    assert schema_version(db) == store.schema_version == len(MIGRATIONS)
    # Every row kept; later versions' tables (version 9's write stamp) come on top.
    after = _every_row(db)
    assert {table: after[table] for table in before} == before
    assert sum(len(rows) for rows in before.values()) > 20


def test_after_the_migration_keys_ids_and_the_revision_hold(
        migrated_from_7: tuple[StateStore, dict[str, list[tuple[str, ...]]]]) -> None:
    store, _ = migrated_from_7
    db = store._conn
    with pytest.raises(IntegrityError):  # the sides still reference their item
        db.execute(SIDE, ("no-such-item", "slack", "ts-9"))
    revision = store.revision()
    db.execute(AUDIT, ("i2", "cli"))
    assert store.revision() > revision  # the triggers were made again
    ids = [int(row[0]) for row in db.execute("SELECT id FROM audit ORDER BY id").fetchall()]
    assert ids == [1, 2, 3, 4, 5, 7]  # 6 (deleted before the migration) is not reused
    db.execute("DELETE FROM items WHERE id = 'i1'")  # children follow, as before
    assert db.execute("SELECT COUNT(*) FROM item_sides WHERE item_id = 'i1'").one()[0] == 0
    assert db.execute("SELECT COUNT(*) FROM conflicts").one()[0] == 0


def test_a_new_services_name_is_accepted_everywhere(store_at_8: StateStore) -> None:
    db = store_at_8._conn
    db.execute(ITEM, ("t1", "FRL-1", "task:1", "From Teams", "teams"))
    db.execute(SIDE, ("t1", "teams", "msg-1"))
    db.execute(SIDE, ("t1", "ms_teams2", "msg-2"))
    db.execute(AUDIT, ("t1", "teams"))
    db.execute(EVENT, ("teams", "d1"))
    db.execute(SIDE, ("t1", "x" * 32, "msg-3"))  # the longest name
    assert store_at_8.get_item_by_number("FRL-1").title == "From Teams"


@pytest.mark.parametrize("name", ["Trello Board!", "", "Slack", "ms-teams", "teams ", "x" * 33,
                                  "équipe"])
def test_a_malformed_name_is_refused_by_the_database(store_at_8: StateStore, name: str) -> None:
    db = store_at_8._conn
    db.execute(ITEM, ("t1", "FRL-1", "task:1", "A task", "playbook"))
    for statement, values in ((SIDE, ("t1", name, "r")), (ITEM, ("t2", "FRL-2", "k2", "B", name)),
                              (AUDIT, ("t1", name)), (EVENT, (name, "d1"))):
        with pytest.raises(IntegrityError):
            db.execute(statement, values)


@pytest.fixture
def store_at_8(target: StoreTarget) -> Any:
    store = target.open()
    yield store
    store.close()


def test_a_sqlite_migration_that_would_break_a_reference_is_refused(tmp_path: Any) -> None:
    """Foreign keys are off while SQLite's tables are made again, so they are checked at the
    end: a step that leaves a side without its item changes nothing."""
    db = StoreTarget("sqlite", tmp_path / "state.db").database()
    orphan = ("INSERT INTO item_sides (item_id, side, remote_id, updated_at)"
              " VALUES ('gone', 'teams', 'r', 't')",)
    with pytest.raises(StateError, match="would break 1 reference"):
        migrate(db, migrations=(*MIGRATIONS, orphan))
    assert schema_version(db) == 0 and column_names(db) == {}
    assert db.execute("PRAGMA foreign_keys").one()[0] == 1  # on again for the store's work
    db.close()
