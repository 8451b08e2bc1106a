"""The workers run whatever alliance the factory they are handed makes (sync.fleet imports
nothing of the library face): the factory is called with the config, the worker's command and
kept connections, its alliance parsed once while its files are unchanged and closed when
forgotten; a turn's outcome is read from the alliance's ``work()``."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from sync.core.config import Config
from sync.fleet.jobs import RunFailed
from sync.fleet.worker import Worker
from sync.realtime.hosted import WorkOutcome
from sync.realtime.process import Drained
from sync.state.events import EventQueue
from tests.support.alliance import example_config


class Recorded:
    """A :class:`~sync.realtime.hosted.HostedAlliance` that records what the worker asks."""

    def __init__(self, config: Config, command: str = "", *,
                 keep_connections: bool = False) -> None:
        self.config = config
        self.command = command
        self.keep_connections = keep_connections
        self.turns: list[bool] = []
        self.validated = self.closed = 0
        self.drained = Drained()

    @property
    def playbook(self) -> Any:
        """Not read by a worker."""
        raise AssertionError("a worker's turn needs no playbook of its own")

    @property
    def rows(self) -> list[Any]:
        """Not read by a worker."""
        raise AssertionError("a worker's turn needs no rows of its own")

    def validate(self) -> None:
        """Counted: the worker checks the inputs once per parse."""
        self.validated += 1

    @contextmanager
    def store(self, *, bind: bool = False) -> Iterator[Any]:
        """Not opened by a worker (work() does)."""
        raise AssertionError("the worker opens no store itself")
        yield

    def work(self, *, scheduled: bool, sandbox: bool | None = None,
             stopped: Callable[[], bool] = lambda: False) -> WorkOutcome:
        """One turn: recorded, with the deliveries set by the test."""
        self.turns.append(scheduled)
        return WorkOutcome(self.drained)

    def close(self) -> None:
        """Counted: a forgotten alliance's connections are closed."""
        self.closed += 1


@pytest.fixture
def made(tmp_path: Path) -> tuple[Worker, list[Recorded]]:
    folder = tmp_path / "alliances"
    folder.mkdir()
    example_config(tmp_path).rename(folder / "north.yaml")
    alliances: list[Recorded] = []

    def factory(config: Config, command: str = "mcm-sync", *,
                keep_connections: bool = False) -> Recorded:
        alliances.append(Recorded(config, command, keep_connections=keep_connections))
        return alliances[-1]

    return Worker(folder, factory), alliances


def test_the_worker_runs_the_alliance_its_factory_makes(
        made: tuple[Worker, list[Recorded]]) -> None:
    worker, alliances = made
    assert worker.run_alliance("north", scheduled=False) == "idle"
    alliances[0].drained = Drained(processed=3, batches=1)
    assert worker.run_alliance("north", scheduled=True) == "events"
    assert len(alliances) == 1  # parsed once while its files are unchanged
    north = alliances[0]
    assert north.turns == [False, True] and north.validated == 1
    assert north.command == "mcm-sync worker (north)" and north.keep_connections
    assert north.config.alliance.slug


def test_a_failed_turn_forgets_the_alliance_and_closes_it(
        made: tuple[Worker, list[Recorded]]) -> None:
    worker, alliances = made
    worker.run_alliance("north", scheduled=False)
    alliances[0].drained = Drained(processed=1, batches=1, errors=["trello: 503"])
    with pytest.raises(RunFailed, match="trello: 503"):
        worker.run_alliance("north", scheduled=False)
    assert alliances[0].closed == 1
    worker.run_alliance("north", scheduled=False)
    assert len(alliances) == 2  # made afresh after the failure
    worker.close()
    assert alliances[1].closed == 1


def _settle(state: Path) -> None:
    """Back-date a store's files, as if last written a minute ago."""
    old = time.time() - 60
    for name in (state.name, f"{state.name}-wal", f"{state.name}-shm"):
        if state.with_name(name).exists():
            os.utime(state.with_name(name), (old, old))


def test_a_lone_worker_looks_again_only_at_a_store_written_since_its_last_look(
        made: tuple[Worker, list[Recorded]]) -> None:
    worker, alliances = made
    worker.cycle()  # the first pass: the alliance is due
    north = alliances[0]
    state = north.config.state_path
    EventQueue(state).close()  # a real SQLite store, as serve makes it
    _settle(state)
    worker.cycle()
    worker.cycle()
    assert north.turns == [True, False]  # the second look skipped: nothing was written
    with EventQueue(state) as queue:  # a delivery, as serve --alliances stores it
        assert queue.put("trello", "action-1", "updateCard", "FRL-1", {"id": "action-1"})
    worker.cycle()
    assert north.turns == [True, False, False]  # written since the look: looked again
    worker.cycle()  # files written under SETTLED_NS ago are not trusted: looked again
    assert north.turns == [True, False, False, False]
    _settle(state)
    worker.cycle()
    worker.cycle()
    assert north.turns == [True, False, False, False, False]
    config = worker.configs()["north"]
    config.write_text(config.read_text(encoding="utf-8") + "# edited\n", encoding="utf-8")
    worker.cycle()  # a changed config: parsed again and looked at
    assert len(alliances) == 2 and alliances[1].turns == [False]


def test_the_parsed_alliances_are_frozen_once_idle_and_a_replaced_one_freed(
        made: tuple[Worker, list[Recorded]], monkeypatch: pytest.MonkeyPatch) -> None:
    import gc
    import weakref

    from sync.fleet import worker as worker_module

    worker, alliances = made
    monkeypatch.setattr(worker_module, "FREEZE_AFTER", 0.0)
    try:
        gc.unfreeze()
        worker.run_alliance("north", scheduled=True)
        worker._freeze_parsed()
        assert gc.get_freeze_count() > 0  # out of the full collections' sight
        gc.unfreeze()
        worker._freeze_parsed()
        assert gc.get_freeze_count() == 0  # nothing parsed since: nothing done
        first = weakref.ref(alliances[0])
        alliances[0].cycle = alliances[0]  # type: ignore[attr-defined]  # a cycle only the collector frees
        path = worker.configs()["north"]
        path.write_text(path.read_text(encoding="utf-8") + "\n", encoding="utf-8")
        worker.run_alliance("north", scheduled=True)  # its config changed: parsed again
        assert len(alliances) == 2
        del alliances[0]
        worker._freeze_parsed()
        assert first() is None and gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
