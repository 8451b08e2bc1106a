"""Mailchimp connector: :class:`connectors.roles.AudienceService` on ``mailchimp_marketing`` 3.0.80.

Every request goes through :meth:`MailchimpConnector._call`: it holds one of the connection
slots of :class:`connectors.pacing.ConnectionGate` (Mailchimp allows 10 simultaneous
connections), counts the call (``calls``), runs it under the shared retry policy
(:mod:`connectors.retry`; the SDK itself never retries) and maps failures into
:mod:`connectors.errors`. The SDK raises ``ApiClientError(text, status_code)`` where ``text`` is the
raw ``application/problem+json`` string (it only parses ``application/json``); we parse it and
put its ``title``, ``detail`` and ``errors[]`` in the message. A connection failure arrives as
``ApiClientError(<the requests exception>)`` with no status; an error without a body, or a
204, comes back as a ``requests.Response`` instead of being raised, so both are checked.

Pointing at another host (the sandbox): ``base_url`` becomes ``client.api_client.host``. The
SDK builds each URL as ``host + path`` and then replaces the text ``server`` *anywhere* in it
with the data centre, so a host like ``http://myserver:8080`` would be mangled. With a
``base_url`` we therefore give the SDK an empty ``server``, which turns that replacement off
and uses the URL verbatim; without one, the default host ``https://server.api.mailchimp.com``
gets the data centre from ``server`` or the API key's suffix after its last ``-`` (the SDK's
own derivation only copes with exactly one ``-``).

Creates whose answer was lost (``outcome_unknown``) are looked up before any repeat: an
audience by name, a merge field by tag, a tag by name, a campaign draft by title, a batch by
its size and submission time. Member writes are idempotent (PUT by subscriber hash, absolute
tag states) and are simply retried.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import requests
from mailchimp_marketing import Client
from mailchimp_marketing.api_client import ApiClientError

from connectors.base import Audience, AudienceMember, BatchResult
from connectors.errors import ConnectorSettingError, RemoteError
from connectors.mailchimp.batch import BatchRunner
from connectors.mailchimp.shapes import (
    as_audience,
    as_member,
    data_centre,
    problem_text,
    subscriber_hash,
)
from connectors.masking import remember_secret
from connectors.pacing import ConnectionGate
from connectors.retry import (
    DEFAULT_POLICY,
    Retrier,
    RetryPolicy,
    error_for_connection,
    error_for_status,
    redact,
)

SERVICE = "mailchimp"
AUTH_HINT = "check mailchimp.api_key (MAILCHIMP_API_KEY)"
FORGOTTEN_HINT = (
    "the address was erased for good (GDPR delete-permanent); Mailchimp lets only the person "
    "re-subscribe, through a signup form"
)
PAGE = 1000  # Mailchimp's largest page
MEMBER_FIELDS = [
    "members.email_address",
    "members.id",
    "members.status",
    "members.merge_fields",
    "members.tags",
    "members.last_changed",
    "total_items",
]

T = TypeVar("T")
_FOUND = object()  # what a recover returns for a create that returns nothing


class MailchimpConnector:
    """The engine's Mailchimp: the alliance's audience, its members, batches and drafts."""

    service_name = "mailchimp"  # stored and reported under this name (connectors.roles)

    def __init__(
        self,
        api_key: str,
        *,
        server: str = "",
        base_url: str | None = None,
        policy: RetryPolicy | None = None,
        pacer: ConnectionGate | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.server = server or data_centre(api_key)
        if not base_url and not self.server:
            raise ConnectorSettingError(
                "mailchimp.api_key",
                "does not end in a data centre (like -us6)",
                hint=f"{AUTH_HINT}, or set mailchimp.server",
            )
        self._client = Client()
        # An empty SDK 'server' turns off its url.replace('server', ...) (module docstring).
        self._client.set_config({"api_key": api_key, "server": "" if base_url else self.server})
        if base_url:
            self._client.api_client.host = base_url.rstrip("/")
        self._key = api_key
        remember_secret(api_key)  # masked in every log line and error from now on
        self._sleep = sleep
        self._retrier = Retrier(SERVICE, policy or DEFAULT_POLICY, sleep=sleep)
        self._gate = pacer or ConnectionGate()
        self._batches = BatchRunner(self._client.batches, self._call, self._error, sleep)
        self.calls = 0

    # ------------------------------------------------------------------ the one call path

    def _call(
        self,
        operation: str,
        fn: Callable[[], T],
        *,
        create: bool = False,
        recover: Callable[[], T | None] | None = None,
    ) -> T:
        """Run one SDK call (gated, counted, retried, errors mapped).

        ``create``: a lost answer leaves the outcome unknown; ``recover`` then looks for the
        object before the create is repeated.
        """

        def once() -> T:
            with self._gate:
                self.calls += 1
                try:
                    result = fn()
                except ApiClientError as exc:
                    raise self._error(operation, exc.status_code, exc.text, create) from None
            answer: object = result  # an SDK call with _preload_content=False answers raw
            if isinstance(answer, requests.Response) and not answer.ok:
                raise self._error(operation, answer.status_code, answer.text, create)
            return result

        return self._retrier.call(once, operation=operation, recover=recover)

    def _error(self, operation: str, status: int | None, text: Any, create: bool) -> RemoteError:
        """The project's exception for a failed call (never the API key in a message)."""
        if status is None:
            cause = text if isinstance(text, BaseException) else RuntimeError(str(text))
            error = error_for_connection(SERVICE, cause, write=create)
            error.args = (self._clean(str(error)),)
            return error
        problem = self._clean(problem_text(text) or f"HTTP {status}")
        hint = ""
        if status == 401:
            hint = AUTH_HINT
        elif "forgotten email" in problem.lower():
            hint = FORGOTTEN_HINT
        return error_for_status(SERVICE, status, f"{operation}: {problem}", write=create, hint=hint)

    def _clean(self, text: str) -> str:
        return redact(text.replace(self._key, "***") if self._key else text)

    def _paged(
        self, operation: str, fetch: Callable[[int], dict[str, Any]], key: str
    ) -> list[dict[str, Any]]:
        """Every item of an offset-paged collection (``fetch(offset)`` reads one page)."""
        items: list[dict[str, Any]] = []
        while True:
            offset = len(items)
            page = self._call(operation, lambda: fetch(offset))  # noqa: B023 (called at once)
            batch = page.get(key) or []
            items.extend(batch)
            total = int(page.get("total_items") or 0)
            if not batch or len(batch) < PAGE or len(items) >= total:
                return items

    # ------------------------------------------------------------------ audiences

    def list_audiences(self) -> list[Audience]:
        """Every audience (all pages)."""
        lists = self._client.lists
        raw = self._paged(
            "list audiences",
            lambda offset: lists.get_all_lists(
                count=PAGE,
                offset=offset,
                fields=["lists.id", "lists.name", "lists.stats.member_count", "total_items"],
            ),
            "lists",
        )
        return [as_audience(a) for a in raw]

    def find_audience(self, name: str) -> Audience | None:
        """The audience called ``name``, if any."""
        return next((a for a in self.list_audiences() if a.name == name), None)

    def account(self) -> dict[str, Any]:
        """Ping, then the account the key belongs to (``GET /ping``, ``GET /``): name, e-mail,
        role, and the data centre the key was used against."""
        self._call("ping", lambda: self._client.ping.get())
        root = self._call("account", lambda: self._client.root.get_root())
        keep = ("account_id", "account_name", "email", "role", "pricing_plan_type")
        return {key: root.get(key) for key in keep if isinstance(root, dict)}

    def get_audience(self, audience_id: str) -> Audience:
        """One audience; NotFoundError if there is none."""
        raw = self._call("get audience", lambda: self._client.lists.get_list(audience_id))
        return as_audience(raw)

    def create_audience(self, spec: dict[str, Any]) -> Audience:
        """A new audience from the API's create body (looked up by name after a lost answer)."""
        raw = self._call(
            "create audience",
            lambda: self._client.lists.create_list(dict(spec)),
            create=True,
            recover=lambda: self.find_audience(str(spec.get("name", ""))),
        )
        return raw if isinstance(raw, Audience) else as_audience(raw)

    def merge_fields(self, audience_id: str) -> dict[str, str]:
        """Existing merge fields: tag -> name."""
        lists = self._client.lists
        raw = self._paged(
            "list merge fields",
            lambda offset: lists.get_list_merge_fields(audience_id, count=PAGE, offset=offset),
            "merge_fields",
        )
        return {str(f["tag"]): str(f.get("name") or "") for f in raw}

    def create_merge_field(self, audience_id: str, tag: str, name: str, kind: str) -> None:
        """Add a merge field (looked up by tag after a lost answer)."""
        body = {"tag": tag, "name": name, "type": kind}
        self._call(
            "create merge field",
            lambda: self._client.lists.add_list_merge_field(audience_id, body),
            create=True,
            recover=lambda: _FOUND if tag in self.merge_fields(audience_id) else None,
        )

    def tags(self, audience_id: str) -> set[str]:
        """Names of the audience's tags (static segments)."""
        lists = self._client.lists
        raw = self._paged(
            "list tags",
            lambda offset: lists.list_segments(
                audience_id,
                type="static",
                count=PAGE,
                offset=offset,
                fields=["segments.name", "total_items"],
            ),
            "segments",
        )
        return {str(s["name"]) for s in raw}

    def create_tag(self, audience_id: str, name: str) -> None:
        """Create a tag (an empty static segment; looked up by name after a lost answer)."""
        self._call(
            "create tag",
            lambda: self._client.lists.create_segment(
                audience_id, {"name": name, "static_segment": []}
            ),
            create=True,
            recover=lambda: _FOUND if name in self.tags(audience_id) else None,
        )

    # ------------------------------------------------------------------ members (issue 6)

    def upsert_member(
        self,
        audience_id: str,
        email: str,
        body: Mapping[str, Any] | None = None,
        *,
        status_if_new: str | None = None,
        status: str | None = None,
        merge_fields: Mapping[str, Any] | None = None,
        language: str = "",
    ) -> AudienceMember:
        """Create or update one member: the idempotent PUT by subscriber hash.

        Either a ready PUT ``body`` (as ``sync.audience.plan`` builds it) or the keywords. A
        permanently deleted address is refused by Mailchimp ("Forgotten Email Not
        Subscribed"): a FatalRemoteError whose hint says why.
        """
        payload: dict[str, Any] = dict(body or {})
        payload.setdefault("email_address", email)
        if status_if_new is not None:
            payload["status_if_new"] = status_if_new
        if status is not None:
            payload["status"] = status
        if merge_fields is not None:
            payload["merge_fields"] = dict(merge_fields)
        if language:
            payload["language"] = language
        if "status_if_new" not in payload:
            raise ValueError("upsert_member needs status_if_new")
        key = subscriber_hash(email)
        raw = self._call(
            "upsert member",
            lambda: self._client.lists.set_list_member(audience_id, key, payload),
        )
        return as_member(raw)

    def set_tags(
        self,
        audience_id: str,
        email: str,
        active: Sequence[str] | Mapping[str, bool] = (),
        inactive: Sequence[str] = (),
    ) -> None:
        """Set tags active / inactive on one member (absolute, so safe to repeat).

        ``active`` may also be a mapping tag name -> active (``sync.audience.apply``'s form).
        """
        if isinstance(active, Mapping):
            states = {str(name): bool(on) for name, on in active.items()}
        else:
            states = {str(name): True for name in active}
        states.update({str(name): False for name in inactive})
        tags = [{"name": n, "status": "active" if on else "inactive"} for n, on in states.items()]
        body = {"tags": tags, "is_syncing": False}
        key = subscriber_hash(email)
        self._call(
            "set tags",
            lambda: self._client.lists.update_list_member_tags(audience_id, key, body),
        )

    def members(
        self, audience_id: str, *, since_last_changed: str | None = None, since: str | None = None
    ) -> list[AudienceMember]:
        """Every member, or those changed after ``since_last_changed`` (ISO 8601), all pages.

        ``since`` is the same filter under the name ``sync.audience.apply`` uses.
        """
        after = since_last_changed or since
        lists = self._client.lists
        extra = {"since_last_changed": after} if after else {}
        raw = self._paged(
            "list members",
            lambda offset: lists.get_list_members_info(
                audience_id, count=PAGE, offset=offset, fields=MEMBER_FIELDS, **extra
            ),
            "members",
        )
        return [as_member(m) for m in raw]

    def delete_permanent(self, audience_id: str, email: str) -> None:
        """Erase a member for good (GDPR); NotFoundError if there is none.

        Not a create: after a lost answer it is repeated, and a repeat of an erase that did
        happen answers 404, which the caller (``forget``) already takes as "nothing left".
        """
        key = subscriber_hash(email)
        self._call(
            "delete member permanently",
            lambda: self._client.lists.delete_list_member_permanent(audience_id, key),
        )

    # ------------------------------------------------------------------ batches, campaigns

    def run_batch(self, operations: list[dict[str, Any]]) -> BatchResult:
        """Run batch operations to the end and report every operation's outcome.

        POST /batches, then GET /batches/{id} until ``finished`` (sleeping between polls),
        then the per-operation results from ``response_body_url`` (a tar.gz of JSON files).
        """
        return self._batches.run(operations)

    def create_campaign_draft(
        self,
        audience_id: str,
        subject: str,
        title: str,
        from_name: str,
        reply_to: str,
        html: str,
        segment_opts: dict[str, Any] | None = None,
    ) -> str:
        """A regular campaign draft with this HTML; returns its id. Never sends anything.

        The title identifies the draft: after a lost answer, a draft of this audience with
        the same title is adopted instead of making a second one.
        """
        recipients: dict[str, Any] = {"list_id": audience_id}
        if segment_opts:
            recipients["segment_opts"] = segment_opts
        body = {
            "type": "regular",
            "recipients": recipients,
            "settings": {
                "subject_line": subject,
                "title": title,
                "from_name": from_name,
                "reply_to": reply_to,
            },
        }
        raw = self._call(
            "create campaign draft",
            lambda: self._client.campaigns.create(body),
            create=True,
            recover=lambda: self._find_draft(audience_id, title),
        )
        campaign_id = str(raw if isinstance(raw, str) else raw["id"])
        # PUT content is absolute, so it is simply retried.
        self._call(
            "set campaign content",
            lambda: self._client.campaigns.set_content(campaign_id, {"html": html}),
        )
        return campaign_id

    def _find_draft(self, audience_id: str, title: str) -> str | None:
        campaigns = self._client.campaigns
        raw = self._paged(
            "list campaign drafts",
            lambda offset: campaigns.list(
                list_id=audience_id,
                status="save",
                count=PAGE,
                offset=offset,
                fields=["campaigns.id", "campaigns.settings.title", "total_items"],
            ),
            "campaigns",
        )
        found = [c for c in raw if (c.get("settings") or {}).get("title") == title]
        return str(found[-1]["id"]) if found else None


__all__ = ["MailchimpConnector", "data_centre", "problem_text", "subscriber_hash"]


if TYPE_CHECKING:  # the type checker holds that the connector is the audience service it stands for
    from connectors.roles import AudienceService

    _ROLE: type[AudienceService] = MailchimpConnector
