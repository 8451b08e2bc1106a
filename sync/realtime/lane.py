"""The deferred lane: thread notes, comments and bookkeeping after every item's visible write.

A member's move or reaction shows on the other side through one write (the card's move, the
message's update) that costs little against the vendors' limits; the thread note that says
who did it is a ``chat.postMessage``, which Slack paces at about one a second per channel.
Done item by item, a burst of changes waits behind every earlier item's notes. So the drain
makes each item's visible writes at once (:func:`sync.engine.apply.apply_visible`) and hands
the rest (:func:`sync.engine.apply.apply_rest`) to this lane, which carries out one item's
rest at a time between batches of new deliveries.

Order per item is kept by construction: an item with work in the lane is *busy*, and its
later deliveries wait in the queue until its rest is done (they are then read and planned
from the committed state). The lane lives in memory: its items' deliveries stay ``pending``
in the queue until their rest is done, and each item's decision is open in the journal, so a
process that dies with work in the lane loses nothing (the next drain reads, plans and carries
the open decision out; the journal's tokens keep every note and comment single).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from sync.engine.apply import Shown, apply_rest
from sync.engine.model import SyncContext, SyncResult


@dataclass
class Deferred:
    """One item's rest: its plan as shown, the deliveries it settles, the run it belongs to."""

    shown: Shown
    events: list[int]
    result: SyncResult


@dataclass
class NotesLane:
    """Items whose visible writes are made and whose rest is to come, oldest first."""

    waiting: deque[Deferred] = field(default_factory=deque)

    def __bool__(self) -> bool:
        return bool(self.waiting)

    def __len__(self) -> int:
        return len(self.waiting)

    def add(self, deferred: Deferred) -> None:
        """Queue an item's rest (the item is busy until it is done)."""
        self.waiting.append(deferred)

    def busy(self, item_id: str) -> bool:
        """Whether ``item_id`` has work in the lane (its new deliveries wait for it)."""
        return any(d.shown.item_id == item_id for d in self.waiting)

    @property
    def event_ids(self) -> set[int]:
        """The deliveries whose item's rest is still to come (pending in the queue)."""
        return {event for d in self.waiting for event in d.events}

    def step(self, ctx: SyncContext) -> Deferred | None:
        """Carry out the oldest item's rest; it leaves the lane even if a call fails (the
        exception goes on: its deliveries are retried, its decision is open)."""
        if not self.waiting:
            return None
        deferred = self.waiting.popleft()
        apply_rest(ctx, deferred.shown, deferred.result)
        return deferred

    def flush(self, ctx: SyncContext) -> list[int]:
        """Every item's rest (before a whole sync, which must see the bookkeeping done);
        the deliveries settled."""
        settled: list[int] = []
        while (done := self.step(ctx)) is not None:
            settled += done.events
        return settled
