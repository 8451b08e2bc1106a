"""Crash-point enumeration on the in-memory fakes (issues 4 and 5).

A full bootstrap of the example alliance makes N writes; for every k in 0..N-1 the (k+1)-th
write fails (before it takes effect), the run dies, and a new process (the state store
reopened from its file, new engine objects; the remote data kept) runs bootstrap again. The
result must be exactly the uninterrupted run's: one board, one card per item with its whole
checklist, one channel of each kind, one pinned welcome message, one audience with its merge
fields and tags, the same item numbers. The same with the answer lost after the write took
effect, and for a sync after members' changes in Trello and Slack and the coordinator's edits.

Every test runs on both state backends. On PostgreSQL the bootstrap enumeration crashes at
every tenth write only (PG_STRIDE) and loses every third answer of the sample: the journal's
code path is the same for every write of a kind, SQLite covers every position, and a
PostgreSQL bootstrap costs ~0.5 s in round trips. The sync enumerations crash at every write
on SQLite and at every second one on PostgreSQL.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from sync.core.errors import FatalRemoteError, RemoteError
from tests.support.fake_alliance import FakeAlliance, scratch_dir
from tests.support.stores import BACKENDS
from tests.support.sync_scenario import member_changes

CHUNKS = 4  # the enumerations are split so that xdist can spread them over its workers
PG_STRIDE = 10  # on PostgreSQL, the bootstrap is crashed at every tenth write


@pytest.fixture(scope="module", params=BACKENDS)
def pg(request: pytest.FixtureRequest) -> str | None:
    """The PostgreSQL server's URL for the ``postgresql`` run, None for SQLite."""
    return request.getfixturevalue("pg_url") if request.param == "postgresql" else None


@dataclass
class Reference:
    """An uninterrupted run: where it started, its writes, and what it left."""

    start: FakeAlliance
    writes: list[str]
    inventory: dict[str, Any]
    state: dict[str, Any]


@pytest.fixture(scope="module")
def folders() -> Iterator[list[Any]]:
    """Scratch folders made by a module's tests, removed at the end."""
    made: list[Any] = []
    yield made
    for folder in made:
        shutil.rmtree(folder, ignore_errors=True)


def _scratch(folders: list[Any]) -> Any:
    folder = scratch_dir()
    folders.append(folder)
    return folder


@pytest.fixture(scope="module")
def bootstrap_ref(folders: list[Any], pg: str | None) -> Reference:
    """A clean bootstrap of the example alliance on empty fakes."""
    start = FakeAlliance(_scratch(folders), pg_url=pg)
    done = start.fresh(_scratch(folders))
    done.bootstrap()
    return Reference(start, list(done.world.log), done.inventory(), done.state())


@pytest.fixture(scope="module")
def sync_ref(folders: list[Any], pg: str | None) -> Reference:
    """Bootstrap, a first sync, then members' and the coordinator's changes, then one sync."""
    start = FakeAlliance(_scratch(folders), pg_url=pg)
    start.bootstrap()
    start.sync()
    member_changes(start)
    done = start.fork(_scratch(folders))
    before = done.world.writes
    done.sync()
    return Reference(start, done.world.log[before:], done.inventory(), done.state())


def _checked(alliance: FakeAlliance, ref: Reference, where: str) -> None:
    assert alliance.inventory() == ref.inventory, where
    assert alliance.state() == ref.state, where


def test_bootstrap_reference_makes_everything_once(bootstrap_ref: Reference) -> None:
    inventory, state = bootstrap_ref.inventory, bootstrap_ref.state
    assert len(inventory["boards"]) == 1
    assert inventory["lists"] == ["Blocked", "Cancelled", "Done", "In progress", "To do"]
    assert "untokened" not in inventory["cards"]
    assert len(inventory["cards"]) == len(state["items"]) == 45
    assert all(len(cards) == 1 for cards in inventory["cards"].values())
    assert [name for name, *_ in inventory["channels"]] == ["frl-actions", "frl-alliance"]
    assert [key.split(":")[0] for key in inventory["messages"]] == ["frl-alliance"]
    assert len(inventory["audiences"]) == 1
    numbers = sorted(int(item["number"].split("-")[1]) for item in state["items"].values())
    assert numbers == list(range(1, 46))
    # Every checklist is complete: as many check items as the uninterrupted run wrote.
    items = sum(len(names) for cards in inventory["cards"].values() for card in cards
                for _, names in card["checklists"])
    assert items == bootstrap_ref.writes.count("trello.add_checkitem")


