"""The state store's database connection: SQLite (embedded default) or PostgreSQL, one API.

The store's queries are the same text on both: portable SQL (``INSERT ... ON CONFLICT``,
``RETURNING``, ``COALESCE``) with the qmark parameters the store has always used (``?`` and
numbered ``?1``; ``:name`` with a mapping). :meth:`Database.execute` binds them on the
driver's cursor, so no caller formats values into SQL and no caller knows the dialect.

SQLite runs on the standard library's ``sqlite3``, directly: a scheduled ``mcm-sync sync``
that finds its store at the current schema imports no SQLAlchemy at all (a fifth of its
start-up). PostgreSQL goes through SQLAlchemy Core (the driver is psycopg 3): its pooled
engines, and its compiler turning the qmark SQL into psycopg's style. Both run every statement
on the driver's raw cursor, and both raise one vocabulary of errors, this module's
:class:`DatabaseError` and its subclasses, with the driver's own exception as ``orig``.

Transactions are explicit: the connection is in autocommit mode and :meth:`Database.begin`
emits ``BEGIN`` (``BEGIN IMMEDIATE`` on SQLite, so a writer takes the write lock up front),
nested blocks are ``SAVEPOINT``\\ s. Everything that differs between the two databases is in
this module's :class:`Dialect` table and in :mod:`sync.state.schema` (where the schema version
is kept); nothing else forks.

On PostgreSQL each alliance lives in its own schema (``search_path``) of a shared database,
so one server holds many alliances and a store never sees another's rows.
"""

from __future__ import annotations

import contextlib
import re
import sqlite3
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from sync.state.statements import for_postgres, for_sqlite, ordered, written_table

if TYPE_CHECKING:  # imported where used: only PostgreSQL and the migrations need it
    import sqlalchemy as sa
    from sqlalchemy.engine import Connection, Engine

BUSY_TIMEOUT_MS = 5000
_SCHEMA_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


class DatabaseError(Exception):
    """A statement or a connection of the state database failed, on either database.

    ``orig`` is what the driver raised (a ``sqlite3.Error`` or a ``psycopg.Error``);
    ``connection_invalidated`` says the connection was found dropped (PostgreSQL).
    """

    def __init__(self, orig: BaseException, statement: str | None = None, *,
                 connection_invalidated: bool = False) -> None:
        self.orig = orig
        self.statement = statement
        self.connection_invalidated = connection_invalidated
        kind = type(orig)
        message = f"({kind.__module__}.{kind.__qualname__}) {orig}"
        # The statement, never its values: they may be a person's address or name.
        super().__init__(f"{message}\n[SQL: {statement}]" if statement else message)


class IntegrityError(DatabaseError):
    """A constraint refused a write (a unique key, a foreign key, a CHECK)."""


class OperationalError(DatabaseError):
    """The database could not run the statement: locked or busy, a file it cannot open or
    switch to WAL, a server it cannot reach or that dropped the connection."""


def driver_error(error: BaseException, statement: str | None = None, *,
                 connection_invalidated: bool = False) -> DatabaseError:
    """The store's error for what a PEP 249 driver (``sqlite3``, ``psycopg``) raised."""
    driver = sys.modules.get(type(error).__module__.split(".")[0])
    kind: type[DatabaseError] = DatabaseError
    if driver is not None and isinstance(error, getattr(driver, "IntegrityError", ())):
        kind = IntegrityError
    elif driver is not None and isinstance(error, getattr(driver, "OperationalError", ())):
        kind = OperationalError
    return kind(error, statement, connection_invalidated=connection_invalidated)


def from_sqlalchemy(error: sa.exc.DBAPIError) -> DatabaseError:
    """The store's error for one of SQLAlchemy's (a PostgreSQL connection taken from the pool,
    the run lock's statements)."""
    return driver_error(error.orig or error, error.statement,
                        connection_invalidated=error.connection_invalidated)


@dataclass(frozen=True)
class Dialect:
    """What differs between the two databases, in one place."""

    name: str
    begin: str
    # Serialises two processes migrating one store (SQLite: BEGIN IMMEDIATE already does).
    migration_lock: str = ""


DIALECTS = {
    # IMMEDIATE: take the write lock up front, so a concurrent reader never turns into a
    # failed upgrade half-way through our writes.
    "sqlite": Dialect("sqlite", "BEGIN IMMEDIATE"),
    "postgresql": Dialect(
        "postgresql", "BEGIN", "SELECT pg_advisory_xact_lock(hashtext(current_schema()))"),
}


def is_url(location: str | Path) -> bool:
    """Whether a state location is a database URL (``postgresql://...``) rather than a path."""
    return isinstance(location, str) and "://" in location


