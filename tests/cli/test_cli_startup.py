"""The console script's start-up holds the garbage collector back, and gives it back.

:func:`sync.cli.support.startup.hold_collector` switches the cyclic collector off and a timer
switches it on again (the loaded modules frozen first); a collector someone else switched off
stays off. ``mcm-sync``'s entry point is the one caller.
"""

from __future__ import annotations

import gc
import inspect
from collections.abc import Iterator

import pytest

from sync.cli import main as entry
from sync.cli.support.startup import hold_collector


@pytest.fixture
def collector() -> Iterator[None]:
    """Whatever a test does, the test process's collector is as it was afterwards."""
    was_on = gc.isenabled()
    yield
    gc.unfreeze()
    if was_on:
        gc.enable()
    else:
        gc.disable()


@pytest.mark.usefixtures("collector")
def test_the_collector_is_held_then_released_with_the_loaded_objects_frozen() -> None:
    gc.enable()
    gc.unfreeze()
    timer = hold_collector(0.05)
    assert timer is not None
    assert not gc.isenabled()
    timer.join(timeout=10)
    assert gc.isenabled()
    assert gc.get_freeze_count() > 0  # what was alive then is skipped by later collections


@pytest.mark.usefixtures("collector")
def test_a_collector_switched_off_by_someone_else_stays_off() -> None:
    gc.disable()
    assert hold_collector(0.01) is None
    assert not gc.isenabled()


def test_the_console_script_holds_the_collector_before_it_runs_the_command() -> None:
    body = inspect.getsource(entry.main)
    assert body.index("hold_collector()") < body.index("cli(")
