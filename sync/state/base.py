"""What the parts of the state store share: the JSON encoder and the mixins' base class.

``StateStore`` (``sync.state.store``) is assembled from mixins (``sync.state.items``,
``sync.state.records``) so each file stays small; :class:`StoreBase` names what they rely on.
:func:`dumps` is the store's one JSON encoder and refuses anything that looks like a credential.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable, Hashable, Mapping
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, TypeVar

from sync.state.db import Database, Record
from sync.state.rows import Run

if TYPE_CHECKING:
    from sync.state.kept.reads import KeptReads

T = TypeVar("T")

# Keys that would hold a credential if someone put one into a JSON column by mistake.
_SECRET_KEY = re.compile(
    r"(?i)(secret|password|passwd|api_?key|apikey|access_?token|auth|credential|^token$)"
)


def _default(value: Any) -> Any:
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    if isinstance(value, set | frozenset):
        return sorted(value)
    raise TypeError(f"cannot store a {type(value).__name__} in the state store")


def _check_keys(value: Any, guard: str) -> None:
    if isinstance(value, Mapping):
        for key, inner in value.items():
            if _SECRET_KEY.search(str(key)):
                raise ValueError(f"{guard}: refusing key {key!r}: no secret goes into the state")
            _check_keys(inner, guard)
    elif isinstance(value, list | tuple):
        for inner in value:
            _check_keys(inner, guard)


def dumps(value: Any, *, guard: str = "") -> str:
    """Canonical JSON (sorted keys, so equal values compare equal as text).

    With ``guard`` (a name for messages), mapping keys that look like credentials are refused.
    """
    if guard:
        _check_keys(value, guard)
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_default
    )


def where(**filters: Any) -> tuple[str, tuple[Any, ...]]:
    """A ``WHERE`` clause matching every filter that is not None (``""`` if none is), with its
    values: ``where(kind="task", status=None)`` -> ``(" WHERE kind = ?", ("task",))``.

    Built here rather than written ``(?1 IS NULL OR kind = ?1)``, which PostgreSQL refuses (it
    cannot type a parameter that is only compared with NULL).
    """
    given = {name: value for name, value in filters.items() if value is not None}
    if not given:
        return "", ()
    return " WHERE " + " AND ".join(f"{name} = ?" for name in given), tuple(given.values())


class StoreBase:
    """The connection, clock and transactions the mixins use; implemented by ``StateStore``."""

    _conn: Database
    _depth: int  # how many transaction blocks are open (0: none)
    # A run started with ``deferred=True`` whose row is not written yet (``RecordsMixin``).
    _deferred_run: Run | None

    @property
    def _kept(self) -> KeptReads | None:
        """The reads kept while the run lock is held, else None (``sync.state.kept``)."""
        raise NotImplementedError

    def keeps_reads(self) -> bool:
        """Whether reads are kept for the store's life (see ``StateStore.keeps_reads``)."""
        raise NotImplementedError

    def kept_value(self, key: Hashable, tables: frozenset[str], load: Callable[[], T], *,
                   once: bool = False) -> T:
        """An answer kept until a write to ``tables`` (see ``StateStore.kept_value``)."""
        raise NotImplementedError

    def _now(self) -> str:
        raise NotImplementedError

    def transaction(self) -> AbstractContextManager[None]:
        """Group writes atomically (see ``StateStore.transaction``)."""
        raise NotImplementedError

    def _one(self, sql: str, params: tuple[Any, ...] = ()) -> Record | None:
        return self._conn.execute(sql, params).fetchone()

    def _all(self, sql: str, params: tuple[Any, ...] = ()) -> list[Record]:
        return self._conn.execute(sql, params).fetchall()
