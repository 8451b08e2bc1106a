"""The Mailchimp emulator through the real ``mailchimp_marketing`` 3.0.80 client.

Every call below is an SDK call against a running sandbox (loopback, port 0): root, auth,
audiences, merge fields, members, tags and segments (batches and campaigns: test_mailchimp_flows).
"""

from __future__ import annotations

import pytest
from mailchimp_marketing import Client

from connectors.sandbox.clients.testing import mailchimp_client
from connectors.sandbox.core.server import SandboxServer
from tests.support.mailchimp_helpers import AUDIENCE, md5, problem, put


@pytest.fixture
def mc(sandbox: SandboxServer) -> Client:
    return mailchimp_client(sandbox)


@pytest.fixture
def audience(mc: Client) -> str:
    return str(mc.lists.create_list(AUDIENCE)["id"])


# --------------------------------------------------------------------------- root, auth


def test_root_ping_and_identity(sandbox: SandboxServer, mc: Client) -> None:
    assert mc.ping.get() == {"health_status": "Everything's Chimpy!"}
    root = mc.root.get_root()
    assert root["email"] == "coordinator@sandbox.invalid" and root["role"] == "owner"
    status, body = problem(mailchimp_client(sandbox, "sandbox-member:ana@example.org-us1").ping.get)
    assert (status, body["title"]) == (401, "API Key Invalid")  # Mailchimp has no member logins


def test_auth_errors(sandbox: SandboxServer) -> None:
    missing = Client()
    missing.set_config({"api_key": "", "server": "us1"})  # no key: the SDK sends no auth
    missing.api_client.host = sandbox.base_urls["mailchimp"]
    status, body = problem(missing.ping.get)
    assert (status, body["title"]) == (401, "API Key Missing")
    status, body = problem(mailchimp_client(sandbox, "nodatacentre").ping.get)
    assert (status, body["title"]) == (401, "API Key Invalid")
    made_up = "0123456789abcdef0123456789abcdef-us1"  # well-formed, not issued
    status, body = problem(mailchimp_client(sandbox, made_up).ping.get)
    assert (status, body["title"]) == (401, "API Key Invalid")
    oauth = Client()
    oauth.set_config({"access_token": "oauth-token", "server": "us1"})
    oauth.api_client.host = sandbox.base_urls["mailchimp"]
    assert problem(oauth.ping.get)[0] == 401


def test_unknown_path_is_a_problem_404(mc: Client) -> None:
    status, body = problem(lambda: mc.lists.get_list("0000000000"))
    assert (status, body["title"]) == (404, "Resource Not Found")
    status, body = problem(lambda: mc.automations.list())
    assert status == 404


# --------------------------------------------------------------------------- audiences


def test_audience_create_get_update_and_paging(mc: Client) -> None:
    ids = [mc.lists.create_list({**AUDIENCE, "name": f"List {i}"})["id"] for i in range(12)]
    assert all(len(i) == 10 and int(i, 16) >= 0 for i in ids)
    first = mc.lists.get_all_lists()
    assert first["total_items"] == 12 and len(first["lists"]) == 10  # default page of 10
    rest = mc.lists.get_all_lists(count=10, offset=10)
    assert [a["id"] for a in first["lists"] + rest["lists"]] == ids
    slim = mc.lists.get_all_lists(count=1000, fields=["lists.id", "lists.name", "total_items"])
    assert set(slim) == {"lists", "total_items"}
    assert all(set(a) == {"id", "name"} for a in slim["lists"])
    one = mc.lists.get_list(ids[0], exclude_fields=["stats", "contact"])
    assert one["name"] == "List 0" and "stats" not in one and "contact" not in one
    changed = mc.lists.update_list(ids[0], {"name": "Renamed", "double_optin": True})
    assert changed["name"] == "Renamed" and changed["double_optin"] is True
    assert mc.lists.get_list(ids[0])["contact"]["city"] == "Leeuwarden"


def test_audience_create_names_every_missing_field(mc: Client) -> None:
    body = {k: v for k, v in AUDIENCE.items() if k not in ("permission_reminder", "contact")}
    body["campaign_defaults"] = {"from_name": "X", "subject": "S", "language": "en"}
    body["email_type_option"] = "yes"
    status, problem_body = problem(lambda: mc.lists.create_list(body))
    assert status == 400 and problem_body["title"] == "Invalid Resource"
    fields = {e["field"]: e["message"] for e in problem_body["errors"]}
    assert set(fields) == {
        "contact",
        "permission_reminder",
        "campaign_defaults.from_email",
        "email_type_option",
    }
    assert fields["contact"] == "Required fields were not provided: contact"
    assert mc.lists.get_all_lists()["total_items"] == 0


# --------------------------------------------------------------------------- merge fields


