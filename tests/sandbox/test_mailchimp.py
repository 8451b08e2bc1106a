"""The Mailchimp emulator through the real ``mailchimp_marketing`` 3.0.80 client.

Every call below is an SDK call against a running sandbox (loopback, port 0); only the batch
results download (a pre-signed URL on Mailchimp) and the HTML page use plain ``requests``.
"""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests
from mailchimp_marketing import Client
from mailchimp_marketing.api_client import ApiClientError

from connectors.sandbox.server import SandboxServer
from connectors.sandbox.testing import mailchimp_client

AUDIENCE: dict[str, Any] = {
    "name": "Friesland alliance newsletter",
    "contact": {"company": "FRL", "address1": "Street 1", "city": "Leeuwarden", "country": "NL"},
    "permission_reminder": "You follow the Friesland alliance.",
    "campaign_defaults": {
        "from_name": "FRL",
        "from_email": "news@example.org",
        "subject": "News",
        "language": "en",
    },
    "email_type_option": False,
}
PROBLEM_KEYS = {"type", "title", "status", "detail", "instance"}


def md5(email: str) -> str:
    return hashlib.md5(email.lower().encode()).hexdigest()


def problem(call: Callable[[], Any]) -> tuple[int, dict[str, Any]]:
    """The status and parsed problem+json body of a call that must fail."""
    with pytest.raises(ApiClientError) as caught:
        call()
    body = json.loads(caught.value.text)  # the SDK leaves problem+json as raw text
    assert set(body) >= PROBLEM_KEYS
    assert body["status"] == caught.value.status_code
    return caught.value.status_code, body


@pytest.fixture
def mc(sandbox: SandboxServer) -> Client:
    return mailchimp_client(sandbox)


@pytest.fixture
def audience(mc: Client) -> str:
    return str(mc.lists.create_list(AUDIENCE)["id"])


def put(mc: Client, list_id: str, email: str, **body: Any) -> dict[str, Any]:
    payload = {"email_address": email, "status_if_new": "subscribed", **body}
    return mc.lists.set_list_member(list_id, md5(email), payload)


# --------------------------------------------------------------------------- root, auth


def test_root_ping_and_identity(sandbox: SandboxServer, mc: Client) -> None:
    assert mc.ping.get() == {"health_status": "Everything's Chimpy!"}
    root = mc.root.get_root()
    assert root["email"] == "coordinator@sandbox.invalid" and root["role"] == "owner"
    member = mailchimp_client(sandbox, "sandbox-member:ana@example.org-us1").root.get_root()
    assert member["email"] == "ana@example.org" and member["role"] == "user"


def test_auth_errors(sandbox: SandboxServer) -> None:
    missing = Client()
    missing.set_config({"api_key": "", "server": "us1"})  # no key: the SDK sends no auth
    missing.api_client.host = sandbox.base_urls["mailchimp"]
    status, body = problem(missing.ping.get)
    assert (status, body["title"]) == (401, "API Key Missing")
    status, body = problem(mailchimp_client(sandbox, "nodatacentre").ping.get)
    assert (status, body["title"]) == (401, "API Key Invalid")
    oauth = Client()
    oauth.set_config({"access_token": "oauth-token", "server": "us1"})
    oauth.api_client.host = sandbox.base_urls["mailchimp"]
    assert oauth.ping.get()["health_status"]


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


# --------------------------------------------------------------------------- batches


