"""Regression tests for engine bugs found by the crash-point enumeration and the state machine.

Each test is the smallest scenario on the in-memory fakes that showed the bug.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from connectors.identity import token_in
from sync.core.errors import FatalRemoteError, RemoteError
from tests.support.fake_alliance import FakeAlliance, scratch_dir, synced
from tests.support.stores import BACKENDS
from tests.support.sync_machine import serve_deliveries
from tests.support.sync_scenario import STATUSES, item_ids, member_changes


@pytest.fixture(params=BACKENDS)
def alliance(request: pytest.FixtureRequest) -> Iterator[FakeAlliance]:
    pg_url = request.getfixturevalue("pg_url") if request.param == "postgresql" else None
    made = FakeAlliance(scratch_dir(), pg_url=pg_url)
    yield made
    shutil.rmtree(made.folder, ignore_errors=True)


def _card_numbers(alliance: FakeAlliance) -> dict[str, str]:
    """Item number in each card's marker -> the number in its name."""
    found = {}
    for card in alliance.world.trello.cards_by_id.values():
        marker = card["desc"].rsplit("mcm-sync ", 1)[-1].split(" ·")[0]
        found[marker] = card["name"].split(" ·")[0]
    return found


def test_bootstrap_keeps_item_numbers_after_a_crash(alliance: FakeAlliance) -> None:
    """A run dying after the numbers were handed out but before the items were recorded
    used to give every item a new number (FRL-46..90) on the rerun, while the cards made
    before the crash showed the old one."""
    alliance.world.crash_after(60)  # a few cards made, their items not all recorded
    with pytest.raises(FatalRemoteError):
        alliance.bootstrap()
    alliance.bootstrap()
    state = alliance.state()
    numbers = sorted(int(i["number"].split("-")[1]) for i in state["items"].values())
    assert numbers == list(range(1, 46))
    assert all(marker == name for marker, name in _card_numbers(alliance).items())


def test_bootstrap_pins_the_welcome_a_dying_run_posted(alliance: FakeAlliance) -> None:
    """Posted, then killed before the pin: the rerun saw "posted" and never pinned it."""
    alliance.bootstrap()
    pin = alliance.world.log.index("slack.pin")
    again = alliance.fresh(scratch_dir())
    try:
        again.world.crash_after(pin)
        with pytest.raises(FatalRemoteError):
            again.bootstrap()
        again.bootstrap()
        general = again.resource("slack", "channel", "general")
        assert len(again.world.slack.channels[general]["pins"]) == 1
        assert again.resource("slack", "message", "welcome")
    finally:
        shutil.rmtree(again.folder, ignore_errors=True)


def _synced_with_changes(alliance: FakeAlliance) -> None:
    alliance.bootstrap()
    alliance.sync()
    member_changes(alliance)


def test_member_card_keeps_its_number_after_a_crash(alliance: FakeAlliance) -> None:
    """A sync dying while tokening a member's new card gave it a second number on resume."""
    _synced_with_changes(alliance)
    alliance.world.crash_after(0)  # the first write of the sync: tokening the new card
    with pytest.raises(FatalRemoteError):
        alliance.sync()
    alliance.sync()
    new = [c for c in alliance.world.trello.cards_by_id.values()
           if c["name"].endswith("Invite the library")]
    assert [c["name"] for c in new] == ["FRL-46 · Invite the library"]
    assert token_in(new[0]["desc"])


def test_conflict_outcome_survives_a_crash_mid_item(alliance: FakeAlliance) -> None:
    """Card moved to Done (Trello), then someone reacted "blocked" (Slack): the reaction is
    newer and wins, the move is the recorded loser. A sync dying after a card was rewritten
    but before its item was recorded used to decide again from the card it had rewritten
    itself: the member's move then vanished without a conflict. The decision is journalled
    before the writes and carried out as it was (a crash at every card update checks it)."""
    _synced_with_changes(alliance)
    reference = alliance.fork(scratch_dir())
    try:
        before = reference.world.writes
        reference.sync()
        log = reference.world.log[before:]
        assert reference.state()["conflicts"] == [("status", "slack", "done")]
        for k in [i for i, op in enumerate(log) if op == "trello.update_card"]:
            run = alliance.fork(scratch_dir())
            run.world.crash_after(k)
            with pytest.raises(RemoteError):
                run.sync()
            run.sync()
            assert run.state()["items"] == reference.state()["items"], k
            assert run.state()["conflicts"] == [("status", "slack", "done")], k
            shutil.rmtree(run.folder, ignore_errors=True)
    finally:
        shutil.rmtree(reference.folder, ignore_errors=True)


def test_a_failed_item_post_closes_its_intent(alliance: FakeAlliance) -> None:
    """A post_item that failed stayed an open intent forever."""
    alliance.bootstrap()
    alliance.world.crash_after(3)
    with pytest.raises(FatalRemoteError):
        alliance.sync()
    with alliance.store() as store:
        assert store.open_intents() == []
    alliance.sync()
    assert alliance.state()["open_intents"] == 0


