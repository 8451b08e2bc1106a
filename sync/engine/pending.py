"""An item's decision written ahead of its remote writes, and carried out again after a crash.

A run journals each item's decision (the agreed values, the changes, the conflicts and what
every side showed) before it writes to Trello and Slack, and commits the item's bookkeeping
after. A run that dies in between leaves the decision open. The next run must not decide
again from what the sides show then: its own half-made writes would look like a member's
change, and a conflict's loser (say a Trello move that a later ⛔ outvoted, already rewritten
on the card) would vanish without a trace. So it takes the open decision as it was, and
decides only what is new since: the values a side shows that the open decision had not seen.

The journal holds the sides under their stored names (``trello``, ``slack``: what a run of
before wrote too); :func:`record` writes them so and :func:`in_roles` reads them back as the
engine's roles, both through :class:`sync.engine.decide.SideNames`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sync.engine.decide import Change, Conflict, Decision, Observation, SideNames


def record(decision: Decision, held: Sequence[str],
           seen: Mapping[str, Mapping[str, Any]], names: SideNames) -> dict[str, Any]:
    """The journal detail of a decision (JSON-ready), its sides under their stored names."""
    return _renamed({
        "agreed": dict(decision.agreed),
        "changes": [dataclasses.asdict(c) for c in decision.changes],
        "conflicts": [dataclasses.asdict(c) for c in decision.conflicts],
        "held": sorted(held),
        "seen": {side: dict(values) for side, values in seen.items()},
    }, names.stored)


def in_roles(detail: Mapping[str, Any], names: SideNames) -> dict[str, Any]:
    """A journal detail of :func:`record` with its sides named by role again."""
    return _renamed(detail, names.role)


def _renamed(detail: Mapping[str, Any], rename: Callable[[str], str]) -> dict[str, Any]:
    """``detail`` with every side name in it (the changes', conflicts' and seen sides) renamed."""
    renamed = dict(detail)
    if "changes" in detail:
        renamed["changes"] = [{**c, "side": rename(c["side"])} for c in detail["changes"]]
    if "conflicts" in detail:
        renamed["conflicts"] = [{**c, "winner_side": rename(c["winner_side"]),
                                 "loser_side": rename(c["loser_side"])}
                                for c in detail["conflicts"]]
    if "seen" in detail:
        renamed["seen"] = {rename(side): dict(values) for side, values in detail["seen"].items()}
    return renamed


def decision_of(detail: Mapping[str, Any]) -> Decision:
    """The decision a journal detail holds."""
    return Decision(agreed=dict(detail["agreed"]),
                    changes=[Change(**c) for c in detail.get("changes", [])],
                    conflicts=[Conflict(**c) for c in detail.get("conflicts", [])])


def seen_by(observations: Sequence[Observation]) -> dict[str, dict[str, Any]]:
    """What each side showed when a decision was taken."""
    return {o.side: dict(o.values) for o in observations}


def unseen(observations: Sequence[Observation],
           seen: Mapping[str, Mapping[str, Any]]) -> list[Observation]:
    """Only the values each side shows that the open decision had not seen.

    A side's outranked requests stay (a third member's reaction since must be recorded too):
    those the open decision recorded already are left out by :func:`then`."""
    fresh = []
    for obs in observations:
        before = seen.get(obs.side, {})
        values = {k: v for k, v in obs.values.items() if k not in before or before[k] != v}
        if values or obs.outranked:
            fresh.append(Observation(obs.side, values, obs.actor, obs.at, obs.outranked))
    return fresh


def then(earlier: Decision, later: Decision) -> Decision:
    """The open decision followed by what was decided since (over its agreed values); a
    losing request the open decision recorded already is not recorded twice."""
    again = [c for c in later.conflicts if not any(c.same_loser(e) for e in earlier.conflicts)]
    return Decision(agreed=dict(later.agreed), changes=[*earlier.changes, *later.changes],
                    conflicts=[*earlier.conflicts, *again])


def merged_seen(earlier: Mapping[str, Mapping[str, Any]],
                now: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """What the sides showed, the open decision's view updated with this run's."""
    sides = {side: dict(values) for side, values in earlier.items()}
    for side, values in now.items():
        sides.setdefault(side, {}).update(values)
    return sides
