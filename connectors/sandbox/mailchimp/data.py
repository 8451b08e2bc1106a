"""The Mailchimp emulator's stored documents and the views it answers with.

Kinds kept in the sandbox store under service ``mailchimp`` (ids are unique per kind, so
list-scoped objects are keyed ``<list_id>:<own id>`` with the list as ``parent``):

- ``list``: an audience as the API shows it, minus the computed ``stats``;
- ``merge_field``: one merge field (``merge_id`` numbered per list; FNAME, LNAME, ADDRESS,
  PHONE and BIRTHDAY exist from the start, as on Mailchimp);
- ``member``: a member as the API shows it, minus ``tags`` (tags *are* static segments, so a
  member's tags are read from the segments that hold its hash);
- ``segment``: a static segment (tag) with private ``_members`` {hash: date added}, or a
  saved segment with ``options``;
- ``forgotten``: the hash of an address erased with delete-permanent (never the address);
- ``campaign`` and ``content``; ``batch`` and ``batch_results``; ``webhook``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from connectors.sandbox.mailchimp.base import SERVICE, iso, not_found, public

if TYPE_CHECKING:
    from connectors.sandbox.core.store import SandboxStore

DEFAULT_MERGE_FIELDS = (
    ("FNAME", "First Name", "text"),
    ("LNAME", "Last Name", "text"),
    ("ADDRESS", "Address", "address"),
    ("PHONE", "Phone Number", "phone"),
    ("BIRTHDAY", "Birthday", "birthday"),
)


def key(list_id: str, own_id: str | int) -> str:
    """The store id of a list-scoped object."""
    return f"{list_id}:{own_id}"


class MailchimpData:
    """Store access and response views shared by the emulator's handler groups."""

    store: SandboxStore
    clock: Callable[[], float]

    def stamp(self) -> str:
        """The sandbox clock as a Mailchimp timestamp."""
        return iso(self.clock)

    # ------------------------------------------------------------------ lists

    def list_doc(self, list_id: str) -> dict[str, Any]:
        """The stored audience or a 404."""
        doc = self.store.get(SERVICE, "list", list_id)
        if doc is None:
            raise not_found()
        return doc

    def list_view(self, doc: dict[str, Any]) -> dict[str, Any]:
        """An audience with its live ``stats``."""
        list_id = doc["id"]
        members = self.store.list(SERVICE, "member", list_id)
        by_status: dict[str, int] = {}
        for member in members:
            by_status[member["status"]] = by_status.get(member["status"], 0) + 1
        campaigns = [
            c
            for c in self.store.list(SERVICE, "campaign")
            if (c.get("recipients") or {}).get("list_id") == list_id
        ]
        stats = {
            "member_count": by_status.get("subscribed", 0),
            "total_contacts": len(members),
            "unsubscribe_count": by_status.get("unsubscribed", 0),
            "cleaned_count": by_status.get("cleaned", 0),
            "member_count_since_send": by_status.get("subscribed", 0),
            "unsubscribe_count_since_send": by_status.get("unsubscribed", 0),
            "cleaned_count_since_send": by_status.get("cleaned", 0),
            "campaign_count": len(campaigns),
            "merge_field_count": len(self.store.list(SERVICE, "merge_field", list_id)),
            "avg_sub_rate": 0,
            "avg_unsub_rate": 0,
            "target_sub_rate": 0,
            "open_rate": 0,
            "click_rate": 0,
        }
        return {**public(doc), "stats": stats}

    # ------------------------------------------------------------------ members and tags

    def member_doc(self, list_id: str, member_hash: str) -> dict[str, Any] | None:
        """The stored member (archived ones included), or None."""
        return self.store.get(SERVICE, "member", key(list_id, member_hash.lower()))

    def segments(self, list_id: str) -> list[dict[str, Any]]:
        """Every segment of the list (static and saved), oldest first."""
        return self.store.list(SERVICE, "segment", list_id)

    def member_tags(self, member_hash: str, segments: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """A member's tags: the static segments holding its hash, with the date added."""
        return [
            {"id": s["id"], "name": s["name"], "date_added": s["_members"][member_hash]}
            for s in segments
            if s["type"] == "static" and member_hash in s.get("_members", {})
        ]

    def member_view(
        self, doc: dict[str, Any], segments: list[dict[str, Any]] | None = None
    ) -> dict[str, Any]:
        """A member as the API shows it (``tags`` and ``tags_count`` from the segments)."""
        if segments is None:
            segments = self.segments(doc["list_id"])
        tags = [{"id": t["id"], "name": t["name"]} for t in self.member_tags(doc["id"], segments)]
        return {**public(doc), "tags_count": len(tags), "tags": tags}

    def segment_view(self, doc: dict[str, Any]) -> dict[str, Any]:
        """A segment with its ``member_count`` (saved segments are not evaluated: 0)."""
        view = public(doc)
        view["member_count"] = len(doc.get("_members", {}))
        return view

    def static_segment(self, list_id: str, name: str) -> dict[str, Any] | None:
        """The tag (static segment) called ``name``, if any."""
        return next(
            (s for s in self.segments(list_id) if s["type"] == "static" and s["name"] == name),
            None,
        )

    def new_segment(
        self, list_id: str, name: str, *, options: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """Store a new static segment (``options`` None) or saved segment."""
        segment_id = 10000 + self.store.next_counter("mailchimp.segment")
        now = self.stamp()
        doc: dict[str, Any] = {
            "id": segment_id,
            "name": name,
            "type": "static" if options is None else "saved",
            "created_at": now,
            "updated_at": now,
            "list_id": list_id,
        }
        if options is None:
            doc["_members"] = {}
        else:
            doc["options"] = options
        return self.store.insert(SERVICE, "segment", key(list_id, segment_id), doc, list_id)

    def save_segment(self, doc: dict[str, Any]) -> None:
        """Write a changed segment back (``updated_at`` set now)."""
        doc["updated_at"] = self.stamp()
        self.store.update(SERVICE, "segment", key(doc["list_id"], doc["id"]), doc)

    def segment_doc(self, list_id: str, segment_id: str) -> dict[str, Any]:
        """The stored segment or a 404."""
        doc = self.store.get(SERVICE, "segment", key(list_id, segment_id))
        if doc is None:
            raise not_found()
        return doc

    def apply_tags(self, list_id: str, member_hash: str, states: dict[str, bool]) -> None:
        """Set tags on a member: an active tag that does not exist yet is created."""
        now = self.stamp()
        for name, active in states.items():
            segment = self.static_segment(list_id, name)
            if segment is None:
                if not active:
                    continue
                segment = self.new_segment(list_id, name)
            holders = segment["_members"]
            if active and member_hash not in holders:
                holders[member_hash] = now
            elif not active and member_hash in holders:
                del holders[member_hash]
            else:
                continue
            self.save_segment(segment)

    def drop_from_segments(self, list_id: str, member_hash: str) -> None:
        """Take an erased member out of every static segment."""
        for segment in self.segments(list_id):
            if member_hash in segment.get("_members", {}):
                del segment["_members"][member_hash]
                self.save_segment(segment)
