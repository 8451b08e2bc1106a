"""The sync state machine's model (``tests/engine/test_sync_machine.py``): what members asked.

The machine's rules act on the fakes; this ledger keeps what each act asked for and checks
it against the state store after a run: every member edit and every member's status request
is the agreed value or recorded as a conflict's loser (a request with the member who made
it), every reply and comment made before a clean sync is copied once; after two clean syncs
Trello, the state store and the Slack message agree; never two cards, messages, notes or
copies of one thing. Also here: the example alliance the machine starts from, the
strategies its rules draw from, and ``serve``'s path for its deliveries.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from hypothesis import strategies as st

from connectors.identity import OUR_EVENT_TYPES, token_in, token_in_metadata
from sync.core.errors import RemoteError
from sync.engine.normalize import card_values
from sync.engine.read import prepare
from sync.realtime.process import process
from sync.state.events import EventQueue
from tests.support.fake_alliance import FakeAlliance
from tests.support.fakes import FakeWorld
from tests.support.sync_scenario import item_ids

PEOPLE = ("bram.visser@example.org", "carla.mulder@example.org", "esra.yilmaz@example.org")
NUMBERS = st.integers(min_value=1, max_value=45).map(lambda n: f"FRL-{n}")
DATES = st.dates(min_value=dt.date(2027, 1, 1), max_value=dt.date(2028, 12, 31))
TITLES = st.sampled_from(["Call the mayor", "Book the hall", "Print the flyers", "Ask DBieb"])
EMOJI = st.sampled_from(sorted({"white_check_mark", "hourglass_flowing_sand", "no_entry", "x"}))
# The writes of a run a member may act just before (the interleavings of issue 25).
WRITES = ("slack.post_message", "slack.update_message", "trello.update_card",
          "trello.add_comment")


def agreed_values(alliance: FakeAlliance) -> dict[str, dict[str, Any]]:
    """Every item's agreed status, due date and title (and its key), by number."""
    with alliance.store() as store:
        return {i.number: {"status": i.status, "due": i.due, "title": i.title, "key": i.key}
                for i in store.list_items()}


def serve_deliveries(alliance: FakeAlliance,
                     events: Sequence[tuple[str, str, str, dict[str, Any]]]) -> None:
    """Deliveries (source, kind, subject, payload) processed as ``serve`` does, in one batch,
    a minute on (a fresh process: the store reopened); raises what a remote call raised,
    the batch's events then left to be retried."""
    alliance.now += dt.timedelta(minutes=1)
    with alliance.store() as store:
        queue = EventQueue.over(store)
        for source, kind, subject, payload in events:
            queue.put(source, uuid.uuid4().hex, kind, subject, payload)
        ctx = prepare(alliance.config, alliance.book, alliance.rows, alliance.world.trello,
                      alliance.world.slack, store, now=alliance.now)
        pending = queue.pending()
        try:
            done = process(ctx, pending, uuid.uuid4().hex)
        except RemoteError:
            queue.retry_later([e.id for e in pending], "failed")
            raise
        queue.finish(done.done, "done")
        queue.finish(done.ignored, "ignored")


@dataclass(frozen=True)
class StatusRequest:
    """A member's status reaction on an item's message: the status, and the member by the
    name the coordinator reads (the config's)."""

    number: str
    status: str
    member: str


def member_name(alliance: FakeAlliance, email: str) -> str:
    """A member's name in the config (what the audit trail and ``--json`` show)."""
    return next(str(p.name) for p in alliance.config.people if str(p.email) == email)


