"""The ``mcm-sync`` process's start-up: the cyclic garbage collector held back while it loads.

A quiet ``mcm-sync sync`` imports some 700 modules and builds the config's and the playbook's
pydantic models: a few hundred thousand container objects, nearly all of which live until the
process exits. CPython's collector counts them as they are made and, every 700, traverses the
young ones, every tenth time the older ones too: measured on the quiet sync (``gc.callbacks``),
136 young, 12 middle and 1 full collection, 40-80 ms of a run of about half a second, that
free next to nothing.

So the console script switches the collector off before it loads anything, and a timer thread
switches it back on after :data:`HELD_FOR` seconds, having first moved everything alive by then
into the permanent generation (``gc.freeze()``: later collections do not traverse the loaded
modules again). A run that ends within that time (a quiet sync, ``--version``, ``status``)
never collects; one that goes on (``serve``, ``worker``, ``sync --watch``, a large bootstrap)
collects as usual from then on. Memory is not at stake: an object is still freed as soon as
the last reference to it goes; the collector is only needed for reference cycles, and a
second of start-up makes few of those. The in-process API (:mod:`sync.api`) and the tests
never call this: it is the console script's alone.
"""

from __future__ import annotations

import gc
import threading

# Seconds of start-up without cyclic collection: longer than a quiet sync takes on a busy
# machine, short enough that a long-running command soon collects as usual.
HELD_FOR = 1.0


def hold_collector(seconds: float = HELD_FOR) -> threading.Timer | None:
    """Switch the cyclic collector off for ``seconds`` (then :func:`release_collector`).

    Returns the timer that releases it, or None when the collector was off already (someone
    who switched it off meant it: it is left off).
    """
    if not gc.isenabled():
        return None
    gc.disable()
    timer = threading.Timer(seconds, release_collector)
    timer.daemon = True  # never keeps a finished command's process alive
    timer.start()
    return timer


def release_collector() -> None:
    """Freeze what start-up loaded (later collections skip it) and collect as usual again."""
    gc.freeze()
    gc.enable()
