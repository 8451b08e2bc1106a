"""Is the state store there, and is it one? Checked before a command opens it.

SQLite takes a zero-byte file for a new, empty database, so without this check a state file
truncated by a full disk or a bad copy would silently become a fresh store, and the next run
would act as if the alliance had never been bootstrapped (adopting everything again, posting a
digest again). Instead a zero-byte or foreign file is an error naming the file, and the way out
is deliberate: ``mcm-sync bootstrap --adopt`` sets the bad file aside and rebuilds the state by
adopting what exists remotely (every object carries our identity token).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import sqlite3
from pathlib import Path

from sync.core.errors import DatabaseUnavailable, StateError
from sync.state.db import (
    KNOWN_SCHEMAS,
    database_unavailable,
    masked,
    postgres_engine,
    schema_name,
)

ADOPT_HINT = ("run `mcm-sync bootstrap --adopt` to set it aside and rebuild the state from what "
              "exists in Trello, Slack and Mailchimp")


# Files found to be SQLite, by path: (device, inode). A file set aside and replaced, or
# restored from a copy, is another inode and is checked again; one truncated is caught by
# its size. Only a file overwritten in place is not re-checked, and opening it fails anyway.
_VERIFIED: dict[Path, tuple[int, int]] = {}


def state_problem(path: Path) -> str:
    """Why the file at ``path`` is not a usable state store ("" if it is one or is missing).

    The file is never opened with Python's ``open()``: closing any descriptor of a database
    file drops every POSIX lock this process holds on it, including those of SQLite
    connections still open here (``mcm-sync serve`` keeps several), after which other
    processes no longer see what they commit. Only ``stat`` and SQLite itself look at it.
    """
    try:
        info = path.stat()
    except FileNotFoundError:
        return ""
    except OSError as exc:
        return f"cannot be read: {exc.strerror}"
    if path.is_dir():
        return "is a folder, not a state store"
    if info.st_size == 0:
        return "is empty (0 bytes): the state was lost"
    if _VERIFIED.get(path) == (info.st_dev, info.st_ino):
        return ""  # this very file was found to be SQLite before (a worker asks every run)
    try:
        with contextlib.closing(sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro",
                                                uri=True)) as conn:
            conn.execute("PRAGMA schema_version").fetchone()
    except sqlite3.DatabaseError as exc:
        if damaged_database(exc):
            return "is not an mcm-sync state store (not SQLite: corrupt or overwritten)"
        return f"cannot be read: {exc}"
    _VERIFIED[path] = (info.st_dev, info.st_ino)
    return ""


def damage(path: Path) -> str:
    """:func:`state_problem`, or what SQLite's ``quick_check`` finds wrong inside the file.

    Slower than the header check (it reads every page), so only ``bootstrap --adopt`` asks.
    """
    problem = state_problem(path)
    if problem or not path.exists():
        return problem
    try:
        with contextlib.closing(sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro",
                                                uri=True)) as conn:
            verdict = str(conn.execute("PRAGMA quick_check").fetchone()[0])
    except sqlite3.DatabaseError as exc:
        return f"is damaged ({exc})"
    return "" if verdict == "ok" else f"is damaged ({verdict})"


DAMAGED_HINT = ("restore the file from a backup (go-live keeps a copy, `*.trial-*.db`), or "
                + ADOPT_HINT)

# Files that passed ``quick_check`` in this process, by path: (device, inode). Checked once
# per file and process: a command pays it once, a worker once per alliance (it reads every
# page: ~50 ms for a 2,000-item store, see docs/state-store.md).
_INTACT: dict[Path, tuple[int, int]] = {}


def check_integrity(path: Path) -> None:
    """Refuse (StateError, exit 2) a state file with a damaged page, once per file and process.

    SQLite reads only the pages a query touches, so a damaged page in a table a command does
    not read passes unnoticed while the command goes on writing beside it; ``quick_check``
    reads them all (without the slower index cross-checks of ``integrity_check``).
    """
    try:
        info = path.stat()
    except OSError:
        return  # missing: check_state_file said what to do
    if _INTACT.get(path) == (info.st_dev, info.st_ino):
        return
    problem = damage(path)
    if problem:
        raise StateError(f"{path}: state store {problem}", hint=DAMAGED_HINT)
    _INTACT[path] = (info.st_dev, info.st_ino)


def damaged_database(error: BaseException) -> bool:
    """Whether SQLite's ``error`` says the file itself is damaged (not busy, not a bug of ours)."""
    text = str(error).lower()
    return "malformed" in text or "not a database" in text


def check_state_file(path: Path, *, required: bool) -> None:
    """Refuse an empty or foreign state file; with ``required``, refuse a missing one too.

    ``required`` is for the commands that only make sense once the alliance exists remotely
    (``sync``, ``status``, ``resolve``, ``stakeholders push``...): without a state store they
    would not know the board, the channels or the audience.
    """
    problem = state_problem(path)
    if problem:
        raise StateError(f"{path}: state store {problem}", hint=ADOPT_HINT)
    if required and not path.exists():
        raise StateError(f"{path}: no state yet", hint="run `mcm-sync bootstrap` first (it "
                         "creates the board, channels and audience, or adopts them if they exist)")


def schema_exists(url: str, schema: str) -> bool:
    """Whether the alliance's schema exists in the PostgreSQL database at ``url``.

    Asked without creating anything (opening a store would make the schema), so read-only
    commands such as ``doctor`` can tell "no state yet" from a state to read. StateError if
    the database cannot be reached.
    """
    name = schema_name(schema)
    if (url, name) in KNOWN_SCHEMAS:
        return True  # seen to exist by this process (a worker asks every run)
    import sqlalchemy as sa  # PostgreSQL only

    try:
        with postgres_engine(url).connect() as conn:
            found = conn.execute(sa.text("SELECT 1 FROM pg_namespace WHERE nspname = :name"),
                                 {"name": name}).scalar()
    except sa.exc.DBAPIError as exc:
        if database_unavailable(exc):
            raise DatabaseUnavailable(f"cannot reach the state database {masked(url)}: "
                                      f"{str(exc.orig).strip().splitlines()[0]}") from exc
        raise StateError(f"cannot reach the state database {masked(url)}: {exc.orig}",
                         hint="check state.url in the config and that PostgreSQL runs") from exc
    return bool(found)


def check_state_schema(url: str, schema: str, *, required: bool) -> None:
    """The PostgreSQL twin of :func:`check_state_file`: with ``required``, refuse an alliance
    whose schema does not exist yet ("no state yet"); nothing to check otherwise (PostgreSQL
    keeps its own files whole)."""
    if required and not schema_exists(url, schema):
        raise StateError(f"{masked(url)} (schema {schema_name(schema)}): no state yet",
                         hint="run `mcm-sync bootstrap` first (it creates the board, channels "
                         "and audience, or adopts them if they exist)")


def set_aside(path: Path, now: dt.datetime | None = None) -> Path | None:
    """Rename a bad state file (and its WAL files) to ``<name>.broken-<time>``; the new name."""
    if not path.exists():
        return None
    stamp = (now or dt.datetime.now(dt.UTC)).strftime("%Y%m%dT%H%M%S")
    target = path.with_name(f"{path.name}.broken-{stamp}")
    path.rename(target)
    for suffix in ("-wal", "-shm"):
        extra = path.with_name(path.name + suffix)
        if extra.exists():
            extra.rename(target.with_name(target.name + suffix))
    return target
