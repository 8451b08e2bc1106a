"""Where a test's state store lives, on both backends: SQLite, or a schema of PostgreSQL."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sync.state.db import Database, schema_name
from sync.state.store import StateStore

BACKENDS = ("sqlite", "postgresql")


def unique_schema() -> str:
    """A fresh PostgreSQL schema name: every test gets a store of its own in one database."""
    return f"t_{uuid.uuid4().hex[:16]}"


@dataclass(frozen=True)
class StoreTarget:
    """Where a test's state store lives: a SQLite file, or a schema of the session's server."""

    backend: str
    location: str | Path
    schema: str | None = None

    def open(self, **options: Any) -> StateStore:
        """Open the store (``StateStore.open`` options)."""
        return StateStore.open(self.location, schema=self.schema, **options)

    def lock(self, command: str = "mcm-sync") -> Any:
        """The store's run lock, not yet taken."""
        return StateStore.lock(self.location, command, schema=self.schema)

    def database(self) -> Database:
        """A bare connection, for the migration tests."""
        if self.backend == "sqlite":
            return Database.sqlite(Path(self.location))
        return Database.postgresql(str(self.location), schema_name(self.schema or ""))

    @property
    def open_code(self) -> str:
        """Python source of the arguments that open this store in a subprocess."""
        return f"{str(self.location)!r}, schema={self.schema!r}"
