"""Contract tests: the Mailchimp emulator's answers against the Mailchimp OpenAPI document.

Responses come through the real ``mailchimp_marketing`` client and are validated with
openapi-schema-validator (OpenAPI 3.0 read semantics, formats such as ``date-time`` checked)
against the schema each operation declares in
``../shared/contracts/mailchimp/mailchimp-marketing-openapi-3.0.55.yaml``; errors against the
``default`` response (``Problem_Detail_Document``). Skipped, with the reason, when the
contracts folder is absent.

Flaws of that document worked around here, each only where it applies:

- Documented (API-NOTES "Known flaws"): a generator name clash points every single-member
  operation (``GET/PUT/PATCH /lists/{list_id}/members/{subscriber_hash}`` and
  ``POST /lists/{list_id}/members``) at the collection schema ``List_Members_2``; the same
  clash makes that collection's ``members`` items ``List_Members_2`` again. Members are
  validated against ``components/schemas/List_Members`` instead.
- Not yet in API-NOTES: ``List_Members.merge_fields`` declares its values as ``type: object``,
  yet merge field values are strings or numbers (only ADDRESS values are objects; the
  document's own example uses ``"{}"`` strings). That one node accepts string, number or
  object here; everything else in the schema is checked as written.
- The member ``status`` enum lacks ``archived`` (which ``DELETE`` produces on Mailchimp), so
  archived members are not validated.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from mailchimp_marketing import Client
from mailchimp_marketing.api_client import ApiClientError
from openapi_schema_validator import OAS30ReadValidator

from connectors.sandbox.clients.testing import mailchimp_client
from connectors.sandbox.core.server import SandboxServer
from tests.support.mailchimp_helpers import AUDIENCE, md5

CONTRACTS = Path(__file__).resolve().parents[3] / ".." / "shared" / "contracts"
SPEC_FILE = CONTRACTS / "mailchimp" / "mailchimp-marketing-openapi-3.0.55.yaml"
SINGLE_MEMBER = "#/components/schemas/List_Members"
CLASHING = "#/components/schemas/List_Members_2"


class Contract:
    """The OpenAPI document and a validator per schema reference."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document
        components = copy.deepcopy(document["components"])
        # Undocumented flaw (module docstring): merge field values are not objects.
        merge_fields = components["schemas"]["List_Members"]["properties"]["merge_fields"]
        assert merge_fields["additionalProperties"]["type"] == "object"  # still the flaw?
        merge_fields["additionalProperties"] = {
            "anyOf": [{"type": "string"}, {"type": "number"}, {"type": "object"}]
        }
        self.components = components

    def schema_ref(self, path: str, method: str, status: str = "200") -> str:
        """The ``$ref`` of an operation's JSON response schema."""
        responses = self.document["paths"][path][method.lower()]["responses"]
        return str(responses[status]["content"]["application/json"]["schema"]["$ref"])

    def check(self, ref: str, instance: Any) -> None:
        """Fail with every violation of the schema at ``ref``."""
        validator = OAS30ReadValidator(
            {"$ref": ref, "components": self.components},
            format_checker=OAS30ReadValidator.FORMAT_CHECKER,
        )
        errors = sorted(validator.iter_errors(instance), key=lambda e: list(e.absolute_path))
        assert not errors, "\n".join(
            f"{ref} at {'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}"
            for e in errors
        )

    def check_op(self, path: str, method: str, instance: Any) -> None:
        """Validate a 2xx answer against the operation's declared schema."""
        self.check(self.schema_ref(path, method), instance)

    def check_error(self, path: str, method: str, call: Callable[[], Any]) -> dict[str, Any]:
        """Run a failing call; validate its problem+json against the ``default`` response."""
        with pytest.raises(ApiClientError) as caught:
            call()
        body = json.loads(caught.value.text)
        self.check(self.schema_ref(path, method, "default"), body)
        return body


