"""The deferred lane: message updates, thread notes, comments and bookkeeping after every
item's visible write.

A member's move or reaction shows on the other side through one write; the card's move costs
little against Trello's limits, while the message's update (``chat.update``, Slack's tier 3)
and the thread note that says who did it (a ``chat.postMessage``, about one a second per
channel) are paced by Slack. Done item by item, a burst of changes waits behind every earlier
item's notes. So the drain makes each item's card write at once
(:func:`sync.engine.apply.apply_visible`) and hands the rest to this lane.

The lane never waits for Slack (nor Trello): each item's rest is a generator that names the
calls of its next write before making them (:func:`sync.engine.apply.rest_steps`). A step asks
the service of each call (the chat's for a note, the board's for a reply copied to the card)
how long until it could go (``ready_in``: the pacer's answer, a 429's hold included) and makes
the first write that can go now, of any item (a message update whose
item changed on the board first: the member is looking at that message). When none can go,
the step says how long until one can, and the drain serves new deliveries meanwhile. The
write itself runs under :func:`connectors.retry.without_waiting`: a 429 is given back with its
``Retry-After`` (which holds the pacer) instead of being slept through, and the item's rest
starts again when Slack is ready (a 5xx or a dropped connection: after the retry policy's
backoff), without the writes already made (the message's update is marked made, the notes
are journalled: nothing is made twice).

Order per item is kept by construction: an item with work in the lane is *busy*, and its
later deliveries wait in the queue until its rest is done (they are then read and planned
from the committed state). The lane lives in memory: its items' deliveries stay ``pending``
in the queue until their rest is done, and each item's decision is open in the journal, so a
process that dies with work in the lane loses nothing (the next drain reads, plans and carries
the open decision out; the journal's tokens keep every note and comment single).
"""

from __future__ import annotations

import math
import random
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from connectors.retry import DEFAULT_POLICY, without_waiting
from sync.core.errors import RetriableRemoteError
from sync.engine.model import SyncContext
from sync.engine.writes.appends import Call, Rest, RestSteps

# Refusals (429s, the pacing's own) and transient failures (5xx, a dropped connection) one
# item's rest may meet before its failure goes the drain's way (counted, its deliveries
# retried at the next drain): a service that keeps refusing must show, not keep an item in
# the lane for ever.
MAX_REFUSALS = 20
_JITTER = random.Random()


@dataclass(eq=False)  # one item's rest is itself: the lane finds and removes it by identity
class Deferred:
    """One item's rest (:class:`sync.engine.apply.Rest`) and the deliveries it settles.

    ``urgent``: its next write is the message update of a change made on the board (what the
    member who made it waits to see); ``steps`` and ``calls``: its rest under way, and the
    calls of its next write (asked of the pacing before they are made)."""

    rest: Rest
    events: list[int]
    urgent: bool = False
    steps: RestSteps | None = None
    calls: tuple[Call, ...] = ()
    refusals: int = 0
    not_before: float = 0.0  # after a transient failure: the lane's clock's time to retry


@dataclass(frozen=True)
class Step:
    """What one :meth:`NotesLane.step` did: ``done``, an item whose rest is complete;
    ``made``, whether a write was made; else ``wait``, the seconds until one could go."""

    done: Deferred | None = None
    made: bool = False
    wait: float = 0.0


