"""The notes' lane of the real-time drain (issue 24), on the fakes: a drain stopped with an
item's notes still in the lane loses nothing and writes nothing twice.

The lane lives in memory; what makes it safe is that the item's deliveries stay pending and
its decision stays open in the journal until its notes and bookkeeping are done.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator

import pytest

from sync.engine.model import DECISION, SyncContext
from sync.engine.read import prepare
from sync.realtime.process import Drained, drain
from sync.state.events import EventQueue
from sync.state.store import StateStore
from tests.support.fake_alliance import FakeAlliance, synced_copy
from tests.support.sync_scenario import item_ids, queue_card_move

BRAM = "bram.visser@example.org"


@pytest.fixture
def alliance() -> Iterator[FakeAlliance]:
    with synced_copy() as made:
        yield made


def _drained(alliance: FakeAlliance, store: StateStore, queue: EventQueue,
             sleep: Callable[[float], None]) -> Drained:
    """The queue drained on the alliance's fakes (held as the test set them), the drain's
    sleeps going to ``sleep`` (the test's clock): every delivery taken, none failed."""
    ctx = prepare(alliance.config, alliance.book, alliance.rows, alliance.world.trello,
                  alliance.world.slack, store, now=alliance.now)
    drained = drain(ctx, queue, settle=0, sleep=sleep)
    assert drained.errors == [] and queue.pending() == []
    return drained


def _notes(alliance: FakeAlliance, number: str) -> list[str]:
    _, ts = item_ids(alliance)[number]
    channel = alliance.resource("slack", "channel", "actions")
    return [m.text for m in alliance.world.slack.replies(channel, ts)]


def _message(alliance: FakeAlliance, number: str) -> str:
    _, ts = item_ids(alliance)[number]
    found = alliance.world.slack.message(alliance.resource("slack", "channel", "actions"), ts)
    return found.text if found else ""


def test_a_drain_stopped_with_notes_in_the_lane_loses_none_and_repeats_none(
        alliance: FakeAlliance) -> None:
    with alliance.store() as store:
        queue = EventQueue.over(store)
        queue_card_move(alliance, queue, "FRL-3", "doing")
        queue_card_move(alliance, queue, "FRL-4", "blocked")
        # Three turns: both cards and the first message's update, the second message's
        # update (a board change's message goes before any note), the first item's note.
        turns = iter([False, False, False, True])

        def stopped() -> bool:
            return next(turns, True)

        def context() -> SyncContext:
            return prepare(alliance.config, alliance.book, alliance.rows,
                           alliance.world.trello, alliance.world.slack, store, now=alliance.now)

        drain(context(), queue, stopped, settle=0)
        left = queue.pending()
        # Both messages show the move; the second item's note and bookkeeping were not done.
        assert [len(_notes(alliance, n)) for n in ("FRL-3", "FRL-4")] == [1, 0]
        assert "Blocked" in _message(alliance, "FRL-4")
        assert len(left) == 1 and store.get_item_by_number("FRL-4").status == "todo"
        assert store.open_intents("hub")  # its decision, open in the journal
        drain(context(), queue, settle=0)
        assert queue.pending() == [] and not store.open_intents("hub")
        assert store.get_item_by_number("FRL-4").status == "blocked"
        audit = [e for e in store.list_audit(store.get_item_by_number("FRL-4").id)
                 if e.field == "status"]
    assert [len(_notes(alliance, n)) for n in ("FRL-3", "FRL-4")] == [1, 1]
    assert len(audit) == 1, audit  # decided once, recorded once
    assert alliance.sync().result.changes == []  # nothing left for the next sync


def test_a_lane_held_by_slacks_pacing_sleeps_only_to_look_for_deliveries(
        alliance: FakeAlliance) -> None:
    """The channel's posts are held (a spent window, a 429's hold): the drain neither
    sleeps for them nor stops; a move of another item that comes meanwhile shows on its
    message at once, and the held notes are posted once Slack is ready, once each."""
    from sync.realtime.process import LOOK_SECONDS

    slack = alliance.world.slack
    slack.holds["chat.postMessage"] = 30.0
    sleeps: list[float] = []
    seen: dict[str, object] = {}
    with alliance.store() as store:
        queue = EventQueue.over(store)
        queue_card_move(alliance, queue, "FRL-3", "doing")

        def sleep(seconds: float) -> None:
            sleeps.append(seconds)
            if len(sleeps) == 1:  # while the notes wait: a member moves another card
                queue_card_move(alliance, queue, "FRL-4", "blocked")
            if len(sleeps) == 20:  # a second later on the drain's clock: Slack is ready
                seen["message"] = _message(alliance, "FRL-4")
                seen["notes"] = [len(_notes(alliance, n)) for n in ("FRL-3", "FRL-4")]
                slack.holds.clear()

        _drained(alliance, store, queue, sleep)
        assert not store.open_intents("hub") and not store.open_intents("slack")
    assert "Blocked" in str(seen["message"]) and seen["notes"] == [0, 0]
    assert len(sleeps) == 20 and max(sleeps) <= LOOK_SECONDS  # never the 30 s hold
    assert [len(_notes(alliance, n)) for n in ("FRL-3", "FRL-4")] == [1, 1]


def test_deliveries_that_come_while_the_channels_read_is_held_join_one_batch(
        alliance: FakeAlliance) -> None:
    """Slack would hold the batch's read of the channel back (its window spent): the drain
    does not sleep inside the read for one delivery and then again for the next; it waits,
    gathers what comes meanwhile, and reads them all at once when the read can go."""
    from sync.realtime.process import LOOK_SECONDS

    slack = alliance.world.slack
    slack.holds["conversations.history"] = 1.0
    sleeps: list[float] = []
    with alliance.store() as store:
        queue = EventQueue.over(store)
        queue_card_move(alliance, queue, "FRL-3", "doing")

        def sleep(seconds: float) -> None:
            sleeps.append(seconds)
            if len(sleeps) == 1:
                queue_card_move(alliance, queue, "FRL-4", "blocked")
            if len(sleeps) == 5:
                assert "Blocked" not in _message(alliance, "FRL-4")  # nothing read yet
                slack.holds.clear()

        drained = _drained(alliance, store, queue, sleep)
    assert drained.batches == 1 and len(sleeps) == 5 and max(sleeps) <= LOOK_SECONDS
    assert "Blocked" in _message(alliance, "FRL-4") and "In progress" in _message(
        alliance, "FRL-3")


def test_a_whole_sync_leaves_the_items_in_the_lane_to_it_and_does_not_wait_for_them(
        alliance: FakeAlliance) -> None:
    """A member adds a card (a delivery only a whole sync handles) while FRL-3's note is held
    by Slack's pacing: the sync runs at once and leaves FRL-3 (and FRL-4, moved in the same
    batch) to the lane instead of posting their notes first; the new card becomes an item,
    FRL-4's move shows on its message, and the held notes are posted once Slack is ready,
    once each, every decision closed once and recorded once."""
    slack = alliance.world.slack
    slack.holds["chat.postMessage"] = 30.0
    sleeps: list[float] = []
    seen: dict[str, object] = {}
    with alliance.store() as store:
        queue = EventQueue.over(store)
        items_before = len(store.list_items())
        queue_card_move(alliance, queue, "FRL-3", "doing")

        def sleep(seconds: float) -> None:
            sleeps.append(seconds)
            if len(sleeps) == 1:  # while FRL-3's note waits: a new card and another move
                card = alliance.world.as_member(BRAM).add_card(
                    alliance.resource("trello", "list", "todo"), "Translate the flyer")
                action = uuid.uuid4().hex
                queue.put("trello", action, "createCard", card,
                          {"action_id": action, "type": "createCard", "card_id": card,
                           "member_id": "bram", "member": "Bram Visser", "date": "",
                           "text": ""})
                queue_card_move(alliance, queue, "FRL-4", "blocked")
            if len(sleeps) == 20:  # a second later on the drain's clock: Slack is ready
                seen["items"] = len(store.list_items())
                seen["message"] = _message(alliance, "FRL-4")
                seen["notes"] = [len(_notes(alliance, n)) for n in ("FRL-3", "FRL-4")]
                slack.holds.clear()

        _drained(alliance, store, queue, sleep)
        assert not store.open_intents("hub") and not store.open_intents("slack")
        statuses = {n: store.get_item_by_number(n).status for n in ("FRL-3", "FRL-4")}
        audits = {n: [e for e in store.list_audit(store.get_item_by_number(n).id)
                      if e.field == "status"] for n in ("FRL-3", "FRL-4")}
        decisions = [i for i in store.intents() if i.operation == DECISION]
    assert seen["items"] == items_before + 1  # the sync ran while the notes were held
    assert "Blocked" in str(seen["message"]) and seen["notes"] == [0, 0]
    assert len(sleeps) == 20
    assert [len(_notes(alliance, n)) for n in ("FRL-3", "FRL-4")] == [1, 1]
    assert statuses == {"FRL-3": "doing", "FRL-4": "blocked"}
    assert [len(lines) for lines in audits.values()] == [1, 1], audits
    assert sorted(i.state for i in decisions) == ["done", "done"]
    assert alliance.sync().result.changes == []  # the held actions read again: nothing new


def test_a_reply_held_by_trellos_pacing_waits_in_the_lane_not_in_the_pacer(
        alliance: FakeAlliance) -> None:
    """A Slack reply to copy to the card while Trello's pacing holds comments back: the lane
    asks the board service too, so the drain neither sleeps in Trello's pacer nor stops; a
    move of another item that comes meanwhile shows at once, and the reply is copied once
    Trello is ready, once."""
    from sync.realtime.process import LOOK_SECONDS

    trello = alliance.world.trello
    trello.holds["add_comment"] = 30.0
    card, ts = item_ids(alliance)["FRL-3"]
    channel = alliance.resource("slack", "channel", "actions")
    sleeps: list[float] = []
    seen: dict[str, object] = {}

    def copied() -> list[str]:
        return [str(a.data.get("text", "")) for a in trello.card_comments(card)]

    with alliance.store() as store:
        queue = EventQueue.over(store)
        posted = alliance.world.as_member(BRAM).reply(channel, ts, "The venue is booked")
        queue.put("slack", uuid.uuid4().hex, "reply", ts,
                  {"ts": posted.ts, "user": alliance.world.person(BRAM).slack_id})

        def sleep(seconds: float) -> None:
            sleeps.append(seconds)
            if len(sleeps) == 1:  # while the comment waits: a member moves another card
                queue_card_move(alliance, queue, "FRL-4", "blocked")
            if len(sleeps) == 20:  # a second later on the drain's clock: Trello is ready
                seen["message"] = _message(alliance, "FRL-4")
                seen["copied"] = copied()
                trello.holds.clear()

        _drained(alliance, store, queue, sleep)
        assert not store.open_intents()
    assert "Blocked" in str(seen["message"]) and seen["copied"] == []
    assert len(sleeps) == 20 and max(sleeps) <= LOOK_SECONDS  # never the 30 s hold
    assert [text for text in copied() if "The venue is booked" in text] != []
    assert len(copied()) == 1
    assert alliance.sync().result.changes == []
