"""The reads a store keeps (:class:`KeptReads`): bookmarks, resources, and a few answers a
scheduled run asks for every time (the binding, the queue found empty, the revision...).

While a store holds the alliance's run lock no other *run* writes its state, so what it reads
is kept for the rest of the run: bookmarks and the resources' remote ids are read once, one
query each (a quiet run asked for them a dozen times), and kept in step by the store's own
writes; a resource's whole row when first asked for; the other answers (:meth:`value`) until
the store writes a table they depend on (:meth:`wrote`, told by the connection for each
write it runs).

A long-running worker hands one :class:`KeptReads` per alliance from run to run. The next run
uses it only if the store's write stamp (:mod:`sync.state.schema.stamp`) is the one it was
kept at: any write by anyone else since (``serve`` storing a delivery, a cron ``sync``,
``resolve``, a second worker, a migration) has moved the stamp and everything is read
afresh. A quiet run's own writes (its run row, the time of the quiet check) move no stamp, so
a quiet alliance's next run reads nearly nothing. A rolled-back transaction, a write past the
store's methods (:meth:`StateStore.forget_reads`) and a failed run drop everything.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any, TypeVar

from sync.state.kept.connection import KeptConnection
from sync.state.rows import Resource
from sync.state.schema.stamp import UNSTAMPED_BOOKMARK

T = TypeVar("T")
ResourceKey = tuple[str, str, str]  # (service, kind, logical key)


class KeptReads:
    """One store's kept reads, and the write stamp they are valid at (None: not read yet)."""

    def __init__(self) -> None:
        self.stamp: int | None = None
        self.bookmarks: dict[tuple[str, str], str] | None = None
        self.resource_ids: dict[ResourceKey, str] | None = None
        self.resource_rows: dict[ResourceKey, Resource] = {}
        # Other answers by key, with the tables a write to which makes them stale.
        self._values: dict[Hashable, tuple[frozenset[str], Any]] = {}
        # Answers others write without the run lock (deliveries): handed out once per run, from
        # the stamp checked at its start, then read afresh (see :meth:`value`'s ``once``).
        self._handed: set[Hashable] = set()
        # A SQLite store's connection, kept open between runs (``sync.state.kept.connection``).
        self.connection = KeptConnection()

    def clear(self) -> None:
        """Forget everything (the next reads ask the store again)."""
        self.bookmarks = self.resource_ids = None
        self.resource_rows = {}
        self._values = {}
        self._handed = set()

    def drop(self) -> None:
        """Forget everything and the stamp too, and close a kept connection (after a failed
        run: the next one opens and checks the store afresh)."""
        self.clear()
        self.stamp = None
        self.connection.close()

    def at(self, stamp: int | None) -> bool:
        """Make these the reads of a store whose write stamp is ``stamp`` now: kept if it is
        the one they were kept at, else forgotten. Whether they were kept."""
        if stamp is not None and stamp == self.stamp:
            self._handed = set()
            return True
        self.clear()
        self.stamp = stamp
        return False

    def value(self, key: Hashable, tables: frozenset[str], load: Callable[[], T], *,
              once: bool = False) -> T:
        """The kept answer of ``key``, or ``load()``'s, kept until a write to ``tables``.

        ``once``: an answer others change without the run lock (``serve``'s front storing a
        delivery while a run goes on). The kept answer is handed out at most once per run,
        right after the stamp said nobody wrote since; later asks in the run read afresh (and
        the last answer is what the next run may start from)."""
        found = self._values.get(key)
        if found is not None and not (once and key in self._handed):
            if once:
                self._handed.add(key)
            return found[1]  # type: ignore[no-any-return]  # stored by this method as a T
        if once:
            self._handed.add(key)
        answer = load()
        self._values[key] = (tables, answer)
        return answer

    def wrote(self, table: str) -> None:
        """The store ran a write to ``table`` (``*``: to any, a DDL or an unknown statement):
        the answers depending on it go (bookmarks and resources are kept in step by the
        methods that write them)."""
        if not self._values:
            return
        self._values = {key: kept for key, kept in self._values.items()
                        if table != "*" and table not in kept[0]}

    @staticmethod
    def keeps_bookmark(side: str, scope: str) -> bool:
        """Whether a bookmark is answered from what is kept: not the time of the last quiet
        check, which moves no stamp (another process's quiet run may have moved it)."""
        return (side, scope) != UNSTAMPED_BOOKMARK
