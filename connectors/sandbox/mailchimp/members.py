"""Mailchimp emulator handlers: list members, their tags, archive and erasure.

A member's id is its subscriber hash, the MD5 of the lowercased address. ``DELETE`` archives
(status ``archived``; a PUT or POST brings the member back); ``actions/delete-permanent``
erases the member and remembers only the hash, after which Mailchimp refuses the address
("Forgotten Email Not Subscribed").
"""

from __future__ import annotations

import operator
from typing import Any

from werkzeug import Request, Response

from connectors.sandbox.mailchimp.base import (
    SERVICE,
    MailchimpError,
    check_email,
    hex_id,
    invalid,
    no_content,
    not_found,
    page,
    parse_time,
    read_json,
    validate,
)
from connectors.sandbox.mailchimp.base import subscriber_hash as hash_of
from connectors.sandbox.mailchimp.data import MailchimpData, key
from connectors.sandbox.mailchimp.models import (
    MemberAdd,
    MemberIn,
    MemberPatch,
    MemberPut,
    MemberTagsIn,
)


def path_hash(value: str) -> str:
    """The member id in a path: a hash, or (as Mailchimp also accepts) the address itself."""
    return hash_of(value) if "@" in value else value.lower()


class MemberHandlers(MailchimpData):
    """Members: list, read, add, upsert, update, archive, erase, tags."""

    # ------------------------------------------------------------------ helpers

    def _refuse_forgotten(self, list_id: str, member_hash: str, email: str) -> None:
        if self.store.get(SERVICE, "forgotten", key(list_id, member_hash)) is not None:
            raise MailchimpError(
                400,
                "Forgotten Email Not Subscribed",
                f"{email} was permanently deleted and cannot be re-imported. "
                "The contact must re-subscribe to get back on the list.",
            )

    def _existing(self, list_id: str, member_hash: str) -> dict[str, Any]:
        self.list_doc(list_id)
        doc = self.member_doc(list_id, path_hash(member_hash))
        if doc is None:
            raise not_found()
        return doc

    def _new_member(self, list_id: str, email: str, status: str) -> dict[str, Any]:
        """A member document with Mailchimp's defaults (every merge field present, empty)."""
        now = self.stamp()
        fields = self.store.list(SERVICE, "merge_field", list_id)
        return {
            "id": hash_of(email),
            "email_address": email,
            "unique_email_id": hex_id(),
            "contact_id": hex_id(32),
            "full_name": "",
            "web_id": self.store.next_counter("mailchimp.web_id"),
            "email_type": "html",
            "status": status,
            "consents_to_one_to_one_messaging": True,
            "merge_fields": {f["tag"]: "" for f in fields},
            "interests": {},
            "stats": {"avg_open_rate": 0, "avg_click_rate": 0},
            "ip_signup": "",
            "timestamp_signup": now,
            "ip_opt": "",
            "timestamp_opt": now,
            "member_rating": 2,
            "last_changed": now,
            "language": "",
            "vip": False,
            "email_client": "",
            "location": {
                "latitude": 0,
                "longitude": 0,
                "gmtoff": 0,
                "dstoff": 0,
                "country_code": "",
                "timezone": "",
            },
            "source": "API - Generic",
            "list_id": list_id,
        }

    def _apply(self, doc: dict[str, Any], body: MemberIn, status: str | None) -> None:
        """Copy the optional fields of a write onto a member; stamp ``last_changed``.

        A contact who unsubscribed themselves or was cleaned is in compliance state: the API
        cannot make it ``subscribed`` again (400 "Member In Compliance State"; ``pending``,
        which asks the person to confirm, is allowed).
        """
        if status == "subscribed" and doc.get("_compliance") and doc["status"] != "subscribed":
            raise MailchimpError(
                400, "Member In Compliance State",
                f"{doc['email_address']} is already a list member in compliance state due to "
                "unsubscribe, bounce, or compliance review and cannot be subscribed.",
            )
        if status is not None:
            doc["status"] = status
            doc["_compliance"] = status == "cleaned" or (
                bool(doc.get("_compliance")) and status != "subscribed")
        if body.merge_fields is not None:
            # Tags the audience does not define are kept: the sandbox does not police them.
            doc["merge_fields"] = {**doc["merge_fields"], **body.merge_fields}
            first, last = doc["merge_fields"].get("FNAME"), doc["merge_fields"].get("LNAME")
            doc["full_name"] = " ".join(str(p) for p in (first, last) if p)
        if body.interests is not None:
            doc["interests"] = {**doc["interests"], **body.interests}
        for name in ("email_type", "language", "vip", "ip_signup", "ip_opt"):
            value = getattr(body, name)
            if value is not None:
                doc[name] = value
        doc["last_changed"] = self.stamp()

    def _save(self, doc: dict[str, Any], *, new: bool) -> None:
        store_id = key(doc["list_id"], doc["id"])
        if new:
            self.store.insert(SERVICE, "member", store_id, doc, doc["list_id"])
        else:
            self.store.update(SERVICE, "member", store_id, doc)

    # ------------------------------------------------------------------ collection

    def handle_members_index(self, request: Request, identity: Any, list_id: str) -> dict[str, Any]:
        """GET /lists/{list_id}/members: filters status, since/before_last_changed, vip_only."""
        self.list_doc(list_id)
        docs = self.store.list(SERVICE, "member", list_id)
        args = request.args
        if args.get("status"):
            docs = [d for d in docs if d["status"] == args["status"]]
        if args.get("vip_only") == "true":
            docs = [d for d in docs if d.get("vip")]
        for name, keep in (
            ("since_last_changed", operator.gt),
            ("before_last_changed", operator.lt),
        ):
            if args.get(name):
                at = parse_time(args[name], name)
                docs = [d for d in docs if keep(parse_time(d["last_changed"], name), at)]
        if args.get("sort_field") in ("last_changed", "timestamp_opt", "timestamp_signup"):
            docs.sort(key=lambda d: d.get(args["sort_field"], ""))
            if args.get("sort_dir", "").upper() == "DESC":
                docs.reverse()
        segments = self.segments(list_id)
        members = [self.member_view(d, segments) for d in page(request, docs)]
        return {"members": members, "list_id": list_id, "total_items": len(docs)}

    def handle_members_create(
        self, request: Request, identity: Any, list_id: str
    ) -> dict[str, Any]:
        """POST /lists/{list_id}/members: add (400 "Member Exists" if already there)."""
        self.list_doc(list_id)
        body = validate(MemberAdd, read_json(request))
        email = check_email(body.email_address)
        member_hash = hash_of(email)
        self._refuse_forgotten(list_id, member_hash, email)
        doc = self.member_doc(list_id, member_hash)
        if doc is not None and doc["status"] != "archived":
            raise MailchimpError(
                400,
                "Member Exists",
                f"{email} is already a list member. Use PUT to insert or update list members.",
            )
        new = doc is None
        if new:
            doc = self._new_member(list_id, email, body.status)
        assert doc is not None  # for the type checker: created just above
        self._apply(doc, body, body.status)
        self._save(doc, new=new)
        if body.tags:
            self.apply_tags(list_id, member_hash, dict.fromkeys(body.tags, True))
        return self.member_view(doc)

    # ------------------------------------------------------------------ one member

    def handle_member_get(
        self, request: Request, identity: Any, list_id: str, subscriber_hash: str
    ) -> dict[str, Any]:
        """GET /lists/{list_id}/members/{subscriber_hash} (archived members too)."""
        return self.member_view(self._existing(list_id, subscriber_hash))

    def handle_member_put(
        self, request: Request, identity: Any, list_id: str, subscriber_hash: str
    ) -> dict[str, Any]:
        """PUT .../members/{subscriber_hash}: add or update, idempotent.

        A new (or archived) member gets ``status`` if given, else ``status_if_new``; an
        existing one changes status only when ``status`` is given.
        """
        self.list_doc(list_id)
        body = validate(MemberPut, read_json(request))
        email = check_email(body.email_address)
        member_hash = path_hash(subscriber_hash)
        if hash_of(email) != member_hash:
            raise invalid(
                "email_address",
                "The subscriber hash in the URL does not match the email address.",
                detail="The resource submitted could not be validated: the email address "
                "does not match the subscriber hash.",
            )
        self._refuse_forgotten(list_id, member_hash, email)
        doc = self.member_doc(list_id, member_hash)
        new = doc is None
        if doc is None:
            doc = self._new_member(list_id, email, body.status or body.status_if_new)
            status: str | None = None
        elif doc["status"] == "archived":
            status = body.status or body.status_if_new
        else:
            status = body.status
        doc["email_address"] = email
        self._apply(doc, body, status)
        self._save(doc, new=new)
        return self.member_view(doc)

    def signup(self, list_id: str, email: str) -> dict[str, Any]:
        """A new member from the audience's signup form (saved; the caller sets the status)."""
        doc = self._new_member(list_id, check_email(email), "subscribed")
        doc["source"] = "Hosted Signup Form"
        self._save(doc, new=True)
        return doc

    def refile(self, doc: dict[str, Any], new_email: str) -> str | None:
        """Give member ``doc`` a new address: Mailchimp files it under the md5 of the new
        lower-cased address (its tags move with it). Why not, or None (``doc`` is saved)."""
        list_id, old_id = doc["list_id"], doc["id"]
        new_id = hash_of(new_email)
        if new_id != old_id and self.member_doc(list_id, new_id) is not None:
            return f"{new_email} is already a list member"
        self.store.delete(SERVICE, "member", key(list_id, old_id))
        doc.update(id=new_id, email_address=new_email)
        self._save(doc, new=True)
        for segment in self.segments(list_id):
            holders = segment.get("_members", {})
            if old_id in holders:
                holders[new_id] = holders.pop(old_id)
                self.save_segment(segment)
        return None

    def handle_member_update(
        self, request: Request, identity: Any, list_id: str, subscriber_hash: str
    ) -> dict[str, Any]:
        """PATCH .../members/{subscriber_hash}: change the given fields."""
        doc = self._existing(list_id, subscriber_hash)
        body = validate(MemberPatch, read_json(request))
        if body.email_address is not None:
            email = check_email(body.email_address)
            if hash_of(email) != doc["id"]:
                raise invalid("email_address", "Changing the address is not emulated.")
        self._apply(doc, body, body.status)
        self._save(doc, new=False)
        return self.member_view(doc)

    def handle_member_archive(
        self, request: Request, identity: Any, list_id: str, subscriber_hash: str
    ) -> Response:
        """DELETE .../members/{subscriber_hash}: archive (undone by a later PUT or POST)."""
        doc = self._existing(list_id, subscriber_hash)
        if doc["status"] != "archived":
            doc["status"] = "archived"
            doc["last_changed"] = self.stamp()
            self._save(doc, new=False)
        return no_content()

    def handle_member_delete_permanent(
        self, request: Request, identity: Any, list_id: str, subscriber_hash: str
    ) -> Response:
        """POST .../actions/delete-permanent: erase for good; the address is refused after."""
        doc = self._existing(list_id, subscriber_hash)
        self.store.delete(SERVICE, "member", key(list_id, doc["id"]))
        self.drop_from_segments(list_id, doc["id"])
        forgotten = {"id": doc["id"], "erased_at": self.stamp()}
        self.store.insert(SERVICE, "forgotten", key(list_id, doc["id"]), forgotten, list_id)
        return no_content()

    # ------------------------------------------------------------------ tags

    def handle_member_tags_index(
        self, request: Request, identity: Any, list_id: str, subscriber_hash: str
    ) -> dict[str, Any]:
        """GET .../members/{subscriber_hash}/tags, paged."""
        doc = self._existing(list_id, subscriber_hash)
        tags = self.member_tags(doc["id"], self.segments(list_id))
        return {"tags": page(request, tags), "total_items": len(tags)}

    def handle_member_tags_update(
        self, request: Request, identity: Any, list_id: str, subscriber_hash: str
    ) -> Response:
        """POST .../members/{subscriber_hash}/tags: absolute states; 204."""
        doc = self._existing(list_id, subscriber_hash)
        body = validate(MemberTagsIn, read_json(request))
        states = {tag.name: tag.status == "active" for tag in body.tags}
        self.apply_tags(list_id, doc["id"], states)
        return no_content()

    def handle_tag_search(self, request: Request, identity: Any, list_id: str) -> dict[str, Any]:
        """GET /lists/{list_id}/tag-search?name=: tags whose name contains ``name``."""
        self.list_doc(list_id)
        needle = request.args.get("name", "").lower()
        tags = [
            {"id": s["id"], "name": s["name"]}
            for s in self.segments(list_id)
            if s["type"] == "static" and needle in s["name"].lower()
        ]
        return {"tags": page(request, tags), "total_items": len(tags)}