@pytest.fixture(scope="module")
def contract() -> Contract:
    if not SPEC_FILE.is_file():
        pytest.skip(f"contracts folder absent: {SPEC_FILE} not found")
    with SPEC_FILE.open(encoding="utf-8") as handle:
        return Contract(yaml.load(handle, Loader=yaml.CSafeLoader))


@pytest.fixture
def mc(sandbox: SandboxServer) -> Client:
    return mailchimp_client(sandbox)


def test_documented_member_schema_flaw_is_still_there(contract: Contract) -> None:
    for path, method in (
        ("/lists/{list_id}/members/{subscriber_hash}", "get"),
        ("/lists/{list_id}/members/{subscriber_hash}", "put"),
        ("/lists/{list_id}/members/{subscriber_hash}", "patch"),
        ("/lists/{list_id}/members", "post"),
    ):
        assert contract.schema_ref(path, method) == CLASHING


def test_root_lists_and_merge_fields(contract: Contract, mc: Client) -> None:
    contract.check_op("/", "get", mc.root.get_root())
    contract.check_op("/ping", "get", mc.ping.get())
    created = mc.lists.create_list(AUDIENCE)
    contract.check_op("/lists", "post", created)
    list_id = created["id"]
    contract.check_op("/lists", "get", mc.lists.get_all_lists())
    contract.check_op("/lists/{list_id}", "get", mc.lists.get_list(list_id))
    contract.check_op("/lists/{list_id}", "patch", mc.lists.update_list(list_id, {"name": "B"}))
    field = mc.lists.add_list_merge_field(list_id, {"tag": "ORG", "name": "Org", "type": "text"})
    contract.check_op("/lists/{list_id}/merge-fields", "post", field)
    contract.check_op(
        "/lists/{list_id}/merge-fields", "get", mc.lists.get_list_merge_fields(list_id)
    )
    changed = mc.lists.update_list_merge_field(list_id, str(field["merge_id"]), {"name": "O"})
    contract.check_op("/lists/{list_id}/merge-fields/{merge_id}", "patch", changed)
    hook = mc.lists.create_list_webhook(
        # Not loopback: the sandbox checks a loopback URL with GET first (nothing listens on :9).
        list_id, {"url": "https://hooks.example.org/hook?secret=x", "events": {"subscribe": True}}
    )
    contract.check_op("/lists/{list_id}/webhooks", "post", hook)
    contract.check_op("/lists/{list_id}/webhooks", "get", mc.lists.get_list_webhooks(list_id))


def test_members_tags_and_segments(contract: Contract, mc: Client) -> None:
    list_id = mc.lists.create_list(AUDIENCE)["id"]
    body = {
        "email_address": "ana@example.org",
        "status_if_new": "subscribed",
        "merge_fields": {"FNAME": "Ana", "ADDRESS": {"addr1": "Street 1", "city": "X"}},
        "language": "nl",
    }
    # Single members: List_Members, not the clashing List_Members_2 (documented flaw).
    contract.check(SINGLE_MEMBER, mc.lists.set_list_member(list_id, md5("ana@example.org"), body))
    added = mc.lists.add_list_member(
        list_id, {"email_address": "bo@example.org", "status": "pending", "tags": ["new"]}
    )
    contract.check(SINGLE_MEMBER, added)
    contract.check(SINGLE_MEMBER, mc.lists.get_list_member(list_id, md5("bo@example.org")))
    patched = mc.lists.update_list_member(list_id, md5("bo@example.org"), {"vip": True})
    contract.check(SINGLE_MEMBER, patched)
    collection = mc.lists.get_list_members_info(list_id)
    contract.check_op("/lists/{list_id}/members", "get", collection)
    for member in collection["members"]:  # the clash again: items are single members
        contract.check(SINGLE_MEMBER, member)
    mc.lists.update_list_member_tags(
        list_id, md5("ana@example.org"), {"tags": [{"name": "member", "status": "active"}]}
    )
    contract.check_op(
        "/lists/{list_id}/members/{subscriber_hash}/tags",
        "get",
        mc.lists.get_list_member_tags(list_id, md5("ana@example.org")),
    )
    contract.check_op(
        "/lists/{list_id}/tag-search", "get", mc.lists.tag_search(list_id, name="mem")
    )
    segment = mc.lists.create_segment(
        list_id, {"name": "Board", "static_segment": ["ana@example.org"]}
    )
    contract.check_op("/lists/{list_id}/segments", "post", segment)
    saved = mc.lists.create_segment(
        list_id, {"name": "Saved", "options": {"match": "any", "conditions": []}}
    )
    contract.check_op("/lists/{list_id}/segments", "post", saved)
    contract.check_op("/lists/{list_id}/segments", "get", mc.lists.list_segments(list_id))
    contract.check_op(
        "/lists/{list_id}/segments/{segment_id}",
        "get",
        mc.lists.get_segment(list_id, str(segment["id"])),
    )
    moved = mc.lists.batch_segment_members(
        {"members_to_add": ["bo@example.org"], "members_to_remove": ["ana@example.org"]},
        list_id,
        str(segment["id"]),
    )
    contract.check_op("/lists/{list_id}/segments/{segment_id}", "post", moved)


