"""A person's acts in Mailchimp, each whole (the change and its webhook), and ``_links``.

Unsubscribe and cleaned put the address in compliance state *and* fire the webhook; a
profile update and a signup-form subscribe can be played; an address change files the member
under the md5 of the new lower-cased address. Webhooks and collections carry ``_links``;
``GET``/``PATCH /lists/{id}/webhooks/{id}`` exist.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

import pytest
from mailchimp_marketing import Client

from connectors.sandbox.clients.testing import mailchimp_client
from connectors.sandbox.core.server import SandboxServer
from tests.support.mailchimp_helpers import AUDIENCE, md5, problem, put

ALL_EVENTS = {k: True for k in ("subscribe", "unsubscribe", "profile", "cleaned", "upemail",
                                "campaign")}
ALL_SOURCES = {"user": True, "admin": True, "api": True}


class Hook:
    """A list webhook's URL: answers Mailchimp's GET check, records the form posts."""

    def __init__(self) -> None:
        self.posts: list[dict[str, str]] = []
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                hook.posts.append({k: v[0] for k, v in parse_qs(body.decode()).items()})
                self.do_GET()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait(self, count: int) -> list[dict[str, str]]:
        deadline = time.monotonic() + 10
        while len(self.posts) < count:
            assert time.monotonic() < deadline, self.posts
            time.sleep(0.02)
        time.sleep(0.1)
        return sorted(self.posts, key=lambda p: p["type"] != "upemail")


@pytest.fixture
def mc(sandbox: SandboxServer) -> Client:
    return mailchimp_client(sandbox)


@pytest.fixture
def hook(mc: Client) -> Iterator[Hook]:
    made = Hook()
    yield made
    made.server.shutdown()


@pytest.fixture
def audience(mc: Client, hook: Hook) -> str:
    list_id = str(mc.lists.create_list(AUDIENCE)["id"])
    mc.lists.create_list_webhook(list_id, {"url": hook.url, "events": ALL_EVENTS,
                                           "sources": ALL_SOURCES})
    return list_id


@pytest.mark.parametrize("path, action, status, kind", [
    ("/_sandbox/mailchimp/member", "unsubscribe", "unsubscribed", "unsubscribe"),
    ("/_sandbox/mailchimp/member", "cleaned", "cleaned", "cleaned"),
    ("/_sandbox/mailchimp/unsubscribe", "", "unsubscribed", "unsubscribe"),
    ("/_sandbox/mailchimp/clean", "", "cleaned", "cleaned")])
def test_leaving_is_one_act_webhook_and_compliance_state(
        mc: Client, audience: str, hook: Hook, admin: Callable[..., Any],
        path: str, action: str, status: str, kind: str) -> None:
    put(mc, audience, "Ana@Example.org")
    answer = admin("POST", path, {"list_id": audience, "email": "ana@example.org",
                                  "action": action})
    assert answer["webhooks"] == 1
    post = hook.wait(1)[0]
    assert post["type"] == kind and post["data[email]"] == "Ana@Example.org"
    code, body = problem(lambda: put(mc, audience, "Ana@Example.org", status="subscribed"))
    assert (code, body["title"]) == (400, "Member In Compliance State")
    code, body = problem(lambda: mc.lists.update_list_member(
        audience, md5("ana@example.org"), {"status": "subscribed"}))
    assert (code, body["title"]) == (400, "Member In Compliance State")
    assert mc.lists.get_list_member(audience, md5("ana@example.org"))["status"] == status


def test_a_profile_update_is_played_and_delivered(mc: Client, audience: str, hook: Hook,
                                                  admin: Callable[..., Any]) -> None:
    put(mc, audience, "bo@example.org", merge_fields={"FNAME": "Bo"})
    admin("POST", "/_sandbox/mailchimp/member", {"list_id": audience, "email": "bo@example.org",
          "action": "profile", "merge_fields": {"FNAME": "Bauke", "LNAME": "de Vries"}})
    post = hook.wait(1)[0]
    assert post["type"] == "profile" and post["data[merges][FNAME]"] == "Bauke"
    got = mc.lists.get_list_member(audience, md5("bo@example.org"))
    assert got["merge_fields"]["LNAME"] == "de Vries" and got["status"] == "subscribed"


def test_a_signup_form_subscribe_is_played_even_after_leaving(
        mc: Client, audience: str, hook: Hook, admin: Callable[..., Any]) -> None:
    admin("POST", "/_sandbox/mailchimp/member", {"list_id": audience, "email": "new@example.org",
          "action": "subscribe", "merge_fields": {"FNAME": "Nieuw"}})
    post = hook.wait(1)[0]
    assert post["type"] == "subscribe" and post["data[merges][FNAME]"] == "Nieuw"
    got = mc.lists.get_list_member(audience, md5("new@example.org"))
    assert got["status"] == "subscribed"
    # A person in compliance state may opt in again themselves (the API may not).
    admin("POST", "/_sandbox/mailchimp/unsubscribe", {"list_id": audience,
                                                       "email": "new@example.org"})
    admin("POST", "/_sandbox/mailchimp/member", {"list_id": audience, "email": "new@example.org",
                                                 "action": "subscribe"})
    assert mc.lists.get_list_member(audience, md5("new@example.org"))["status"] == "subscribed"
    assert put(mc, audience, "new@example.org", status="subscribed")["status"] == "subscribed"


def test_an_address_change_refiles_the_member_under_the_new_hash(
        mc: Client, audience: str, hook: Hook, admin: Callable[..., Any]) -> None:
    put(mc, audience, "old@example.org")
    mc.lists.update_list_member_tags(audience, md5("old@example.org"),
                                     {"tags": [{"name": "plenary", "status": "active"}]})
    admin("POST", "/_sandbox/mailchimp/member", {"list_id": audience, "email": "old@example.org",
          "action": "upemail", "new_email": "New.Address@Example.org"})
    upemail, profile = hook.wait(2)
    assert upemail["type"] == "upemail" and profile["type"] == "profile"
    assert (upemail["data[old_email]"], upemail["data[new_email]"]) == (
        "old@example.org", "New.Address@Example.org")
    assert profile["data[email]"] == "New.Address@Example.org"
    moved = mc.lists.get_list_member(audience, md5("new.address@example.org"))
    assert moved["id"] == md5("new.address@example.org")
    assert moved["email_address"] == "New.Address@Example.org"
    assert [t["name"] for t in moved["tags"]] == ["plenary"]
    assert problem(lambda: mc.lists.get_list_member(audience, md5("old@example.org")))[0] == 404


def test_webhooks_and_collections_carry_links_and_a_webhook_is_readable_and_patchable(
        mc: Client, audience: str, hook: Hook) -> None:
    listed = mc.lists.get_list_webhooks(audience)
    assert {link["rel"] for link in listed["_links"]} >= {"self", "parent", "create"}
    webhook = listed["webhooks"][0]
    rels = {link["rel"]: link for link in webhook["_links"]}
    assert set(rels) >= {"self", "parent", "update", "delete"}
    assert rels["self"]["href"].endswith(f"/lists/{audience}/webhooks/{webhook['id']}")
    got = mc.lists.get_list_webhook(audience, webhook["id"])
    assert got["url"] == hook.url and got["_links"]
    patched = mc.lists.update_list_webhook(audience, webhook["id"],
                                           {"events": {"campaign": False}})
    assert patched["events"]["campaign"] is False and patched["events"]["unsubscribe"] is True
    members = mc.lists.get_list_members_info(audience)
    assert members["_links"][0]["rel"] == "self"


def test_the_page_names_mailchimp_once_and_offers_the_whole_acts(
        sandbox: SandboxServer, mc: Client, audience: str) -> None:
    import urllib.request

    put(mc, audience, "ana@example.org")
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(f"{sandbox.url}/", timeout=5) as answer:
        page = answer.read().decode()
    assert page.count("<h2>Mailchimp</h2>") == 1
    assert "data-act='unsubscribe'" in page and "/_sandbox/mailchimp/member" in page
