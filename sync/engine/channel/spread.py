"""A distributed Slack app's channel reads, spread over runs (pure: data in, data out).

Slack holds an app commercially distributed outside its Marketplace to one
``conversations.history`` call a minute, 15 messages a page (``slack.app_distribution:
distributed``). Reading the actions channel whole at every run, as an internal app's sync
does, would be minutes of waiting per run. So such a run makes one history read:

- the **incremental read** (every message newer than the newest item message we recorded,
  ``oldest=``), when the run may post an item's message: it finds a message a crashed run
  posted and never recorded, so that it is adopted, not posted twice;
- otherwise one page of the **reconciliation** (:class:`Sweep`): the channel read back a
  page per run, from the newest message to the first, then again; where it stands is kept in
  the state store, and a run says how far it got.

A run judges only what it read: an item whose message lies in a stretch of the channel that
this run read (:func:`covers`) and is not there is gone (posted again); one whose message lies
outside it is *unread* (:func:`unread_tokens`): neither gone nor changed, its message still
updated when the item changes. Reactions on old messages reach the cards by event with
``serve``, and by the reconciliation's page when it gets to them otherwise.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from connectors.base import ChatMessage, HistoryPage
from connectors.identity import make_token
from sync.engine.decide import SideNames
from sync.engine.model import StateView

THE_SWEEP = "sweep"  # the bookmark's scope: where the reconciliation's next page starts
THREADS_PER_RUN = 1  # conversations.replies: one call a minute as well


def sweep_bookmark(names: SideNames) -> tuple[str, str]:
    """The reconciliation's bookmark: under the chat service's name (``slack``, ``sweep``)."""
    return names.chat, THE_SWEEP


def ts_order(ts: str) -> tuple[int, int]:
    """A Slack ts ("1716212345.000200") as a sortable pair, exact; "" sorts first."""
    seconds, _, fraction = (ts or "0").partition(".")
    return int(seconds or 0), int(fraction or 0)


@dataclass(frozen=True)
class Stretch:
    """A stretch of the channel read whole: every message with ``low`` < ts < ``high``
    (``low`` "": from the channel's first message; ``high`` "": up to the newest;
    ``from_low``: the message at ``low`` was read too)."""

    low: str = ""
    high: str = ""
    from_low: bool = False

    def holds(self, ts: str) -> bool:
        """Whether a message ``ts`` lies inside."""
        key = ts_order(ts)
        above = not self.low or key > ts_order(self.low) or (
            self.from_low and key == ts_order(self.low))
        return above and (not self.high or key < ts_order(self.high))


def covers(stretches: Sequence[Stretch], ts: str) -> bool:
    """Whether a message ``ts`` lies in a stretch this run read."""
    return any(stretch.holds(ts) for stretch in stretches)


@dataclass(frozen=True)
class Sweep:
    """Where the reconciliation stands: the next page reads messages older than ``before``
    ("": the pass starts at the newest); ``page``: pages read in this pass; ``passes``:
    passes finished."""

    before: str = ""
    page: int = 0
    passes: int = 0

    @classmethod
    def load(cls, text: str | None) -> Sweep:
        """The bookmark's value as a sweep (a missing or unreadable one: a fresh pass)."""
        try:
            data = json.loads(text or "{}")
            return cls(str(data.get("before") or ""), int(data.get("page") or 0),
                       int(data.get("passes") or 0))
        except (ValueError, TypeError, AttributeError):
            return cls()

    def dump(self) -> str:
        """The bookmark's value."""
        return json.dumps({"before": self.before, "page": self.page, "passes": self.passes})

    def stretches(self, page: HistoryPage) -> tuple[Stretch, ...]:
        """What a page read from here covers: from its oldest message (or, the last page,
        the channel's start) up to ``before`` (read by the page before); an empty page that
        says there is more covers nothing."""
        if not page.has_more:
            return (Stretch("", self.before),)
        return (Stretch(page.lowest, self.before, from_low=True),) if page.lowest else ()

    def after(self, page: HistoryPage) -> Sweep:
        """The sweep once ``page`` (read from here) is taken: on to older messages, or, after
        the channel's first message, a new pass from the newest."""
        if page.has_more and page.lowest:
            return Sweep(page.lowest, self.page + 1, self.passes)
        return Sweep("", 0, self.passes + 1)


@dataclass
class ChannelRead:
    """What a distributed app's run read of the channel, for the plan and the run's result.

    ``kind``: ``incremental`` or ``reconciliation``; ``stretches``: what it read whole;
    ``sweep``: the reconciliation's state to keep when the run succeeds (None: unchanged).
    """

    kind: str
    stretches: tuple[Stretch, ...]
    sweep: Sweep | None = None
    page: int = 0
    finished_pass: bool = False
    unread: int = 0
    threads_deferred: int = 0
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        """JSON-ready: what the run read and whether the reconciliation goes on next run."""
        return {"app": "distributed", "read": self.kind, "page": self.page,
                "reconciliation_finished": self.finished_pass,
                "continues_next_run": not self.finished_pass,
                "items_unread": self.unread, "threads_deferred": self.threads_deferred}


def newest_recorded(view_sides: Sequence[str]) -> str | None:
    """The newest of the recorded item messages' ts (None: none recorded)."""
    return max(view_sides, key=ts_order) if view_sides else None


def unread_tokens(slug: str, view: StateView, messages: Mapping[str, ChatMessage],
                  stretches: Sequence[Stretch]) -> frozenset[str]:
    """The tokens of items whose recorded message this run did not read: outside every
    stretch read, and so neither gone nor changed as far as this run knows."""
    unread = set()
    for item in view.items:
        side = view.side(item.id, "chat")
        token = make_token(slug, item.key)
        if side is not None and token not in messages and not covers(stretches, side.remote_id):
            unread.add(token)
    return frozenset(unread)
