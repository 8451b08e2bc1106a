"""Mailchimp emulator handlers: segments, static (a tag) and saved.

A static segment holds members by subscriber hash; on Mailchimp tags *are* static segments,
so the tag endpoints and these share the same documents. A saved segment keeps its
``options`` (match and conditions) but the sandbox does not evaluate them (member_count 0).
"""

from __future__ import annotations

from typing import Any

from werkzeug import Request, Response

from connectors.sandbox.mailchimp.base import (
    SERVICE,
    MailchimpError,
    invalid,
    no_content,
    page,
    read_json,
    subscriber_hash,
    validate,
)
from connectors.sandbox.mailchimp.data import MailchimpData, key
from connectors.sandbox.mailchimp.models import SegmentIn, SegmentMembersIn, SegmentPatch


class SegmentHandlers(MailchimpData):
    """Segments and their members."""

    def _check_unique(self, list_id: str, name: str, segment_id: int | None = None) -> None:
        for other in self.segments(list_id):
            if other["name"] == name and other["id"] != segment_id:
                raise invalid("name", f'A segment or tag called "{name}" already exists.')

    def _holders(self, list_id: str, emails: list[str]) -> tuple[list[str], list[str]]:
        """(hashes of the addresses that are members of the list, addresses that are not)."""
        found, missing = [], []
        for email in emails:
            member_hash = subscriber_hash(email)
            if self.member_doc(list_id, member_hash) is None:
                missing.append(email)
            else:
                found.append(member_hash)
        return found, missing

    def handle_segments_index(
        self, request: Request, identity: Any, list_id: str
    ) -> dict[str, Any]:
        """GET /lists/{list_id}/segments (``type`` = static | saved), paged."""
        self.list_doc(list_id)
        docs = self.segments(list_id)
        if request.args.get("type"):
            docs = [d for d in docs if d["type"] == request.args["type"]]
        views = [self.segment_view(d) for d in page(request, docs)]
        return {"segments": views, "list_id": list_id, "total_items": len(docs)}

    def handle_segments_create(
        self, request: Request, identity: Any, list_id: str
    ) -> dict[str, Any]:
        """POST /lists/{list_id}/segments: ``static_segment`` (addresses) or ``options``."""
        self.list_doc(list_id)
        body = validate(SegmentIn, read_json(request))
        if (body.static_segment is None) == (body.options is None):
            raise invalid("static_segment", "Give exactly one of static_segment or options.")
        self._check_unique(list_id, body.name)
        if body.options is not None:
            return self.segment_view(
                self.new_segment(list_id, body.name, options=body.options.model_dump())
            )
        doc = self.new_segment(list_id, body.name)
        hashes, _missing = self._holders(list_id, body.static_segment or [])
        if hashes:
            now = self.stamp()
            doc["_members"] = dict.fromkeys(hashes, now)
            self.save_segment(doc)
        return self.segment_view(doc)

    def handle_segment_get(
        self, request: Request, identity: Any, list_id: str, segment_id: str
    ) -> dict[str, Any]:
        """GET /lists/{list_id}/segments/{segment_id}."""
        self.list_doc(list_id)
        return self.segment_view(self.segment_doc(list_id, segment_id))

    def handle_segment_update(
        self, request: Request, identity: Any, list_id: str, segment_id: str
    ) -> dict[str, Any]:
        """PATCH /lists/{list_id}/segments/{segment_id}: rename, replace members or rules."""
        self.list_doc(list_id)
        doc = self.segment_doc(list_id, segment_id)
        body = validate(SegmentPatch, read_json(request))
        if body.name is not None:
            self._check_unique(list_id, body.name, doc["id"])
            doc["name"] = body.name
        if body.static_segment is not None:
            if doc["type"] != "static":
                raise invalid("static_segment", "Only a static segment has a member list.")
            hashes, _missing = self._holders(list_id, body.static_segment)
            now = self.stamp()
            doc["_members"] = {h: doc["_members"].get(h, now) for h in hashes}
        if body.options is not None:
            if doc["type"] != "saved":
                raise invalid("options", "Only a saved segment has conditions.")
            doc["options"] = body.options.model_dump()
        self.save_segment(doc)
        return self.segment_view(doc)

    def handle_segment_delete(
        self, request: Request, identity: Any, list_id: str, segment_id: str
    ) -> Response:
        """DELETE /lists/{list_id}/segments/{segment_id}."""
        self.list_doc(list_id)
        self.segment_doc(list_id, segment_id)
        self.store.delete(SERVICE, "segment", key(list_id, segment_id))
        return no_content()

    def handle_segment_members_batch(
        self, request: Request, identity: Any, list_id: str, segment_id: str
    ) -> dict[str, Any]:
        """POST /lists/{list_id}/segments/{segment_id}: members_to_add / members_to_remove."""
        self.list_doc(list_id)
        doc = self.segment_doc(list_id, segment_id)
        if doc["type"] != "static":
            raise MailchimpError(400, "Invalid Resource", "Only static segments take members.")
        body = validate(SegmentMembersIn, read_json(request))
        added_hashes, not_added = self._holders(list_id, body.members_to_add)
        removed_hashes, not_removed = self._holders(list_id, body.members_to_remove)
        now = self.stamp()
        added = [h for h in added_hashes if h not in doc["_members"]]
        removed = [h for h in removed_hashes if h in doc["_members"]]
        for member_hash in added:
            doc["_members"][member_hash] = now
        for member_hash in removed:
            del doc["_members"][member_hash]
        if added or removed:
            self.save_segment(doc)
        segments = self.segments(list_id)

        def views(hashes: list[str]) -> list[dict[str, Any]]:
            docs = (self.member_doc(list_id, h) for h in hashes)
            return [self.member_view(d, segments) for d in docs if d is not None]

        errors = [
            {"email_addresses": emails, "error": "Email address is not a member of the list"}
            for emails in (not_added, not_removed)
            if emails
        ]
        return {
            "members_added": views(added),
            "members_removed": views(removed),
            "errors": errors,
            "total_added": len(added),
            "total_removed": len(removed),
            "error_count": len(not_added) + len(not_removed),
        }

    def handle_segment_members_index(
        self, request: Request, identity: Any, list_id: str, segment_id: str
    ) -> dict[str, Any]:
        """GET /lists/{list_id}/segments/{segment_id}/members, paged."""
        self.list_doc(list_id)
        doc = self.segment_doc(list_id, segment_id)
        hashes = list(doc.get("_members", {}))
        segments = self.segments(list_id)
        docs = [self.member_doc(list_id, h) for h in page(request, hashes)]
        members = [self.member_view(d, segments) for d in docs if d is not None]
        return {"members": members, "total_items": len(hashes)}