def test_batch_runs_operations_and_serves_results(mc: Client, audience: str) -> None:
    operations = [
        {
            "method": "PUT",
            "path": f"/lists/{audience}/members/{md5(f'p{i}@example.org')}",
            "operation_id": f"m{i}",
            "body": json.dumps(
                {"email_address": f"p{i}@example.org", "status_if_new": "subscribed"}
            ),
        }
        for i in range(3)
    ]
    operations += [
        {
            "method": "POST",
            "path": f"/lists/{audience}/members/{md5('p0@example.org')}/tags",
            "operation_id": "t0",
            "body": json.dumps({"tags": [{"name": "x", "status": "active"}]}),
        },
        {
            "method": "GET",
            "path": f"/lists/{audience}/members",
            "operation_id": "read",
            "params": {"count": 1, "fields": "members.email_address"},
        },
        {
            "method": "PUT",
            "path": f"/lists/{audience}/members/{md5('bad')}",
            "operation_id": "bad",
            "body": json.dumps({"email_address": "bad", "status_if_new": "subscribed"}),
        },
        {"method": "GET", "path": "/nowhere", "operation_id": "lost"},
    ]
    started = mc.batches.start({"operations": operations})
    assert started["status"] == "pending" and started["total_operations"] == 7
    assert len(started["id"]) == 10 and started["id"].isalnum()
    status = mc.batches.status(started["id"])
    assert status["status"] == "finished"
    assert (status["finished_operations"], status["errored_operations"]) == (7, 2)
    archive = requests.get(status["response_body_url"], timeout=10)  # no credentials needed
    assert archive.status_code == 200
    results: dict[str, dict[str, Any]] = {}
    with tarfile.open(fileobj=io.BytesIO(archive.content), mode="r:gz") as tar:
        for member in tar.getmembers():
            handle = tar.extractfile(member)
            assert handle is not None
            results.update({r["operation_id"]: r for r in json.loads(handle.read())})
    assert set(results) == {"m0", "m1", "m2", "t0", "read", "bad", "lost"}
    assert json.loads(results["m1"]["response"])["email_address"] == "p1@example.org"
    assert (results["t0"]["status_code"], results["t0"]["response"]) == (204, "")
    assert json.loads(results["read"]["response"]) == {
        "members": [{"email_address": "p0@example.org"}]
    }
    assert results["bad"]["status_code"] == 400
    assert json.loads(results["bad"]["response"])["title"] == "Invalid Resource"
    assert results["lost"]["status_code"] == 404
    member = mc.lists.get_list_member(audience, md5("p0@example.org"))
    assert [t["name"] for t in member["tags"]] == ["x"]
    assert [b["id"] for b in mc.batches.list()["batches"]] == [started["id"]]
    wrong = requests.get(status["response_body_url"].replace("sig=", "sig=x"), timeout=10)
    assert wrong.status_code == 404
    assert mc.batches.delete_request(started["id"]).status_code == 204
    assert problem(lambda: mc.batches.status(started["id"]))[0] == 404


def test_batch_request_is_validated(mc: Client) -> None:
    status, body = problem(lambda: mc.batches.start({"operations": [{"path": "/lists"}]}))
    assert status == 400 and body["errors"][0]["field"] == "operations.0.method"


# --------------------------------------------------------------------------- campaigns


def test_campaign_draft_content_checklist_never_sent(mc: Client, audience: str) -> None:
    put(mc, audience, "ana@example.org")
    segment = mc.lists.create_segment(
        audience, {"name": "Ana", "static_segment": ["ana@example.org"]}
    )
    draft = mc.campaigns.create(
        {
            "type": "regular",
            "recipients": {
                "list_id": audience,
                "segment_opts": {"saved_segment_id": segment["id"]},
            },
            "settings": {
                "subject_line": "Progress",
                "title": "Progress [q1]",
                "from_name": "FRL",
                "reply_to": "news@example.org",
            },
        }
    )
    assert draft["status"] == "save" and len(draft["id"]) == 10
    assert draft["recipients"]["recipient_count"] == 1
    checklist = mc.campaigns.get_send_checklist(draft["id"])
    assert checklist["is_ready"] is False
    assert [i["heading"] for i in checklist["items"] if i["type"] == "error"] == ["Content"]
    content = mc.campaigns.set_content(draft["id"], {"html": "<p>Done: 3 &amp; more</p>"})
    assert content["plain_text"] == "Done: 3 & more"
    assert mc.campaigns.get_content(draft["id"])["html"] == "<p>Done: 3 &amp; more</p>"
    assert mc.campaigns.get_send_checklist(draft["id"])["is_ready"] is True
    patched = mc.campaigns.update(draft["id"], {"settings": {"subject_line": "Q1 progress"}})
    assert patched["settings"]["subject_line"] == "Q1 progress"
    assert patched["settings"]["title"] == "Progress [q1]"
    assert mc.campaigns.get(draft["id"])["content_type"] == "html"
    status, body = problem(lambda: mc.campaigns.send(draft["id"]))
    assert status == 400 and "sending disabled in the sandbox" in body["detail"]
    assert mc.campaigns.get(draft["id"])["status"] == "save"
    listed = mc.campaigns.list(list_id=audience, status="save")
    assert [c["id"] for c in listed["campaigns"]] == [draft["id"]]
    assert mc.campaigns.list(list_id="0000000000")["total_items"] == 0
    status, body = problem(
        lambda: mc.campaigns.create({"type": "regular", "recipients": {"list_id": "0000000000"}})
    )
    assert status == 400 and body["errors"][0]["field"] == "recipients.list_id"
    assert mc.campaigns.remove(draft["id"]).status_code == 204
    assert problem(lambda: mc.campaigns.get(draft["id"]))[0] == 404


