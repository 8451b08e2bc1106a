"""Mailchimp emulator handlers: campaign drafts, their content and the send checklist.

The sandbox never sends mail: ``actions/send``, ``actions/schedule`` and ``actions/test``
answer 400 "Sending Disabled" and the campaign stays a draft (status ``save``).
"""

from __future__ import annotations

import html
import re
from typing import Any

from werkzeug import Request, Response

from connectors.sandbox.mailchimp.base import (
    SERVICE,
    MailchimpError,
    hex_id,
    invalid,
    no_content,
    not_found,
    page,
    read_json,
    validate,
)
from connectors.sandbox.mailchimp.data import MailchimpData, key
from connectors.sandbox.mailchimp.models import (
    CampaignIn,
    CampaignPatch,
    ContentIn,
    RecipientsIn,
)

SETTINGS_DEFAULTS: dict[str, Any] = {
    "subject_line": "",
    "preview_text": "",
    "title": "",
    "from_name": "",
    "reply_to": "",
    "use_conversation": False,
    "to_name": "",
    "folder_id": "",
    "authenticate": True,
    "auto_footer": False,
    "inline_css": False,
    "auto_tweet": False,
    "fb_comments": True,
    "timewarp": False,
    "template_id": 0,
    "drag_and_drop": False,
}
TRACKING = {
    "opens": True,
    "html_clicks": True,
    "text_clicks": False,
    "goal_tracking": False,
    "ecomm360": False,
    "google_analytics": "",
    "clicktale": "",
}
TAG_RE = re.compile(r"<[^>]+>")


def plain_text_of(markup: str) -> str:
    """A rough plain-text version of HTML content (as Mailchimp derives one)."""
    return html.unescape(TAG_RE.sub("", markup)).strip()


