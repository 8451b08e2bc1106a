"""The Mailchimp Marketing API v3 emulator of the sandbox (mounted at ``/mailchimp``).

Routes live under ``/3.0/...`` so the real ``mailchimp_marketing`` 3.0.80 client works with
``client.api_client.host = <sandbox>/mailchimp/3.0``. That SDK replaces the text ``server``
anywhere in its URLs, so no route here contains it.

- Auth: HTTP Basic with the API key as the password (any user name) or ``Authorization:
  Bearer <token>``. No credential: 401 "API Key Missing"; a Basic key without a ``-<dc>``
  suffix, or any key the sandbox did not issue (``GET /_sandbox/credentials``): 401 "API Key
  Invalid". Mailchimp has no member logins: only the coordinator's issued key is accepted.
- Rate limit (when the app's limits are on): at most 10 requests in flight per API key; the
  11th gets 429 "TooManyRequests", as Mailchimp documents.
- Errors: ``application/problem+json`` (see ``mailchimp.base``); a handler's error rolls its
  writes back; a method a path does not take: 405 with ``Allow``.
- Batches run asynchronously (``batches``); a contact who unsubscribed themselves or was
  cleaned (``webhooks.person_acts``: the change and its webhook, one act) is in compliance
  state: the API cannot subscribe it again.

The handlers are grouped in ``lists``, ``members``, ``segments``,
``campaigns`` and ``batches`` of this package.
"""

from __future__ import annotations

import base64
import binascii
import html
import re
from collections.abc import Callable
from typing import Any

from werkzeug import Request, Response
from werkzeug.routing import Map, Rule

from connectors.rate_limits import MAILCHIMP_CONNECTIONS
from connectors.sandbox.core.people import People
from connectors.sandbox.core.ratelimit import ConcurrencyLimiter
from connectors.sandbox.core.service import AuthFailure, Identity, ServiceEmulator, ServiceError
from connectors.sandbox.core.store import SandboxStore
from connectors.sandbox.mailchimp.base import (
    SERVICE,
    MailchimpError,
    json_response,
    not_found,
    select_fields,
)
from connectors.sandbox.mailchimp.batches import (
    RESULTS_PATH,
    ROUTING_ERRORS,
    BatchHandlers,
)
from connectors.sandbox.mailchimp.campaigns import CampaignHandlers
from connectors.sandbox.mailchimp.links import with_links
from connectors.sandbox.mailchimp.lists import ListHandlers
from connectors.sandbox.mailchimp.members import MemberHandlers
from connectors.sandbox.mailchimp.segments import SegmentHandlers
from connectors.sandbox.mailchimp.webhooks import MailchimpDeliveries, member_action_route

