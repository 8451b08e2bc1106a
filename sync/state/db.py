"""The state store's database connection: SQLite (embedded default) or PostgreSQL, one API.

Both go through SQLAlchemy Core (the PostgreSQL driver is psycopg 3), so the store's queries
are the same text on both: portable SQL (``INSERT ... ON CONFLICT``, ``RETURNING``,
``COALESCE``), bound by SQLAlchemy's ``text()``. :meth:`Database.execute` takes the qmark
parameters the store has always used (``?`` and numbered ``?1``) and binds them by name, so
no caller formats values into SQL and no caller knows the dialect.

Transactions are explicit, as they were with the bare ``sqlite3`` module: the connection is
in autocommit mode and :meth:`Database.begin` emits ``BEGIN`` (``BEGIN IMMEDIATE`` on SQLite,
so a writer takes the write lock up front), nested blocks are ``SAVEPOINT``\\ s. Everything
that differs between the two databases is in this module's :class:`Dialect` table and in
:mod:`sync.state.schema` (where the schema version is kept); nothing else forks.

On PostgreSQL each alliance lives in its own schema (``search_path``) of a shared database,
so one server holds many alliances and a store never sees another's rows.
"""

from __future__ import annotations

import contextlib
import functools
import re
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import NullPool

BUSY_TIMEOUT_MS = 5000
_SCHEMA_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


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
    import psycopg

    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, psycopg.OperationalError | psycopg.InterfaceError):
            return True
        if isinstance(current, sa.exc.DBAPIError) and current.connection_invalidated:
            return True
        orig = getattr(current, "orig", None)
        if isinstance(orig, psycopg.OperationalError | psycopg.InterfaceError):
            return True
        current = current.__cause__ or current.__context__
    return False


def masked(url: str) -> str:
    """A database URL fit for messages and logs: the password replaced by ``***``."""
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
                # A connection the server dropped (a PostgreSQL restart) is found out when it
                # is taken from the pool, not by the statement that needed it.
                pool_pre_ping=True,
                connect_args={"application_name": "mcm-sync", "connect_timeout": 10},
            )
            _ENGINES[url] = engine
        return engine


def _sqlite_engine(path: Path, *, threads: bool = False) -> Engine:
    # No pool: a file set aside or copied by the tests must never be held open by a pool.
    engine = sa.create_engine(
        f"sqlite:///{path}",
        poolclass=NullPool,
        isolation_level="AUTOCOMMIT",
        connect_args={"timeout": BUSY_TIMEOUT_MS / 1000, "check_same_thread": not threads},
    )

    @sa.event.listens_for(engine, "connect")
    def _pragmas(dbapi_conn: Any, _record: Any) -> None:
        cursor = dbapi_conn.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            cursor.execute("PRAGMA foreign_keys = ON")
            mode = cursor.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            # FULL: a committed journal intent survives a crash or a power loss.
            cursor.execute("PRAGMA synchronous = FULL")
        finally:
            cursor.close()
        if str(mode).lower() != "wal":
            raise sa.exc.OperationalError("PRAGMA journal_mode", {}, Exception(
                f"cannot switch SQLite to WAL mode ({mode})"))

    return engine


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

    def __iter__(self) -> Iterator[Record]:
        return iter(self.fetchall())


def _named(sql: str) -> str:
    """``sql`` with its qmark parameters renamed ``:p1, :p2...`` (``?3`` -> ``:p3``).

    String literals are left alone; a plain ``?`` takes the next position, as in ``sqlite3``.
    """
    out: list[str] = []
    position = 0
    for index, part in enumerate(re.split(r"('(?:[^']|'')*')", sql)):
        if index % 2:  # a quoted literal
            out.append(part)
            continue

        def _name(match: re.Match[str]) -> str:
            nonlocal position
            if match.group(1):
                return f":p{int(match.group(1))}"
            position += 1
            return f":p{position}"

        # ``:`` is SQLAlchemy's bind marker: escape any literal one (e.g. in ``::`` casts).
        out.append(re.sub(r"\?(\d*)", _name, part.replace(":", r"\:")))
    return "".join(out)


# One dialect object per database kind, the first one seen: every engine of a kind compiles a
# statement to the same text, and keying the cache by engine would compile each statement
# again for every store a worker opens (a SQLite store gets its own engine each time).
_DIALECT_OF_KIND: dict[str, sa.Dialect] = {}


