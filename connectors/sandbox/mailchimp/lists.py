"""Mailchimp emulator handlers: audiences (lists), merge fields and list webhooks.

Each ``handle_<endpoint>(request, identity, **url values)`` returns a dict (a 200 JSON
answer, to which ``fields``/``exclude_fields`` apply) or a werkzeug Response.
"""

from __future__ import annotations

from typing import Any

from werkzeug import Request, Response

from connectors.sandbox.mailchimp.base import (
    SERVICE,
    MailchimpError,
    hex_id,
    no_content,
    not_found,
    page,
    public,
    read_json,
    validate,
)
from connectors.sandbox.mailchimp.data import DEFAULT_MERGE_FIELDS, MailchimpData, key
from connectors.sandbox.mailchimp.models import (
    ListIn,
    ListPatch,
    MergeFieldIn,
    MergeFieldPatch,
    WebhookIn,
    WebhookPatch,
)

# Child kinds removed with their list.
LIST_CHILDREN = ("member", "merge_field", "segment", "forgotten", "webhook")


class ListHandlers(MailchimpData):
    """Audiences, merge fields and webhooks."""

    # ------------------------------------------------------------------ lists

    def handle_lists_create(self, request: Request, identity: Any) -> dict[str, Any]:
        """POST /lists: a new audience with Mailchimp's default merge fields."""
        body = validate(ListIn, read_json(request))
        list_id = hex_id()
        web_id = self.store.next_counter("mailchimp.web_id")
        doc = {
            "id": list_id,
            "web_id": web_id,
            **body.model_dump(),
            "date_created": self.stamp(),
            "list_rating": 0,
            "subscribe_url_short": f"https://eepurl.com/sandbox{web_id}",
            "subscribe_url_long": f"https://sandbox.invalid/subscribe?u=sandbox&id={list_id}",
            "beamer_address": f"sandbox-{list_id}@inbound.sandbox.invalid",
            "has_welcome": False,
            "modules": [],
        }
        self.store.insert(SERVICE, "list", list_id, doc)
        for tag, name, kind in DEFAULT_MERGE_FIELDS:
            self._insert_merge_field(
                list_id, {"tag": tag, "name": name, "type": kind, "public": False}
            )
        return self.list_view(doc)

    def handle_lists_index(self, request: Request, identity: Any) -> dict[str, Any]:
        """GET /lists: audiences, paged."""
        docs = self.store.list(SERVICE, "list")
        return {
            "lists": [self.list_view(d) for d in page(request, docs)],
            "total_items": len(docs),
            "constraints": {
                "may_create": True,
                "max_instances": 100,
                "current_total_instances": len(docs),
            },
        }

    def handle_list_get(self, request: Request, identity: Any, list_id: str) -> dict[str, Any]:
        """GET /lists/{list_id}."""
        return self.list_view(self.list_doc(list_id))

    def handle_list_update(self, request: Request, identity: Any, list_id: str) -> dict[str, Any]:
        """PATCH /lists/{list_id}: change the given settings."""
        doc = self.list_doc(list_id)
        changes = validate(ListPatch, read_json(request)).model_dump(exclude_none=True)
        doc.update(changes)
        self.store.update(SERVICE, "list", list_id, doc)
        return self.list_view(doc)

    def handle_list_delete(self, request: Request, identity: Any, list_id: str) -> Response:
        """DELETE /lists/{list_id}: the audience and everything in it."""
        self.list_doc(list_id)
        for kind in LIST_CHILDREN:
            for child in self.store.list(SERVICE, kind, list_id):
                self.store.delete(SERVICE, kind, _child_key(kind, list_id, child))
        self.store.delete(SERVICE, "list", list_id)
        return no_content()

    # ------------------------------------------------------------------ merge fields

    def _insert_merge_field(self, list_id: str, fields: dict[str, Any]) -> dict[str, Any]:
        merge_id = self.store.next_counter(f"mailchimp.merge.{list_id}")
        tag = (fields.get("tag") or f"MMERGE{merge_id}").upper()
        existing = self.store.list(SERVICE, "merge_field", list_id)
        if any(f["tag"] == tag for f in existing):
            raise MailchimpError(
                400,
                "Invalid Resource",
                f'A Merge Field with the tag "{tag}" already exists for this list.',
            )
        doc = {
            "merge_id": merge_id,
            "tag": tag,
            "name": fields["name"],
            "type": fields["type"],
            "required": bool(fields.get("required", False)),
            "default_value": fields.get("default_value") or "",
            "public": bool(fields.get("public", True)),
            "display_order": fields.get("display_order") or len(existing) + 2,
            "options": fields.get("options") or {},
            "help_text": fields.get("help_text") or "",
            "list_id": list_id,
        }
        return self.store.insert(SERVICE, "merge_field", key(list_id, merge_id), doc, list_id)

    def _merge_field(self, list_id: str, merge_id: str) -> dict[str, Any]:
        self.list_doc(list_id)
        doc = self.store.get(SERVICE, "merge_field", key(list_id, merge_id))
        if doc is None:
            raise not_found()
        return doc

    def handle_merge_fields_index(
        self, request: Request, identity: Any, list_id: str
    ) -> dict[str, Any]:
        """GET /lists/{list_id}/merge-fields, paged (``type`` filter)."""
        self.list_doc(list_id)
        docs = self.store.list(SERVICE, "merge_field", list_id)
        if request.args.get("type"):
            docs = [d for d in docs if d["type"] == request.args["type"]]
        if request.args.get("required") in ("true", "false"):
            wanted = request.args["required"] == "true"
            docs = [d for d in docs if d["required"] == wanted]
        return {"merge_fields": page(request, docs), "list_id": list_id, "total_items": len(docs)}

    def handle_merge_fields_create(
        self, request: Request, identity: Any, list_id: str
    ) -> dict[str, Any]:
        """POST /lists/{list_id}/merge-fields (400 for a tag the list already has)."""
        self.list_doc(list_id)
        body = validate(MergeFieldIn, read_json(request))
        return self._insert_merge_field(list_id, body.model_dump())

    def handle_merge_field_get(
        self, request: Request, identity: Any, list_id: str, merge_id: str
    ) -> dict[str, Any]:
        """GET /lists/{list_id}/merge-fields/{merge_id}."""
        return self._merge_field(list_id, merge_id)

    def handle_merge_field_update(
        self, request: Request, identity: Any, list_id: str, merge_id: str
    ) -> dict[str, Any]:
        """PATCH /lists/{list_id}/merge-fields/{merge_id}."""
        doc = self._merge_field(list_id, merge_id)
        changes = validate(MergeFieldPatch, read_json(request)).model_dump(exclude_none=True)
        if "tag" in changes:
            changes["tag"] = changes["tag"].upper()
            others = self.store.list(SERVICE, "merge_field", list_id)
            if any(f["tag"] == changes["tag"] and f["merge_id"] != doc["merge_id"] for f in others):
                raise MailchimpError(
                    400,
                    "Invalid Resource",
                    f'A Merge Field with the tag "{changes["tag"]}" already exists for this list.',
                )
        doc.update(changes)
        return self.store.update(SERVICE, "merge_field", key(list_id, merge_id), doc)

    def handle_merge_field_delete(
        self, request: Request, identity: Any, list_id: str, merge_id: str
    ) -> Response:
        """DELETE /lists/{list_id}/merge-fields/{merge_id}."""
        self._merge_field(list_id, merge_id)
        self.store.delete(SERVICE, "merge_field", key(list_id, merge_id))
        return no_content()

    # ------------------------------------------------------------------ webhooks

    def handle_webhooks_index(
        self, request: Request, identity: Any, list_id: str
    ) -> dict[str, Any]:
        """GET /lists/{list_id}/webhooks."""
        self.list_doc(list_id)
        docs = [public(d) for d in self.store.list(SERVICE, "webhook", list_id)]
        return {"webhooks": docs, "list_id": list_id, "total_items": len(docs)}

    def handle_webhooks_create(
        self, request: Request, identity: Any, list_id: str
    ) -> dict[str, Any]:
        """POST /lists/{list_id}/webhooks (after the GET check; deliveries: ``webhooks``)."""
        self.list_doc(list_id)
        body = validate(WebhookIn, read_json(request))
        webhook_id = hex_id()
        doc = {"id": webhook_id, **body.model_dump(), "list_id": list_id}
        self.store.insert(SERVICE, "webhook", key(list_id, webhook_id), doc, list_id)
        return doc

    def _webhook(self, list_id: str, webhook_id: str) -> dict[str, Any]:
        self.list_doc(list_id)
        doc = self.store.get(SERVICE, "webhook", key(list_id, webhook_id))
        if doc is None:
            raise not_found()
        return doc

    def handle_webhook_get(
        self, request: Request, identity: Any, list_id: str, webhook_id: str
    ) -> dict[str, Any]:
        """GET /lists/{list_id}/webhooks/{webhook_id}."""
        return public(self._webhook(list_id, webhook_id))

    def handle_webhook_update(
        self, request: Request, identity: Any, list_id: str, webhook_id: str
    ) -> dict[str, Any]:
        """PATCH /lists/{list_id}/webhooks/{webhook_id} (a new URL is checked first)."""
        doc = self._webhook(list_id, webhook_id)
        body = validate(WebhookPatch, read_json(request))
        if body.url is not None:
            doc["url"] = body.url
        for name in ("events", "sources"):
            given = getattr(body, name)
            if given is not None:
                doc[name] = {**(doc.get(name) or {}), **given}
        self.store.update(SERVICE, "webhook", key(list_id, webhook_id), doc)
        return public(doc)

    def handle_webhook_delete(
        self, request: Request, identity: Any, list_id: str, webhook_id: str
    ) -> Response:
        """DELETE /lists/{list_id}/webhooks/{webhook_id}."""
        if self.store.get(SERVICE, "webhook", key(list_id, webhook_id)) is None:
            raise not_found()
        self.store.delete(SERVICE, "webhook", key(list_id, webhook_id))
        return no_content()


def _child_key(kind: str, list_id: str, doc: dict[str, Any]) -> str:
    """The store id of a list's child document of ``kind``."""
    own = {
        "member": "id",
        "merge_field": "merge_id",
        "segment": "id",
        "forgotten": "id",
        "webhook": "id",
    }[kind]
    return key(list_id, doc[own])