def test_a_coordinator_edit_is_taken_once(alliance: FakeAlliance) -> None:
    """The file side's base never moved, so an old action-plan edit was taken again at every
    sync and reverted what a member did since."""
    alliance.bootstrap()
    alliance.sync()
    key = f"action:{alliance.rows[1].key}"
    alliance.edit_row("2", status="blocked")
    alliance.sync()
    number = alliance.state()["items"][key]["number"]
    lists = {s: alliance.resource("trello", "list", s) for s in STATUSES}
    card_id = item_ids(alliance)[number][0]
    alliance.world.as_member("bram.visser@example.org").move_card(card_id, lists["doing"])
    alliance.sync()
    alliance.sync()
    assert alliance.state()["items"][key]["status"] == "doing"
    assert alliance.world.trello.cards_by_id[card_id]["list_id"] == lists["doing"]


def test_sync_reports_progress_per_item_and_message(tmp_path: Path) -> None:
    """The CLI's progress bar is fed by the engine: every item, then every message posted."""
    from sync.runner import sync_once

    alliance = FakeAlliance(tmp_path)
    alliance.bootstrap()
    seen: list[tuple[int, int, str]] = []
    with alliance.store() as store:
        sync_once(alliance.config, alliance.book, alliance.rows, alliance.world.trello,
                  alliance.world.slack, store, now=alliance.now,
                  progress=lambda done, total, what: seen.append((done, total, what)))
    items = [entry for entry in seen if not entry[2].startswith("message")]
    messages = [entry for entry in seen if entry[2].startswith("message")]
    assert [done for done, _total, _what in items] == list(range(1, 46))
    assert {total for _done, total, _what in seen} == {45}
    assert len(messages) == 45 and messages[0][2] == "message FRL-1"


def test_a_reaction_made_while_the_run_writes_does_not_hide_a_later_one() -> None:
    """Bram moves FRL-13 to Done; while the run posts its "moved" note he reacts ✅ (the
    run read the message before: it never sees that reaction), then ⏳ (doing). The next
    run takes both as new: ✅ asks for the status FRL-13 already has, so it is no request and
    must not outrank ⏳ by priority (the doing request was lost, unrecorded)."""
    alliance = synced().fork(scratch_dir())
    try:
        world = alliance.world
        channel = alliance.resource("slack", "channel", "actions")
        card, ts = item_ids(alliance)["FRL-13"]
        bram = world.as_member("bram.visser@example.org")
        bram.move_card(card, alliance.resource("trello", "list", "done"))
        world.when_writing("slack.post_message",
                           lambda _: bram.react(channel, ts, "white_check_mark"))
        alliance.sync()
        world.forget_hooks()
        bram.react(channel, ts, "hourglass_flowing_sand")
        alliance.sync()
        with alliance.store() as store:
            item = next(i for i in store.list_items() if i.number == "FRL-13")
            lost = [c for c in store.list_conflicts(item_id=item.id) if c.loser_value == "doing"]
        assert item.status == "doing" or lost, item.status
    finally:
        shutil.rmtree(alliance.folder, ignore_errors=True)


@pytest.mark.parametrize("drop", [False, True])
def test_a_press_whose_batch_died_at_its_card_write_is_kept(drop: bool) -> None:
    """The thorough profile's example, once the machine pressed buttons: Carla presses
    "Doing" on FRL-11; serve's batch decides it, then dies at the card's update (``drop``:
    after it took effect, the answer lost). The next sync carried out the open decision but
    took the message's "no request" (it never sees a press) as the item's older status, so
    it reverted the press: the item stayed "todo", the card showed "doing", and no later
    sync put them together."""
    alliance = synced().fork(scratch_dir())
    try:
        _, ts = item_ids(alliance)["FRL-11"]
        channel = alliance.resource("slack", "channel", "actions")
        carla = alliance.world.person("carla.mulder@example.org").slack_id
        (alliance.world.drop_after if drop else alliance.world.crash_after)(0)
        with pytest.raises(RemoteError):
            serve_deliveries(alliance, [("slack", "button", ts, {
                "channel": channel, "ts": ts, "user": carla, "status": "doing"})])
        alliance.world.crash_after(None)
        alliance.sync()
        card, _ = item_ids(alliance)["FRL-11"]
        assert alliance.world.trello.cards_by_id[card]["list_id"] == alliance.resource(
            "trello", "list", "doing")
        with alliance.store() as store:
            item = store.get_item_by_number("FRL-11")
            assert item is not None and item.status == "doing"
            assert [a.actor for a in store.list_audit(item_id=item.id)
                    if a.field == "status"] == ["Carla Mulder (example)"]
        writes = alliance.world.writes
        alliance.sync()
        alliance.sync()
        assert alliance.world.writes - writes <= 1  # at most our note read back, then quiet
    finally:
        shutil.rmtree(alliance.folder, ignore_errors=True)
