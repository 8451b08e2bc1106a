"""Several members asking for an item's status in one run: none of them is dropped unrecorded.

Two reactions (or a reaction and a button press, or two presses) on one message in one run,
asking for different statuses: the side's rule picks one (the last press, else the most
decisive reaction) and every other request is a conflict's loser, recorded with the member
who asked, posted in the thread and listed by ``status``, like a board-against-chat conflict.
A card moved twice between runs is not a conflict: the card shows the last move, which its
mover made seeing the first (Trello's card activity keeps both).
"""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Iterator
from typing import Any

import pytest

from sync.core.errors import RemoteError
from sync.engine.normalize import status_requests
from tests.support.fake_alliance import FakeAlliance, scratch_dir, synced_copy
from tests.support.sync_machine import serve_deliveries
from tests.support.sync_scenario import item_ids

BRAM = "bram.visser@example.org"
CARLA = "carla.mulder@example.org"
ESRA = "esra.yilmaz@example.org"


@pytest.fixture
def alliance() -> Iterator[FakeAlliance]:
    with synced_copy() as made:
        yield made


EMOJI = {"white_check_mark": "done", "no_entry": "blocked", "hourglass_flowing_sand": "doing",
         "x": "cancelled"}


def test_requests_the_last_press_first_then_reactions_by_rank() -> None:
    current = {"hourglass_flowing_sand": ["U1"], "no_entry": ["U2", "U3"],
               "white_check_mark": ["U4"], "x": ["U5"]}
    seen = {"x": ["U5"]}  # left in place from an earlier run: no request now
    assert status_requests(current, seen, EMOJI, "todo", [("blocked", "U6"), ("doing", "U7")]
                           ) == [("doing", "U7"), ("blocked", "U6"), ("done", "U4"),
                                 ("blocked", "U2"), ("blocked", "U3"), ("doing", "U1")]


def test_requests_leave_out_the_shown_status_and_a_presser_s_earlier_mind() -> None:
    presses = [("blocked", "U1"), ("doing", "U1"), ("done", "U2"), ("doing", "U2")]
    # U1's last press asks for the shown status: nothing, and his earlier press is history.
    assert status_requests({"hourglass_flowing_sand": ["U3"]}, {}, EMOJI, "doing",
                           presses) == []
    assert status_requests({}, {}, EMOJI, "doing", []) == []


def _doing(alliance: FakeAlliance, number: str) -> tuple[str, str]:
    """Move ``number`` to "doing" and sync: its card id and message ts."""
    card, ts = item_ids(alliance)[number]
    alliance.world.as_member(BRAM).move_card(card, alliance.resource("trello", "list", "doing"))
    alliance.sync()
    return card, ts


def _react(alliance: FakeAlliance, ts: str, emoji: str, who: str) -> None:
    alliance.world.as_member(who).react(alliance.resource("slack", "channel", "actions"), ts,
                                        emoji)


def _press(alliance: FakeAlliance, ts: str, *presses: tuple[str, str]) -> None:
    """Members press status buttons on the message; ``serve`` processes them as one batch."""
    channel = alliance.resource("slack", "channel", "actions")
    serve_deliveries(alliance, [
        ("slack", "button", ts, {"channel": channel, "ts": ts, "status": status,
                                 "user": alliance.world.person(who).slack_id})
        for status, who in presses])


def _outcome(alliance: FakeAlliance, number: str) -> tuple[str, list[tuple[Any, ...]], list[str]]:
    """The item's status, its conflicts (field, winner side, kept, lost) and the actors of
    its "conflict" audit lines."""
    with alliance.store() as store:
        item = store.get_item_by_number(number)
        assert item is not None
        conflicts = [(c.field, c.winner, c.side_values.get(c.winner), c.loser_value)
                     for c in store.list_conflicts(item_id=item.id)]
        actors = [a.actor for a in store.list_audit() if a.item_id == item.id
                  and a.field == "conflict"]
    return item.status, conflicts, actors


def _name(alliance: FakeAlliance, email: str) -> str:
    return next(str(p.name) for p in alliance.config.people if str(p.email) == email)