def postgres_url(url: str) -> sa.URL:
    """The SQLAlchemy URL of a ``postgresql://`` address, on the psycopg 3 driver."""
    import sqlalchemy as sa

    parsed = sa.make_url(url)
    if parsed.get_backend_name() != "postgresql":
        raise ValueError(f"unsupported state database {parsed.drivername!r} (use postgresql://)")
    return parsed.set(drivername="postgresql+psycopg")


def database_unavailable(error: BaseException) -> bool:
    """Whether ``error`` (or what caused it) says the PostgreSQL server cannot be reached or
    dropped the connection: a restart (``AdminShutdown``), a server down, a broken socket.

    Such errors pass: a worker waits and reconnects, ``serve --alliances`` answers 503. A
    SQLite error never is one (a locked or damaged file is not an outage).
    """
    # Not imported here: a process that never loaded psycopg holds none of its errors.
    psycopg = sys.modules.get("psycopg")
    lost: tuple[type[BaseException], ...] = (
        (psycopg.OperationalError, psycopg.InterfaceError) if psycopg is not None else ())
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, lost):
            return True
        # Ours (DatabaseError) and SQLAlchemy's (a connection the pool found dropped).
        if getattr(current, "connection_invalidated", False) is True:
            return True
        if isinstance(getattr(current, "orig", None), lost):
            return True
        current = current.__cause__ or current.__context__
    return False


def masked(url: str) -> str:
    """A database URL fit for messages and logs: the password replaced by ``***``."""
    import sqlalchemy as sa

    try:
        return sa.make_url(url).render_as_string(hide_password=True)
    except sa.exc.ArgumentError:
        return "<database url>"


def schema_name(name: str) -> str:
    """A PostgreSQL schema name for an alliance slug or a given name: ``frl-2`` -> ``mcm_frl_2``."""
    candidate = name if name.startswith("mcm_") else f"mcm_{name}"
    candidate = candidate.lower().replace("-", "_")
    if not _SCHEMA_NAME.match(candidate):
        raise ValueError(f"{name!r} cannot name a database schema")
    return candidate


_ENGINES: dict[str, Engine] = {}
# Schemas this process has seen exist, by (URL, schema): a worker opens each alliance's store
# every few seconds and need not ask again (one round trip each). Schemas are not dropped
# under a running mcm-sync; if one were, opening creates it again, empty, and the run stops
# at "no board in the state yet".
KNOWN_SCHEMAS: set[tuple[str, str]] = set()
_ENGINES_LOCK = threading.Lock()


def postgres_engine(url: str) -> Engine:
    """One pooled engine per database URL and process (a worker opens many stores on it)."""
    with _ENGINES_LOCK:
        engine = _ENGINES.get(url)
        if engine is None:
            import sqlalchemy as sa

            engine = sa.create_engine(
                postgres_url(url),
                isolation_level="AUTOCOMMIT",
                # A worker thread holds up to three at once (the store, its run lock, a
                # check); --concurrency is capped at 32.
                pool_size=8,
                max_overflow=96,
                pool_reset_on_return="rollback",
                # A server process caches what it touched; one that served a thousand
                # alliances' schemas carries all of them and gets slower at every DDL
                # (measured: bench_worker's set-up went quadratic). Fresh ones every 10 min.
                pool_recycle=600,
                connect_args={"application_name": "mcm-sync", "connect_timeout": 10},
            )
            # A connection the server dropped (a PostgreSQL restart) is found out when it is
            # taken from the pool, not by the statement that needed it: the pool's own
            # pre-ping, skipped for one handed back a moment ago (_ping_if_idle).
            sa.event.listen(engine, "checkin", _mark_returned)
            sa.event.listen(engine, "checkout", _ping_if_idle)
            _ENGINES[url] = engine
        return engine


# A pooled connection handed back this recently is handed out again without the ping (an
# empty query, a round trip): a worker opens an alliance's store every few milliseconds. One
# the server dropped meanwhile fails its statement, and the run is retried as after any outage
# (as the job engine's pool does: ``sync.fleet.pool``).
PING_AFTER_IDLE = 2.0  # seconds


def _mark_returned(dbapi_connection: Any, record: Any) -> None:
    record.info["returned"] = time.monotonic()


def _ping_if_idle(dbapi_connection: Any, record: Any, proxy: Any) -> None:
    """The pool's check out (a SQLAlchemy ``checkout`` event): a connection idle for more
    than :data:`PING_AFTER_IDLE` s is pinged; a dead one is replaced by a fresh one (the
    pool's documented way: ``DisconnectionError``)."""
    returned = record.info.get("returned")
    if returned is not None and time.monotonic() - returned <= PING_AFTER_IDLE:
        return
    try:
        dbapi_connection.execute("SELECT 1")
    except Exception as exc:
        import sqlalchemy as sa

        raise sa.exc.DisconnectionError(str(exc)) from exc


