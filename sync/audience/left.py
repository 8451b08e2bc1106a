"""Addresses people left for another in Mailchimp, and where each now leads.

When a person changes their address in Mailchimp (``upemail``), their row in the stakeholder
database moves to the new address (:meth:`StakeholderStore.move_address`) and the old one is
remembered here: as the salted hash erasures use (never the address itself), beside the key
of the row it now leads to. A stakeholder sheet that still has the old address then updates
the person at their new one instead of adding a row for an address Mailchimp no longer holds
(which the next push would subscribe again, as a new member), and the push never sends a row
made for such an address before the move was known.

They are ``settings`` rows ``left_address:<hash>`` -> ``{"to": key, "at": date}``, so that no
schema step is needed; ``forget`` turns a person's into erasure tombstones (the hashes are
the same).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Protocol

from sync.state.base import dumps

PREFIX = "left_address:"


class PeopleStore(Protocol):
    """What this needs of :class:`sync.audience.store.StakeholderStore` (which uses it)."""

    _conn: Any

    def _now(self) -> str: ...

    def salt(self) -> str:
        """The store's salt of erasure hashes."""

    def erasure_hash(self, email: str) -> str:
        """The salted hash of an address."""

    def get(self, key: str) -> object | None:
        """The person with this key, if any."""

    def transaction(self) -> AbstractContextManager[None]:
        """Group writes atomically."""


@dataclass(frozen=True)
class LeftAddress:
    """An address a person left in Mailchimp: the row it leads to now, and since when."""

    key: str  # the person's row (their current address)
    changed_at: str


class LeftAddresses:
    """The addresses people left, kept through a stakeholder store's connection."""

    def __init__(self, people: PeopleStore) -> None:
        self._people = people
        self._conn = people._conn

    def _rows(self) -> list[tuple[str, dict[str, str]]]:
        rows = self._conn.execute(
            "SELECT name, value FROM settings WHERE name LIKE ?", (f"{PREFIX}%",)
        ).fetchall()
        return [(str(r["name"]), json.loads(r["value"])) for r in rows]

    def _name(self, email: str) -> str:
        return PREFIX + self._people.erasure_hash(email)

    def remember(self, old_key: str, new_key: str) -> None:
        """Note that the person of ``old_key`` now lives at ``new_key`` (call in a transaction).

        Addresses they left before lead to the new row too; the new address is no longer one
        they left (someone may change back).
        """
        for name, value in self._rows():
            if value.get("to") == old_key:
                self._conn.execute("UPDATE settings SET value = ? WHERE name = ?",
                                   (dumps({**value, "to": new_key}), name))
        self._conn.execute("DELETE FROM settings WHERE name = ?", (self._name(new_key),))
        self._conn.execute(
            "INSERT INTO settings (name, value) VALUES (?, ?)"
            " ON CONFLICT (name) DO UPDATE SET value = excluded.value",
            (self._name(old_key), dumps({"to": new_key, "at": self._people._now()})),
        )

    def find(self, email: str) -> LeftAddress | None:
        """Where the person who left ``email`` is now; None if no one left it, or their row
        is gone."""
        if not email.strip():
            return None
        row = self._conn.execute(
            "SELECT value FROM settings WHERE name = ?", (self._name(email),)
        ).fetchone()
        if row is None:
            return None
        value = json.loads(row["value"])
        if self._people.get(str(value.get("to", ""))) is None:
            return None
        return LeftAddress(str(value["to"]), str(value.get("at", "")))

    def among(self, emails: Iterable[str]) -> set[str]:
        """The addresses (lowercased) among ``emails`` that a person left for another."""
        salt = self._people.salt()
        names = {name for name, _ in self._rows()}
        found = set()
        for email in emails:
            key = email.strip().lower()
            digest = hashlib.sha256(f"{salt}:{key}".encode()).hexdigest()
            if key and PREFIX + digest in names:
                found.add(key)
        return found

    def drop(self, key: str) -> list[str]:
        """Forget the addresses the person of ``key`` left; their salted hashes (which are the
        erasure hashes of those addresses, so ``forget`` can keep them out too)."""
        gone = []
        with self._people.transaction():
            for name, value in self._rows():
                if value.get("to") == key:
                    self._conn.execute("DELETE FROM settings WHERE name = ?", (name,))
                    gone.append(name.removeprefix(PREFIX))
        return gone
