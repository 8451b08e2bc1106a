"""The Mailchimp emulator through the real ``mailchimp_marketing`` client: batches, campaign
drafts, the concurrency limit, stats, the page and persistence.

Only the batch results download (a pre-signed URL on Mailchimp) and the HTML page use plain
``requests``.
"""

from __future__ import annotations

import io
import json
import tarfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests
from mailchimp_marketing import Client
from mailchimp_marketing.api_client import ApiClientError

from connectors.sandbox.clients.testing import issued, mailchimp_client
from connectors.sandbox.core.server import SandboxServer
from tests.support.mailchimp_helpers import AUDIENCE, md5, problem, put


@pytest.fixture
def mc(sandbox: SandboxServer) -> Client:
    return mailchimp_client(sandbox)


@pytest.fixture
def audience(mc: Client) -> str:
    return str(mc.lists.create_list(AUDIENCE)["id"])


# --------------------------------------------------------------------------- batches


def test_batch_runs_operations_and_serves_results(
    sandbox: SandboxServer, mc: Client, audience: str
) -> None:
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
    sandbox.app.service("mailchimp").batch_seconds = 0.4  # asynchronous, as Mailchimp's
    started = mc.batches.start({"operations": operations})
    assert started["status"] == "pending" and started["total_operations"] == 7
    assert len(started["id"]) == 10 and started["id"].isalnum()
    seen = [started["status"]]
    while seen[-1] != "finished":
        time.sleep(0.05)
        status = mc.batches.status(started["id"])
        if status["status"] != seen[-1]:
            seen.append(status["status"])
        if status["status"] in ("pending", "preprocessing", "started"):
            assert status["finished_operations"] == 0 and status["response_body_url"] == ""
    phases = ["pending", "preprocessing", "started", "finalizing", "finished"]
    assert seen == sorted(seen, key=phases.index) and len(seen) >= 3  # in order, over time
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
            if service.limiter.active(issued(sandbox_rl)["mailchimp"]["api_key"]) == 10:
                break
            threading.Event().wait(0.01)
        assert service.limiter.active(issued(sandbox_rl)["mailchimp"]["api_key"]) == 10
        status, body = problem(mc.ping.get)
        assert (status, body["title"]) == (429, "TooManyRequests")
    for thread in threads:
        thread.join(timeout=10)
    assert [o["health_status"] for o in outcomes] == ["Everything's Chimpy!"] * 10
    assert service.limiter.active(issued(sandbox_rl)["mailchimp"]["api_key"]) == 0
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


# --------------------------------------------------------------------------- strictness


@pytest.mark.parametrize("action, status", [("unsubscribe", "unsubscribed"), ("clean", "cleaned")])
def test_compliance_state_cannot_be_subscribed_again(
    mc: Client, audience: str, admin: Callable[..., Any], action: str, status: str
) -> None:
    """A contact who unsubscribed themselves, or was cleaned, cannot be subscribed by the API."""
    put(mc, audience, "ana@example.org")
    admin("POST", f"/_sandbox/mailchimp/{action}", {"list_id": audience,
                                                    "email": "ana@example.org"})
    code, body = problem(lambda: put(mc, audience, "ana@example.org", status="subscribed"))
    assert (code, body["title"]) == (400, "Member In Compliance State")
    again = mc.lists.get_list_member(audience, md5("ana@example.org"))
    assert again["status"] == status
    # An unsubscribe made through the API (the list's own doing) can be undone by the API.
    put(mc, audience, "bo@example.org")
    put(mc, audience, "bo@example.org", status="unsubscribed")
    assert put(mc, audience, "bo@example.org", status="subscribed")["status"] == "subscribed"


def test_wrong_method_is_405_with_allow(sandbox: SandboxServer, audience: str) -> None:
    key = issued(sandbox)["mailchimp"]["api_key"]
    answer = requests.put(f"{sandbox.base_urls['mailchimp']}/lists", auth=("any", key),
                          json={}, timeout=5)
    assert answer.status_code == 405 and answer.json()["title"] == "Method Not Allowed"
    assert set(answer.headers["Allow"].split(", ")) >= {"GET", "POST"}
    assert answer.headers["Content-Type"].startswith("application/problem+json")
