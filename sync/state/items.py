"""Action items in the state store: human numbers, items, and each side's agreed record.

A mixin of :class:`sync.state.store.StateStore`. An item's ``key`` is its stable logical key
(playbook task id, action-plan row key, meeting key, ``trello:<card id>`` for a card a member
added) and its ``number`` (``FRL-12``) is handed out once and never reused. Per side
(``trello``, ``slack``, and ``file`` for the action-plan row as last read) the store keeps the
remote id, the *base* (the normalised value all sides agreed at the last sync, for the
three-way comparison) and the last seen fingerprint.
"""

from __future__ import annotations

import uuid
from typing import Any, Unpack

from sync.state.base import StoreBase, dumps, where
from sync.state.rows import ITEM_DEFAULTS, ITEM_FIELDS, Item, ItemFields, ItemSide


class ItemsMixin(StoreBase):
    """Item numbers, items and item sides; mixed into ``StateStore``."""

    # ------------------------------------------------------------------ item numbers

    def peek_item_number(self, prefix: str) -> int:
        """The number :meth:`next_item_number` would hand out next (nothing is reserved)."""
        row = self._one("SELECT next FROM counters WHERE prefix = ?", (prefix,))
        return int(row["next"]) if row else 1

    def next_item_number(self, prefix: str) -> str:
        """Reserve the next human number, e.g. ``FRL-13``: monotonic, never handed out twice."""
        with self.transaction():
            n = self.peek_item_number(prefix)
            self._set_counter(prefix, n + 1)
        return f"{prefix}-{n}"

    def _set_counter(self, prefix: str, next_value: int) -> None:
        self._conn.execute(
            "INSERT INTO counters (prefix, next) VALUES (?, ?) ON CONFLICT (prefix)"
            " DO UPDATE SET next = CASE WHEN counters.next > excluded.next THEN counters.next"
            " ELSE excluded.next END",
            (prefix, next_value),
        )

    def _reserve_number(self, number: str) -> None:
        """Keep the counter past a number given from outside (e.g. typed in the action plan)."""
        prefix, _, digits = number.partition("-")
        if prefix and digits.isdigit():
            self._set_counter(prefix, int(digits) + 1)

    # ------------------------------------------------------------------ items

    def ensure_item(self, **given: Unpack[ItemFields]) -> Item:
        """The item with ``key``; created with these values if there is none (else unchanged)."""
        found = self.get_item_by_key(given["key"])
        if found is not None:
            return found
        fields = {**ITEM_DEFAULTS, **given}
        with self.transaction():
            item_id = str(uuid.uuid4())
            now = self._now()
            self._reserve_number(given["number"])
            # seq: the insertion order (``ORDER BY created_at, seq``), as SQLite's rowid was.
            self._conn.execute(
                f"INSERT INTO items (id, {', '.join(ITEM_FIELDS)}, revision, created_at,"
                f" updated_at, seq) VALUES (?, {', '.join('?' * len(ITEM_FIELDS))}, 1, ?, ?,"
                " (SELECT COALESCE(MAX(seq), 0) + 1 FROM items))",
                (item_id, *(fields[f] for f in ITEM_FIELDS), now, now),
            )
        return self.get_item(item_id)

    def upsert_item(self, **given: Unpack[ItemFields]) -> Item:
        """Create the item with ``key`` or set its fields (an item's number never changes).

        A field left out is set to its default (``ITEM_DEFAULTS``), as on a new item.
        """
        with self.transaction():
            found = self.get_item_by_key(given["key"])
            if found is None:
                return self.ensure_item(**given)
            if found.number != given["number"]:
                raise ValueError(f"item {given['key']!r} is {found.number}; numbers never change")
            changes = {**ITEM_DEFAULTS, **given}
            del changes["key"], changes["number"]
            return self.update_item(found.id, **changes)

    def update_item(self, item_id: str, **changes: Any) -> Item:
        """Set some fields of an item; its revision moves only if a value really changed."""
        if "number" in changes or "key" in changes:
            raise ValueError("an item's number and key never change")
        unknown = set(changes) - set(ITEM_FIELDS)
        if unknown:
            raise ValueError(f"unknown item fields {sorted(unknown)}")
        with self.transaction():
            item = self.get_item(item_id)
            changed = {k: v for k, v in changes.items() if getattr(item, k) != v}
            if changed:
                assignments = ", ".join(f"{name} = ?" for name in changed)
                self._conn.execute(
                    f"UPDATE items SET {assignments}, revision = revision + 1, updated_at = ?"
                    " WHERE id = ?",
                    (*changed.values(), self._now(), item_id),
                )
        return self.get_item(item_id)

    def get_item(self, item_id: str) -> Item:
        """The item with this id (``KeyError`` if there is none: ids come from the store)."""
        row = self._one("SELECT * FROM items WHERE id = ?", (item_id,))
        if row is None:
            raise KeyError(item_id)
        return Item.from_row(row)

    def find_item(self, item_id: str) -> Item | None:
        """The item with this id, or None."""
        row = self._one("SELECT * FROM items WHERE id = ?", (item_id,))
        return Item.from_row(row) if row else None

    def get_item_by_key(self, key: str) -> Item | None:
        """The item with this stable logical key (task id, row key, ``trello:<card id>``)."""
        row = self._one("SELECT * FROM items WHERE key = ?", (key,))
        return Item.from_row(row) if row else None

    def get_item_by_number(self, number: str) -> Item | None:
        """The item with this human number (e.g. ``FRL-12``)."""
        row = self._one("SELECT * FROM items WHERE number = ?", (number,))
        return Item.from_row(row) if row else None

    def list_items(self, *, kind: str | None = None, status: str | None = None) -> list[Item]:
        """Items, optionally of one kind and status, oldest first."""
        if kind is not None and status is None:  # the meetings, asked for every run
            return list(self.kept_value(("items", kind), frozenset({"items"}),
                                        lambda: tuple(self._items(kind, None))))
        return self._items(kind, status)

    def _items(self, kind: str | None, status: str | None) -> list[Item]:
        clause, values = where(kind=kind, status=status)
        rows = self._all(f"SELECT * FROM items{clause} ORDER BY created_at, seq", values)
        return [Item.from_row(r) for r in rows]

    # ------------------------------------------------------------------ item sides

    def get_side(self, item_id: str, side: str) -> ItemSide | None:
        """One side's record of an item (remote id, agreed base, seen fingerprint), or None."""
        row = self._one("SELECT * FROM item_sides WHERE item_id = ? AND side = ?", (item_id, side))
        return ItemSide.from_row(row) if row else None

    def put_side(
        self,
        item_id: str,
        side: str,
        remote_id: str,
        base: dict[str, Any],
        *,
        fingerprint: str = "",
    ) -> ItemSide:
        """Record a side after a successful call: its remote id, new base and fingerprint."""
        with self.transaction():
            self._conn.execute(
                "INSERT INTO item_sides (item_id, side, remote_id, base, fingerprint,"
                " updated_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (item_id, side) DO UPDATE"
                " SET remote_id = excluded.remote_id, base = excluded.base,"
                " fingerprint = excluded.fingerprint, updated_at = excluded.updated_at",
                (item_id, side, remote_id, dumps(base), fingerprint, self._now()),
            )
        found = self.get_side(item_id, side)
        assert found is not None
        return found

    def find_side(self, side: str, remote_id: str) -> ItemSide | None:
        """The side record holding this remote id (card id, message ts), or None."""
        row = self._one(
            "SELECT * FROM item_sides WHERE side = ? AND remote_id = ?", (side, remote_id)
        )
        return ItemSide.from_row(row) if row else None

    def all_sides(self) -> list[ItemSide]:
        """Every item's record on every side (one query, for the sync's state view)."""
        rows = self._all("SELECT * FROM item_sides ORDER BY item_id, side")
        return [ItemSide.from_row(r) for r in rows]

    def list_sides(self, side: str) -> list[ItemSide]:
        """Every item's record on one side."""
        rows = self._all("SELECT * FROM item_sides WHERE side = ? ORDER BY item_id", (side,))
        return [ItemSide.from_row(r) for r in rows]
