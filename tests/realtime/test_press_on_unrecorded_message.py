"""A button press on an item message that a dying run posted but never recorded.

A sync posts a member's new item's message and loses the answer (the post took effect); the
store does not know the message's ts yet. A member presses "Done" on it before the next run
adopts the message by its token. Slack keeps a press nowhere a later read could find it, so
``serve`` must not ignore the delivery: it runs the incremental sync first (which adopts the
message by its token, as the next run would) and then applies the press to that item.
(A reaction there was never at risk: the next run reads it.)
"""

from __future__ import annotations

import contextlib
import shutil
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from sync.core.errors import RemoteError
from sync.engine.read import prepare
from sync.realtime.process import drain
from sync.state.events import EventQueue
from tests.support.fake_alliance import FakeAlliance, scratch_dir, synced_copy
from tests.support.sync_machine import serve_deliveries

BRAM = "bram.visser@example.org"
CARLA = "carla.mulder@example.org"


def _post_index(alliance: FakeAlliance) -> int:
    """Which of the next sync's writes posts the new item's message."""
    reference = alliance.fork(scratch_dir())
    try:
        before = reference.world.writes
        reference.sync()
        return reference.world.log[before:].index("slack.post_message")
    finally:
        shutil.rmtree(reference.folder, ignore_errors=True)


def _one_batch(alliance: FakeAlliance, press: dict[str, Any]) -> None:
    """The press processed in one batch, every write of it at once (no lane)."""
    serve_deliveries(alliance, [("slack", "button", str(press["ts"]), press)])


def _drained(alliance: FakeAlliance, press: dict[str, Any]) -> None:
    """The press processed as ``serve`` drains its queue: visible writes first, the notes
    in the lane; every delivery taken, none failed."""
    with alliance.store() as store:
        queue = EventQueue.over(store)
        queue.put("slack", uuid.uuid4().hex, "button", str(press["ts"]), press)
        ctx = prepare(alliance.config, alliance.book, alliance.rows, alliance.world.trello,
                      alliance.world.slack, store, now=alliance.now)
        drained = drain(ctx, queue, settle=0, sleep=lambda _seconds: None)
        assert drained.errors == [] and queue.pending() == []


PATHS = pytest.mark.parametrize("deliver", [_one_batch, _drained], ids=["batch", "drain"])


@PATHS
def test_a_press_on_a_message_a_dying_run_posted_is_not_lost(
        deliver: Callable[[FakeAlliance, dict[str, Any]], None]) -> None:
    with synced_copy() as alliance:
        alliance.world.as_member(BRAM).add_card(alliance.resource("trello", "list", "todo"),
                                                "Call the mayor")
        alliance.world.drop_after(_post_index(alliance))
        with contextlib.suppress(RemoteError):
            alliance.sync()
        alliance.world.crash_after(None)
        channel = alliance.resource("slack", "channel", "actions")
        message = [m for m in alliance.world.slack.messages[channel] if not m["thread_ts"]][-1]
        assert "Call the mayor" in message["text"]
        deliver(alliance, {"channel": channel, "ts": message["ts"], "status": "done",
                           "user": alliance.world.person(CARLA).slack_id})
        with alliance.store() as store:
            # Applied by serve itself, on the very message the dying run posted (adopted,
            # not posted again).
            [item] = [i for i in store.list_items() if i.title == "Call the mayor"]
            assert item.status == "done"
            side = store.get_side(item.id, "slack")
            assert side is not None and side.remote_id == message["ts"]
            card = store.get_side(item.id, "trello")
            assert card is not None
        done_list = alliance.resource("trello", "list", "done")
        assert alliance.world.trello.cards_by_id[card.remote_id]["list_id"] == done_list
        alliance.sync()
        with alliance.store() as store:
            [item] = [i for i in store.list_items() if i.title == "Call the mayor"]
            assert item.status == "done"
            assert store.list_conflicts(item_id=item.id) == []
        copies = [m for m in alliance.world.slack.messages[channel]
                  if not m["thread_ts"] and "Call the mayor" in m["text"]]
        assert [m["ts"] for m in copies] == [message["ts"]]
        # The adoption is the sync's own: the new item's note said once in its thread, then
        # the press's change, by its presser.
        notes = [m["text"] for m in alliance.world.slack.messages[channel]
                 if m["thread_ts"] == message["ts"] and m["user"] == alliance.world.bot.slack_id]
        assert len(notes) == 2
        assert notes[0].startswith("New item ") and "Call the mayor" in notes[0]
        assert "Done" in notes[1] and "Carla" in notes[1]


@PATHS
def test_a_press_on_a_message_no_item_carries_is_ignored_and_writes_nothing(
        deliver: Callable[[FakeAlliance, dict[str, Any]], None]) -> None:
    """The sync a press on an unknown message costs finds no item's message there: the press
    is ignored, nothing is written anywhere, and the items are as they were."""
    with synced_copy() as alliance:
        channel = alliance.resource("slack", "channel", "actions")
        with alliance.store() as store:
            before = {i.number: i.status for i in store.list_items()}
        writes = alliance.world.writes
        deliver(alliance, {"channel": channel, "ts": "1600000000.000001", "status": "done",
                           "user": alliance.world.person(CARLA).slack_id})
        assert alliance.world.writes == writes
        with alliance.store() as store:
            assert {i.number: i.status for i in store.list_items()} == before
            assert [e.state for e in EventQueue.over(store).all()] == ["ignored"]
