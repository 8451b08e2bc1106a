"""serve's backstop watches Slack's events and Trello's webhook (issue 22).

Slack sends a bot the events of its channels only: serve says once when they stop for the
actions channel. Trello disables a webhook whose deliveries keep failing: the backstop finds
it and makes it again.
"""

from __future__ import annotations

import logging
from typing import Any

import pytest

from connectors.sandbox.clients.testing import trello_client
from sync.serve.watch import EventWatch, missed_slack_changes
from tests.support.serving import issued_secret, start, wait_for
from tests.support.synced import Synced


def test_the_warning_is_said_once_until_events_come_back() -> None:
    watch = EventWatch("frl-actions")
    said = watch.after_backstop(False, [])
    assert said and "not in #frl-actions" in said and "/invite @mcm-sync" in said
    assert watch.after_backstop(False, []) is None  # once
    assert watch.after_backstop(True, []) is None  # back: nothing to say, and re-armed
    missed = [{"item": "FRL-3", "side": "slack"}, {"item": "FRL-4", "side": "trello"}]
    said = watch.after_backstop(True, missed)
    assert said and "FRL-3" in said and "FRL-4" not in said
    assert watch.after_backstop(None, missed) is None
    assert missed_slack_changes(missed) == ["FRL-3"]


def _slack(alliance: Synced) -> Any:
    return next(s for s in alliance.server.app.services if s.name == "slack")


def test_the_backstop_says_once_the_bot_left_and_remakes_a_disabled_webhook(
        alliance: Synced, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="mcm_sync.serve")
    coordinator = trello_client(alliance.server)
    token = issued_secret(alliance, "trello", "token")
    # Someone removes the bot from the actions channel.
    workspace = _slack(alliance).workspace
    channel = workspace.channel(alliance.resource("slack", "channel", "actions"), "")
    bot = alliance.server.app.people.bot()["slack_id"]
    channel["members"] = [m for m in channel["members"] if m != bot]
    workspace.save_channel(channel)
    service = start(alliance, reconcile_every=0.3)
    try:
        # Trello disables the webhook while serve runs (its deliveries kept failing).
        hook = coordinator.fetch_json(f"/tokens/{token}/webhooks")[0]
        coordinator.fetch_json(f"/webhooks/{hook['id']}", http_method="PUT",
                               query_params={"active": "false"})
        wait_for(lambda: any("trello webhook re-created" in r.getMessage()
                             for r in caplog.records))
        hooks = coordinator.fetch_json(f"/tokens/{token}/webhooks")
        assert len(hooks) == 1 and hooks[0]["active"] is True and hooks[0]["id"] != hook["id"]
        wait_for(lambda: len([r for r in caplog.records
                              if "scheduled sync failed" in r.getMessage()]) >= 2)
        warnings = [r for r in caplog.records if "Slack events are not arriving" in
                    r.getMessage()]
        assert len(warnings) == 1  # said once, though several backstops ran
        assert "not in #frl-actions" in warnings[0].getMessage()
    finally:
        service.stop()


def test_doctor_reports_a_webhook_trello_disabled(alliance: Synced) -> None:
    """On either state backend: doctor reads the recorded webhook id through the store."""
    import json

    coordinator = trello_client(alliance.server)
    token = issued_secret(alliance, "trello", "token")
    service = start(alliance)
    service.stop()
    checks = {c["name"]: c for c in alliance.json("doctor")["checks"]}
    assert checks["webhook"]["status"] == "ok"
    hook = coordinator.fetch_json(f"/tokens/{token}/webhooks")[0]
    coordinator.fetch_json(f"/webhooks/{hook['id']}", http_method="PUT",
                           query_params={"active": "false"})
    report = json.loads(alliance.cli("doctor", "--json", expect=4).stdout)
    line = next(c for c in report["checks"] if c["name"] == "webhook")
    assert line["status"] == "fail" and "Trello disabled the board webhook" in line["detail"]
    assert "mcm-sync serve" in line["fix"]
    coordinator.fetch_json(f"/webhooks/{hook['id']}", http_method="DELETE")
    gone = {c["name"]: c for c in alliance.json("doctor")["checks"]}
    assert gone["webhook"]["status"] == "warn"


def test_a_delivery_with_dutch_names_verifies_on_its_raw_bytes(alliance: Synced) -> None:
    """The sandbox sends Trello's compact UTF-8; serve verifies the bytes it got, never a
    re-serialisation (which would differ on ``â``, ``ë``, ``—``)."""
    from tests.support.serving import in_list, status_shown

    card = alliance.side("FRL-9", "trello")
    alliance.trello_member("esra.yilmaz@example.org").fetch_json(
        f"/cards/{card}", http_method="PUT",
        query_params={"name": "FRL-9 · Bijeenkomst in Fryslân — één keer"})
    alliance.cli("sync")
    service = start(alliance)
    try:
        alliance.move("FRL-9", "done")
        wait_for(lambda: status_shown(alliance, "FRL-9", "Done"))
        assert in_list(alliance, "FRL-9", "done")
        deliveries = alliance.admin("GET", "/_sandbox/slack/deliveries")
        assert deliveries  # serve is registered and answering
    finally:
        service.stop()
