"""``mcm-sync serve`` end to end: members act through the vendors' SDKs, the sandbox delivers
webhooks and events to a real waitress server, and the others see it without any ``sync``.

Every test runs a bootstrapped, once-synced alliance (a copy of one template per worker) with
its sandbox and a :class:`sync.serve.server.Service` on a free loopback port.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from connectors.sandbox.clients.testing import trello_client
from sync.serve.server import Service
from sync.serve.verify import slack_signature
from sync.state.events import EventQueue
from tests.support.serving import (
    idle,
    in_list,
    issued_secret,
    pending,
    session,
    start,
    status_shown,
    wait_for,
)
from tests.support.synced import ESRA, FARAH, Synced, state_dump


@pytest.fixture
def served(alliance: Synced) -> Iterator[tuple[Synced, Service]]:
    service = start(alliance)
    yield alliance, service
    service.stop()


# ---------------------------------------------------------------------- real time


def test_a_trello_move_updates_the_slack_message_with_no_sync(
        served: tuple[Synced, Service]) -> None:
    alliance, service = served
    alliance.move("FRL-3", "doing")
    wait_for(lambda: status_shown(alliance, "FRL-3", "In progress"))
    thread = wait_for(lambda: alliance.message("FRL-3")["thread"])
    assert any("In progress" in line and "Trello" in line for line in thread)
    wait_for(lambda: alliance.item("FRL-3").status == "doing")  # committed after the writes
    # Our own writes come back (webhooks of our card update, events of our note): a sync
    # afterwards finds nothing to do, and nothing was written twice.
    idle(alliance, service)
    again = alliance.json("sync")
    assert again["changes"] == [] and again["writes"] == {}


def test_a_reaction_moves_the_card(served: tuple[Synced, Service]) -> None:
    alliance, _ = served
    alliance.react("FRL-4", "white_check_mark")
    wait_for(lambda: in_list(alliance, "FRL-4", "done"))
    assert alliance.card("FRL-4")["dueComplete"] is True
    wait_for(lambda: status_shown(alliance, "FRL-4", "Done"))


def test_item_messages_carry_buttons_and_a_press_moves_the_card(
        tmp_path: Any, synced_template: Any) -> None:
    """With real_time: serve a sync puts the buttons on (the template has none: issue 21)."""
    alliance = Synced(tmp_path, copy_of=synced_template, real_time="serve")
    try:
        alliance.cli("sync")
        service = start(alliance)
        try:
            _press_a_button(alliance)
        finally:
            service.stop()
    finally:
        alliance.close()


def _press_a_button(alliance: Synced) -> None:
    message = alliance.message("FRL-5")
    actions = [b for b in message["blocks"] if b["type"] == "actions"]
    assert [e["action_id"] for e in actions[0]["elements"]] == [
        "mcm_status_doing", "mcm_status_done", "mcm_status_blocked"]
    answer = alliance.admin("POST", "/_sandbox/slack/press", {
        "as": FARAH, "channel": alliance.resource("slack", "channel", "actions"),
        "ts": alliance.side("FRL-5", "slack"), "action_id": "mcm_status_blocked"})
    assert answer["ok"] is True
    wait_for(lambda: in_list(alliance, "FRL-5", "blocked"))
    wait_for(lambda: status_shown(alliance, "FRL-5", "Blocked"))
    wait_for(lambda: any(e.get("new") == "blocked"
                         for e in alliance.json("log", "--item", "FRL-5")))


def test_a_thread_reply_reaches_the_card(served: tuple[Synced, Service]) -> None:
    alliance, _ = served
    alliance.slack_member(FARAH).chat_postMessage(
        channel=alliance.resource("slack", "channel", "actions"),
        thread_ts=alliance.side("FRL-6", "slack"), text="I can host the meeting")
    card_id = alliance.side("FRL-6", "trello")
    client = alliance.trello_member(ESRA)

    def comments() -> list[str]:
        actions = client.fetch_json(f"/cards/{card_id}/actions",
                                    query_params={"filter": "commentCard"})
        return [a["data"]["text"] for a in actions]

    found = wait_for(lambda: [c for c in comments() if "I can host the meeting" in c])
    assert len(found) == 1


# ---------------------------------------------------------------------- refusals


def _trello_post(service: Service, body: bytes, signature: str | None) -> int:
    headers = {"Content-Type": "application/json"}
    if signature is not None:
        headers["X-Trello-Webhook"] = signature
    return session().post(f"{service.url}/hooks/trello", data=body, headers=headers,
                           timeout=5).status_code


def _trello_sign(service: Service, body: bytes, alliance: Synced) -> str:
    message = body + f"{service.public_url}/hooks/trello".encode()
    secret = issued_secret(alliance, "trello", "app_secret")
    return base64.b64encode(hmac.new(secret.encode(), message, hashlib.sha1)
                            .digest()).decode()


def test_forged_malformed_foreign_or_oversized_deliveries_change_nothing(
        served: tuple[Synced, Service]) -> None:
    alliance, service = served
    before = state_dump(alliance)
    board = alliance.resource("trello", "board", "board")
    card = alliance.side("FRL-3", "trello")
    delivery = json.dumps({"model": {"id": board}, "action": {
        "id": "5f0000000000000000000001", "type": "updateCard", "idMemberCreator": "x",
        "data": {"card": {"id": card}}}}).encode()
    assert _trello_post(service, delivery, None) == 401
    assert _trello_post(service, delivery, "Zm9yZ2Vk") == 401
    assert _trello_post(service, b"{not json", _trello_sign(service, b"{not json", alliance)) == 400
    foreign = delivery.replace(board.encode(), b"5f00000000000000000000ff")
    assert _trello_post(service, foreign, _trello_sign(service, foreign, alliance)) == 410
    huge = b"x" * (2 * 1024 * 1024)
    assert _trello_post(service, huge, _trello_sign(service, huge, alliance)) == 413
    stamp = str(int(time.time()) - 600)  # a replay, correctly signed but too old
    event = json.dumps({"type": "event_callback", "event_id": "EvOLD", "event": {
        "type": "reaction_added", "user": "U1", "reaction": "x",
        "item": {"type": "message", "channel": "C1", "ts": "1.2"}}}).encode()
    signing = issued_secret(alliance, "slack", "signing_secret")
    answer = session().post(f"{service.url}/hooks/slack/events", data=event, timeout=5,
                             headers={"X-Slack-Request-Timestamp": stamp,
                                      "X-Slack-Signature": slack_signature(signing, stamp,
                                                                           event)})
    assert answer.status_code == 401
    fresh = str(int(time.time()))
    forged = session().post(f"{service.url}/hooks/slack/events", data=event, timeout=5,
                             headers={"X-Slack-Request-Timestamp": fresh,
                                      "X-Slack-Signature": "v0=" + "0" * 64})
    assert forged.status_code == 401
    with EventQueue(alliance.config.state_location, schema=alliance.config.state_schema) as queue:
        assert queue.all() == []
    assert state_dump(alliance) == before


def test_a_repeated_slack_event_is_processed_once(served: tuple[Synced, Service]) -> None:
    alliance, service = served
    channel = alliance.resource("slack", "channel", "actions")
    ts = alliance.side("FRL-7", "slack")
    alliance.react("FRL-7", "no_entry")  # the sandbox delivers it; Slack may deliver it again
    wait_for(lambda: in_list(alliance, "FRL-7", "blocked"))
    wait_for(lambda: not pending(alliance))
    with EventQueue(alliance.config.state_location, schema=alliance.config.state_schema) as queue:
        first = [e for e in queue.all() if e.source == "slack" and e.subject == ts][0]
    farah = alliance.slack_member(FARAH).auth_test()["user_id"]
    body = json.dumps({"type": "event_callback", "event_id": first.dedup_key, "event": {
        "type": "reaction_added", "user": farah, "reaction": "no_entry",
        "item": {"type": "message", "channel": channel, "ts": ts}}}).encode()
    for retry in ("1", "2"):
        stamp = str(int(time.time()))
        answer = session().post(f"{service.url}/hooks/slack/events", data=body, timeout=5,
                                 headers={"X-Slack-Request-Timestamp": stamp,
                                          "X-Slack-Retry-Num": retry,
                                          "X-Slack-Retry-Reason": "http_timeout",
                                          "X-Slack-Signature": slack_signature(
                                              issued_secret(alliance, "slack", "signing_secret"),
                                              stamp, body)})
        assert answer.status_code == 200
    with EventQueue(alliance.config.state_location, schema=alliance.config.state_schema) as queue:
        assert [e.dedup_key for e in queue.all()].count(first.dedup_key) == 1
    notes = [line for line in alliance.message("FRL-7")["thread"] if "Blocked" in line]
    assert len(notes) == 1


# ---------------------------------------------------------------------- durability, backstop


def test_killing_serve_between_ack_and_processing_loses_no_event(alliance: Synced) -> None:
    acknowledging = start(alliance, work=False)  # acknowledges and queues, never processes
    try:
        alliance.move("FRL-8", "doing")
        wait_for(lambda: pending(alliance))
    finally:
        acknowledging.stop()
    assert "In progress" not in alliance.message("FRL-8")["text"]
    restarted = start(alliance)
    try:
        wait_for(lambda: status_shown(alliance, "FRL-8", "In progress"))
        wait_for(lambda: not pending(alliance))
    finally:
        restarted.stop()


def test_a_burst_on_one_item_becomes_one_plan(alliance: Synced) -> None:
    acknowledging = start(alliance, work=False)
    try:
        for status in ("doing", "done", "blocked"):
            alliance.move("FRL-10", status)
        wait_for(lambda: len(pending(alliance)) >= 3)
    finally:
        acknowledging.stop()
    restarted = start(alliance)
    try:
        wait_for(lambda: status_shown(alliance, "FRL-10", "Blocked"))
        wait_for(lambda: alliance.item("FRL-10").status == "blocked")
    finally:
        restarted.stop()
    thread = alliance.message("FRL-10")["thread"]
    # One decision from the card as it is now: one note, not one per move.
    assert len(thread) == 1 and "Blocked" in thread[0], thread


def test_a_missed_delivery_is_repaired_by_the_reconciliation(alliance: Synced) -> None:
    service = start(alliance)
    try:
        # Trello's delivery fails (our server is down): the move never arrives.
        service.stop()
        alliance.move("FRL-9", "done")  # delivered to a stopped server: lost
        page = lambda: session().get(f"{alliance.server.url}/", timeout=5).text  # noqa: E731
        wait_for(lambda: "Failed webhook deliveries" in page())  # visible on the sandbox page
        assert "Done" not in alliance.message("FRL-9")["text"]
        service = start(alliance, reconcile_every=0.5, register=False)
        wait_for(lambda: status_shown(alliance, "FRL-9", "Done"))
    finally:
        service.stop()


def test_the_board_webhook_is_registered_once_adopted_and_remade_when_disabled(
        alliance: Synced) -> None:
    coordinator = trello_client(alliance.server)  # the coordinator's issued key and token
    token = issued_secret(alliance, "trello", "token")

    def hooks() -> list[dict[str, Any]]:
        return list(coordinator.fetch_json(f"/tokens/{token}/webhooks"))

    first = start(alliance)
    first.stop()
    second = start(alliance, port=int(first.url.rsplit(":", 1)[1]))  # the same URL again
    second.stop()
    assert len(hooks()) == 1
    hook = hooks()[0]
    coordinator.fetch_json(f"/webhooks/{hook['id']}", http_method="PUT",
                           query_params={"active": "false"})
    third = start(alliance)
    try:
        now = hooks()
        assert len(now) == 1 and now[0]["active"] is True and now[0]["id"] != hook["id"]
    finally:
        third.stop()


# ---------------------------------------------------------------------- small endpoints


def test_healthz_and_the_slack_url_verification(served: tuple[Synced, Service]) -> None:
    alliance, service = served
    health = session().get(f"{service.url}/healthz", timeout=5)
    assert health.status_code == 200 and health.json()["ok"] is True
    app = alliance.admin("GET", "/_sandbox/slack/app")
    assert app["event_url"] == f"{service.public_url}/hooks/slack/events"
    deliveries = alliance.admin("GET", "/_sandbox/slack/deliveries")
    assert any(d["kind"] == "url_verification" and d["ok"] for d in deliveries)


def test_the_alliance_command_answers_privately(served: tuple[Synced, Service]) -> None:
    alliance, _ = served
    answer = alliance.admin("POST", "/_sandbox/slack/command",
                            {"as": ESRA, "command": "/alliance", "text": ""})
    assert answer["status"] == 200
    assert answer["response"]["response_type"] == "ephemeral"
    assert "Next plenary" in answer["response"]["text"]


def test_serve_without_secrets_is_a_usage_error(alliance: Synced) -> None:
    result = alliance.cli("serve", "--no-sandbox", expect=2)
    assert "TRELLO_APP_SECRET" in result.output
    assert "is not a duration" in alliance.cli("serve", "--reconcile-every", "soon",
                                               expect=2).output
    assert "SLACK_APP_TOKEN" in alliance.cli("serve", "--socket-mode", expect=2).output


# ---------------------------------------------------------------------- Mailchimp


def test_an_unsubscribe_lands_in_the_consent_ledger_at_once(alliance: Synced) -> None:
    from sync.audience.store import StakeholderStore
    from tests.support.paths import ROOT

    alliance.cli("stakeholders", "import",
                 str(ROOT / "playbooks/examples/stakeholders-friesland.csv"))
    alliance.cli("stakeholders", "push")
    service = start(alliance)
    try:
        audience = alliance.resource("mailchimp", "audience", "audience")
        hooks = alliance.admin("GET", "/_sandbox/mailchimp/deliveries")
        assert hooks == []
        answer = alliance.admin("POST", "/_sandbox/mailchimp/member", {
            "list_id": audience, "email": "anna.voorbeeld@example.org",
            "action": "unsubscribe"})
        assert answer["webhooks"] == 1  # registered by serve, once

        def ledger() -> str:
            with alliance.store() as store:
                found = StakeholderStore(store).find_email("anna.voorbeeld@example.org")
                return found.remote_status if found else ""

        wait_for(lambda: ledger() == "unsubscribed")
        # A wrong secret in the URL is refused and changes nothing.
        bad = session().post(f"{service.url}/hooks/mailchimp/wrong", timeout=5,
                              data={"type": "unsubscribe", "data[list_id]": audience,
                                    "data[email]": "bram.voorbeeld@example.org"})
        assert bad.status_code == 403
        assert session().get(f"{service.url}/hooks/mailchimp/wrong", timeout=5
                              ).status_code == 403
    finally:
        service.stop()
    # A second serve adopts the audience's webhook: still one.
    again = start(alliance)
    again.stop()
    answer = alliance.admin("POST", "/_sandbox/mailchimp/member", {
        "list_id": audience, "email": "anna.voorbeeld@example.org", "action": "cleaned"})
    assert answer["webhooks"] == 1


def test_the_serve_command_runs_until_sigterm(alliance: Synced) -> None:
    import os
    import signal
    import socket
    import threading

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    healthy: list[int] = []

    def stop_when_healthy() -> None:
        try:
            wait_for(lambda: _healthz(port), timeout=30)
            # Started once it has registered (the sandbox's Slack app points at it).
            wait_for(lambda: alliance.admin("GET", "/_sandbox/slack/app")["event_url"])
            healthy.append(1)
        finally:
            os.kill(os.getpid(), signal.SIGTERM)  # serve's handler is installed by now

    stopper = threading.Thread(target=stop_when_healthy)
    stopper.start()
    result = alliance.cli("serve", "--port", str(port), "--reconcile-every", "off")
    stopper.join()
    assert healthy == [1]
    assert f"serving on http://127.0.0.1:{port}" in result.output
    assert "/hooks/slack/events" in result.output


def _healthz(port: int) -> bool:
    try:
        return session().get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200
    except requests.RequestException:
        return False
