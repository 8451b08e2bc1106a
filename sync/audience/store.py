"""The stakeholder tables of the state store (schema version 3).

:class:`StakeholderStore` works on an open :class:`sync.state.store.StateStore` (its connection,
clock and transactions) so the stakeholder database lives in the alliance's one SQLite file:
people with what was last pushed and what Mailchimp last said, erasure tombstones, the salt of
their hashes, the export files written, and the newsletter drafts made.

The addresses people left for another in Mailchimp are :mod:`sync.audience.left`'s
(:attr:`StakeholderStore.left_addresses`).
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sync.audience.left import LeftAddresses
from sync.state.base import dumps
from sync.state.db import Record
from sync.state.store import StateStore

if TYPE_CHECKING:  # the people's model is built where people are read: a sync asks only
    # whether there are any (has_people), and the pydantic model is not free to build
    from sync.audience.model import Stakeholder

SALT_SETTING = "erasure_salt"


# The remote status noted when Mailchimp answered "Member In Compliance State" to a subscribe.
COMPLIANCE = "compliance"

@dataclass(frozen=True)
class StakeholderRecord:
    """A person in the store: the validated row plus the audience bookkeeping."""

    key: str
    person: Stakeholder
    pushed_fingerprint: str = ""
    pushed_status: str = ""  # the status we last set in Mailchimp ("" = never sent)
    remote_status: str = ""  # the status Mailchimp last reported (pulled)
    remote_changed_at: str = ""
    last_error: str = ""
    updated_at: str = ""

    @property
    def email(self) -> str:
        """The person's address ("" if the row has none)."""
        return str(self.person.email)

    @property
    def blocked(self) -> bool:
        """Unsubscribed, cleaned or archived in Mailchimp: never re-subscribe, never send.

        An ``unsubscribed`` we set ourselves (consent withdrawn) is our own echo, not the
        person's choice in Mailchimp, so new consent may subscribe them again. ``archived``
        is never ours (mcm-sync does not archive; ``forget`` deletes for good), and any PUT
        would bring the member back subscribed: archived is not consent (issue 11).
        """
        if self.remote_status in ("cleaned", "archived", COMPLIANCE):
            return True
        return self.remote_status == "unsubscribed" and self.pushed_status != "unsubscribed"


@dataclass(frozen=True)
class NewsletterRecord:
    """A newsletter draft made in Mailchimp (or its content, if only previewed)."""

    id: int
    created_at: str
    since: str
    language: str
    subject: str
    content_hash: str
    campaign_id: str
    web_id: str


@dataclass(frozen=True)
class ImportCounts:
    """How many rows were new, changed or identical to what the store held."""

    added: int = 0
    updated: int = 0
    unchanged: int = 0