def test_batches_and_campaigns(contract: Contract, mc: Client) -> None:
    list_id = mc.lists.create_list(AUDIENCE)["id"]
    operation = {
        "method": "PUT",
        "path": f"/lists/{list_id}/members/{md5('ana@example.org')}",
        "operation_id": "a",
        "body": json.dumps({"email_address": "ana@example.org", "status_if_new": "subscribed"}),
    }
    started = mc.batches.start({"operations": [operation]})
    contract.check_op("/batches", "post", started)
    contract.check_op("/batches/{batch_id}", "get", mc.batches.status(started["id"]))
    contract.check_op("/batches", "get", mc.batches.list())
    draft = mc.campaigns.create(
        {
            "type": "regular",
            "recipients": {"list_id": list_id},
            "settings": {
                "subject_line": "S",
                "title": "T",
                "from_name": "F",
                "reply_to": "r@x.org",
            },
        }
    )
    contract.check_op("/campaigns", "post", draft)
    contract.check_op("/campaigns", "get", mc.campaigns.list())
    contract.check_op("/campaigns/{campaign_id}", "get", mc.campaigns.get(draft["id"]))
    patched = mc.campaigns.update(draft["id"], {"settings": {"title": "T2"}})
    contract.check_op("/campaigns/{campaign_id}", "patch", patched)
    content = mc.campaigns.set_content(draft["id"], {"html": "<p>Hi</p>"})
    contract.check_op("/campaigns/{campaign_id}/content", "put", content)
    contract.check_op(
        "/campaigns/{campaign_id}/content", "get", mc.campaigns.get_content(draft["id"])
    )
    contract.check_op(
        "/campaigns/{campaign_id}/send-checklist",
        "get",
        mc.campaigns.get_send_checklist(draft["id"]),
    )


def test_errors_are_problem_documents(
    contract: Contract, mc: Client, sandbox: SandboxServer
) -> None:
    list_id = mc.lists.create_list(AUDIENCE)["id"]
    missing = contract.check_error(
        "/lists/{list_id}", "get", lambda: mc.lists.get_list("0000000000")
    )
    assert missing["status"] == 404
    invalid = contract.check_error("/lists", "post", lambda: mc.lists.create_list({"name": "X"}))
    assert {e["field"] for e in invalid["errors"]} >= {"contact", "permission_reminder"}
    exists = contract.check_error(
        "/lists/{list_id}/members",
        "post",
        lambda: [
            mc.lists.add_list_member(
                list_id, {"email_address": "a@example.org", "status": "subscribed"}
            )
            for _ in range(2)
        ],
    )
    assert exists["title"] == "Member Exists"
    unauthorised = contract.check_error(
        "/ping", "get", mailchimp_client(sandbox, "no-datacentre-").ping.get
    )
    assert unauthorised["status"] == 401