@dataclass
class NotesLane:
    """Items whose visible writes are made and whose rest is to come, oldest first."""

    waiting: deque[Deferred] = field(default_factory=deque)
    failed: Deferred | None = None  # the item whose write raised in the last step
    clock: Callable[[], float] = time.monotonic

    def __bool__(self) -> bool:
        return bool(self.waiting)

    def __len__(self) -> int:
        return len(self.waiting)

    def add(self, deferred: Deferred) -> None:
        """Queue an item's rest (the item is busy until it is done)."""
        self.waiting.append(deferred)

    def busy(self, item_id: str) -> bool:
        """Whether ``item_id`` has work in the lane (its new deliveries wait for it)."""
        return any(d.rest.item_id == item_id for d in self.waiting)

    @property
    def event_ids(self) -> set[int]:
        """The deliveries whose item's rest is still to come (pending in the queue)."""
        return {event for d in self.waiting for event in d.events}

    def step(self, ctx: SyncContext) -> Step:
        """Make one write of the lane that can go now, never waiting for a service.

        The items are looked at urgent first, then oldest first; the pacing is asked once
        per method and channel. A write that fails for now (a 429 or the pacing: until the
        service is ready; a 5xx or a dropped connection: after the retry policy's backoff)
        keeps its item, whose rest starts again then; after :data:`MAX_REFUSALS`, or on
        any other failure, the item leaves the lane (``failed``; the exception goes on: its
        deliveries are retried, its decision is open).
        """
        self.failed = None
        known: dict[tuple[str, str, str | None], float] = {}
        soonest = math.inf
        now = self.clock()
        for deferred in sorted(self.waiting, key=lambda d: not d.urgent):
            if deferred.not_before > now:
                soonest = min(soonest, deferred.not_before - now)
                continue
            if deferred.steps is None and not self._start(ctx, deferred):
                return Step(done=deferred)
            calls = deferred.calls
            wait = max((ready_in(ctx, call, known) for call in calls), default=0.0)
            if wait > 0:
                soonest = min(soonest, wait)
                continue
            try:
                with without_waiting():
                    finished = not self._advance(deferred)
            except RetriableRemoteError as exc:
                if deferred.refusals >= MAX_REFUSALS:
                    self._fail(deferred)
                    raise
                deferred.refusals += 1
                deferred.steps, deferred.calls = None, ()  # started again when ready
                wait = wait_after(exc, deferred.refusals)
                if exc.retry_after is None:  # transient: the retry policy's backoff, here
                    deferred.not_before = self.clock() + wait
                else:  # a refusal: it holds the pacing, which is asked again
                    known.clear()
                soonest = min(soonest, wait)
                continue
            except Exception:
                self._fail(deferred)
                raise
            if finished:
                self.waiting.remove(deferred)
                return Step(done=deferred, made=True)
            return Step(made=True)
        return Step(wait=soonest if soonest < math.inf else 0.0)

    def _start(self, ctx: SyncContext, deferred: Deferred) -> bool:
        """Start an item's rest up to its first write; False if it had none (done: its
        bookkeeping is written, it leaves the lane)."""
        deferred.steps = deferred.rest.steps(ctx)
        try:
            return self._advance(deferred, start=True)
        except Exception:
            self._fail(deferred)
            raise

    def _advance(self, deferred: Deferred, *, start: bool = False) -> bool:
        """Make the item's next write (or, ``start``, none) and stop before the one after;
        False when its rest is complete."""
        assert deferred.steps is not None
        try:
            deferred.calls = next(deferred.steps)
        except StopIteration:
            if start:
                self.waiting.remove(deferred)
            deferred.steps, deferred.calls = None, ()
            return False
        if not start:
            deferred.urgent = False  # its first write made: the rest is notes
        return True

    def _fail(self, deferred: Deferred) -> None:
        self.failed = deferred
        if deferred in self.waiting:
            self.waiting.remove(deferred)


def wait_after(exc: RetriableRemoteError, refusals: int) -> float:
    """Seconds until a call refused (its pacing's hold, a 429's ``Retry-After``) or failed
    for now (a 5xx, a dropped connection: the retry policy's backoff after ``refusals``
    attempts) is tried again."""
    if exc.retry_after is not None:
        return exc.retry_after
    return DEFAULT_POLICY.backoff(refusals, _JITTER)


def ready_in(ctx: SyncContext, call: Call,
             known: dict[tuple[str, str, str | None], float] | None = None) -> float:
    """Seconds until ``call`` could go under its service's pacing (the chat's: a note, the
    channel's read; the board's: a reply copied to the card as a comment), asked once per
    service, method and channel of ``known`` (the answers of one step)."""
    known = {} if known is None else known
    key = (call.role, call.method, call.channel)
    if key not in known:
        known[key] = (ctx.board.ready_in(call.method) if call.role == "board"
                      else ctx.chat.ready_in(call.method, call.channel))
    return known[key]