def _thread(alliance: FakeAlliance, ts: str) -> list[str]:
    channel = alliance.resource("slack", "channel", "actions")
    return [m["text"] for m in alliance.world.slack.messages[channel] if m["thread_ts"] == ts]


def test_two_members_reacting_differently_in_one_run_record_the_outranked_one(
        alliance: FakeAlliance) -> None:
    """✅ by Bram and ⛔ by Carla on a "doing" item: done wins (the more decisive), and
    Carla's blocked is a conflict's loser: stored, audited and in the result with her
    name, named in the thread."""
    _, ts = _doing(alliance, "FRL-9")
    _react(alliance, ts, "white_check_mark", BRAM)
    _react(alliance, ts, "no_entry", CARLA)
    result = alliance.sync().result
    status, conflicts, actors = _outcome(alliance, "FRL-9")
    assert status == "done"
    assert conflicts == [("status", "slack", "done", "blocked")]
    assert actors == [_name(alliance, CARLA)]
    assert [(c.item, c.loser_side, c.loser_value, c.loser_actor) for c in result.conflicts] == [
        ("FRL-9", "slack", "blocked", _name(alliance, CARLA))]
    assert any("Conflict" in line and "Carla Mulder" in line for line in _thread(alliance, ts))
    assert alliance.sync().result.conflicts == []  # recorded once


def test_the_same_member_reacting_twice_in_one_run_has_the_other_recorded(
        alliance: FakeAlliance) -> None:
    """Reactions carry no time: which of Bram's two came last is unknown, so the one not
    applied is recorded rather than guessed away."""
    _, ts = _doing(alliance, "FRL-10")
    _react(alliance, ts, "no_entry", BRAM)
    _react(alliance, ts, "white_check_mark", BRAM)
    alliance.sync()
    assert _outcome(alliance, "FRL-10")[:2] == ("done", [("status", "slack", "done", "blocked")])


def test_a_reaction_asking_for_the_shown_status_is_no_request(alliance: FakeAlliance) -> None:
    """⏳ on a "doing" item asks for nothing: Carla's ⛔ is applied, no conflict."""
    _, ts = _doing(alliance, "FRL-11")
    _react(alliance, ts, "hourglass_flowing_sand", BRAM)
    _react(alliance, ts, "no_entry", CARLA)
    alliance.sync()
    assert _outcome(alliance, "FRL-11")[:2] == ("blocked", [])


def test_a_press_wins_over_a_reaction_of_the_same_run_which_is_recorded(
        alliance: FakeAlliance) -> None:
    """Carla reacts ⛔, then (before any sync) Bram presses "Done": the press is applied and
    the reaction is its conflict's loser."""
    _, ts = _doing(alliance, "FRL-12")
    _react(alliance, ts, "no_entry", CARLA)
    _press(alliance, ts, ("done", BRAM))
    status, conflicts, actors = _outcome(alliance, "FRL-12")
    assert (status, conflicts) == ("done", [("status", "slack", "done", "blocked")])
    assert actors == [_name(alliance, CARLA)]


def test_a_press_for_the_shown_status_does_not_hide_a_reaction(alliance: FakeAlliance) -> None:
    """Bram presses "Doing" on a doing item (it asks for nothing), Carla reacted ⛔: her
    request used to be replaced by his press and vanish."""
    _, ts = _doing(alliance, "FRL-14")
    _react(alliance, ts, "no_entry", CARLA)
    _press(alliance, ts, ("doing", BRAM))
    assert _outcome(alliance, "FRL-14")[:2] == ("blocked", [])


def test_two_members_pressing_in_one_batch_record_the_earlier(alliance: FakeAlliance) -> None:
    """Presses of two members delivered in one batch: the later one is applied, the other
    member's is recorded (neither saw the other's press answered)."""
    _, ts = _doing(alliance, "FRL-15")
    _press(alliance, ts, ("blocked", CARLA), ("done", BRAM))
    status, conflicts, actors = _outcome(alliance, "FRL-15")
    assert (status, conflicts) == ("done", [("status", "slack", "done", "blocked")])
    assert actors == [_name(alliance, CARLA)]


