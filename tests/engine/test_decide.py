"""The sync's three-way decision: examples and properties (hypothesis)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from playbooks.model import STATUSES
from sync.engine.decide import Observation, decide

BASE = {"status": "todo", "due": "2027-03-01", "title": "Define the region"}


def test_nothing_changed_is_a_noop() -> None:
    result = decide(
        BASE, [Observation("trello", dict(BASE)), Observation("slack", {"status": "todo"})]
    )
    assert result.is_noop
    assert result.agreed == BASE


def test_one_side_changed_is_pushed_to_the_others() -> None:
    result = decide(
        BASE,
        [
            Observation("trello", {**BASE, "status": "done"}, actor="Ana", at="2027-01-02T10:00"),
            Observation("slack", {"status": "todo"}),
            Observation("hub", dict(BASE)),
        ],
    )
    assert result.agreed["status"] == "done"
    assert result.writes == {"slack": {"status": "done"}, "hub": {"status": "done"}}
    assert [(c.field, c.old, c.new, c.side, c.actor) for c in result.changes] == [
        ("status", "todo", "done", "trello", "Ana")
    ]
    assert result.conflicts == []


def test_both_changed_to_the_same_value_just_moves_the_base() -> None:
    result = decide(
        BASE,
        [
            Observation("trello", {**BASE, "status": "done"}),
            Observation("slack", {"status": "done"}),
        ],
    )
    assert result.agreed["status"] == "done"
    assert result.conflicts == [] and result.writes == {}


def test_conflict_newest_wins_and_loser_is_recorded() -> None:
    result = decide(
        BASE,
        [
            Observation(
                "trello", {**BASE, "status": "blocked"}, actor="Bram", at="2027-01-02T10:00"
            ),
            Observation("slack", {"status": "done"}, actor="Ana", at="2027-01-02T11:00"),
        ],
    )
    assert result.agreed["status"] == "done"
    [conflict] = result.conflicts
    assert (
        conflict.winner_side,
        conflict.loser_side,
        conflict.loser_value,
        conflict.loser_actor,
    ) == ("slack", "trello", "blocked", "Bram")
    assert result.writes == {"trello": {"status": "done"}}


def test_conflict_named_side_wins() -> None:
    observations = [
        Observation("trello", {**BASE, "status": "blocked"}, at="2027-01-01"),
        Observation("slack", {"status": "done"}, at="2027-01-09"),
    ]
    assert decide(BASE, observations, "trello").agreed["status"] == "blocked"
    assert decide(BASE, observations, "slack").agreed["status"] == "done"


def test_unknown_times_fall_back_to_side_order() -> None:
    result = decide(
        BASE,
        [
            Observation("slack", {"status": "done"}),
            Observation("hub", {**BASE, "status": "cancelled"}),
        ],
    )
    assert result.agreed["status"] == "cancelled"
    assert result.conflicts[0].loser_side == "slack"


sides = st.sampled_from(["hub", "trello", "slack"])
values = st.fixed_dictionaries(
    {
        "status": st.sampled_from(STATUSES),
        "due": st.sampled_from(["2027-03-01", "2027-04-01", None]),
    }
)
observations = st.lists(
    st.builds(
        Observation,
        side=sides,
        values=values,
        at=st.sampled_from(["", "2027-01-01T10:00", "2027-01-02T10:00"]),
    ),
    min_size=1,
    max_size=3,
    unique_by=lambda o: o.side,
)


@given(
    base=values,
    obs=observations,
    policy=st.sampled_from(["newest", "trello", "slack", "coordinator"]),
)
def test_no_member_edit_is_lost(base, obs, policy) -> None:
    """Every changed value is either the agreed value or recorded as a conflict loser."""
    result = decide(base, obs, policy)
    losers = {(c.field, c.loser_side, c.loser_value) for c in result.conflicts}
    for o in obs:
        for name, value in o.values.items():
            if value != base.get(name):
                assert value == result.agreed[name] or (name, o.side, value) in losers


@given(
    base=values,
    obs=observations,
    policy=st.sampled_from(["newest", "trello", "slack", "coordinator"]),
)
def test_applying_the_writes_converges(base, obs, policy) -> None:
    """After the writes, deciding again is a no-op: a second sync writes nothing."""
    first = decide(base, obs, policy)
    after = [Observation(o.side, {**o.values, **first.writes.get(o.side, {})}) for o in obs]
    second = decide(first.agreed, after, policy)
    assert second.is_noop
    assert all(o.values[k] == first.agreed[k] for o in after for k in o.values)
