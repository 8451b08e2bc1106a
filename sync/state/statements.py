"""The store's SQL read at its parameters, once per statement, and written for each driver.

The store writes qmark SQL (``?`` and numbered ``?1``; ``:name`` with a mapping of values), as
it did on the bare ``sqlite3`` module. :func:`parameters` is the one reading of it, so a
statement means the same on both databases: ``sqlite3`` gets every parameter as a plain ``?``
with the values put in order (:func:`for_sqlite`), psycopg gets SQLAlchemy's compilation of
the same parameters named (:func:`for_postgres`, the only place this module needs
SQLAlchemy).
"""

from __future__ import annotations

import functools
import re
from typing import Any

_PARAMETER = re.compile(r"'(?:[^']|'')*'|\?(\d*)|(?<![:\w\\]):(\w+)(?!:)")

Refs = tuple[int | str, ...]
# A statement that writes one table, and the statements that write none.
_WRITES = re.compile(r"\s*(?:INSERT\s+(?:OR\s+\w+\s+)?INTO|UPDATE|DELETE\s+FROM)\s+\"?(\w+)",
                     re.IGNORECASE)
_READS = re.compile(r"\s*(?:SELECT|BEGIN|COMMIT|ROLLBACK|SAVEPOINT|RELEASE|SHOW|SET\s|"
                    r"PRAGMA\s+\w+\s*(?:\(|$))", re.IGNORECASE)


@functools.lru_cache(maxsize=2048)
def written_table(sql: str) -> str | None:
    """The table a statement writes (``*``: any, or it cannot tell: DDL, a ``WITH ... DELETE``,
    a PRAGMA that sets), or None for one that writes no table (a query, a transaction's
    bounds). What tells the store's kept reads which of them went stale."""
    found = _WRITES.match(sql)
    if found:
        return found.group(1).lower()
    return None if _READS.match(sql) else "*"


@functools.lru_cache(maxsize=2048)
def parameters(sql: str, named: bool) -> tuple[tuple[str, ...], Refs]:
    """``sql`` cut at its parameters: the texts around them, and what each one takes (a
    1-based position of the values or, with ``named``, a name of the mapping).

    String literals are left alone. Positions follow SQLite's own rule: ``?N`` is the N-th
    value, and a plain ``?`` the one after the highest number taken so far (``?2, ?`` is
    values 2 and 3). ``:name`` is a parameter only with ``named`` (and, as SQLAlchemy reads
    it, not in ``::``, a PostgreSQL cast); a ``?`` is refused there.
    """
    texts: list[str] = []
    refs: list[int | str] = []
    highest, start = 0, 0
    for match in _PARAMETER.finditer(sql):
        token = match.group(0)
        if token.startswith("'"):
            continue  # a quoted literal
        if token.startswith("?"):
            if named:
                raise ValueError(f"a qmark parameter in a statement with named values: {sql}")
            position = int(match.group(1)) if match.group(1) else highest + 1
            highest = max(highest, position)
            refs.append(position)
        elif named:
            refs.append(match.group(2))
        else:
            continue  # ``:word`` in a qmark statement is text
        texts.append(sql[start:match.start()])
        start = match.end()
    texts.append(sql[start:])
    return tuple(texts), tuple(refs)


@functools.lru_cache(maxsize=2048)
def for_sqlite(sql: str, named: bool) -> tuple[str, Refs | None, int]:
    """The statement for ``sqlite3`` (every parameter a plain ``?``), the values' order and
    the number of parameters. The order is None where it is the values as given (plain ``?``
    in order, by far the most common): they are passed as they are when they are as many."""
    texts, refs = parameters(sql, named)
    in_order = not named and refs == tuple(range(1, len(refs) + 1))
    return "?".join(texts), None if in_order else refs, len(refs)


@functools.lru_cache(maxsize=2048)
def for_postgres(sql: str, named: bool, dialect: Any) -> tuple[str, tuple[str, ...] | None]:
    """SQLAlchemy's compilation of ``sql`` for ``dialect`` (psycopg's): the driver's SQL text
    and, for a positional driver, the order of the parameter names (None for psycopg's named
    style). Positional values are named ``p1, p2...``.

    Cached by statement and dialect object: one engine per database URL and process (see
    ``sync.state.db.postgres_engine``), so each statement is compiled once per database.
    """
    import sqlalchemy as sa

    texts, refs = parameters(sql, named)
    # ``:`` is SQLAlchemy's bind marker: escape every other one (``::`` casts, literals).
    escaped = [text.replace(":", r"\:") for text in texts]
    names = [f":{ref}" if named else f":p{ref}" for ref in refs]
    marked = "".join(part for pair in zip(escaped, [*names, ""], strict=True) for part in pair)
    compiled = sa.text(marked).compile(dialect=dialect)
    order = compiled.positiontup
    return str(compiled), tuple(order) if order is not None else None


def ordered(sql: str, refs: Refs, values: Any) -> tuple[Any, ...]:
    """The values each parameter takes, in the statement's order (values beyond the last one
    taken are left out, as SQLAlchemy's binding by name did)."""
    try:
        return tuple(values[ref - 1] if isinstance(ref, int) else values[ref] for ref in refs)
    except (IndexError, KeyError) as exc:
        raise ValueError(f"no value for parameter {exc} of: {sql}") from None