def test_merge_fields(mc: Client, audience: str) -> None:
    tags = [f["tag"] for f in mc.lists.get_list_merge_fields(audience)["merge_fields"]]
    assert tags == ["FNAME", "LNAME", "ADDRESS", "PHONE", "BIRTHDAY"]
    org = mc.lists.add_list_merge_field(audience, {"tag": "org", "name": "Org", "type": "text"})
    assert org["tag"] == "ORG" and org["merge_id"] == 6 and org["list_id"] == audience
    status, body = problem(
        lambda: mc.lists.add_list_merge_field(audience, {"tag": "ORG", "name": "X", "type": "text"})
    )
    assert status == 400 and '"ORG" already exists' in body["detail"]
    status, body = problem(
        lambda: mc.lists.add_list_merge_field(audience, {"name": "X", "type": "colour"})
    )
    assert body["errors"][0]["field"] == "type"
    assert body["errors"][0]["message"].startswith("Data presented is not one of")
    auto = mc.lists.add_list_merge_field(audience, {"name": "Role", "type": "dropdown"})
    assert auto["tag"] == "MMERGE7"
    renamed = mc.lists.update_list_merge_field(audience, "6", {"name": "Organisation"})
    assert renamed["name"] == "Organisation" and renamed["tag"] == "ORG"
    assert mc.lists.delete_list_merge_field(audience, "7").status_code == 204
    page = mc.lists.get_list_merge_fields(audience, count=2, offset=4)
    assert page["total_items"] == 6 and [f["tag"] for f in page["merge_fields"]] == [
        "BIRTHDAY",
        "ORG",
    ]


# --------------------------------------------------------------------------- members


def test_put_upsert_is_idempotent_by_hash(mc: Client, audience: str) -> None:
    first = put(mc, audience, "Ana@Example.org", merge_fields={"FNAME": "Ana"}, language="nl")
    assert first["id"] == md5("ana@example.org") and first["status"] == "subscribed"
    assert len(first["unique_email_id"]) == 10 and first["merge_fields"]["FNAME"] == "Ana"
    assert first["merge_fields"]["LNAME"] == "" and first["language"] == "nl"
    # An existing member keeps its status: status_if_new only applies to new members.
    again = put(mc, audience, "ana@example.org", status_if_new="unsubscribed", vip=True)
    assert again["status"] == "subscribed" and again["vip"] is True
    assert again["unique_email_id"] == first["unique_email_id"]
    assert again["merge_fields"]["FNAME"] == "Ana"
    assert put(mc, audience, "ana@example.org", status="unsubscribed")["status"] == "unsubscribed"
    assert mc.lists.get_list_members_info(audience)["total_items"] == 1
    got = mc.lists.get_list_member(audience, md5("ana@example.org"))
    assert got["status"] == "unsubscribed" and got["email_address"] == "ana@example.org"
    assert mc.lists.get_list(audience)["stats"]["unsubscribe_count"] == 1


def test_member_write_errors(mc: Client, audience: str) -> None:
    status, body = problem(
        lambda: mc.lists.set_list_member(
            audience,
            md5("other@example.org"),
            {"email_address": "ana@example.org", "status_if_new": "subscribed"},
        )
    )
    assert status == 400 and body["errors"][0]["field"] == "email_address"
    status, body = problem(
        lambda: mc.lists.set_list_member(
            audience, md5("ana@example.org"), {"email_address": "ana@example.org"}
        )
    )
    assert body["errors"] == [
        {"field": "status_if_new", "message": "Required fields were not provided: status_if_new"}
    ]
    status, body = problem(lambda: put(mc, audience, "not-an-address"))
    assert status == 400 and "looks fake or invalid" in body["detail"]
    status, body = problem(lambda: mc.lists.get_list_member(audience, md5("nobody@x.org")))
    assert (status, body["title"]) == (404, "Resource Not Found")
    assert body["detail"] == "The requested resource could not be found."


def test_post_add_patch_and_filters(mc: Client, audience: str) -> None:
    added = mc.lists.add_list_member(
        audience, {"email_address": "bo@example.org", "status": "pending", "tags": ["new"]}
    )
    assert added["status"] == "pending" and [t["name"] for t in added["tags"]] == ["new"]
    status, body = problem(
        lambda: mc.lists.add_list_member(
            audience, {"email_address": "BO@example.org", "status": "subscribed"}
        )
    )
    assert (status, body["title"]) == (400, "Member Exists")
    patched = mc.lists.update_list_member(
        audience, md5("bo@example.org"), {"status": "subscribed", "merge_fields": {"LNAME": "B"}}
    )
    assert patched["status"] == "subscribed" and patched["merge_fields"]["LNAME"] == "B"
    for i in range(12):
        put(mc, audience, f"p{i}@example.org", status="unsubscribed" if i % 3 == 0 else None)
    everyone = mc.lists.get_list_members_info(audience, count=1000)
    assert everyone["total_items"] == 13
    unsubscribed = mc.lists.get_list_members_info(audience, status="unsubscribed")
    assert unsubscribed["total_items"] == 4
    assert {m["email_address"] for m in unsubscribed["members"]} == {
        "p0@example.org",
        "p3@example.org",
        "p6@example.org",
        "p9@example.org",
    }
    second = mc.lists.get_list_members_info(audience, count=5, offset=10)
    assert len(second["members"]) == 3
    slim = mc.lists.get_list_members_info(
        audience, fields=["members.email_address", "total_items"], count=2
    )
    assert slim == {
        "members": [{"email_address": "bo@example.org"}, {"email_address": "p0@example.org"}],
        "total_items": 13,
    }
    later = mc.lists.get_list_members_info(audience, since_last_changed="2999-01-01T00:00:00Z")
    assert later["members"] == []


