"""The store's connection: one reading of its SQL, one vocabulary of errors, one schema, on
SQLite (the standard library's ``sqlite3``) and PostgreSQL (SQLAlchemy and psycopg); and a
quiet scheduled sync on SQLite that never loads SQLAlchemy.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from pathlib import Path
from typing import Any

import pytest

from sync.state.db import Database, DatabaseError, IntegrityError, OperationalError
from sync.state.schema import column_names
from sync.state.statements import parameters
from sync.state.store import StateStore
from tests.support.processes import cli_process
from tests.support.stores import StoreTarget, unique_schema
from tests.support.synced import Synced, until_quiet

# Statements and their values, each read as sqlite3 itself reads it (the expected row).
QMARK_CASES = [
    ("SELECT ?, ?", ("a", "b")),
    ("SELECT ?2, ?1", ("a", "b")),
    ("SELECT ?1, ?1, ?2", ("a", "b")),
    # A plain ? after a numbered one: one past the highest number taken so far.
    ("SELECT ?2, ?, ?1", ("a", "b", "c")),
    ("SELECT ?3, ?1, ?", ("a", "b", "c", "d")),
    # Literals are text, whatever they hold.
    ("SELECT '?', ?, 'it''s ?2 :x', ?", ("a", "b")),
]


@pytest.fixture
def database(target: StoreTarget) -> Any:
    target.open().close()  # created and migrated
    db = target.database()
    yield db
    db.close()


def _as_sqlite_reads(sql: str, values: Any) -> tuple[Any, ...]:
    with sqlite3.connect(":memory:") as raw:
        return tuple(raw.execute(sql, values).fetchone())


@pytest.mark.parametrize(("sql", "values"), QMARK_CASES, ids=[c[0] for c in QMARK_CASES])
def test_a_statement_means_on_both_databases_what_sqlite_reads(
        database: Database, sql: str, values: tuple[str, ...]) -> None:
    row = database.execute(sql, values).one()
    assert tuple(row) == _as_sqlite_reads(sql, values)


def test_named_values_on_both_databases(database: Database) -> None:
    row = database.execute("SELECT :a, :b, :a, ':a'", {"a": "x", "b": "y", "unused": "z"}).one()
    assert tuple(row) == ("x", "y", "x", ":a") == _as_sqlite_reads(
        "SELECT :a, :b, :a, ':a'", {"a": "x", "b": "y"})


def test_the_reading_of_parameters() -> None:
    assert parameters("SELECT ?2, ?, ?1", False)[1] == (2, 3, 1)
    # Not parameters: a PostgreSQL cast, a colon in a qmark statement, quoted text.
    assert parameters("SELECT x::text, ':y', ? WHERE a = 'b?'", False) == (
        ("SELECT x::text, ':y', ", " WHERE a = 'b?'"), (1,))
    assert parameters("SELECT x::text, :y", True)[1] == ("y",)
    with pytest.raises(ValueError, match="qmark parameter in a statement with named values"):
        parameters("SELECT :a, ?", True)


def test_too_few_values_name_the_statement(database: Database) -> None:
    # Refused before the database on SQLite, by psycopg on PostgreSQL.
    with pytest.raises((ValueError, DatabaseError)):
        database.execute("SELECT ?, ?", ("only one",))
    with pytest.raises((ValueError, DatabaseError), match="parameter.*b"):
        database.execute("SELECT :a, :b", {"a": 1})


def test_errors_are_the_stores_own_with_the_drivers_error_inside(
        database: Database, target: StoreTarget) -> None:
    insert = "INSERT INTO counters (prefix, next) VALUES (?, ?)"
    database.execute(insert, ("ZZQ-PERSONAL", 1))
    with pytest.raises(IntegrityError) as duplicate:
        database.execute(insert, ("ZZQ-PERSONAL", 2))
    with pytest.raises(IntegrityError):  # CHECK (next >= 1)
        database.execute(insert, ("OTHER", 0))
    with pytest.raises(DatabaseError) as syntax:
        database.execute("SELEC nothing")
    assert not isinstance(syntax.value, IntegrityError)
    error = duplicate.value
    driver = sqlite3.Error if target.backend == "sqlite" else __import__("psycopg").Error
    assert isinstance(error.orig, driver) and error.__cause__ is error.orig
    assert type(error).__module__ == "sync.state.db"
    # The statement is shown, never the values (a person's address may be one); only
    # PostgreSQL's own message names the duplicate key.
    assert "INSERT INTO counters (prefix, next) VALUES" in str(error)
    assert "[parameters" not in str(error)
    if target.backend == "sqlite":
        assert "ZZQ-PERSONAL" not in str(error)
    assert database.execute("SELECT next FROM counters WHERE prefix = ?",
                            ("ZZQ-PERSONAL",)).one()[0] == 1  # usable after the refusals


def test_sqlite_errors_opening_a_file(tmp_path: Path) -> None:
    folder = tmp_path / "a-folder.db"
    folder.mkdir()
    with pytest.raises(OperationalError) as info:
        Database.sqlite(folder)
    assert isinstance(info.value.orig, sqlite3.OperationalError)
    foreign = tmp_path / "foreign.db"
    foreign.write_bytes(b"not a database at all" * 200)
    with pytest.raises(DatabaseError, match="not a database"):
        Database.sqlite(foreign)


def test_a_sqlite_connection_for_threads_is_usable_from_another_thread(tmp_path: Path) -> None:
    StateStore.open(tmp_path / "state.db").close()
    found: list[object] = []

    def _ask(db: Database) -> None:
        try:
            found.append(db.execute("SELECT COUNT(*) FROM items").one()[0])
        except DatabaseError as exc:
            found.append(exc)

    for threads in (True, False):
        db = Database.sqlite(tmp_path / "state.db", threads=threads)
        worker = threading.Thread(target=_ask, args=(db,))
        worker.start()
        worker.join()
        db.close()
    assert found[0] == 0
    assert isinstance(found[1], DatabaseError)  # sqlite3's own check, kept when not shared


def test_sqlite_and_postgresql_stores_have_one_schema(tmp_path: Path, pg_url: str) -> None:
    def _schema(db: Database) -> tuple[dict[str, list[str]], set[str]]:
        if db.dialect.name == "sqlite":
            indexes = {str(r[0]) for r in db.execute(
                "SELECT name FROM sqlite_master WHERE type = 'index'"
                " AND name NOT LIKE 'sqlite_%'").fetchall()}
        else:  # the indexes we name (PostgreSQL names those of keys itself)
            indexes = {str(r[0]) for r in db.execute(
                "SELECT indexname FROM pg_indexes WHERE schemaname = current_schema()"
                " AND indexname NOT LIKE '%\\_pkey' AND indexname NOT LIKE '%\\_key'"
            ).fetchall()}
        columns = column_names(db)
        columns.pop("schema_version", None)  # where PostgreSQL keeps the version
        return columns, indexes

    sqlite_target = StoreTarget("sqlite", tmp_path / "state.db")
    postgres_target = StoreTarget("postgresql", pg_url, unique_schema())
    schemas = []
    for target in (sqlite_target, postgres_target):
        target.open().close()
        db = target.database()
        schemas.append(_schema(db))
        db.close()
    assert schemas[0] == schemas[1]
    assert "items" in schemas[0][0] and "items_order" in schemas[0][1]


def test_a_quiet_sync_on_sqlite_never_loads_sqlalchemy(alliance: Synced) -> None:
    """The start-up budget of a scheduled sync: SQLAlchemy was a fifth of it. On PostgreSQL
    the same run goes through SQLAlchemy's pool, and still finds nothing to do."""
    until_quiet(alliance)
    found = cli_process("-c", str(alliance.config_path), "sync", "--json")
    result, modules = json.loads(found.output), found.modules
    assert result["quiet"] is True and result["changes"] == []
    loaded = {name.partition(".")[0] for name in modules}
    if alliance.config.state_url:
        assert "sqlalchemy" in loaded
    else:
        assert "sync.state.store" in modules
        assert sorted(loaded & {"sqlalchemy", "psycopg"}) == []
        assert "sync.state.schema.tables" not in modules  # nothing to migrate