def _sqlite_connect(path: Path, *, threads: bool) -> sqlite3.Connection:
    """A connection of its own (no pool: a file set aside or copied by the tests must never
    be held open by one), in autocommit mode, with the store's PRAGMAs."""
    try:
        conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000,
                               check_same_thread=not threads, isolation_level=None)
    except sqlite3.Error as exc:
        raise driver_error(exc) from exc
    try:
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA foreign_keys = ON")
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        # FULL: a committed journal intent survives a crash or a power loss.
        conn.execute("PRAGMA synchronous = FULL")
    except sqlite3.Error as exc:
        conn.close()
        raise driver_error(exc) from exc
    if str(mode).lower() != "wal":
        conn.close()
        raise OperationalError(sqlite3.OperationalError(
            f"cannot switch SQLite to WAL mode ({mode})"), "PRAGMA journal_mode = WAL")
    return conn


class Record:
    """One row: by column name (``row["title"]``) or by position (``row[0]``)."""

    __slots__ = ("_columns", "_values")

    def __init__(self, columns: Mapping[str, int], values: Sequence[Any]) -> None:
        self._columns = columns
        self._values = values

    def __getitem__(self, key: str | int) -> Any:
        if isinstance(key, str):
            return self._values[self._columns[key]]
        return self._values[key]

    def keys(self) -> list[str]:
        """The column names."""
        return list(self._columns)

    def as_dict(self) -> dict[str, Any]:
        """Column name -> value."""
        return {name: self._values[i] for name, i in self._columns.items()}

    def __iter__(self) -> Iterator[Any]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)


class Result:
    """What :meth:`Database.execute` returns: rows as :class:`Record`, and the row count."""

    def __init__(self, cursor: Any) -> None:
        self.rowcount: int = cursor.rowcount
        description = cursor.description
        self._columns = {d[0]: i for i, d in enumerate(description)} if description else {}
        self._rows: list[Any] = list(cursor.fetchall()) if description else []
        self._next = 0

    def fetchone(self) -> Record | None:
        """The next row, or None."""
        if self._next >= len(self._rows):
            return None
        self._next += 1
        return Record(self._columns, self._rows[self._next - 1])

    def one(self) -> Record:
        """The next row of a query that always has one (an aggregate, a row just written)."""
        row = self.fetchone()
        if row is None:
            raise LookupError("the query returned no row")
        return row

    def fetchall(self) -> list[Record]:
        """Every remaining row."""
        rows, self._next = self._rows[self._next:], len(self._rows)
        return [Record(self._columns, row) for row in rows]

    def tuples(self) -> list[tuple[Any, ...]]:
        """Every remaining row as the driver's plain tuple, by position (no :class:`Record`
        each: what a read of many small rows, kept in a dict at once, needs)."""
        rows, self._next = self._rows[self._next:], len(self._rows)
        return [tuple(row) for row in rows]

    def __iter__(self) -> Iterator[Record]:
        return iter(self.fetchall())