# The page's buttons play a person (POST /_sandbox/mailchimp/member), then reload.
PERSON_ACTS_SCRIPT = """<script>
document.querySelectorAll("button[data-act]").forEach(function (button) {
  button.addEventListener("click", function () {
    fetch("/_sandbox/mailchimp/member", {method: "POST",
      headers: {"Content-Type": "application/json"},
      body: JSON.stringify({list_id: button.dataset.list, email: button.dataset.email,
                            action: button.dataset.act})}).then(function () {
      location.reload(); });
  });
});
</script>"""
CONCURRENT_REQUESTS = MAILCHIMP_CONNECTIONS  # Mailchimp: "10 simultaneous connections"
DATA_CENTRE_SUFFIX = re.compile(r"-[a-z]{2,}[0-9]+$")
ACCOUNT_ID = "5a4d1c5e0f1e2d3c4b5a6978a"
L = "/3.0/lists/<list_id>"
M = L + "/members/<subscriber_hash>"
C = "/3.0/campaigns/<campaign_id>"
ROUTES: list[tuple[str, str, str]] = [
    ("/3.0/", "GET", "root"),
    ("/3.0/ping", "GET", "ping"),
    ("/3.0/lists", "GET", "lists_index"),
    ("/3.0/lists", "POST", "lists_create"),
    (L, "GET", "list_get"),
    (L, "PATCH", "list_update"),
    (L, "DELETE", "list_delete"),
    (L + "/merge-fields", "GET", "merge_fields_index"),
    (L + "/merge-fields", "POST", "merge_fields_create"),
    (L + "/merge-fields/<merge_id>", "GET", "merge_field_get"),
    (L + "/merge-fields/<merge_id>", "PATCH", "merge_field_update"),
    (L + "/merge-fields/<merge_id>", "DELETE", "merge_field_delete"),
    (L + "/members", "GET", "members_index"),
    (L + "/members", "POST", "members_create"),
    (M, "GET", "member_get"),
    (M, "PUT", "member_put"),
    (M, "PATCH", "member_update"),
    (M, "DELETE", "member_archive"),
    (M + "/actions/delete-permanent", "POST", "member_delete_permanent"),
    (M + "/tags", "GET", "member_tags_index"),
    (M + "/tags", "POST", "member_tags_update"),
    (L + "/tag-search", "GET", "tag_search"),
    (L + "/segments", "GET", "segments_index"),
    (L + "/segments", "POST", "segments_create"),
    (L + "/segments/<segment_id>", "GET", "segment_get"),
    (L + "/segments/<segment_id>", "PATCH", "segment_update"),
    (L + "/segments/<segment_id>", "DELETE", "segment_delete"),
    (L + "/segments/<segment_id>", "POST", "segment_members_batch"),
    (L + "/segments/<segment_id>/members", "GET", "segment_members_index"),
    (L + "/webhooks", "GET", "webhooks_index"),
    (L + "/webhooks", "POST", "webhooks_create"),
    (L + "/webhooks/<webhook_id>", "GET", "webhook_get"),
    (L + "/webhooks/<webhook_id>", "PATCH", "webhook_update"),
    (L + "/webhooks/<webhook_id>", "DELETE", "webhook_delete"),
    ("/3.0/campaigns", "GET", "campaigns_index"),
    ("/3.0/campaigns", "POST", "campaigns_create"),
    (C, "GET", "campaign_get"),
    (C, "PATCH", "campaign_update"),
    (C, "DELETE", "campaign_delete"),
    (C + "/content", "GET", "content_get"),
    (C + "/content", "PUT", "content_set"),
    (C + "/send-checklist", "GET", "send_checklist"),
    (C + "/actions/<any(send, schedule, test):action>", "POST", "campaign_send"),
    ("/3.0/batches", "GET", "batches_index"),
    ("/3.0/batches", "POST", "batches_create"),
    ("/3.0/batches/<batch_id>", "GET", "batch_get"),
    ("/3.0/batches/<batch_id>", "DELETE", "batch_delete"),
    (RESULTS_PATH + "<batch_id>.tar.gz", "GET", "batch_results"),
]


def _url_map() -> Map:
    return Map(
        [Rule(path, methods=[method], endpoint=endpoint) for path, method, endpoint in ROUTES],
        strict_slashes=False,
    )


def _api_key(request: Request) -> str | None:
    """The API key or OAuth token sent; None when there is none."""
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    if scheme.lower() == "basic" and value.strip():
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return ""
        return decoded.partition(":")[2]
    return None


def _has_data_centre(key: str) -> bool:
    """True if the key ends in ``-<dc>`` (Mailchimp keys look like ``<32 hex>-us6``)."""
    head, dash, tail = key.rpartition("-")
    return bool(dash and head and tail)


