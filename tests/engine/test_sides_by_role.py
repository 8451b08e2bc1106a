"""The engine's sides are roles (hub, board, chat); what a side is stored and reported under
is its service's own name (the connector's ``service_name``).

On the in-memory fakes: one read of the example alliance after a round of members' changes
is planned twice, once under the names of the fakes (``trello``, ``slack``) and once as if
the board and chat services were others (``kanban``, ``chatroom``). The decisions are the
same; every name the plan would store or report (audit lines, changes, conflicts, the
journalled decision, new items' keys and sources) is the service's.
"""

from __future__ import annotations

import copy
import dataclasses
import shutil
from collections.abc import Iterator
from typing import Any

import pytest

from sync.core.errors import UserError
from sync.engine import pending
from sync.engine.actions import SyncPlan
from sync.engine.decide import SideNames
from sync.engine.model import Settings, Snapshot, StateView
from sync.engine.plan import plan_sync
from sync.engine.read import prepare, read, read_changes, state_view
from tests.support.fake_alliance import FakeAlliance, scratch_dir, synced
from tests.support.sync_scenario import member_changes

OTHERS = SideNames(board="kanban", chat="chatroom")
RENAMED = {"trello": "kanban", "slack": "chatroom"}


@pytest.fixture
def changed() -> Iterator[FakeAlliance]:
    """The synced example alliance after members' changes (a conflict on FRL-8 among them)."""
    alliance = synced().fork(scratch_dir())
    member_changes(alliance)
    yield alliance
    shutil.rmtree(alliance.folder, ignore_errors=True)


def _read(alliance: FakeAlliance) -> tuple[Settings, StateView, Snapshot]:
    """One incremental run's reads, through the fakes (nothing planned, nothing written)."""
    with alliance.store() as store:
        ctx = prepare(alliance.config, alliance.book, alliance.rows, alliance.world.trello,
                      alliance.world.slack, store, now=alliance.now)
        view = state_view(store, alliance.config.alliance.item_prefix, ctx.names)
        snap = read(ctx, view, read_changes(ctx, full=False), full=False)
    return ctx.settings, view, snap


def _stored(plan: SyncPlan) -> list[Any]:
    """Everything of a plan that is stored or reported under a side's name."""
    return [
        [(n.key, n.source, n.created.source) for n in plan.new_items],
        [(p.number, [(a.actor, a.source, a.field, a.old, a.new) for a in p.audit], p.changes,
          [(c.item, c.field, c.winner_side, c.loser_side, c.waiting) for c in p.conflicts()],
          p.record) for p in plan.items],
    ]


def _renamed(value: Any) -> Any:
    """``value`` with the fakes' service names replaced by the others' (``trello:<card id>``
    item keys included)."""
    if isinstance(value, str):
        service, colon, rest = value.partition(":")
        if colon and service in RENAMED:
            return f"{RENAMED[service]}:{rest}"
        return RENAMED.get(value, value)
    if isinstance(value, dict):
        return {_renamed(k): _renamed(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_renamed(v) for v in value)
    return value


def test_the_plan_stores_and_reports_under_the_services_names(changed: FakeAlliance) -> None:
    settings, view, snap = _read(changed)
    assert settings.names == SideNames(board="trello", chat="slack")  # the fakes' names
    ours = plan_sync(settings, view, snap)
    others = plan_sync(dataclasses.replace(settings, names=OTHERS), view, snap)

    # The same decisions, by role, whatever the services are called...
    assert [p.decision for p in others.items] == [p.decision for p in ours.items]
    assert ("FRL-8", "status", "chat", "board") in [
        (p.number, c.field, c.winner_side, c.loser_side)
        for p in ours.items for c in p.decision.conflicts]
    # ...recorded and reported under each service's own name.
    assert [(c.item, c.winner_side, c.loser_side) for c in ours.conflicts()] == \
        [("FRL-8", "slack", "trello")]
    assert [(c.item, c.winner_side, c.loser_side) for c in others.conflicts()] == \
        [("FRL-8", "chatroom", "kanban")]
    assert _stored(others) == _renamed(_stored(ours))
    assert any(n.key.startswith("kanban:") for n in others.new_items)
    assert {c["side"] for c in others.changes()} <= {"hub", "kanban", "chatroom"}
    # The item messages say the same (their key names the card's service, like the item's).
    assert [(m.number, m.text) for m in others.messages] == \
        [(m.number, m.text) for m in ours.messages]


def test_a_journalled_decision_is_read_back_by_role(changed: FakeAlliance) -> None:
    settings, view, snap = _read(changed)
    plan = plan_sync(dataclasses.replace(settings, names=OTHERS), view, snap)
    recorded = [p for p in plan.items if p.record is not None and p.decision.conflicts]
    assert recorded
    for item in recorded:
        assert item.record is not None
        assert {c["loser_side"] for c in item.record["conflicts"]} == {"kanban"}
        assert set(item.record["seen"]) <= {"hub", "kanban", "chatroom"}
        again = pending.decision_of(pending.in_roles(item.record, OTHERS))
        assert (again.agreed, again.changes, again.conflicts) == \
            (item.decision.agreed, item.decision.changes, item.decision.conflicts)


def test_the_conflict_policy_names_a_service_and_means_its_role(changed: FakeAlliance) -> None:
    """``conflict_policy: <service>``: that service's side wins, whatever its name."""
    settings, view, snap = _read(changed)
    config = settings.config.model_copy(update={
        "sync": settings.config.sync.model_copy(update={"conflict_policy": "kanban"})})
    plan = plan_sync(dataclasses.replace(settings, config=config, names=OTHERS), view, snap)
    assert [(c.item, c.winner_side, c.winner_value, c.loser_side) for c in plan.conflicts()] \
        == [("FRL-8", "kanban", "done", "chatroom")]
    assert OTHERS.policy("chatroom") == "chat"
    assert OTHERS.policy("coordinator") == "coordinator"
    assert OTHERS.policy("ask") == "newest"


def test_the_reads_look_the_alliance_up_under_the_connectors_names(changed: FakeAlliance) -> None:
    """A board service of another name finds nothing recorded under its name: bootstrap is
    due for it (nothing read from the other service's records, nothing called remotely)."""
    kanban = copy.copy(changed.world.trello)  # the same fake board, by another name
    kanban.service_name = "kanban"
    calls = changed.world.writes
    with changed.store() as store, pytest.raises(UserError, match="no kanban board recorded"):
        prepare(changed.config, changed.book, changed.rows, kanban, changed.world.slack, store)
    assert changed.world.writes == calls
