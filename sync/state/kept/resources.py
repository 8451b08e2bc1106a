"""The store's record of remote objects (``resources``), read through what the store keeps.

A mixin of :class:`sync.state.store.StateStore`: every remote object we made or adopted, by
(service, kind, logical key) -> remote id, url, identity token and data. While the store keeps
its reads (:mod:`sync.state.kept.reads`) the remote ids of all of them are read once, without
their data (an alliance has one per item), a whole row when first asked for, and both are kept
in step by :meth:`ResourcesMixin.put_resource` and :meth:`ResourcesMixin.delete_resource`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sync.state.base import StoreBase, dumps, where
from sync.state.kept.reads import ResourceKey
from sync.state.rows import Resource


class ResourcesMixin(StoreBase):
    """Recorded remote objects; mixed into ``StateStore``."""

    def _kept_ids(self) -> dict[ResourceKey, str] | None:
        """The remote id of every resource by (service, kind, key), read once while reads are
        kept (without their data); None when not kept."""
        kept = self._kept
        if kept is None:
            return None
        if kept.resource_ids is None:
            kept.resource_ids = {(service, kind, key): remote_id for service, kind, key, remote_id
                                 in self._conn.execute("SELECT service, kind, logical_key,"
                                                       " remote_id FROM resources").tuples()}
        return kept.resource_ids

    def get_resource(self, service: str, kind: str, logical_key: str) -> Resource | None:
        """The recorded remote object of ``(service, kind, logical_key)``, or None."""
        ids = self._kept_ids()
        if ids is None or self._kept is None:
            return self._read_resource(service, kind, logical_key)
        key = (service, kind, logical_key)
        if key not in ids:
            return None
        rows = self._kept.resource_rows
        found = rows.get(key) or self._read_resource(*key)
        if found is not None:
            rows[key] = found
        return found

    def _read_resource(self, service: str, kind: str, logical_key: str) -> Resource | None:
        row = self._one(
            "SELECT * FROM resources WHERE service = ? AND kind = ? AND logical_key = ?",
            (service, kind, logical_key),
        )
        return Resource.from_row(row) if row else None

    def put_resource(
        self,
        service: str,
        kind: str,
        logical_key: str,
        remote_id: str,
        *,
        url: str = "",
        identity_token: str = "",
        data: dict[str, Any] | None = None,
    ) -> Resource:
        """Record (insert or replace) a remote object; ``data`` must hold no secret."""
        with self.transaction():
            self._conn.execute(
                "INSERT INTO resources (service, kind, logical_key, remote_id, url,"
                " identity_token, data, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (service, kind, logical_key) DO UPDATE SET"
                " remote_id = excluded.remote_id, url = excluded.url,"
                " identity_token = excluded.identity_token, data = excluded.data,"
                " updated_at = excluded.updated_at",
                (
                    service,
                    kind,
                    logical_key,
                    remote_id,
                    url,
                    identity_token,
                    dumps(data or {}, guard="resource data"),
                    self._now(),
                ),
            )
        found = self._read_resource(service, kind, logical_key)
        assert found is not None
        kept = self._kept
        if kept is not None and kept.resource_ids is not None:
            kept.resource_ids[(service, kind, logical_key)] = found.remote_id
            kept.resource_rows[(service, kind, logical_key)] = found
        return found

    def list_resources(self, service: str | None = None, kind: str | None = None) -> list[Resource]:
        """Recorded remote objects, optionally of one service and kind, in key order."""
        ids = self._kept_ids()
        if ids is not None and service is not None and kind is not None and not any(
                key[0] == service and key[1] == kind for key in ids):
            return []  # none recorded (reminders sent, meetings moved: mostly none)
        clause, values = where(service=service, kind=kind)
        rows = self._all(f"SELECT * FROM resources{clause} ORDER BY service, kind, logical_key",
                         values)
        return [Resource.from_row(r) for r in rows]

    def remote_ids(self, service: str, kinds: Sequence[str]) -> dict[tuple[str, str], str]:
        """The remote ids of one service's resources of ``kinds``: (kind, key) -> id, in one
        query and without decoding their data (what a scheduled run needs, every run)."""
        ids = self._kept_ids()
        if ids is not None:
            return {(k, key): remote_id for (s, k, key), remote_id in ids.items()
                    if s == service and k in kinds}
        marks = ", ".join("?" * len(kinds))
        rows = self._all(f"SELECT kind, logical_key, remote_id FROM resources WHERE service = ?"
                         f" AND kind IN ({marks})", (service, *kinds))
        return {(r["kind"], r["logical_key"]): str(r["remote_id"]) for r in rows}

    def delete_resource(self, service: str, kind: str, logical_key: str) -> bool:
        """Forget a remote object (e.g. found deleted remotely); True if it was recorded."""
        with self.transaction():
            cur = self._conn.execute(
                "DELETE FROM resources WHERE service = ? AND kind = ? AND logical_key = ?",
                (service, kind, logical_key),
            )
        kept = self._kept
        if kept is not None:
            if kept.resource_ids is not None:
                kept.resource_ids.pop((service, kind, logical_key), None)
            kept.resource_rows.pop((service, kind, logical_key), None)
        return cur.rowcount > 0