class StakeholderStore:
    """Read and write the stakeholder tables through an open state store."""

    def __init__(self, store: StateStore) -> None:
        self._store = store
        # The state store's own connection: one file, one transaction scope.
        self._conn = store._conn

    def transaction(self) -> AbstractContextManager[None]:
        """Group writes atomically (the state store's transaction)."""
        return self._store.transaction()

    def _now(self) -> str:
        return self._store._now()

    # ------------------------------------------------------------------ people

    def _record(self, row: Record) -> StakeholderRecord:
        from sync.audience.model import Stakeholder

        get = row.__getitem__
        return StakeholderRecord(
            key=get("key"),
            person=Stakeholder.model_validate(json.loads(get("data"))),
            pushed_fingerprint=get("pushed_fingerprint"),
            pushed_status=get("pushed_status"),
            remote_status=get("remote_status"),
            remote_changed_at=get("remote_changed_at"),
            last_error=get("last_error"),
            updated_at=get("updated_at"),
        )

    def people(self) -> list[StakeholderRecord]:
        """Every person, in the order they were first imported."""
        rows = self._conn.execute("SELECT * FROM stakeholders ORDER BY position, key").fetchall()
        return [self._record(r) for r in rows]

    def has_people(self) -> bool:
        """Whether the database holds anyone (one cheap query; a sync asks every run)."""
        return self._store.kept_value("has people", frozenset({"stakeholders"}), lambda: (
            self._conn.execute("SELECT 1 FROM stakeholders LIMIT 1").fetchone() is not None))

    def get(self, key: str) -> StakeholderRecord | None:
        """The person with this key (the lowercased address for people with one)."""
        row = self._conn.execute("SELECT * FROM stakeholders WHERE key = ?", (key,)).fetchone()
        return self._record(row) if row else None

    def find_email(self, email: str) -> StakeholderRecord | None:
        """The person with this address, case-insensitively."""
        return self.get(email.strip().lower())

    def upsert(self, people: Iterable[Stakeholder]) -> ImportCounts:
        """Insert or update people (one transaction); the audience bookkeeping is kept."""
        added = updated = unchanged = 0
        with self.transaction():
            position = self._conn.execute(
                "SELECT COALESCE(MAX(position), 0) FROM stakeholders"
            ).one()[0]
            for person in people:
                data = dumps(person.model_dump(mode="json"))
                found = self._conn.execute(
                    "SELECT data FROM stakeholders WHERE key = ?", (person.key,)
                ).fetchone()
                now = self._now()
                if found is None:
                    position += 1
                    self._conn.execute(
                        "INSERT INTO stakeholders (key, email, data, position, created_at,"
                        " updated_at) VALUES (?, ?, ?, ?, ?, ?)",
                        (person.key, str(person.email).lower(), data, position, now, now),
                    )
                    added += 1
                elif found["data"] != data:
                    self._conn.execute(
                        "UPDATE stakeholders SET data = ?, updated_at = ? WHERE key = ?",
                        (data, now, person.key),
                    )
                    updated += 1
                else:
                    unchanged += 1
        return ImportCounts(added, updated, unchanged)

    def mark_pushed(self, key: str, fingerprint: str, status: str) -> None:
        """Record a successful push: what was sent (fingerprint) and the status we set."""
        with self.transaction():
            self._conn.execute(
                "UPDATE stakeholders SET pushed_fingerprint = ?, pushed_status = ?,"
                " last_error = '' WHERE key = ?",
                (fingerprint, status, key),
            )

    def mark_error(self, key: str, message: str) -> None:
        """Record why Mailchimp refused this person (shown by ``stakeholders list``)."""
        with self.transaction():
            self._conn.execute(
                "UPDATE stakeholders SET last_error = ? WHERE key = ?", (message[:500], key)
            )

    def mark_remote(self, key: str, status: str, changed_at: str) -> None:
        """Record the status Mailchimp reports for this person (the pull)."""
        with self.transaction():
            self._conn.execute(
                "UPDATE stakeholders SET remote_status = ?, remote_changed_at = ? WHERE key = ?",
                (status, changed_at, key),
            )

    def move_address(self, key: str, new_email: str) -> StakeholderRecord | None:
        """The person changed their address in Mailchimp: file them under the new one.

        Their bookkeeping moves with them (what was pushed, what Mailchimp said), so the next
        push updates the member Mailchimp now files under the new address instead of making
        one for the old. None (nothing changed) if the new address is someone else's.
        """
        record = self.get(key)
        if record is None:
            return None
        from sync.audience.model import Stakeholder

        moved = record.person.model_copy(update={"email": new_email.strip()})
        moved = Stakeholder.model_validate(moved.model_dump())
        if moved.key != key and self.get(moved.key) is not None:
            return None
        with self.transaction():
            self._conn.execute(
                "UPDATE stakeholders SET key = ?, email = ?, data = ?, updated_at = ?"
                " WHERE key = ?",
                (moved.key, str(moved.email).lower(), dumps(moved.model_dump(mode="json")),
                 self._now(), key),
            )
            if moved.key != key:
                self.left_addresses.remember(key, moved.key)
        return self.get(moved.key)

    @property
    def left_addresses(self) -> LeftAddresses:
        """The addresses people left for another in Mailchimp (``upemail``)."""
        return LeftAddresses(self)

    def update_person(self, key: str, changes: dict[str, str]) -> bool:
        """Change some fields of a person (validated); True if anything changed."""
        record = self.get(key)
        if record is None:
            return False
        from sync.audience.model import Stakeholder

        person = Stakeholder.model_validate({**record.person.model_dump(), **changes})
        if person == record.person:
            return False
        with self.transaction():
            self._conn.execute(
                "UPDATE stakeholders SET data = ?, updated_at = ? WHERE key = ?",
                (dumps(person.model_dump(mode="json")), self._now(), key),
            )
        return True

    def delete(self, key: str) -> bool:
        """Remove a person entirely; True if they were there."""
        with self.transaction():
            cur = self._conn.execute("DELETE FROM stakeholders WHERE key = ?", (key,))
        return cur.rowcount > 0

    # ------------------------------------------------------------------ erasure

    def salt(self) -> str:
        """The salt of erasure hashes: generated once per store, then always the same."""
        with self.transaction():
            row = self._conn.execute(
                "SELECT value FROM settings WHERE name = ?", (SALT_SETTING,)
            ).fetchone()
            if row is not None:
                return str(row["value"])
            value = secrets.token_hex(16)
            self._conn.execute(
                "INSERT INTO settings (name, value) VALUES (?, ?)", (SALT_SETTING, value)
            )
            return value

    def erasure_hash(self, email: str) -> str:
        """The salted hash that stands for an erased address (in tombstones and the audit)."""
        text = f"{self.salt()}:{email.strip().lower()}"
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    def is_erased(self, email: str) -> bool:
        """Whether this address was erased (``forget``) and must not come back."""
        if not email:
            return False
        row = self._conn.execute(
            "SELECT 1 FROM erasures WHERE hash = ?", (self.erasure_hash(email),)
        ).fetchone()
        return row is not None

    def erased_among(self, emails: Iterable[str]) -> set[str]:
        """The addresses (lowercased) among ``emails`` that were erased."""
        salt = self.salt()
        hashes = {row["hash"] for row in self._conn.execute("SELECT hash FROM erasures").fetchall()}
        found = set()
        for email in emails:
            key = email.strip().lower()
            digest = hashlib.sha256(f"{salt}:{key}".encode()).hexdigest()
            if key and digest in hashes:
                found.add(key)
        return found

    def add_erasure(self, email: str) -> tuple[str, str]:
        """Write the tombstone of an address; returns (hash, date). Idempotent."""
        return self.add_erasure_hash(self.erasure_hash(email))

    def add_erasure_hash(self, digest: str) -> tuple[str, str]:
        """Write a tombstone by its salted hash (an address known only so); (hash, date)."""
        now = self._now()
        with self.transaction():
            self._conn.execute(
                "INSERT INTO erasures (hash, erased_at) VALUES (?, ?) ON CONFLICT DO NOTHING",
                (digest, now),
            )
        row = self._conn.execute(
            "SELECT erased_at FROM erasures WHERE hash = ?", (digest,)
        ).one()
        return digest, str(row["erased_at"])

    def erasure_count(self) -> int:
        """How many addresses were erased."""
        return int(self._conn.execute("SELECT COUNT(*) FROM erasures").one()[0])

    # ------------------------------------------------------------------ exports

    def record_export(self, path: str, kind: str = "stakeholders") -> None:
        """Remember an export file, so that ``forget`` can remove a person from it later."""
        with self.transaction():
            self._conn.execute(
                "INSERT INTO exports (path, kind, written_at) VALUES (?, ?, ?)"
                " ON CONFLICT (path) DO UPDATE SET written_at = excluded.written_at",
                (path, kind, self._now()),
            )

    def exports(self) -> Iterator[tuple[str, str]]:
        """(path, kind) of every export file written."""
        for row in self._conn.execute("SELECT path, kind FROM exports ORDER BY path").fetchall():
            yield str(row["path"]), str(row["kind"])

    # ------------------------------------------------------------------ newsletters

    def add_newsletter(
        self,
        *,
        since: str,
        language: str,
        subject: str,
        content_hash: str,
        campaign_id: str = "",
        web_id: str = "",
    ) -> NewsletterRecord:
        """Record a newsletter draft made in Mailchimp."""
        with self.transaction():
            row = self._conn.execute(
                "INSERT INTO newsletters (created_at, since, language, subject, content_hash,"
                " campaign_id, web_id) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
                (self._now(), since, language, subject, content_hash, campaign_id, web_id),
            ).fetchone()
        found = self._newsletter(int(row[0]) if row else 0)
        assert found is not None
        return found

    def _newsletter(self, newsletter_id: int) -> NewsletterRecord | None:
        row = self._conn.execute(
            "SELECT * FROM newsletters WHERE id = ?", (newsletter_id,)
        ).fetchone()
        # Columns are in the dataclass order (schema v3).
        return NewsletterRecord(*tuple(row)) if row else None

    def last_newsletter(self) -> NewsletterRecord | None:
        """The most recent draft made, if any."""
        row = self._conn.execute("SELECT id FROM newsletters ORDER BY id DESC LIMIT 1").fetchone()
        return self._newsletter(int(row["id"])) if row else None
