"""``serve`` never waits in the retry layer for one item's read, nor a sync's 429 (issue 24):
a card read that meets 5xx after 5xx, or a new card's sync whose message meets a 429 with a
Retry-After, keeps those deliveries waiting on the drain's clock while a member's reaction
on another item reaches its card at once. Everything is made once, every decision closed.

A real in-process ``serve`` against the real sandbox (its faults: the 5xx; the ``ratelimit``
with a chosen Retry-After, as Slack sends it).
"""

from __future__ import annotations

import time
from typing import Any

from tests.support.serving import idle, in_list, start, status_shown, wait_for
from tests.support.synced import FARAH, Synced

RETRY_AFTER = 3  # seconds: long enough that a drain sleeping in it would show


def _faults_left(alliance: Synced) -> int:
    return sum(int(f.get("count") or 0) for f in alliance.admin("GET", "/_sandbox/faults"))


def test_a_card_read_that_keeps_failing_holds_its_item_not_another_items_reaction(
        alliance: Synced) -> None:
    """FRL-3's card read meets three 503s (the retry layer would sleep some 7-10 s through
    its backoff inside the batch): the item is held and read again after each backoff on
    the drain's clock, while FRL-4's reaction, which comes after the first 503, reaches its
    card within a few seconds. FRL-3's move shows once its read goes through."""
    service = start(alliance)
    try:
        # The batch card read (Trello's /batch): only serve reads cards so; the test's own
        # reads (one card each) do not spend the faults.
        alliance.fault(service="trello", method="GET", path="*batch", mode="error",
                       status=503, count=3)
        alliance.move("FRL-3", "doing")
        wait_for(lambda: _faults_left(alliance) <= 2)  # its first read failed
        alliance.react("FRL-4", "white_check_mark")
        reacted = time.monotonic()
        wait_for(lambda: in_list(alliance, "FRL-4", "done"))
        took = time.monotonic() - reacted
        wait_for(lambda: status_shown(alliance, "FRL-3", "In progress"), timeout=40)
        wait_for(lambda: alliance.message("FRL-3")["thread"])
        wait_for(lambda: alliance.message("FRL-4")["thread"])
        idle(alliance, service)
    finally:
        service.stop()
    # Served within a few seconds: the three backoffs alone are at least 1 + 2 + 4 s.
    assert took < 3.0, took
    assert [len(alliance.message(n)["thread"]) for n in ("FRL-3", "FRL-4")] == [1, 1]
    with alliance.store() as store:
        assert store.open_intents() == []
        decisions = [i.state for i in store.intents() if i.operation == "item_decision"]
    assert decisions == ["done", "done"]
    assert alliance.item("FRL-3").status == "doing" and alliance.item("FRL-4").status == "done"


def test_a_new_cards_sync_that_meets_a_429_does_not_hold_up_another_items_reaction(
        alliance: Synced) -> None:
    """A member adds a card; the sync that makes its message meets a 429 with a Retry-After
    of 3 s. The sync's deliveries wait it out on the drain's clock (the retry layer would
    sleep through it inside the batch), a reaction on FRL-4 reaches its card meanwhile, and
    the new item's message and its note are then made once each."""
    service = start(alliance)
    try:
        alliance.fault(service="slack", method="POST", path="*chat.postMessage",
                       mode="ratelimit", seconds=RETRY_AFTER, count=1)
        alliance.trello_member(FARAH).fetch_json(
            "/cards", http_method="POST",
            query_params={"idList": alliance.resource("trello", "list", "todo"),
                          "name": "Rent a hall"})
        wait_for(lambda: _faults_left(alliance) == 0)  # the sync's post met the 429
        refused = time.monotonic()
        alliance.react("FRL-4", "white_check_mark")
        reacted = time.monotonic()
        wait_for(lambda: in_list(alliance, "FRL-4", "done"), timeout=RETRY_AFTER + 5)
        took = time.monotonic() - reacted

        def added() -> Any:
            with alliance.store() as store:
                return next((i for i in store.list_items() if i.title == "Rent a hall"
                             and store.get_side(i.id, "slack") is not None), None)

        new = wait_for(added, timeout=RETRY_AFTER + 15)
        made = time.monotonic()
        wait_for(lambda: alliance.message("FRL-4")["thread"])
        idle(alliance, service)
    finally:
        service.stop()
    assert took < 1.5, took
    assert made - refused >= RETRY_AFTER - 0.5  # the Retry-After was kept
    thread = alliance.message(new.number)["thread"]
    assert len(thread) == 1 and new.number in thread[0], thread
    channel = alliance.resource("slack", "channel", "actions")
    history = alliance.slack_member(FARAH).conversations_history(channel=channel)["messages"]
    assert [m for m in history if "Rent a hall" in m.get("text", "")] != []
    assert len([m for m in history if "Rent a hall" in m.get("text", "")]) == 1
    with alliance.store() as store:
        assert store.open_intents() == []
        posts = sorted((i.state, bool(i.detail.get("refused")))
                       for i in store.intents()
                       if i.operation == "post_item" and i.item_id == new.id)
    assert posts == [("done", False), ("failed", True)]  # refused once, then made once