class MailchimpEmulator(
    ListHandlers,
    MemberHandlers,
    SegmentHandlers,
    CampaignHandlers,
    BatchHandlers,
    ServiceEmulator,
):
    """Mailchimp Marketing API v3: audiences, members, tags, segments, batches, campaigns."""

    name = SERVICE
    mount = "/mailchimp"
    url_map = _url_map()

    def __init__(self, store: SandboxStore, people: People, clock: Callable[[], float]) -> None:
        super().__init__(store, people, clock)
        self.limiter = ConcurrencyLimiter(CONCURRENT_REQUESTS)
        # Persons by credential: authenticate then never waits for the store, so a request
        # is refused (429) or admitted without queueing behind a long transaction.
        self._persons: dict[str, dict[str, Any]] = {}
        people.credentials.coordinator()  # issued now, so authenticate never waits for it
        self.deliveries = MailchimpDeliveries()  # list webhook posts (``webhooks``)

    # ------------------------------------------------------------------ app hooks

    def authenticate(self, request: Request) -> Identity:
        """The caller from HTTP Basic (key as password) or Bearer; vendor 401s otherwise."""
        if request.path.startswith(self.mount + RESULTS_PATH):
            # Result downloads carry a signature instead of a key (a pre-signed URL).
            return Identity(SERVICE, "", self._person(""))
        key = _api_key(request)
        if not key:
            raise AuthFailure(
                MailchimpError(
                    401, "API Key Missing", "Your request did not include an API key."
                ).response()
            )
        bearer = request.headers.get("Authorization", "").lower().startswith("bearer")
        issued = self.people.credentials.is_coordinator(SERVICE, key)
        if not issued or (not bearer and not _has_data_centre(key)):
            raise AuthFailure(
                MailchimpError(
                    401,
                    "API Key Invalid",
                    "Your API key may be invalid, or you've attempted to access the wrong "
                    "datacenter.",
                ).response()
            )
        return Identity(SERVICE, key, self._person(key))

    def _person(self, key: str) -> dict[str, Any]:
        """The coordinator (the only Mailchimp login the sandbox issues)."""
        person = self._persons.get("")
        if person is None:
            person = self.people.bot()
            self._persons[""] = person
        return person

    def check_rate_limit(self, request: Request, identity: Identity) -> Response | None:
        """429 when the key already has 10 requests in flight (released in finish_request)."""
        if not identity.credential_key:
            return None
        if self.limiter.acquire(identity.credential_key):
            request.environ["mcm.mailchimp.slot"] = True
            return None
        return self.ratelimited_response()

    def finish_request(self, request: Request, identity: Identity) -> None:
        """Free the request's concurrency slot."""
        if request.environ.pop("mcm.mailchimp.slot", False):
            self.limiter.release(identity.credential_key)

    def dispatch(
        self, request: Request, identity: Identity, endpoint: str, values: dict[str, Any]
    ) -> Response:
        """Run a handler; a MailchimpError becomes a problem+json and rolls back."""
        if endpoint not in ("batch_get", "batches_create"):
            self.advance_batches(identity)  # batches go on while the client does other things
        answer = self._call(request, identity, endpoint, values)
        if isinstance(answer, MailchimpError):
            raise ServiceError(answer.status, answer.detail, answer.response())
        return answer

    def _call(
        self, request: Request, identity: Identity, endpoint: str, values: dict[str, Any]
    ) -> Response | MailchimpError:
        try:
            result = getattr(self, "handle_" + endpoint)(request, identity, **values)
        except MailchimpError as error:
            return error
        if isinstance(result, Response):
            return result
        return json_response(select_fields(with_links(result, request, self.url_map), request))

    def run_operation(self, request: Request, identity: Any) -> Response:
        """One batch operation through the routes and handlers (joins the open transaction)."""
        adapter = self.url_map.bind("sandbox", "/")
        try:
            endpoint, values = adapter.match(request.path, request.method)
        except ROUTING_ERRORS:
            return not_found().response()
        if endpoint in ("batches_create", "batch_results"):
            return MailchimpError(
                400, "Invalid Resource", "Batch operations cannot start batches."
            ).response()
        answer = self._call(request, identity, str(endpoint), dict(values))
        return answer.response() if isinstance(answer, MailchimpError) else answer

    def error_response(self, status: int, message: str) -> Response:
        """A problem+json error with Mailchimp's title for the status."""
        return MailchimpError(status, "", message).response()

    def ratelimited_response(self) -> Response:
        """Mailchimp's 429 (no Retry-After: Mailchimp documents none)."""
        return MailchimpError(
            429, "TooManyRequests", "You have exceeded the limit of 10 simultaneous connections."
        ).response()

    def not_found_response(self, request: Request, relative_path: str) -> Response:
        """Mailchimp's 404 for an unknown path."""
        return not_found().response()

    def method_not_allowed_response(
        self, request: Request, relative_path: str, allowed: list[str]
    ) -> Response:
        """Mailchimp's 405 for a method the path does not take, with ``Allow``."""
        response = MailchimpError(
            405, "Method Not Allowed",
            "The requested method and resource are not compatible. See the Allow header for "
            "this resource's available methods.",
        ).response()
        response.headers["Allow"] = ", ".join(sorted(allowed))
        return response

    def admin_action(self, action: str, body: dict[str, Any]) -> Any:
        """None here: a person's acts are routes of ``webhooks`` (the change and its webhook
        as one act, sent after the commit), reached through :meth:`admin_route`."""
        raise KeyError(action)

    # ------------------------------------------------------------------ root

    def handle_root(self, request: Request, identity: Identity) -> dict[str, Any]:
        """GET /3.0/: the account the key belongs to."""
        person = identity.person
        first, _, last = str(person.get("name") or "").partition(" ")
        lists = self.store.list(SERVICE, "list")
        members = sum(self.store.count(SERVICE, "member", d["id"]) for d in lists)
        return {
            "account_id": ACCOUNT_ID,
            "login_id": person.get("slack_id", ""),
            "account_name": "mcm-sync sandbox",
            "email": person["email"],
            "first_name": first,
            "last_name": last,
            "username": person.get("trello_username", ""),
            "role": "user" if identity.is_member else "owner",
            "member_since": "2024-01-01T00:00:00+00:00",
            "pricing_plan_type": "forever_free",
            "account_timezone": "UTC",
            "account_industry": "Non-Profit",
            "contact": {
                "company": "mcm-sync sandbox",
                "addr1": "",
                "addr2": "",
                "city": "",
                "state": "",
                "zip": "",
                "country": "",
            },
            "pro_enabled": False,
            "total_subscribers": members,
        }

    def handle_ping(self, request: Request, identity: Identity) -> dict[str, Any]:
        """GET /3.0/ping."""
        return {"health_status": "Everything's Chimpy!"}

    # ------------------------------------------------------------------ webhooks

    def before_transaction(
        self, request: Request, identity: Identity, endpoint: str, values: dict[str, Any]
    ) -> Response | None:
        """Mailchimp's GET check of a new list webhook's URL (loopback URLs only)."""
        if endpoint not in ("webhooks_create", "webhook_update"):
            return None
        url = str((request.get_json(silent=True) or {}).get("url") or "")
        problem = self.deliveries.check(url) if url else None
        if problem:
            return self.error_response(400, f"The URL {url} did not return 200 ({problem})")
        return None

    def admin_route(self, request: Request) -> Response | None:
        """A member's unsubscribe/bounce/address change, and the deliveries (``webhooks``)."""
        return member_action_route(self, request)

    # ------------------------------------------------------------------ page

    def render_page(self) -> str:
        """Each audience with its members (status, merge fields, tags) and campaigns."""
        esc = html.escape
        parts = ["<div class='mailchimp'>"]  # the page's section gives the heading
        audiences = self.store.list(SERVICE, "list")
        if not audiences:
            parts.append("<p>No audiences yet.</p>")
        campaigns = self.store.list(SERVICE, "campaign")
        for audience in audiences:
            list_id = audience["id"]
            segments = self.segments(list_id)
            members = self.store.list(SERVICE, "member", list_id)
            parts.append(
                f"<h3>Audience {esc(audience['name'])} <small>({esc(list_id)}, "
                f"{len(members)} contacts)</small></h3>"
            )
            parts.append(
                "<table><tr><th>Email</th><th>Status</th><th>Merge fields</th><th>Tags</th>"
                "<th>The person</th></tr>"
            )
            for member in members:
                fields = ", ".join(
                    f"{esc(str(k))}={esc(str(v))}" for k, v in member["merge_fields"].items() if v
                )
                tags = ", ".join(esc(t["name"]) for t in self.member_tags(member["id"], segments))
                acts = "".join(
                    f"<button data-act='{act}' data-list='{esc(list_id)}' "
                    f"data-email='{esc(member['email_address'])}'>{label}</button> "
                    for act, label in (("unsubscribe", "unsubscribes"), ("cleaned", "bounces"))
                ) if member["status"] == "subscribed" else ""
                parts.append(
                    f"<tr><td>{esc(member['email_address'])}</td>"
                    f"<td>{esc(member['status'])}</td><td>{fields}</td><td>{tags}</td>"
                    f"<td>{acts}</td></tr>"
                )
            parts.append("</table>")
            drafts = [c for c in campaigns if c["recipients"].get("list_id") == list_id]
            if drafts:
                parts.append("<h4>Campaigns</h4><ul>")
                for campaign in drafts:
                    settings = campaign["settings"]
                    parts.append(
                        f"<li>{esc(settings.get('title') or campaign['id'])}: "
                        f"&ldquo;{esc(settings.get('subject_line') or '')}&rdquo; "
                        f"({esc(campaign['status'])})</li>"
                    )
                parts.append("</ul>")
        failures = self.deliveries.failures()
        if failures:
            parts.append(f"<h4>Failed webhook deliveries ({len(failures)})</h4><ul>")
            parts += [f"<li>{esc(f['kind'])} to {esc(f['url'])}: status {f['status']}</li>"
                      for f in failures[-20:]]
            parts.append("</ul>")
        # A person's act is whole, as in Mailchimp: the webhook and the compliance state.
        parts.append(PERSON_ACTS_SCRIPT)
        parts.append("</div>")
        return "\n".join(parts)