@functools.lru_cache(maxsize=2048)
def _compiled(sql: str, kind: str, named: bool) -> tuple[str, tuple[str, ...] | None]:
    """SQLAlchemy's compilation of ``sql`` for the dialect ``kind``: the driver's SQL text and,
    for a positional driver (sqlite3), the order of the parameter names (None for psycopg's
    named style). Cached: each statement of the store is compiled once per process."""
    compiled = sa.text(sql if named else _named(sql)).compile(dialect=_DIALECT_OF_KIND[kind])
    order = compiled.positiontup
    return str(compiled), tuple(order) if order is not None else None


class Database:
    """One open connection to the state database, with explicit transactions."""

    def __init__(self, conn: Connection, dialect: Dialect, where: str,
                 schema: str | None = None) -> None:
        self._conn = conn
        self.dialect = dialect
        self.where = where  # for messages: the file, or the URL without its password
        self.schema = schema  # PostgreSQL: the alliance's schema; None on SQLite
        self._dialect = conn.dialect
        _DIALECT_OF_KIND.setdefault(conn.dialect.name, conn.dialect)
        self._dbapi: Any = conn.connection.dbapi_connection

    @classmethod
    def sqlite(cls, path: Path, *, threads: bool = False) -> Database:
        """Open (creating it and its folder) the SQLite file at ``path``.

        ``threads``: the caller shares the connection between threads (under its own mutex).
        """
        path.parent.mkdir(parents=True, exist_ok=True)
        return cls(_sqlite_engine(path, threads=threads).connect(), DIALECTS["sqlite"],
                   str(path))

    @classmethod
    def postgresql(cls, url: str, schema: str) -> Database:
        """Connect to the PostgreSQL database at ``url``, in ``schema`` (created if missing)."""
        conn = postgres_engine(url).connect()
        db = cls(conn, DIALECTS["postgresql"], f"{masked(url)} (schema {schema})", schema)
        try:
            if (url, schema) not in KNOWN_SCHEMAS:
                db.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
            db.execute(f'SET search_path TO "{schema}"')
        except BaseException:
            conn.close()
            raise
        KNOWN_SCHEMAS.add((url, schema))
        return db

    @property
    def connection(self) -> Connection:
        """The SQLAlchemy connection (for migrations and inspection)."""
        return self._conn

    def execute(self, sql: str, params: Sequence[Any] | Mapping[str, Any] = ()) -> Result:
        """Run one statement with qmark (``?``/``?N``) or named (``:name``, a mapping) values.

        SQLAlchemy compiles the statement for the dialect once (cached); it then runs on the
        driver's cursor, which keeps a no-op sync's hundred small queries cheap. Driver errors
        come out as SQLAlchemy's (``sqlalchemy.exc.IntegrityError``...), the same on both.
        """
        named = isinstance(params, Mapping)
        text, order = _compiled(sql, self._dialect.name, named)
        if named:
            values: Any = dict(params)
        else:
            values = {f"p{i}": value for i, value in enumerate(params, 1)}
        if order is not None:
            values = tuple(values[name] for name in order)
        return self._run(text, values)

    def _run(self, text: str, values: Any = None) -> Result:
        cursor = self._dbapi.cursor()
        try:
            if values is None:
                cursor.execute(text)
            else:
                cursor.execute(text, values)
            return Result(cursor)
        except self._dialect.loaded_dbapi.Error as exc:
            raise sa.exc.DBAPIError.instance(
                text, values, exc, self._dialect.loaded_dbapi.Error, dialect=self._dialect
            ) from exc
        finally:
            cursor.close()

    def begin(self) -> None:
        """Start a transaction (the connection is otherwise in autocommit mode)."""
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

    def close(self) -> None:
        """Close the connection (a pooled PostgreSQL one goes back to its pool, rolled back).

        One the server dropped (a restart) is discarded instead: rolling it back would fail
        (and the pool would log the failure with a traceback).
        """
        if getattr(self._dbapi, "closed", False) or getattr(self._dbapi, "broken", False):
            with contextlib.suppress(Exception):
                self._conn.invalidate()
        self._conn.close()