class CampaignHandlers(MailchimpData):
    """Campaign drafts: create, read, change, delete, content, checklist; never sent."""

    def _campaign(self, campaign_id: str) -> dict[str, Any]:
        doc = self.store.get(SERVICE, "campaign", campaign_id)
        if doc is None:
            raise not_found()
        return doc

    def _recipients(self, given: RecipientsIn) -> dict[str, Any]:
        """The recipients block for a list (and a saved segment of it, if given)."""
        audience = self.store.get(SERVICE, "list", given.list_id)
        if audience is None:
            raise invalid("recipients.list_id", f"The list {given.list_id!r} does not exist.")
        members = self.store.list(SERVICE, "member", given.list_id)
        count = sum(1 for m in members if m["status"] == "subscribed")
        recipients: dict[str, Any] = {
            "list_id": given.list_id,
            "list_is_active": True,
            "list_name": audience["name"],
            "segment_text": "",
            "recipient_count": count,
        }
        if given.segment_opts is not None:
            opts = given.segment_opts.model_dump(exclude_none=True)
            segment_id = opts.get("saved_segment_id")
            if segment_id is not None:
                segment = self.store.get(SERVICE, "segment", key(given.list_id, segment_id))
                if segment is None:
                    raise invalid(
                        "recipients.segment_opts.saved_segment_id",
                        f"The segment {segment_id} does not exist in this list.",
                    )
                recipients["segment_text"] = f"Segment: {segment['name']}"
                recipients["recipient_count"] = len(segment.get("_members", {}))
            recipients["segment_opts"] = opts
        return recipients

    def handle_campaigns_create(self, request: Request, identity: Any) -> dict[str, Any]:
        """POST /campaigns: a draft (status ``save``)."""
        body = validate(CampaignIn, read_json(request))
        campaign_id = hex_id()
        web_id = self.store.next_counter("mailchimp.web_id")
        settings = {**SETTINGS_DEFAULTS}
        if body.settings is not None:
            settings.update(body.settings.model_dump(exclude_none=True))
        doc = {
            "id": campaign_id,
            "web_id": web_id,
            "type": body.type,
            "create_time": self.stamp(),
            "archive_url": f"https://eepurl.com/sandbox-c{web_id}",
            "long_archive_url": f"https://sandbox.invalid/campaign/?u=sandbox&id={campaign_id}",
            "status": "save",
            "emails_sent": 0,
            "content_type": "template",
            "needs_block_refresh": False,
            "resendable": False,
            "recipients": self._recipients(body.recipients) if body.recipients else {},
            "settings": settings,
            "tracking": dict(TRACKING),
            "delivery_status": {"enabled": False},
        }
        self.store.insert(SERVICE, "campaign", campaign_id, doc)
        return doc

    def handle_campaigns_index(self, request: Request, identity: Any) -> dict[str, Any]:
        """GET /campaigns (filters ``list_id``, ``status``, ``type``), paged."""
        docs = self.store.list(SERVICE, "campaign")
        args = request.args
        if args.get("list_id"):
            docs = [d for d in docs if d["recipients"].get("list_id") == args["list_id"]]
        for name in ("status", "type"):
            if args.get(name):
                docs = [d for d in docs if d[name] == args[name]]
        return {"campaigns": page(request, docs), "total_items": len(docs)}

    def handle_campaign_get(
        self, request: Request, identity: Any, campaign_id: str
    ) -> dict[str, Any]:
        """GET /campaigns/{campaign_id}."""
        return self._campaign(campaign_id)

    def handle_campaign_update(
        self, request: Request, identity: Any, campaign_id: str
    ) -> dict[str, Any]:
        """PATCH /campaigns/{campaign_id}: settings and recipients of a draft."""
        doc = self._campaign(campaign_id)
        body = validate(CampaignPatch, read_json(request))
        if body.recipients is not None:
            doc["recipients"] = self._recipients(body.recipients)
        if body.settings is not None:
            doc["settings"].update(body.settings.model_dump(exclude_none=True))
        self.store.update(SERVICE, "campaign", campaign_id, doc)
        return doc

    def handle_campaign_delete(self, request: Request, identity: Any, campaign_id: str) -> Response:
        """DELETE /campaigns/{campaign_id}."""
        self._campaign(campaign_id)
        self.store.delete(SERVICE, "campaign", campaign_id)
        if self.store.get(SERVICE, "content", campaign_id) is not None:
            self.store.delete(SERVICE, "content", campaign_id)
        return no_content()

    def handle_content_get(
        self, request: Request, identity: Any, campaign_id: str
    ) -> dict[str, Any]:
        """GET /campaigns/{campaign_id}/content."""
        self._campaign(campaign_id)
        return self.store.get(SERVICE, "content", campaign_id) or {"plain_text": "", "html": ""}

    def handle_content_set(
        self, request: Request, identity: Any, campaign_id: str
    ) -> dict[str, Any]:
        """PUT /campaigns/{campaign_id}/content: html, plain_text, template or url."""
        doc = self._campaign(campaign_id)
        body = validate(ContentIn, read_json(request))
        if body.html is not None:
            markup, kind = body.html, "html"
        elif body.template is not None:
            sections = body.template.get("sections") or {}
            markup = "".join(f"<div>{v}</div>" for v in sections.values())
            kind = "template"
        elif body.url is not None:
            link = html.escape(body.url)
            markup, kind = f'<p>Content imported from <a href="{link}">{link}</a></p>', "url"
        elif body.plain_text is not None:
            markup, kind = f"<pre>{html.escape(body.plain_text)}</pre>", "html"
        else:
            raise invalid("html", "Give html, plain_text, template or url.")
        content = {
            "plain_text": body.plain_text if body.plain_text is not None else plain_text_of(markup),
            "html": markup,
            "archive_html": markup,
        }
        if self.store.get(SERVICE, "content", campaign_id) is None:
            self.store.insert(SERVICE, "content", campaign_id, content)
        else:
            self.store.update(SERVICE, "content", campaign_id, content)
        doc["content_type"] = kind
        self.store.update(SERVICE, "campaign", campaign_id, doc)
        return content

    def handle_send_checklist(
        self, request: Request, identity: Any, campaign_id: str
    ) -> dict[str, Any]:
        """GET /campaigns/{campaign_id}/send-checklist: what a send would still need."""
        doc = self._campaign(campaign_id)
        settings = doc["settings"]
        content = self.store.get(SERVICE, "content", campaign_id) or {}
        checks = [
            ("List", bool(doc["recipients"].get("list_id")), "Choose an audience."),
            ("Subject line", bool(settings.get("subject_line")), "Add a subject line."),
            ("From name", bool(settings.get("from_name")), "Add a from name."),
            ("Reply-to address", bool(settings.get("reply_to")), "Add a reply-to address."),
            ("Content", bool(content.get("html")), "Add content to the campaign."),
            (
                "Recipients",
                int(doc["recipients"].get("recipient_count") or 0) > 0,
                "The audience has no subscribed contacts.",
            ),
        ]
        items = [
            {
                "type": "success" if ok else "error",
                "id": number,
                "heading": heading,
                "details": "Looks good." if ok else problem,
            }
            for number, (heading, ok, problem) in enumerate(checks, start=1)
        ]
        return {"is_ready": all(ok for _h, ok, _p in checks), "items": items}

    def handle_campaign_send(
        self, request: Request, identity: Any, campaign_id: str, action: str
    ) -> Response:
        """POST /campaigns/{campaign_id}/actions/{send|schedule|test}: refused; never sent."""
        self._campaign(campaign_id)
        raise MailchimpError(
            400,
            "Sending Disabled",
            f"sending disabled in the sandbox: the {action} action never delivers mail; "
            "the campaign stays a draft",
        )