@pytest.mark.parametrize("chunk", range(CHUNKS))
def test_bootstrap_killed_at_every_write(bootstrap_ref: Reference, folders: list[Any],
                                         chunk: int, pg: str | None) -> None:
    """The (k+1)-th write fails, for every k; a new process runs bootstrap again."""
    step = CHUNKS * (PG_STRIDE if pg else 1)
    for k in range(chunk, len(bootstrap_ref.writes), step):
        alliance = bootstrap_ref.start.fresh(_scratch(folders))
        alliance.world.crash_after(k)
        with pytest.raises(FatalRemoteError):
            alliance.bootstrap()
        assert alliance.world.writes == k + 1
        alliance.bootstrap()
        _checked(alliance, bootstrap_ref, f"crash at write {k} ({bootstrap_ref.writes[k]})")
        if k % 8 == chunk:  # a third run changes nothing (sampled: the state is the same)
            writes = alliance.world.writes
            assert alliance.bootstrap().creates() == 0
            assert alliance.world.writes == writes, f"third run wrote again after crash at {k}"
        shutil.rmtree(alliance.folder)


def _lost_answer_points(writes: list[str]) -> list[int]:
    """The first two and the last write of each kind, and the first and last check item of
    the first and the last checklist: a lost answer takes the same adoption path for every
    write of one kind, and the full enumeration above already covers every position."""
    points: set[int] = set()
    for op in set(writes):
        found = [k for k, name in enumerate(writes) if name == op]
        points.update(found[:2] + found[-1:])
    starts = [k for k, op in enumerate(writes) if op == "trello.create_checklist"]
    for start in (starts[0], starts[-1]):
        end = start + 1
        while end < len(writes) and writes[end] == "trello.add_checkitem":
            end += 1
        points.update({start + 1, end - 1})
    return sorted(points)


def test_bootstrap_answer_lost(bootstrap_ref: Reference, folders: list[Any],
                               pg: str | None) -> None:
    """The write takes effect, its answer is lost, the run dies; the rerun adopts it."""
    for k in _lost_answer_points(bootstrap_ref.writes)[::3 if pg else 1]:
        alliance = bootstrap_ref.start.fresh(_scratch(folders))
        alliance.world.drop_after(k)
        with pytest.raises(RemoteError):
            alliance.bootstrap()
        alliance.bootstrap()
        _checked(alliance, bootstrap_ref, f"answer lost at write {k} ({bootstrap_ref.writes[k]})")
        shutil.rmtree(alliance.folder)


def test_sync_reference(sync_ref: Reference, folders: list[Any]) -> None:
    """The uninterrupted sync applied every change, and a further sync writes nothing."""
    items = {item["number"]: item for item in sync_ref.state["items"].values()}
    assert items["FRL-1"]["status"] == "doing"
    assert items["FRL-2"]["status"] == "cancelled"
    assert items["FRL-3"]["due"] == "2027-05-01"
    assert items["FRL-4"]["title"] == "A better title"
    assert items["FRL-5"]["status"] == "done"
    # Moved to Done in Trello, then ⛔ in Slack: the reaction is newer (first seen by this
    # sync, after the move's time), so it wins and the move is the recorded loser (issue 13).
    assert items["FRL-8"]["status"] == "blocked"
    assert len(items) == 46  # the member's new card became an item
    assert sync_ref.state["conflicts"] == [("status", "slack", "done")]
    assert all(len(cards) == 1 for cards in sync_ref.inventory["cards"].values())
    assert "untokened" not in sync_ref.inventory["cards"]
    assert all(len(texts) == 1 for texts in sync_ref.inventory["messages"].values())
    again = sync_ref.start.fork(_scratch(folders))
    again.sync()
    writes = again.world.writes
    again.sync()
    assert again.world.writes == writes


@pytest.mark.parametrize("mode", ["fail", "drop"])
def test_sync_crashed_at_every_write(sync_ref: Reference, folders: list[Any], mode: str,
                                     pg: str | None) -> None:
    """A sync after members' changes dies at each of its writes; the next sync completes it."""
    for k in range(0, len(sync_ref.writes), 2 if pg else 1):
        alliance = sync_ref.start.fork(_scratch(folders))
        if mode == "fail":
            alliance.world.crash_after(k)
        else:
            alliance.world.drop_after(k)
        with pytest.raises(RemoteError):
            alliance.sync()
        alliance.sync()
        _checked(alliance, sync_ref, f"{mode} at sync write {k} ({sync_ref.writes[k]})")
        writes = alliance.world.writes
        alliance.sync()
        assert alliance.world.writes == writes, f"{mode} at {k}: a further sync wrote again"
        shutil.rmtree(alliance.folder)
