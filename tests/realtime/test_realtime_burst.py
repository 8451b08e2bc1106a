"""Real time under a burst (issue 24): one Trello move is one card read and one message
update, a position-only change costs nothing, and no item's visible change waits behind
another item's thread notes.

Call counts come from the sandbox's request counters; the order of writes from the sandbox's
own records (Trello's action dates, Slack's message timestamps), never from a clock here.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import logging
from pathlib import Path
from typing import Any

import pytest

from connectors.sandbox.clients.testing import trello_client
from sync.core.services import Secrets
from sync.serve.hooks import HookApp, Scope, position_only
from sync.state.events import EventQueue
from tests.support.serving import idle, pending, start, status_shown, wait_for
from tests.support.synced import ESRA, Synced

CALLBACK = "https://h.example.org/hooks/trello"
SCOPE = Scope(board_id="B1", trello_callback_url=CALLBACK, actions_channel="C1",
              audience_id="", me_trello="ME", me_slack=("UBOT", "BBOT"))


def _routes(alliance: Synced, service: str) -> dict[str, int]:
    stats = alliance.admin("GET", "/_sandbox/stats").get(service, {})
    return {route: sum(codes.values()) for route, codes in stats.items()}


def _count(routes: dict[str, int], *parts: str) -> int:
    return sum(n for route, n in routes.items() if all(p in route for p in parts))


# ---------------------------------------------------------------------- position changes


def _signed(action: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
    body = json.dumps({"action": action, "model": {"id": "B1"}}).encode()
    mac = hmac.new(b"s", body + CALLBACK.encode(), hashlib.sha1).digest()
    return body, {"X-Trello-Webhook": base64.b64encode(mac).decode()}


def test_position_only_updates_are_told_apart_by_the_actions_old_values() -> None:
    assert position_only("updateCard", {"old": {"pos": 16384}})
    assert not position_only("updateCard", {"old": {"idList": "L1"}})
    assert not position_only("updateCard", {"old": {"idList": "L1", "pos": 1}})
    assert not position_only("updateCard", {"old": {}})  # unknown: processed
    assert not position_only("commentCard", {"old": {"pos": 1}})


def test_a_position_only_delivery_is_acknowledged_and_never_queued(tmp_path: Path) -> None:
    from werkzeug.datastructures import Headers

    woken: list[int] = []
    with EventQueue(tmp_path / "state.db") as queue:
        app = HookApp(queue, Secrets("s", "", ""), SCOPE, lambda: woken.append(1))
        card = {"id": "C9", "pos": 1}
        moved = {"id": "A1", "type": "updateCard", "idMemberCreator": "M1",
                 "data": {"card": card, "old": {"pos": 65536}}}
        body, headers = _signed(moved)
        assert app.on_trello(body, Headers(headers)).status_code == 200
        assert queue.pending() == [] and woken == []
        listed = {**moved, "id": "A2", "data": {"card": card, "old": {"idList": "L1"}}}
        body, headers = _signed(listed)
        assert app.on_trello(body, Headers(headers)).status_code == 200
        assert [e.kind for e in queue.pending()] == ["updateCard"] and woken == [1]


def test_a_card_dragged_within_its_list_makes_no_slack_call(
        alliance: Synced, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="mcm_sync.serve")
    service = start(alliance)
    try:
        alliance.admin("POST", "/_sandbox/stats/reset")
        alliance.trello_member(ESRA).fetch_json(
            f"/cards/{alliance.side('FRL-5', 'trello')}", http_method="PUT",
            query_params={"pos": "top"})
        wait_for(lambda: any("position changed" in r.getMessage() for r in caplog.records))
        assert not pending(alliance)
        slack = _routes(alliance, "slack")
    finally:
        service.stop()
    assert slack == {}, slack


# ---------------------------------------------------------------------- one move, one plan


def test_the_two_deliveries_of_one_move_cost_one_card_read_and_one_update(
        alliance: Synced) -> None:
    service = start(alliance)
    try:
        alliance.admin("POST", "/_sandbox/stats/reset")
        alliance.move("FRL-3", "doing")  # Trello: the list change, then the position
        wait_for(lambda: status_shown(alliance, "FRL-3", "In progress"))
        wait_for(lambda: alliance.message("FRL-3")["thread"])
        wait_for(lambda: alliance.item("FRL-3").status == "doing")
        trello, slack = _routes(alliance, "trello"), _routes(alliance, "slack")
        idle(alliance, service)
    finally:
        service.stop()
    # The member's own move and our reads: one card read (GET /1/cards... or /1/batch).
    ours_trello = {r: n for r, n in trello.items() if not r.startswith("PUT")}
    assert sum(ours_trello.values()) == 1, trello
    assert _count(slack, "chat.update") == 1, slack
    assert _count(slack, "conversations.history") == 1, slack
    assert _count(slack, "chat.postMessage") == 1, slack  # the thread note
    # The message read, the conversations.replies of the member's check above are theirs.
    with EventQueue(alliance.config.state_location,
                    schema=alliance.config.state_schema) as queue:
        stored = [e for e in queue.all() if e.source == "trello"]
    assert len(stored) == 1, stored  # the position's delivery was never queued


# ---------------------------------------------------------------------- the notes' lane


def _moved_at(alliance: Synced, number: str) -> dt.datetime:
    """When our side moved the item's card (Trello's action date)."""
    coordinator = trello_client(alliance.server)
    me = coordinator.fetch_json("/members/me")["id"]
    actions = coordinator.fetch_json(f"/cards/{alliance.side(number, 'trello')}/actions",
                                     query_params={"filter": "updateCard:idList"})
    ours = [a for a in actions if a["idMemberCreator"] == me]
    assert ours, actions
    return dt.datetime.fromisoformat(ours[0]["date"].replace("Z", "+00:00"))


def _noted_at(alliance: Synced, number: str) -> dt.datetime:
    """When our first note in the item's thread was posted (Slack's ts)."""
    slack = alliance.slack_member(ESRA)
    replies = slack.conversations_replies(channel=alliance.resource("slack", "channel",
                                                                    "actions"),
                                          ts=alliance.side(number, "slack"))["messages"][1:]
    assert replies, number
    return dt.datetime.fromtimestamp(float(replies[0]["ts"]), dt.UTC)


def test_a_reaction_on_another_item_reaches_its_card_before_the_first_items_note(
        alliance: Synced) -> None:
    acknowledging = start(alliance, work=False)  # both deliveries wait in the queue
    try:
        alliance.move("FRL-3", "doing")  # item A: its visible write, then a note
        wait_for(lambda: pending(alliance))
        alliance.react("FRL-4", "white_check_mark")  # item B: its card is what shows
        wait_for(lambda: len(pending(alliance)) >= 2)
    finally:
        acknowledging.stop()
    service = start(alliance)
    try:
        wait_for(lambda: status_shown(alliance, "FRL-3", "In progress"))
        wait_for(lambda: alliance.item("FRL-4").status == "done")
        wait_for(lambda: alliance.message("FRL-3")["thread"])
        idle(alliance, service)
    finally:
        service.stop()
    # A's note waited for B's card: no item's visible change behind another item's notes.
    assert _moved_at(alliance, "FRL-4") <= _noted_at(alliance, "FRL-3")
    assert alliance.card("FRL-4")["idList"] == alliance.resource("trello", "list", "done")
    assert status_shown(alliance, "FRL-4", "Done")  # its message too, after the card