@dataclass
class Ledger:
    """What members and the coordinator asked for that no check has settled yet."""

    # (number, field, side) -> (value, agreed value when made): the last edit per side.
    edits: dict[tuple[str, str, str], tuple[Any, Any]] = field(default_factory=dict)
    # Every member's reaction: several members (or one, twice) may ask in one run.
    requests: list[StatusRequest] = field(default_factory=list)
    replies: list[tuple[str, str]] = field(default_factory=list)
    comments: list[tuple[str, str]] = field(default_factory=list)
    texts: int = 0  # numbers every reply and comment, so no two texts are the same

    def edit(self, number: str, name: str, side: str, value: Any, agreed: Any) -> None:
        """An edit of ``name`` on ``side`` (``agreed``: the item's value now)."""
        before = self.edits.get((number, name, side), (None, agreed))[1]
        self.edits[(number, name, side)] = (value, before)

    def text(self, kind: str, who: str) -> str:
        """A reply's or comment's text, unlike every other one."""
        self.texts += 1
        return f"{kind} {self.texts} from {who.split('@')[0]}"

    def check(self, alliance: FakeAlliance, base: dict[str, dict[str, Any]], *,
              strict: bool) -> dict[str, dict[str, Any]]:
        """Each edit and request since the last check is agreed or a recorded loser
        (``strict``: all of them must be; else those that are, the items a dying run got
        through, are settled). An edit or request for the value agreed before (``base``) is
        no change at all. Returns the agreed values now (the next check's ``base``)."""
        agreed = agreed_values(alliance)
        with alliance.store() as store:
            lost = {(c.item_id, c.field, str(c.loser_value)) for c in store.list_conflicts()}
            audit = store.list_audit()
            ids = {i.number: i.id for i in store.list_items()}
        # Applied from its side and changed again later (a run that died after deciding it,
        # then a newer edit): in the audit trail, so not lost either.
        applied = {(e.item_id, e.field, str(e.new), e.source) for e in audit}
        # A losing request is audited with the member who asked it, by name.
        lost_by = {(e.item_id, e.actor, str(e.new)) for e in audit if e.field == "conflict"}
        for (number, name, side), (value, before) in dict(self.edits).items():
            if value in (before, agreed[number][name]) or (
                    (ids[number], name, str(value)) in lost) or (
                    (ids[number], name, str(value), side) in applied):
                del self.edits[(number, name, side)]
                continue
            assert not strict, (f"{side} edit of {number}.{name} to {value!r} lost: agreed "
                                f"{agreed[number][name]!r}")
        for request in list(self.requests):
            item_id, status = ids[request.number], request.status
            entry = f"status {status} (slack) "
            if status in (base[request.number]["status"], agreed[request.number]["status"]) or (
                    (item_id, "status", status, "slack") in applied) or any(
                    (item_id, request.member) == (i, actor) and text.startswith(entry)
                    for i, actor, text in lost_by):
                self.requests.remove(request)
                continue
            assert not strict, (f"{request.member}'s reaction asking {request.number} to be "
                                f"{status!r} lost: agreed {agreed[request.number]['status']!r}")
        if strict:
            self._check_copies(alliance)
        return agreed

    def _check_copies(self, alliance: FakeAlliance) -> None:
        """Every reply is on its card, every comment once in its thread."""
        world = alliance.world
        channel = alliance.resource("slack", "channel", "actions")
        comments = {a["data"].get("text", "") for a in world.trello.actions
                    if a["type"] == "commentCard"}
        for number, text in self.replies:
            assert any(text in c for c in comments), f"reply {text!r} on {number} not copied"
        self.replies.clear()
        notes = [m["text"] for m in world.slack.messages[channel]
                 if m["thread_ts"] and m["user"] == world.bot.slack_id]
        for number, text in self.comments:
            assert sum(text in note for note in notes) == 1, f"comment {text!r} on {number}"
        self.comments.clear()


def check_agreement(alliance: FakeAlliance, lists: dict[str, str]) -> None:
    """Trello, the state store and the Slack message show the same values for every item."""
    labels = alliance.book.action_plan.statuses
    list_status = {v: k for k, v in lists.items()}
    world = alliance.world
    channel = alliance.resource("slack", "channel", "actions")
    ids = item_ids(alliance)
    with alliance.store() as store:
        for item in store.list_items():
            card_id, ts = ids[item.number]
            card = world.trello._as_card(world.trello.cards_by_id[card_id])
            values = card_values(card, list_status, {}, item.status)
            assert (values["status"], values["due"], values["title"]) == (
                item.status, item.due, item.title), item.number
            text = world.slack.doc(channel, ts)["text"]
            assert text.endswith(f"*{labels[item.status]}*"), (item.number, text)


def check_one_card_and_message(world: FakeWorld, channel: str) -> None:
    """Never two cards, nor two messages, for one item (by their identity tokens)."""
    cards = Counter(token_in(c["desc"]) for c in world.trello.cards_by_id.values())
    cards.pop(None, None)
    assert all(n == 1 for n in cards.values()), cards.most_common(3)
    messages = Counter(token_in_metadata(m["metadata"]) for m in world.slack.messages[channel]
                       if not m["thread_ts"])
    messages.pop(None, None)
    assert all(n == 1 for n in messages.values()), messages.most_common(3)


def check_nothing_twice(world: FakeWorld, channel: str) -> None:
    """No thread note of ours (by its token) and no copied reply or comment appears twice."""
    bot = world.bot
    ours = [m for m in world.slack.messages[channel]
            if m["thread_ts"] and m["user"] == bot.slack_id]
    notes = Counter(token_in_metadata(m["metadata"], OUR_EVENT_TYPES) for m in ours)
    notes.pop(None, None)
    assert all(n == 1 for n in notes.values()), notes.most_common(3)
    copies = Counter(m["text"] for m in ours if "card note " in m["text"])
    assert all(n == 1 for n in copies.values()), copies.most_common(3)
    comments = Counter((a["card_id"], a["data"].get("text", "")) for a in world.trello.actions
                       if a["type"] == "commentCard" and a["member_id"] == bot.trello_id)
    assert all(n == 1 for n in comments.values()), comments.most_common(3)