class Database:
    """One open connection to the state database, with explicit transactions."""

    def __init__(self, raw: Any, dialect: Dialect, where: str, schema: str | None = None,
                 *, pooled: Connection | None = None) -> None:
        self._dbapi: Any = raw  # the driver's connection: every statement runs on it
        self._pooled = pooled  # PostgreSQL: SQLAlchemy's pooled connection around it
        self.dialect = dialect
        self.where = where  # for messages: the file, or the URL without its password
        self.schema = schema  # PostgreSQL: the alliance's schema; None on SQLite
        self._driver: ModuleType = sys.modules[type(raw).__module__.split(".")[0]]
        # Told the table of every write this connection runs (``*``: any), once it ran: the
        # store's kept reads (``sync.state.kept``) drop what it made stale.
        self.on_write: Callable[[str], None] | None = None
        # Called before every write and every BEGIN (the store writes a deferred run's row).
        self.before_write: Callable[[], None] | None = None

    @classmethod
    def sqlite(cls, path: Path, *, threads: bool = False) -> Database:
        """Open (creating it and its folder) the SQLite file at ``path``.

        ``threads``: the caller shares the connection between threads (under its own mutex).
        """
        path.parent.mkdir(parents=True, exist_ok=True)
        return cls(_sqlite_connect(path, threads=threads), DIALECTS["sqlite"], str(path))

    @classmethod
    def postgresql(cls, url: str, schema: str) -> Database:
        """Connect to the PostgreSQL database at ``url``, in ``schema`` (created if missing)."""
        import sqlalchemy as sa

        for attempt in (1, 2):
            try:
                conn = postgres_engine(url).connect()
            except sa.exc.DBAPIError as exc:
                raise from_sqlalchemy(exc) from exc
            db = cls(conn.connection.dbapi_connection, DIALECTS["postgresql"],
                     f"{masked(url)} (schema {schema})", schema, pooled=conn)
            try:
                if (url, schema) not in KNOWN_SCHEMAS:
                    db.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
                db.execute(f'SET search_path TO "{schema}"')
            except BaseException as exc:
                db.close()  # one the server dropped is discarded, not rolled back
                # Handed out unpinged a moment after its last use (PING_AFTER_IDLE), it was
                # dropped meanwhile (a restart): once more, on a fresh connection.
                if attempt == 1 and isinstance(exc, DatabaseError) and database_unavailable(exc):
                    continue
                raise
            KNOWN_SCHEMAS.add((url, schema))
            return db
        raise AssertionError("unreachable")  # the second attempt returned or raised

    @property
    def connection(self) -> Connection:
        """The SQLAlchemy connection of a PostgreSQL store (the job engine's schema)."""
        if self._pooled is None:
            raise TypeError("a SQLite store has no SQLAlchemy connection")
        return self._pooled

    def execute(self, sql: str, params: Sequence[Any] | Mapping[str, Any] = ()) -> Result:
        """Run one statement with qmark (``?``/``?N``) or named (``:name``, a mapping) values.

        The statement is read once (cached, :mod:`sync.state.statements`) and then runs on
        the driver's cursor, which keeps a no-op sync's hundred small queries cheap. A failure
        is a :class:`DatabaseError` (:class:`IntegrityError`...), the same on both databases.
        """
        table = written_table(sql) if self.on_write or self.before_write else None
        if table is not None and self.before_write is not None:
            self.before_write()
        named = isinstance(params, Mapping)
        if self._pooled is None:
            text, refs, count = for_sqlite(sql, named)
            if refs is None and len(params) == count:
                result = self._run(text, params)
            else:
                result = self._run(text, ordered(sql, refs or tuple(range(1, count + 1)),
                                                 params))
        else:
            postgres, order = for_postgres(sql, named, self._pooled.dialect)
            values: Any = dict(params) if isinstance(params, Mapping) else {
                f"p{i}": value for i, value in enumerate(params, 1)}
            if order is not None:
                values = tuple(values[name] for name in order)
            result = self._run(postgres, values)
        if table is not None and self.on_write is not None:
            self.on_write(table)
        return result

    def execute_raw(self, sql: str) -> None:
        """Run a statement exactly as written, without parameters (DDL, a trigger's body)."""
        if self.before_write is not None:
            self.before_write()
        self._run(sql)
        if self.on_write is not None:
            self.on_write("*")

    def _run(self, text: str, values: Any = None) -> Result:
        try:
            cursor = self._dbapi.cursor()  # sqlite3 checks the thread here
        except self._driver.Error as exc:
            raise driver_error(exc, text) from exc
        try:
            if values is None:
                cursor.execute(text)
            else:
                cursor.execute(text, values)
            return Result(cursor)
        except self._driver.Error as exc:
            raise driver_error(exc, text) from exc
        finally:
            cursor.close()

    def begin(self) -> None:
        """Start a transaction (the connection is otherwise in autocommit mode)."""
        if self.before_write is not None:
            self.before_write()
        self._run(self.dialect.begin)

    def commit(self) -> None:
        """Commit the open transaction."""
        self._run("COMMIT")

    def rollback(self) -> None:
        """Roll the open transaction back."""
        self._run("ROLLBACK")

    def savepoint(self, name: str) -> None:
        """Open a nested block."""
        self._run(f"SAVEPOINT {name}")

    def release(self, name: str) -> None:
        """Keep a nested block's writes (they commit with the enclosing transaction)."""
        self._run(f"RELEASE SAVEPOINT {name}")

    def rollback_to(self, name: str) -> None:
        """Undo a nested block's writes."""
        self._run(f"ROLLBACK TO SAVEPOINT {name}")

    def discard(self) -> None:
        """End a PostgreSQL connection's session for good instead of pooling it again (one
        that may still hold a session lock, or that failed); :meth:`close` still closes."""
        if self._pooled is not None:
            with contextlib.suppress(Exception):
                self._pooled.invalidate()

    def close(self) -> None:
        """Close the connection (a pooled PostgreSQL one goes back to its pool, rolled back).

        One the server dropped (a restart) is discarded instead: rolling it back would fail
        (and the pool would log the failure with a traceback).
        """
        if self._pooled is None:
            self._dbapi.close()
            return
        if getattr(self._dbapi, "closed", False) or getattr(self._dbapi, "broken", False):
            with contextlib.suppress(Exception):
                self._pooled.invalidate()
        self._pooled.close()