def test_archive_versus_delete_permanent(mc: Client, audience: str) -> None:
    put(mc, audience, "ana@example.org")
    assert mc.lists.delete_list_member(audience, md5("ana@example.org")).status_code == 204
    assert mc.lists.get_list_member(audience, md5("ana@example.org"))["status"] == "archived"
    # A PUT brings an archived member back, with status_if_new.
    assert put(mc, audience, "ana@example.org")["status"] == "subscribed"
    answer = mc.lists.delete_list_member_permanent(audience, md5("ana@example.org"))
    assert answer.status_code == 204
    status, _body = problem(lambda: mc.lists.get_list_member(audience, md5("ana@example.org")))
    assert status == 404
    for again in (
        lambda: put(mc, audience, "ana@example.org"),
        lambda: mc.lists.add_list_member(
            audience, {"email_address": "ana@example.org", "status": "subscribed"}
        ),
    ):
        status, body = problem(again)
        assert (status, body["title"]) == (400, "Forgotten Email Not Subscribed")
    status, _body = problem(
        lambda: mc.lists.delete_list_member_permanent(audience, md5("never@example.org"))
    )
    assert status == 404


# --------------------------------------------------------------------------- tags, segments


def test_tags_are_static_segments(mc: Client, audience: str) -> None:
    put(mc, audience, "ana@example.org")
    put(mc, audience, "bo@example.org")
    body = {
        "tags": [
            {"name": "sector:health", "status": "active"},
            {"name": "member", "status": "active"},
        ],
        "is_syncing": False,
    }
    answer = mc.lists.update_list_member_tags(audience, md5("ana@example.org"), body)
    assert answer.status_code == 204
    mc.lists.update_list_member_tags(
        audience, md5("bo@example.org"), {"tags": [{"name": "member", "status": "active"}]}
    )
    tags = mc.lists.get_list_member_tags(audience, md5("ana@example.org"))
    assert [t["name"] for t in tags["tags"]] == ["sector:health", "member"]
    assert tags["total_items"] == 2 and tags["tags"][0]["date_added"]
    mc.lists.update_list_member_tags(
        audience,
        md5("ana@example.org"),
        {
            "tags": [
                {"name": "member", "status": "inactive"},
                {"name": "never-made", "status": "inactive"},
            ]
        },
    )
    ana = mc.lists.get_list_member(audience, md5("ana@example.org"))
    assert [t["name"] for t in ana["tags"]] == ["sector:health"] and ana["tags_count"] == 1
    statics = mc.lists.list_segments(audience, type="static")["segments"]
    assert {s["name"]: s["member_count"] for s in statics} == {"sector:health": 1, "member": 1}
    found = mc.lists.tag_search(audience, name="SECTOR")
    assert [t["name"] for t in found["tags"]] == ["sector:health"]
    status, body = problem(
        lambda: mc.lists.update_list_member_tags(
            audience, md5("ana@example.org"), {"tags": [{"name": "x", "status": "on"}]}
        )
    )
    assert status == 400 and body["errors"][0]["field"] == "tags.0.status"


def test_segments(mc: Client, audience: str) -> None:
    for email in ("a@example.org", "b@example.org", "c@example.org"):
        put(mc, audience, email)
    static = mc.lists.create_segment(
        audience, {"name": "Board", "static_segment": ["a@example.org", "zz@example.org"]}
    )
    assert static["type"] == "static" and static["member_count"] == 1
    saved = mc.lists.create_segment(
        audience,
        {
            "name": "Dutch",
            "options": {
                "match": "all",
                "conditions": [
                    {"condition_type": "Language", "field": "language", "op": "is", "value": "nl"}
                ],
            },
        },
    )
    assert saved["type"] == "saved" and saved["options"]["match"] == "all"
    assert [s["name"] for s in mc.lists.list_segments(audience, type="saved")["segments"]] == [
        "Dutch"
    ]
    changed = mc.lists.batch_segment_members(
        {
            "members_to_add": ["b@example.org", "c@example.org", "zz@example.org"],
            "members_to_remove": ["a@example.org"],
        },
        audience,
        str(static["id"]),
    )
    assert changed["total_added"] == 2 and changed["total_removed"] == 1
    assert changed["error_count"] == 1
    assert {m["email_address"] for m in changed["members_added"]} == {
        "b@example.org",
        "c@example.org",
    }
    assert mc.lists.get_segment(audience, str(static["id"]))["member_count"] == 2
    tagged = mc.lists.get_list_member(audience, md5("c@example.org"))
    assert [t["name"] for t in tagged["tags"]] == ["Board"]
    status, body = problem(
        lambda: mc.lists.create_segment(audience, {"name": "Board", "static_segment": []})
    )
    assert status == 400 and "already exists" in body["errors"][0]["message"]
    assert mc.lists.delete_segment(audience, str(static["id"])).status_code == 204
    assert mc.lists.list_segments(audience)["total_items"] == 1
