"""The sync's bookkeeping in the state store: bookmarks, conflicts, the audit trail and runs.

A mixin of :class:`sync.state.store.StateStore` (kept apart so each file stays readable); it relies
only on the store's connection, clock and ``transaction()`` (``sync.state.base.StoreBase``).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from sync.state.base import StoreBase, dumps, where
from sync.state.rows import AuditEntry, Bookmark, ConflictRecord, Run

# What the revision's triggers watch (``sync.state.schema.tables.WATCHED``), and its own row.
REVISION_TABLES = frozenset({"items", "item_sides", "resources", "journal", "conflicts", "audit",
                             "counters", "state_revision"})
# Conflicts go with their item (a foreign key's cascade).
CONFLICT_TABLES = frozenset({"conflicts", "items"})


class RecordsMixin(StoreBase):
    """Bookmarks, conflicts, audit and runs; mixed into ``StateStore``."""

    # ------------------------------------------------------------------ bookmarks

    def get_bookmark(self, side: str, scope: str) -> str | None:
        """The cursor of one side's incremental read (last action id, last ts), or None."""
        kept = self._kept
        if kept is not None and kept.keeps_bookmark(side, scope):
            if kept.bookmarks is None:
                kept.bookmarks = {(side, scope): cursor for side, scope, cursor in
                                  self._conn.execute("SELECT side, scope, cursor FROM bookmarks"
                                                     ).tuples()}
            return kept.bookmarks.get((side, scope))
        row = self._conn.execute(
            "SELECT cursor FROM bookmarks WHERE side = ? AND scope = ?", (side, scope)
        ).fetchone()
        return str(row["cursor"]) if row else None

    def revision(self) -> int:
        """The state's revision: it moves on every write to what a sync plans from (schema
        version 6's triggers), so an unchanged number means an unchanged plan input."""
        return self.kept_value("revision", REVISION_TABLES, self._read_revision)

    def _read_revision(self) -> int:
        row = self._conn.execute("SELECT value FROM state_revision WHERE id = 1").fetchone()
        return int(row["value"]) if row else 0

    def set_bookmark(self, side: str, scope: str, cursor: str) -> None:
        """Move a cursor; call this last, once every action of the run has succeeded."""
        with self.transaction():
            self._put_bookmark(side, scope, cursor)

    def _put_bookmark(self, side: str, scope: str, cursor: str) -> None:
        """The one statement of :meth:`set_bookmark`, in the caller's transaction as it is."""
        self._conn.execute(
            "INSERT INTO bookmarks (side, scope, cursor, updated_at) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (side, scope) DO UPDATE SET cursor = excluded.cursor,"
            " updated_at = excluded.updated_at",
            (side, scope, cursor, self._now()),
        )
        kept = self._kept
        if kept is not None and kept.bookmarks is not None:
            kept.bookmarks[(side, scope)] = cursor

    def list_bookmarks(self) -> list[Bookmark]:
        """Every cursor, for ``status`` and debugging."""
        rows = self._conn.execute("SELECT * FROM bookmarks ORDER BY side, scope").fetchall()
        return [Bookmark(r["side"], r["scope"], r["cursor"], r["updated_at"]) for r in rows]

    # ------------------------------------------------------------------ conflicts

    def record_conflict(
        self,
        item_id: str,
        field: str,
        side_values: Mapping[str, Any],
        winner: str,
        loser_value: Any,
        policy: str,
    ) -> ConflictRecord:
        """Keep a conflict: every side's value, who won, the losing value, the policy used."""
        with self.transaction():
            row = self._conn.execute(
                "INSERT INTO conflicts (item_id, field, side_values, winner, loser_value,"
                " policy, created_at) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
                (
                    item_id,
                    field,
                    dumps(dict(side_values)),
                    winner,
                    dumps(loser_value),
                    policy,
                    self._now(),
                ),
            ).fetchone()
        assert row is not None
        return self._conflict(int(row[0]))

    def _conflict(self, conflict_id: int) -> ConflictRecord:
        row = self._conn.execute("SELECT * FROM conflicts WHERE id = ?", (conflict_id,)).fetchone()
        if row is None:
            raise KeyError(conflict_id)
        return ConflictRecord.from_row(row)

    def list_conflicts(
        self, *, item_id: str | None = None, unresolved: bool = False, unannounced: bool = False
    ) -> list[ConflictRecord]:
        """Conflicts, oldest first; filtered to one item, the unresolved or the unannounced."""
        if unresolved and item_id is None and not unannounced:  # what every run counts
            return list(self.kept_value("unresolved conflicts", CONFLICT_TABLES, lambda: tuple(
                self._conflicts(None, unresolved=True, unannounced=False))))
        return self._conflicts(item_id, unresolved=unresolved, unannounced=unannounced)

    def _conflicts(self, item_id: str | None, *, unresolved: bool,
                   unannounced: bool) -> list[ConflictRecord]:
        clause, values = where(item_id=item_id, announced=0 if unannounced else None)
        if unresolved:
            clause += (" AND" if clause else " WHERE") + " resolved_at IS NULL"
        rows = self._conn.execute(f"SELECT * FROM conflicts{clause} ORDER BY id",
                                  values).fetchall()
        return [ConflictRecord.from_row(r) for r in rows]

    def resolve_conflict(self, conflict_id: int) -> ConflictRecord:
        """Mark a conflict resolved (idempotent: the first resolution time is kept)."""
        with self.transaction():
            self._conflict(conflict_id)
            self._conn.execute(
                "UPDATE conflicts SET resolved_at = COALESCE(resolved_at, ?) WHERE id = ?",
                (self._now(), conflict_id),
            )
        return self._conflict(conflict_id)

    def mark_conflict_announced(self, conflict_id: int) -> ConflictRecord:
        """Note that the losing value was posted in the item's thread."""
        with self.transaction():
            self._conflict(conflict_id)
            self._conn.execute("UPDATE conflicts SET announced = 1 WHERE id = ?", (conflict_id,))
        return self._conflict(conflict_id)

    # ------------------------------------------------------------------ audit

    def add_audit(
        self,
        item_id: str | None,
        actor: str,
        source: str,
        field: str,
        old: Any,
        new: Any,
        *,
        at: str | None = None,
    ) -> AuditEntry:
        """Append one change to the audit trail: who, where from, which field, old -> new.

        ``source`` is one of ``trello``, ``slack``, ``cli``, ``file``, ``playbook``, ``hub``;
        ``at`` defaults to now.
        """
        with self.transaction():
            row = self._conn.execute(
                "INSERT INTO audit (at, item_id, actor, source, field, old, new)"
                " VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING *",
                (at or self._now(), item_id, actor, source, field, dumps(old), dumps(new)),
            ).fetchone()
        assert row is not None
        return AuditEntry.from_row(row)

    def audit_summary(self) -> dict[str, tuple[int, str]]:
        """Per item: how many audit lines it has and the actor of its first one."""
        rows = self._conn.execute(
            "SELECT item_id, COUNT(*) AS n, (SELECT actor FROM audit AS first WHERE"
            " first.item_id = audit.item_id ORDER BY id LIMIT 1) AS actor FROM audit"
            " WHERE item_id IS NOT NULL GROUP BY item_id"
        ).fetchall()
        return {row["item_id"]: (int(row["n"]), row["actor"] or "") for row in rows}

    def list_audit(
        self, item_id: str | None = None, *, limit: int | None = None
    ) -> list[AuditEntry]:
        """The audit trail, oldest first (the last ``limit`` entries if given)."""
        latest = "" if limit is None else f" LIMIT {int(limit)}"
        clause, values = where(item_id=item_id)
        rows = self._conn.execute(
            f"SELECT * FROM (SELECT * FROM audit{clause} ORDER BY id DESC{latest}) AS latest"
            " ORDER BY id",
            values,
        ).fetchall()
        return [AuditEntry.from_row(r) for r in rows]

    # ------------------------------------------------------------------ runs

    def start_run(self, command: str, *, deferred: bool = False) -> Run:
        """Record the start of a command run; its id also tags the run's journal entries.

        ``deferred``: the run's row is written just before the store's next write, whatever it
        is (the run's first), so a run that writes nothing but its quiet check
        (:meth:`drop_quiet_run`) never writes it: a worker's quiet run is one statement, not
        five (a row inserted, then deleted again in a transaction of its own).
        """
        run = Run(uuid.uuid4().hex, command, self._now(), None, None)
        if deferred:
            self._deferred_run = run
        else:
            self._insert_run(run)
        return run

    def _insert_run(self, run: Run) -> None:
        # One statement: atomic on its own (no BEGIN and COMMIT around it, two round trips
        # per scheduled run); inside a caller's transaction it is part of that one.
        self._conn.execute(
            "INSERT INTO runs (id, command, started_at, seq) VALUES (?, ?, ?,"
            " (SELECT COALESCE(MAX(seq), 0) + 1 FROM runs))",
            (run.id, run.command, run.started_at),
        )

    def _write_deferred_run(self) -> None:
        """Before any write (the connection's ``before_write``): a deferred run's row first."""
        run, self._deferred_run = self._deferred_run, None
        if run is not None:
            self._insert_run(run)

    def finish_run(self, run_id: str, outcome: str) -> Run:
        """Record how a run ended (``ok``, ``conflicts``, ``remote-error``...)."""
        with self.transaction():
            updated = self._conn.execute(
                "UPDATE runs SET finished_at = ?, outcome = ? WHERE id = ?",
                (self._now(), outcome, run_id),
            ).rowcount
            if not updated:
                raise KeyError(run_id)
        return self.get_run(run_id)

    def drop_quiet_run(self, run_id: str) -> None:
        """Forget a run that found nothing to do and wrote nothing, keeping only when it
        ended (the bookmark ``("sync", "last_quiet")``, shown by ``mcm-sync status``)."""
        if self._deferred_run is not None and self._deferred_run.id == run_id:
            self._deferred_run = None  # never written: only the time, in one statement
            self._put_bookmark("sync", "last_quiet", self._now())
            return
        with self.transaction():
            self._conn.execute("DELETE FROM runs WHERE id = ?", (run_id,))
            self._put_bookmark("sync", "last_quiet", self._now())

    def get_run(self, run_id: str) -> Run:
        """One run (``KeyError`` if unknown)."""
        row = self._conn.execute("SELECT * FROM runs WHERE id = ?", (run_id,)).fetchone()
        if row is None:
            raise KeyError(run_id)
        return Run(row["id"], row["command"], row["started_at"], row["finished_at"], row["outcome"])

    def last_run(self, command: str | None = None, *, outcome: str | None = None) -> Run | None:
        """The most recent run, optionally of one command and outcome (e.g. last good sync)."""
        clause, values = where(command=command, outcome=outcome)
        row = self._conn.execute(
            f"SELECT * FROM runs{clause} ORDER BY started_at DESC, seq DESC LIMIT 1", values
        ).fetchone()
        return (
            Run(row["id"], row["command"], row["started_at"], row["finished_at"], row["outcome"])
            if row
            else None
        )
