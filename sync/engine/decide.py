"""Who wins: the three-way, per-field decision of the sync, as a pure function.

For one item, every side (the hub — the coordinator's state and action-plan file —, the
board and the chat service) reports the current value of the fields it carries. The *base*
is the value all sides agreed at the last sync. Per field (vdirsyncer's rule, by value and
not by activity):

- no side differs from the base: nothing to do;
- the sides that changed all changed to the same value: that is the new agreed value;
- they changed to different values: a conflict. The policy picks the winner (``newest``:
  the change with the latest known time, else the fixed side order; or one named side
  always wins). The losing values are returned as :class:`Conflict` records, never dropped.

One side may carry several people's requests for a field at once (two members react ✅ and
⛔ on one message in one run): the side's own rule ranks them, its observation shows the
first, and the others are its :attr:`Observation.outranked` requests. Each of those asking
for another value than the agreed one is a conflict's loser too, with the person who asked.

The result also says which sides must be written so that all of them show the agreed value.

The engine names its sides by role (:data:`Side`: ``hub``, ``board``, ``chat``): the logic is
the same whichever service plays a role. What a side is stored and reported under is the
service's own name (``trello``, ``slack``: its connector's ``service_name``), and
:class:`SideNames` is the one place that translates between the two, at the engine's edges
(reading the state, writing it, reporting).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

Side = Literal["hub", "board", "chat"]
# Who wins a conflict: the newest change, or always one side ("coordinator": the hub). The
# config's ``conflict_policy`` names services; SideNames.policy maps it onto these.
Policy = Literal["newest", "coordinator", "hub", "board", "chat"]
# When times are unknown or equal, the coordinator's deliberate edit outranks a member's,
# and a card (richer, edited on purpose) outranks a reaction.
SIDE_ORDER: tuple[Side, ...] = ("hub", "board", "chat")


@dataclass(frozen=True)
class SideNames:
    """The names the engine's sides are stored and reported under: ``hub`` for the hub, the
    board and chat services' own names for theirs (their connectors' ``service_name``, taken
    by :func:`sync.engine.reading.context.prepare`). The engine's one translation between
    roles and stored names: :meth:`stored` on the way out (state rows, journal, conflicts,
    audit, ``--json``), :meth:`role` on the way in (the state view), :meth:`policy` for the
    config's policy."""

    board: str
    chat: str

    def stored(self, side: str) -> str:
        """The name a side (a role) is stored and reported under; any other name as it is."""
        return {"board": self.board, "chat": self.chat}.get(side, side)

    def role(self, name: str) -> str:
        """The role of a stored side name (``trello`` -> ``board``); any other name as it is
        (``hub``, and ``file``: the action-plan row the hub's side records)."""
        return {self.board: "board", self.chat: "chat"}.get(name, name)

    def policy(self, configured: str) -> Policy:
        """The config's ``conflict_policy`` (which names services) as the engine's: a
        service's name becomes its role, ``ask`` decides as ``newest`` (then holds)."""
        found = self.role(configured)
        return "board" if found == "board" else "chat" if found == "chat" \
            else "coordinator" if found == "coordinator" else "newest"


@dataclass(frozen=True)
class Request:
    """A value one person asked for on a side, which that side's own rule ranked below
    another request (so it is not the side's value): recorded as a loser unless agreed."""

    field: str
    value: Any
    actor: str


@dataclass(frozen=True)
class Observation:
    """What one side shows now: the fields it carries, who changed it and when (if known),
    and the other people's requests on this side that its value outranked."""

    side: Side
    values: Mapping[str, Any]
    actor: str = ""
    at: str = ""
    outranked: tuple[Request, ...] = ()


@dataclass(frozen=True)
class Conflict:
    """A field two sides changed to different values since the last sync.

    Its sides are roles as :func:`decide` gives them, and the services' names once the plan
    records and reports it (:meth:`sync.engine.actions.ItemPlan.conflict`): what the state
    store, the audit trail and ``--json`` have always held."""

    field: str
    winner_side: str
    winner_value: Any
    loser_side: str
    loser_value: Any
    loser_actor: str = ""
    # Filled in by the plan (decide is per item and knows neither): the item's number, and
    # whether the conflict waits for a decision (policy "ask": nothing was applied).
    item: str = ""
    waiting: bool = False

    def side_values(self) -> dict[str, Any]:
        """Each side's value as the state store keeps it (``side -> value``). When both
        values came from one side (two members' requests in Slack), that side shows the
        winner's value and the loser's is the conflict's ``loser_value`` alone."""
        return {self.loser_side: self.loser_value, self.winner_side: self.winner_value}

    def same_loser(self, other: Conflict) -> bool:
        """True when ``other`` records the same losing request (field, side, value, person)."""
        return (self.field, self.loser_side, self.loser_value, self.loser_actor) == (
            other.field, other.loser_side, other.loser_value, other.loser_actor)


