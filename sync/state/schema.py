"""The state store's schema, as an ordered list of migrations.

Migration *n* (1-based) takes a store from schema version ``n - 1`` to ``n``; the version is
kept in ``PRAGMA user_version`` (0 for a new, empty file). :func:`migrate` applies the missing
steps in one transaction, so a store is either fully at the new version or untouched. Never
edit a released step: append a new one, and add a test that upgrades from the previous version.

Nothing secret is stored here: ``identity_token`` is the short hash we embed in the objects we
create to find them again (see ``connectors.identity``), not a credential.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from sync.core.errors import StateError

# Version 1: what bootstrap needs (alliance, remote resources, items and their sides, the
# intent journal, read cursors).
_V1: tuple[str, ...] = (
    """CREATE TABLE alliance (
        slug TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        created_at TEXT NOT NULL
    )""",
    """CREATE TABLE resources (
        service TEXT NOT NULL,
        kind TEXT NOT NULL,
        logical_key TEXT NOT NULL,
        remote_id TEXT NOT NULL,
        url TEXT NOT NULL DEFAULT '',
        identity_token TEXT NOT NULL DEFAULT '',
        data TEXT NOT NULL DEFAULT '{}',
        updated_at TEXT NOT NULL,
        PRIMARY KEY (service, kind, logical_key)
    )""",
    """CREATE TABLE items (
        id TEXT PRIMARY KEY,
        number TEXT NOT NULL UNIQUE,
        key TEXT NOT NULL UNIQUE,
        kind TEXT NOT NULL CHECK (kind IN ('task', 'action', 'meeting', 'member')),
        title TEXT NOT NULL,
        step TEXT NOT NULL DEFAULT '',
        owner TEXT NOT NULL DEFAULT '',
        due TEXT,
        status TEXT NOT NULL,
        revision INTEGER NOT NULL DEFAULT 1,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        source TEXT NOT NULL
            CHECK (source IN ('playbook', 'file', 'trello', 'slack', 'cli'))
    )""",
    """CREATE TABLE item_sides (
        item_id TEXT NOT NULL REFERENCES items(id) ON DELETE CASCADE,
        side TEXT NOT NULL CHECK (side IN ('trello', 'slack', 'file')),
        remote_id TEXT NOT NULL,
        base TEXT NOT NULL DEFAULT '{}',
        fingerprint TEXT NOT NULL DEFAULT '',
        updated_at TEXT NOT NULL,
        PRIMARY KEY (item_id, side)
    )""",
    "CREATE INDEX item_sides_remote ON item_sides (side, remote_id)",
    """CREATE TABLE journal (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        run_id TEXT NOT NULL,
        item_id TEXT REFERENCES items(id) ON DELETE SET NULL,
        service TEXT NOT NULL,
        operation TEXT NOT NULL,
        identity_token TEXT NOT NULL,
        state TEXT NOT NULL DEFAULT 'open'
            CHECK (state IN ('open', 'done', 'failed', 'abandoned')),
        detail TEXT NOT NULL DEFAULT '{}',
        remote_id TEXT,
        created_at TEXT NOT NULL,
        closed_at TEXT
    )""",
    "CREATE INDEX journal_state ON journal (state, service)",
    """CREATE TABLE bookmarks (
        side TEXT NOT NULL,
        scope TEXT NOT NULL,
        cursor TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        PRIMARY KEY (side, scope)
    )""",
)

# Version 2: what the sync needs on top (conflicts, the audit trail, runs) and a counter table
# so item numbers are never reused, even after an item is deleted.
_V2: tuple[str, ...] = (
    """CREATE TABLE conflicts (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        item_id TEXT NOT NULL REFERENCES items(id) ON DELETE CASCADE,
        field TEXT NOT NULL,
        side_values TEXT NOT NULL DEFAULT '{}',
        winner TEXT NOT NULL,
        loser_value TEXT NOT NULL DEFAULT 'null',
        policy TEXT NOT NULL,
        created_at TEXT NOT NULL,
        resolved_at TEXT,
        announced INTEGER NOT NULL DEFAULT 0
    )""",
    "CREATE INDEX conflicts_open ON conflicts (resolved_at, item_id)",
    """CREATE TABLE audit (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        at TEXT NOT NULL,
        item_id TEXT REFERENCES items(id) ON DELETE SET NULL,
        actor TEXT NOT NULL DEFAULT '',
        source TEXT NOT NULL
            CHECK (source IN ('trello', 'slack', 'cli', 'file', 'playbook', 'hub')),
        field TEXT NOT NULL,
        old TEXT NOT NULL DEFAULT 'null',
        new TEXT NOT NULL DEFAULT 'null'
    )""",
    "CREATE INDEX audit_item ON audit (item_id, id)",
    """CREATE TABLE runs (
        id TEXT PRIMARY KEY,
        command TEXT NOT NULL,
        started_at TEXT NOT NULL,
        finished_at TEXT,
        outcome TEXT
    )""",
    """CREATE TABLE counters (
        prefix TEXT PRIMARY KEY,
        next INTEGER NOT NULL CHECK (next >= 1)
    )""",
    # Continue after the numbers already handed out by a version-1 store (prefixes such as
    # ``FRL`` never contain a dash; see ``Alliance.item_prefix``).
    """INSERT INTO counters (prefix, next)
        SELECT substr(number, 1, instr(number, '-') - 1),
               MAX(CAST(substr(number, instr(number, '-') + 1) AS INTEGER)) + 1
        FROM items WHERE instr(number, '-') > 1 GROUP BY 1""",
)

# Version 3: the stakeholder database (issue 6): one row per person with the fingerprint of
# what was last pushed to the audience and what Mailchimp last said about them; erasure
# tombstones (a salted hash, never the address); store-wide settings such as that salt; the
# export files written (so that an erasure can clean them); and the newsletter drafts made.
_V3: tuple[str, ...] = (
    """CREATE TABLE stakeholders (
        key TEXT PRIMARY KEY,
        email TEXT NOT NULL DEFAULT '',
        data TEXT NOT NULL DEFAULT '{}',
        position INTEGER NOT NULL DEFAULT 0,
        pushed_fingerprint TEXT NOT NULL DEFAULT '',
        pushed_status TEXT NOT NULL DEFAULT '',
        remote_status TEXT NOT NULL DEFAULT '',
        remote_changed_at TEXT NOT NULL DEFAULT '',
        last_error TEXT NOT NULL DEFAULT '',
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    )""",
    "CREATE INDEX stakeholders_email ON stakeholders (email)",
    """CREATE TABLE erasures (
        hash TEXT PRIMARY KEY,
        erased_at TEXT NOT NULL
    )""",
    """CREATE TABLE settings (
        name TEXT PRIMARY KEY,
        value TEXT NOT NULL
    )""",
    """CREATE TABLE exports (
        path TEXT PRIMARY KEY,
        kind TEXT NOT NULL,
        written_at TEXT NOT NULL
    )""",
    """CREATE TABLE newsletters (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        created_at TEXT NOT NULL,
        since TEXT NOT NULL,
        language TEXT NOT NULL,
        subject TEXT NOT NULL,
        content_hash TEXT NOT NULL,
        campaign_id TEXT NOT NULL DEFAULT '',
        web_id TEXT NOT NULL DEFAULT ''
    )""",
)

# Version 4: the durable queue of `mcm-sync serve` (webhook and event deliveries are written
# here before they are acknowledged; ``sync.state.events``). (source, dedup_key) is unique, so
# a redelivery (Slack's retries, a repeated event_id, Trello's re-sends) is stored once.
_V4: tuple[str, ...] = (
    """CREATE TABLE events (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        source TEXT NOT NULL CHECK (source IN ('trello', 'slack', 'mailchimp')),
        dedup_key TEXT NOT NULL,
        kind TEXT NOT NULL,
        subject TEXT NOT NULL DEFAULT '',
        payload TEXT NOT NULL DEFAULT '{}',
        received_at TEXT NOT NULL,
        state TEXT NOT NULL DEFAULT 'pending'
            CHECK (state IN ('pending', 'done', 'ignored', 'failed')),
        attempts INTEGER NOT NULL DEFAULT 0,
        processed_at TEXT,
        note TEXT NOT NULL DEFAULT '',
        UNIQUE (source, dedup_key)
    )""",
    "CREATE INDEX events_state ON events (state, id)",
)

MIGRATIONS: tuple[tuple[str, ...], ...] = (_V1, _V2, _V3, _V4)
SCHEMA_VERSION = len(MIGRATIONS)


def schema_version(conn: sqlite3.Connection) -> int:
    """The schema version recorded in the database file (0 for a new file)."""
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def migrate(
    conn: sqlite3.Connection,
    *,
    target: int = SCHEMA_VERSION,
    migrations: Sequence[Sequence[str]] = MIGRATIONS,
    where: str = "state store",
) -> int:
    """Bring the database to schema ``target`` in one transaction; returns the old version.

    ``conn`` must be in autocommit mode (``isolation_level=None``) so that the explicit
    ``BEGIN IMMEDIATE`` below really covers every step: a failure leaves the file untouched.
    Refuses a database newer than this code knows (an older mcm-sync must not write to it).
    """
    current = schema_version(conn)
    if current > len(migrations):
        raise StateError(
            f"{where} has schema version {current}, but this mcm-sync only knows up to "
            f"version {len(migrations)}",
            hint="upgrade mcm-sync (the store was written by a newer version); "
            "do not delete the store, it holds the ids of everything created",
        )
    if current >= target:
        return current
    conn.execute("BEGIN IMMEDIATE")
    try:
        for step in migrations[current:target]:
            for statement in step:
                conn.execute(statement)
        # PRAGMA user_version is part of the database header, so it commits or rolls back
        # with the rest of the transaction.
        conn.execute(f"PRAGMA user_version = {int(target)}")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
    return current


def column_names(conn: sqlite3.Connection) -> dict[str, list[str]]:
    """Every table's column names (for the test that no credential column exists)."""
    tables = [
        row[0]
        for row in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        )
    ]
    return {t: [row[1] for row in conn.execute(f"PRAGMA table_info({t})")] for t in tables}
