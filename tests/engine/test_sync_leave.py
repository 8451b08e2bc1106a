"""A sync that leaves some items alone (``run_sync(leave=...)``: the real-time lane is
carrying their decisions out): it plans nothing for them, yet loses nothing of theirs, because
the board-actions bookmark stays before the first action on one of their cards and the next
run reads those actions again.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sync.engine.read import prepare
from sync.engine.run import run_sync
from tests.support.fake_alliance import FakeAlliance, synced_copy
from tests.support.sync_scenario import item_ids

BRAM = "bram.visser@example.org"


@pytest.fixture
def alliance() -> Iterator[FakeAlliance]:
    with synced_copy() as made:
        yield made


def _move(alliance: FakeAlliance, number: str, status: str) -> None:
    card, _ = item_ids(alliance)[number]
    alliance.world.as_member(BRAM).move_card(card, alliance.resource("trello", "list", status))


def test_a_left_items_move_is_not_planned_and_is_read_again_by_the_next_run(
        alliance: FakeAlliance) -> None:
    with alliance.store() as store:
        bookmark = store.get_bookmark("trello", "actions")
        _move(alliance, "FRL-2", "blocked")  # before the left item's action: taken now
        _move(alliance, "FRL-3", "doing")  # the left item's
        _move(alliance, "FRL-4", "done")  # after it: taken now, read again next run
        left = store.get_item_by_number("FRL-3").id
        ctx = prepare(alliance.config, alliance.book, alliance.rows, alliance.world.trello,
                      alliance.world.slack, store, now=alliance.now)
        result = run_sync(ctx, leave=frozenset({left}))
        changed = sorted(c["item"] for c in result.changes)
        held = store.get_bookmark("trello", "actions")
        actions = alliance.world.trello.board_actions(ctx.settings.board_id, since=bookmark)
        assert [store.get_item_by_number(n).status for n in ("FRL-2", "FRL-3", "FRL-4")] == [
            "blocked", "todo", "done"]
        card = item_ids(alliance)["FRL-3"][0]
        me = ctx.settings.me_board
        first = next(i for i, a in enumerate(actions) if a.card_id == card and a.member_id != me)
        assert first > 0 and held == actions[first - 1].id  # just before FRL-3's move
    assert changed == ["FRL-2", "FRL-4"]
    again = alliance.sync().result
    assert sorted(c["item"] for c in again.changes) == ["FRL-3"]  # not lost
    assert alliance.sync().result.changes == []  # FRL-4's move read again: nothing twice
    with alliance.store() as store:
        assert store.get_item_by_number("FRL-3").status == "doing"
        audit = [e for e in store.list_audit(store.get_item_by_number("FRL-4").id)
                 if e.field == "status"]
    assert len(audit) == 1, audit