@dataclass(frozen=True)
class Change:
    """A field whose agreed value changes, and the side (and person) it came from."""

    field: str
    old: Any
    new: Any
    side: Side
    actor: str = ""


@dataclass
class Decision:
    """The outcome for one item."""

    agreed: dict[str, Any]
    changes: list[Change] = field(default_factory=list)
    conflicts: list[Conflict] = field(default_factory=list)
    writes: dict[Side, dict[str, Any]] = field(default_factory=dict)

    @property
    def is_noop(self) -> bool:
        """True when nothing changes and nothing needs writing."""
        return not self.changes and not self.writes


def _winner(changed: Sequence[Observation], policy: Policy) -> Observation:
    # The named side wins (the coordinator is the hub); decide compares sides by label only,
    # so it holds for any labels the caller gives its observations.
    preferred = "hub" if policy == "coordinator" else policy
    if policy != "newest":
        for obs in changed:
            if obs.side == preferred:
                return obs
    rank = {side: i for i, side in enumerate(SIDE_ORDER)}
    # Newest first where times are known (ISO strings compare in time order); a change with
    # a known time beats one without; then the fixed side order.
    return sorted(changed, key=lambda o: (o.at == "", _neg(o.at),
                                          rank.get(o.side, len(rank))))[0]


def _neg(text: str) -> tuple[int, ...]:
    return tuple(-ord(ch) for ch in text)


def decide(
    base: Mapping[str, Any], observations: Sequence[Observation], policy: Policy = "newest"
) -> Decision:
    """The agreed value per field, the changes, the conflicts and the writes per side."""
    agreed = dict(base)
    decision = Decision(agreed=agreed)
    fields = list(base)
    for obs in observations:
        fields += [f for f in obs.values if f not in fields]
        fields += [r.field for r in obs.outranked if r.field not in fields]
    for name in fields:
        old = base.get(name)
        changed = [o for o in observations if name in o.values and o.values[name] != old]
        new, winner_side = old, None
        if changed:
            winner = _winner(changed, policy)
            new, winner_side = winner.values[name], winner.side
            agreed[name] = new
            decision.changes.append(Change(name, old, new, winner.side, winner.actor))
            for obs in changed:
                if obs.values[name] != new:
                    decision.conflicts.append(
                        Conflict(name, winner.side, new, obs.side, obs.values[name], obs.actor)
                    )
        for obs in observations:
            for request in obs.outranked:
                if request.field == name and request.value != new:
                    # Nothing changed the field (a request left after the side's first was
                    # already decided): the value kept is the one its own side shows.
                    decision.conflicts.append(Conflict(
                        name, winner_side or obs.side, new, obs.side, request.value,
                        request.actor))
    for obs in observations:
        stale = {f: agreed[f] for f in obs.values if f in agreed and obs.values[f] != agreed[f]}
        if stale:
            decision.writes[obs.side] = stale
    return decision


def hold_conflicts(decision: Decision, base: Mapping[str, Any]) -> Decision:
    """The ``ask`` policy: conflicted fields keep their base value until someone decides.

    The conflicts stay in the decision (to be recorded as unresolved); the changes to those
    fields are dropped, so no side is overwritten with either contested value.
    """
    held = {c.field for c in decision.conflicts}
    if not held:
        return decision
    agreed = {**decision.agreed, **{f: base.get(f) for f in held}}
    return Decision(
        agreed=agreed,
        changes=[c for c in decision.changes if c.field not in held],
        conflicts=list(decision.conflicts),
        writes={side: {f: v for f, v in w.items() if f not in held}
                for side, w in decision.writes.items()
                if any(f not in held for f in w)},
    )


def without_fields(observations: Sequence[Observation], fields: set[str]) -> list[Observation]:
    """Observations with ``fields`` left out (fields whose conflict awaits a decision)."""
    if not fields:
        return list(observations)
    return [Observation(o.side, {k: v for k, v in o.values.items() if k not in fields},
                        o.actor, o.at, tuple(r for r in o.outranked if r.field not in fields))
            for o in observations]
