"""The in-memory Mailchimp of the fake world (``AudienceService``).

Behaves like ``connectors.mailchimp.connector`` on the sandbox: a new audience comes with
Mailchimp's
default merge fields (FNAME, LNAME, ADDRESS, PHONE, BIRTHDAY); tags are static segments;
members are upserted by subscriber hash; a batch runs at once and reports every operation.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from connectors.base import (
    Audience,
    AudienceMember,
    BatchOperationResult,
    BatchResult,
)
from sync.core.errors import FatalRemoteError, NotFoundError

if TYPE_CHECKING:
    from tests.support.fakes import FakeWorld

SERVICE = "mailchimp"
DEFAULT_MERGE_FIELDS = {"FNAME": "First Name", "LNAME": "Last Name", "ADDRESS": "Address",
                        "PHONE": "Phone Number", "BIRTHDAY": "Birthday"}


def subscriber_hash(email: str) -> str:
    """Mailchimp's member id: the MD5 of the lower-cased address."""
    return hashlib.md5(email.strip().lower().encode()).hexdigest()


class FakeMailchimp:
    """Audiences with merge fields, tags, members, batches and campaign drafts in memory."""

    service_name = "mailchimp"  # stored and reported under this name (connectors.roles)

    def __init__(self, world: FakeWorld) -> None:
        self.world = world
        self.audiences: dict[str, dict[str, Any]] = {}
        self.campaigns: dict[str, dict[str, Any]] = {}

    def _write(self, operation: str, apply: Any, *, create: bool = False) -> Any:
        return self.world.write(SERVICE, operation, apply, create=create)

    def _audience(self, audience_id: str) -> dict[str, Any]:
        found = self.audiences.get(audience_id)
        if found is None:
            raise NotFoundError(SERVICE, "not found (HTTP 404): The requested resource")
        return found

    @staticmethod
    def _as_audience(audience: dict[str, Any]) -> Audience:
        return Audience(audience["id"], audience["name"], len(audience["members"]))

    @staticmethod
    def _as_member(member: dict[str, Any]) -> AudienceMember:
        return AudienceMember(email=member["email"], subscriber_hash=member["hash"],
                               status=member["status"], merge_fields=dict(member["merge_fields"]),
                               tags=tuple(sorted(member["tags"])),
                               last_changed=member["last_changed"])

    # ------------------------------------------------------------------ audiences

    def list_audiences(self) -> list[Audience]:
        """Every audience, in creation order."""
        return [self._as_audience(a) for a in self.audiences.values()]

    def get_audience(self, audience_id: str) -> Audience:
        """One audience; NotFoundError if there is none."""
        return self._as_audience(self._audience(audience_id))

    def create_audience(self, spec: dict[str, Any]) -> Audience:
        """A new audience with the default merge fields."""
        def apply() -> Audience:
            for key in ("name", "contact", "permission_reminder", "campaign_defaults"):
                if not spec.get(key):
                    raise FatalRemoteError(SERVICE, f"create audience: {key} is required")
            audience_id = self.world.object_id()[-10:]
            self.audiences[audience_id] = {
                "id": audience_id, "name": spec["name"], "spec": dict(spec),
                "merge_fields": dict(DEFAULT_MERGE_FIELDS), "tags": [], "members": {},
            }
            return self._as_audience(self.audiences[audience_id])
        return self._write("create_audience", apply, create=True)

    def merge_fields(self, audience_id: str) -> dict[str, str]:
        """Existing merge fields: tag -> name."""
        return dict(self._audience(audience_id)["merge_fields"])

    def create_merge_field(self, audience_id: str, tag: str, name: str, kind: str) -> None:
        """Add a merge field (an existing tag is refused, as Mailchimp does)."""
        def apply() -> None:
            fields = self._audience(audience_id)["merge_fields"]
            if tag in fields:
                raise FatalRemoteError(SERVICE, f"create merge field: tag {tag} already exists")
            fields[tag] = name
        self._write("create_merge_field", apply, create=True)

    def tags(self, audience_id: str) -> set[str]:
        """Names of the audience's tags (static segments)."""
        return set(self._audience(audience_id)["tags"])

    def create_tag(self, audience_id: str, name: str) -> None:
        """Create a tag (an empty static segment; an existing name is refused)."""
        def apply() -> None:
            tags = self._audience(audience_id)["tags"]
            if name in tags:
                raise FatalRemoteError(SERVICE, f'create tag: "{name}" already exists')
            tags.append(name)
        self._write("create_tag", apply, create=True)

    # ------------------------------------------------------------------ members

    def _upsert(self, audience_id: str, email: str, payload: Mapping[str, Any]) -> dict[str, Any]:
        members = self._audience(audience_id)["members"]
        key = subscriber_hash(email)
        member = members.get(key)
        if member is None:
            member = {"email": email.strip().lower(), "hash": key, "tags": set(),
                      "status": payload.get("status") or payload.get("status_if_new"),
                      "merge_fields": {}}
            members[key] = member
        elif payload.get("status"):
            member["status"] = payload["status"]
        member["merge_fields"].update(payload.get("merge_fields") or {})
        member["last_changed"] = self.world.iso_now()
        return member

    def upsert_member(self, audience_id: str, email: str, body: Mapping[str, Any] | None = None,
                      *, status_if_new: str | None = None, status: str | None = None,
                      merge_fields: Mapping[str, Any] | None = None,
                      language: str = "") -> AudienceMember:
        """Create or update one member (idempotent PUT by subscriber hash)."""
        payload: dict[str, Any] = dict(body or {})
        for key, value in (("status_if_new", status_if_new), ("status", status),
                           ("merge_fields", merge_fields)):
            if value is not None:
                payload[key] = value
        if "status_if_new" not in payload:
            raise ValueError("upsert_member needs status_if_new")
        return self._write("upsert_member", lambda: self._as_member(
            self._upsert(audience_id, email, payload)))

    def set_tags(self, audience_id: str, email: str,
                 active: Sequence[str] | Mapping[str, bool] = (),
                 inactive: Sequence[str] = ()) -> None:
        """Set tags active / inactive on one member (absolute)."""
        states = (dict(active) if isinstance(active, Mapping)
                  else {str(name): True for name in active})
        states.update({str(name): False for name in inactive})
        self._write("set_tags", lambda: self._tag(audience_id, email, states))

    def _tag(self, audience_id: str, email: str, states: Mapping[str, bool]) -> None:
        member = self._audience(audience_id)["members"].get(subscriber_hash(email))
        if member is None:
            raise NotFoundError(SERVICE, "not found (HTTP 404): member")
        for name, on in states.items():
            (member["tags"].add if on else member["tags"].discard)(name)
        member["last_changed"] = self.world.iso_now()

    def members(self, audience_id: str, *, since_last_changed: str | None = None,
                since: str | None = None) -> list[AudienceMember]:
        """Every member (changed after ``since_last_changed``)."""
        after = since_last_changed or since or ""
        return [self._as_member(m) for m in self._audience(audience_id)["members"].values()
                if m["last_changed"] > after]

    def delete_permanent(self, audience_id: str, email: str) -> None:
        """Erase a member for good; NotFoundError if there is none."""
        def apply() -> None:
            members = self._audience(audience_id)["members"]
            if members.pop(subscriber_hash(email), None) is None:
                raise NotFoundError(SERVICE, "not found (HTTP 404): member")
        self._write("delete_permanent", apply)

    # ------------------------------------------------------------------ batches, campaigns

    def run_batch(self, operations: list[dict[str, Any]]) -> BatchResult:
        """Run member PUTs and tag POSTs at once; anything else answers 400."""
        def apply() -> BatchResult:
            results = [self._operation(op) for op in operations]
            errors = sum(1 for r in results if not r.ok)
            return BatchResult(id=self.world.object_id()[-10:], status="finished",
                               total_operations=len(results),
                               finished_operations=len(results),
                               errored_operations=errors, results=tuple(results))
        return self._write("run_batch", apply, create=True)

    def _operation(self, op: Mapping[str, Any]) -> BatchOperationResult:
        parts = str(op.get("path", "")).strip("/").split("/")
        body = op.get("body")
        payload = json.loads(body) if isinstance(body, str) else dict(body or {})
        op_id = str(op.get("operation_id", ""))
        try:
            if op.get("method") == "PUT" and len(parts) == 4 and parts[2] == "members":
                member = self._upsert(parts[1], str(payload.get("email_address", "")), payload)
                return BatchOperationResult(op_id, 200, {"id": member["hash"]})
            if op.get("method") == "POST" and len(parts) == 5 and parts[4] == "tags":
                member = next((m for m in self._audience(parts[1])["members"].values()
                               if m["hash"] == parts[3]), None)
                if member is None:
                    return BatchOperationResult(op_id, 404, {"title": "Resource Not Found"})
                states = {t["name"]: t["status"] == "active" for t in payload.get("tags", [])}
                self._tag(parts[1], member["email"], states)
                return BatchOperationResult(op_id, 204, None)
        except NotFoundError:
            return BatchOperationResult(op_id, 404, {"title": "Resource Not Found"})
        return BatchOperationResult(op_id, 400, {"title": "Invalid Resource"})

    def create_campaign_draft(self, audience_id: str, subject: str, title: str, from_name: str,
                              reply_to: str, html: str,
                              segment_opts: dict[str, Any] | None = None) -> str:
        """A regular campaign draft (never sent); its id."""
        def apply() -> str:
            self._audience(audience_id)
            campaign_id = self.world.object_id()[-10:]
            self.campaigns[campaign_id] = {"audience": audience_id, "subject": subject,
                                           "title": title, "html": html,
                                           "segment_opts": segment_opts}
            return campaign_id
        return self._write("create_campaign_draft", apply, create=True)