# --------------------------------------------------------------------------- limits, stats


def test_eleventh_concurrent_request_gets_429(sandbox_rl: SandboxServer) -> None:
    mc = mailchimp_client(sandbox_rl)
    mc.ping.get()  # the key's person is known before the store is held
    service = sandbox_rl.app.service("mailchimp")
    outcomes: list[Any] = []

    def call() -> None:
        try:
            outcomes.append(mc.ping.get())
        except ApiClientError as error:  # kept so the assert below shows it
            outcomes.append(error)

    # Holding the store keeps ten admitted requests in flight (they wait for their
    # transaction); the eleventh is refused before it ever needs the store.
    threads = [threading.Thread(target=call) for _ in range(10)]
    with sandbox_rl.app.store.transaction():
        for thread in threads:
            thread.start()
        for _ in range(200):
            if service.limiter.active("sandbox-coordinator-us1") == 10:
                break
            threading.Event().wait(0.01)
        assert service.limiter.active("sandbox-coordinator-us1") == 10
        status, body = problem(mc.ping.get)
        assert (status, body["title"]) == (429, "TooManyRequests")
    for thread in threads:
        thread.join(timeout=10)
    assert [o["health_status"] for o in outcomes] == ["Everything's Chimpy!"] * 10
    assert service.limiter.active("sandbox-coordinator-us1") == 0
    assert mc.ping.get()["health_status"]


def test_stats_count_mailchimp_calls(
    sandbox: SandboxServer, mc: Client, audience: str, admin: Callable[..., Any]
) -> None:
    admin("POST", "/_sandbox/stats/reset")
    put(mc, audience, "ana@example.org")
    put(mc, audience, "ana@example.org")
    problem(lambda: mc.lists.get_list_member(audience, md5("x@example.org")))
    stats = admin("GET", "/_sandbox/stats")["mailchimp"]
    assert stats["PUT /3.0/lists/{id}/members/{id}"] == {"200": 2}
    assert stats["GET /3.0/lists/{id}/members/{id}"] == {"404": 1}


def test_page_shows_audiences_escaped(sandbox: SandboxServer, mc: Client, audience: str) -> None:
    put(mc, audience, "ana@example.org", merge_fields={"FNAME": "<script>x</script>"})
    mc.lists.update_list_member_tags(
        audience, md5("ana@example.org"), {"tags": [{"name": "a&b", "status": "active"}]}
    )
    mc.campaigns.create(
        {
            "type": "regular",
            "recipients": {"list_id": audience},
            "settings": {"title": "Draft <1>", "subject_line": "Hi"},
        }
    )
    page = requests.get(sandbox.url + "/", timeout=10).text
    assert "Friesland alliance newsletter" in page and "ana@example.org" in page
    assert "&lt;script&gt;x&lt;/script&gt;" in page and "<script>x" not in page
    assert "a&amp;b" in page and "Draft &lt;1&gt;" in page


def test_state_survives_restart(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with SandboxServer(port=0, data_dir=data, rate_limits=False) as first:
        mc = mailchimp_client(first)
        list_id = mc.lists.create_list(AUDIENCE)["id"]
        put(mc, list_id, "ana@example.org")
    with SandboxServer(port=0, data_dir=data, rate_limits=False) as second:
        mc = mailchimp_client(second)
        assert mc.lists.get_list(list_id)["stats"]["member_count"] == 1
        assert mc.lists.get_list_member(list_id, md5("ana@example.org"))["status"] == "subscribed"