def test_one_member_pressing_twice_changed_their_mind(alliance: FakeAlliance) -> None:
    """Bram presses "Blocked", then "Done": his first press is history, not a conflict."""
    _, ts = _doing(alliance, "FRL-16")
    _press(alliance, ts, ("blocked", BRAM), ("done", BRAM))
    assert _outcome(alliance, "FRL-16")[:2] == ("done", [])


def test_a_move_and_a_reaction_of_two_members_are_a_board_against_chat_conflict(
        alliance: FakeAlliance) -> None:
    """Esra drags the card to Blocked, Carla reacts ✅: the reaction (newer) wins and the
    move is recorded, with Esra's Trello name."""
    card, ts = _doing(alliance, "FRL-17")
    alliance.world.as_member(ESRA).move_card(card, alliance.resource("trello", "list", "blocked"))
    _react(alliance, ts, "white_check_mark", CARLA)
    alliance.sync()
    status, conflicts, actors = _outcome(alliance, "FRL-17")
    assert (status, conflicts) == ("done", [("status", "slack", "done", "blocked")])
    assert len(actors) == 1 and "Esra" in actors[0]


def test_a_move_and_two_reactions_record_both_losers(alliance: FakeAlliance) -> None:
    """Esra moves the card to Blocked, Bram reacts ✅ and Carla ⛔ (asking what the card
    shows): ✅ wins, and both Esra's move and Carla's reaction are recorded."""
    card, ts = _doing(alliance, "FRL-18")
    alliance.world.as_member(ESRA).move_card(card, alliance.resource("trello", "list", "blocked"))
    _react(alliance, ts, "white_check_mark", BRAM)
    _react(alliance, ts, "no_entry", CARLA)
    alliance.sync()
    status, conflicts, actors = _outcome(alliance, "FRL-18")
    assert status == "done"
    assert sorted(conflicts) == [("status", "slack", "done", "blocked")] * 2
    assert len(actors) == 2 and _name(alliance, CARLA) in actors


@pytest.mark.parametrize("second", [BRAM, CARLA])
def test_a_card_moved_twice_between_runs_takes_the_last_move(alliance: FakeAlliance,
                                                             second: str) -> None:
    """Bram moves the card to Blocked, then he or Carla moves it on to Done: the card shows
    Done, and the second mover saw Blocked when moving it on. Done is applied with no
    conflict; the intermediate list is the card's history in Trello, not a lost edit."""
    card, _ = _doing(alliance, "FRL-19")
    lists = {s: alliance.resource("trello", "list", s) for s in ("blocked", "done")}
    alliance.world.as_member(BRAM).move_card(card, lists["blocked"])
    alliance.world.as_member(second).move_card(card, lists["done"])
    changes = alliance.sync().result.changes
    assert _outcome(alliance, "FRL-19")[:2] == ("done", [])
    assert [(c["field"], c["new"], c["side"]) for c in changes] == [("status", "done", "trello")]


def test_two_members_reactions_survive_a_crash_at_every_write(alliance: FakeAlliance) -> None:
    """A run dying at any of its writes (before or after it takes effect), then a clean one:
    the same outcome as one clean run, Carla's request recorded exactly once."""
    _, ts = _doing(alliance, "FRL-20")
    _react(alliance, ts, "white_check_mark", BRAM)
    _react(alliance, ts, "no_entry", CARLA)
    reference = alliance.fork(scratch_dir())
    try:
        before = reference.world.writes
        reference.sync()
        writes = reference.world.writes - before
        expected = _outcome(reference, "FRL-20")
        assert expected[1] == [("status", "slack", "done", "blocked")]
    finally:
        shutil.rmtree(reference.folder, ignore_errors=True)
    assert writes > 1
    for k in range(writes):
        for drop in (False, True):
            run = alliance.fork(scratch_dir())
            try:
                (run.world.drop_after if drop else run.world.crash_after)(k)
                with contextlib.suppress(RemoteError):
                    run.sync()
                run.world.crash_after(None)
                run.sync()
                assert _outcome(run, "FRL-20") == expected, (k, drop)
            finally:
                shutil.rmtree(run.folder, ignore_errors=True)
