"""The sync's three-way decision: examples and properties (hypothesis)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from playbooks.model import STATUSES
from sync.engine import pending
from sync.engine.decide import Observation, Request, decide, hold_conflicts, without_fields

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


def test_an_outranked_request_of_a_side_is_a_loser_with_its_member() -> None:
    """Two members' reactions in one run: the side shows the first, the other is a loser."""
    chat = Observation("slack", {"status": "done"}, actor="U1", at="2027-01-02T11:00",
                       outranked=(Request("status", "blocked", "U2"),))
    result = decide(BASE, [Observation("trello", dict(BASE)), chat])
    assert result.agreed["status"] == "done"
    assert [(c.winner_side, c.winner_value, c.loser_side, c.loser_value, c.loser_actor)
            for c in result.conflicts] == [("slack", "done", "slack", "blocked", "U2")]
    assert result.conflicts[0].side_values() == {"slack": "done"}


def test_outranked_requests_lose_to_another_side_too() -> None:
    """A named side's policy: the board wins, and both chat requests are recorded."""
    chat = Observation("slack", {"status": "done"}, actor="U1",
                       outranked=(Request("status", "blocked", "U2"),))
    board = Observation("trello", {**BASE, "status": "doing"}, actor="Bram")
    result = decide(BASE, [board, chat], "trello")
    assert result.agreed["status"] == "doing"
    assert sorted((c.loser_value, c.loser_actor) for c in result.conflicts) == [
        ("blocked", "U2"), ("done", "U1")]
    assert {c.winner_side for c in result.conflicts} == {"trello"}


def test_an_outranked_request_for_the_agreed_value_is_no_conflict() -> None:
    chat = Observation("slack", {"status": "done"}, actor="U1",
                       outranked=(Request("status", "blocked", "U2"),))
    board = Observation("trello", {**BASE, "status": "blocked"}, at="2027-01-09")
    result = decide(BASE, [board, chat], "trello")
    assert result.agreed["status"] == "blocked"
    assert [(c.loser_value, c.loser_actor) for c in result.conflicts] == [("done", "U1")]


def test_ask_holds_a_field_two_members_asked_differently() -> None:
    chat = Observation("slack", {"status": "done"}, actor="U1",
                       outranked=(Request("status", "blocked", "U2"),))
    held = hold_conflicts(decide(BASE, [chat]), BASE)
    assert held.agreed["status"] == "todo" and held.changes == []
    assert [c.loser_value for c in held.conflicts] == ["blocked"]
    assert without_fields([chat], {"status"})[0].outranked == ()


def test_a_resumed_decision_records_an_outranked_request_once() -> None:
    """A run died after journalling: the next sees the same reactions (and a third member's
    since). The open decision's loser is not recorded again; the new one is."""
    chat = Observation("slack", {"status": "done"}, actor="U1",
                       outranked=(Request("status", "blocked", "U2"),))
    earlier = decide(BASE, [chat])
    again = Observation("slack", {"status": "done"}, actor="U1",
                        outranked=(Request("status", "blocked", "U2"),
                                   Request("status", "cancelled", "U3")))
    fresh = pending.unseen([again], pending.seen_by([chat]))
    assert fresh and fresh[0].values == {}
    result = pending.then(earlier, decide(earlier.agreed, fresh))
    assert [(c.loser_value, c.loser_actor) for c in result.conflicts] == [
        ("blocked", "U2"), ("cancelled", "U3")]
    assert result.agreed["status"] == "done"


requests = st.lists(st.builds(Request, field=st.just("status"),
                              value=st.sampled_from(STATUSES),
                              actor=st.sampled_from(["U1", "U2", "U3"])), max_size=3)


@given(
    base=values,
    obs=observations,
    outranked=requests,
    policy=st.sampled_from(["newest", "trello", "slack", "coordinator"]),
)
def test_no_member_request_is_lost(base, obs, outranked, policy) -> None:
    """Every value a side shows and every request it outranked is agreed or a loser."""
    obs = [Observation(o.side, o.values, o.actor, o.at, tuple(outranked) if i == 0 else ())
           for i, o in enumerate(obs)]
    result = decide(base, obs, policy)
    losers = {(c.field, c.loser_side, c.loser_value, c.loser_actor) for c in result.conflicts}
    for o in obs:
        for name, value in o.values.items():
            if value != base.get(name):
                assert value == result.agreed[name] or (name, o.side, value, "") in losers
        for r in o.outranked:
            assert r.value == result.agreed[r.field] or (
                r.field, o.side, r.value, r.actor) in losers
