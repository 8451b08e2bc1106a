"""The real-time drain never waits in a pacer for a batch's own writes (issue 24), on the fakes:
a card write Trello's pacing holds back keeps its item waiting on the drain's clock while
another item is served, and a sync a new card triggered makes the card's message at once and
hands its "new item" note to the lane. Each note and decision is made exactly once.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator

import pytest

from sync.engine.model import DECISION
from sync.engine.read import prepare
from sync.realtime.process import LOOK_SECONDS, Drained, drain
from sync.state.events import EventQueue
from sync.state.store import StateStore
from tests.support.fake_alliance import FakeAlliance, synced_copy
from tests.support.sync_scenario import item_ids, queue_card_move

BRAM = "bram.visser@example.org"


@pytest.fixture
def alliance() -> Iterator[FakeAlliance]:
    with synced_copy() as made:
        yield made


class Clock:
    """The drain's clock, moved on by its sleeps only (the test's time)."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _drained(alliance: FakeAlliance, store: StateStore, queue: EventQueue,
             sleep: Callable[[float], None], clock: Clock) -> Drained:
    """The queue drained on the fakes, its sleeps going to ``sleep`` (which moves ``clock``):
    every delivery taken, none failed."""
    ctx = prepare(alliance.config, alliance.book, alliance.rows, alliance.world.trello,
                  alliance.world.slack, store, now=alliance.now)
    drained = drain(ctx, queue, settle=0, sleep=sleep, clock=clock)
    assert drained.errors == [] and queue.pending() == []
    return drained


def _channel(alliance: FakeAlliance) -> str:
    return alliance.resource("slack", "channel", "actions")


def _reacted(alliance: FakeAlliance, queue: EventQueue, number: str, emoji: str) -> None:
    """Bram reacts on the item's message; Slack's delivery is queued."""
    _, ts = item_ids(alliance)[number]
    alliance.world.as_member(BRAM).react(_channel(alliance), ts, emoji)
    user = alliance.world.person(BRAM).slack_id
    queue.put("slack", uuid.uuid4().hex, "reaction_added", ts,
              {"channel": _channel(alliance), "ts": ts, "user": user, "reaction": emoji})


def _notes(alliance: FakeAlliance, ts: str) -> list[str]:
    return [m.text for m in alliance.world.slack.replies(_channel(alliance), ts)]


def _message(alliance: FakeAlliance, number: str) -> str:
    _, ts = item_ids(alliance)[number]
    found = alliance.world.slack.message(_channel(alliance), ts)
    return found.text if found else ""


def _list_of(alliance: FakeAlliance, number: str) -> str:
    card, _ = item_ids(alliance)[number]
    return alliance.world.trello.cards([card])[0].list_id


def test_a_card_write_held_by_trellos_pacing_waits_on_the_drains_clock_not_in_the_pacer(
        alliance: FakeAlliance) -> None:
    """A reaction asks for a card move while Trello's pacing holds card writes back: the
    item is held, its decision not even opened, and the drain neither sleeps in the pacer
    nor stops; another item's move that comes meanwhile shows on its message. Once Trello is
    ready, the held item's card moves: one decision, one note, recorded once."""
    trello = alliance.world.trello
    trello.holds["update_card"] = 2.0
    clock, sleeps, seen = Clock(), [], {}
    done_list = alliance.resource("trello", "list", "done")
    with alliance.store() as store:
        queue = EventQueue.over(store)
        frl3 = store.get_item_by_number("FRL-3").id
        _reacted(alliance, queue, "FRL-3", "white_check_mark")

        def sleep(seconds: float) -> None:
            sleeps.append(seconds)
            clock.now += seconds
            if len(sleeps) == 1:  # while FRL-3's card write waits: a member moves another
                queue_card_move(alliance, queue, "FRL-4", "blocked")
            if len(sleeps) == 20:  # a second later on the drain's clock: Trello is ready
                seen["message"] = _message(alliance, "FRL-4")
                seen["list"] = _list_of(alliance, "FRL-3")
                seen["decisions"] = [i for i in store.intents()
                                     if i.operation == DECISION and i.item_id == frl3]
                trello.holds.clear()

        _drained(alliance, store, queue, sleep, clock)
        assert not store.open_intents()
        decisions = [i.state for i in store.intents() if i.operation == DECISION]
        audit = [e for e in store.list_audit(frl3) if e.field == "status"]
        status = store.get_item_by_number("FRL-3").status
    assert "Blocked" in str(seen["message"])  # served while FRL-3 was held
    assert seen["list"] != done_list and seen["decisions"] == []
    assert len(sleeps) >= 20 and max(sleeps) <= LOOK_SECONDS  # never the pacer's hold
    assert _list_of(alliance, "FRL-3") == done_list and status == "done"
    assert decisions == ["done", "done"] and len(audit) == 1, (decisions, audit)
    assert [len(_notes(alliance, item_ids(alliance)[n][1])) for n in ("FRL-3", "FRL-4")] \
        == [1, 1]
    assert alliance.sync().result.changes == []  # nothing left over for the next sync


def test_a_new_cards_sync_posts_its_message_at_once_and_leaves_its_note_to_the_lane(
        alliance: FakeAlliance) -> None:
    """A member adds a card (a whole sync) while Slack's pacing holds the channel's notes:
    the sync makes the card's message at once (what members see) and hands its "new item"
    note to the lane instead of waiting for its slot; the note is posted once Slack is
    ready, once, and only then is the message recorded as the item's (a crash in between
    leaves what a crash after the post always left: the next run adopts it and notes it)."""
    slack = alliance.world.slack
    clock, sleeps, seen = Clock(), [], {}

    def posted() -> list[str]:  # the new card's message(s) in the channel
        return [m.ts for m in slack.history(_channel(alliance)) if "Translate the flyer" in m.text]

    with alliance.store() as store:
        queue = EventQueue.over(store)
        items_before = len(store.list_items())
        card = alliance.world.as_member(BRAM).add_card(
            alliance.resource("trello", "list", "todo"), "Translate the flyer")
        action = uuid.uuid4().hex
        queue.put("trello", action, "createCard", card,
                  {"action_id": action, "type": "createCard", "card_id": card,
                   "member_id": "bram", "member": "Bram Visser", "date": "", "text": ""})
        # Held from now on: the fakes do not pace the sync's post, only the lane asks.
        slack.holds["chat.postMessage"] = 30.0

        def sleep(seconds: float) -> None:
            sleeps.append(seconds)
            clock.now += seconds
            if len(sleeps) == 5:  # the sync is done; its note waits for Slack
                seen["items"] = len(store.list_items())
                seen["posted"] = posted()
                seen["notes"] = [len(_notes(alliance, ts)) for ts in posted()]
                slack.holds.clear()

        _drained(alliance, store, queue, sleep, clock)
        new = next(i for i in store.list_items() if i.title == "Translate the flyer")
        side = store.get_side(new.id, "slack")
        assert not store.open_intents()
    assert seen["items"] == items_before + 1 and len(seen["posted"]) == 1
    assert seen["notes"] == [0]  # the message shown, its note left to the lane
    assert len(sleeps) >= 5 and max(sleeps) <= LOOK_SECONDS
    assert posted() == seen["posted"] and side is not None and side.remote_id == posted()[0]
    notes = _notes(alliance, posted()[0])
    assert len(notes) == 1 and new.number in notes[0], notes
    assert alliance.sync().result.changes == []
    assert posted() == seen["posted"]  # the next sync adopted it: no second message
