"""A hypothesis state machine over the sync (issue 5), on the in-memory fakes.

Members move, archive, re-date, rename and add cards in Trello, react, press buttons
(``serve`` only) and reply in Slack; the
coordinator edits action-plan rows; syncs run clean, die at a random write (before it takes
effect), or lose the answer of a write that took effect. Members also act *during* a run,
between two of its writes (a reply, a comment or a reaction made just before a given write
of the run reaches the service), and ``serve``'s path runs too: the deliveries the vendors
would have sent for the members' actions, processed by serve's own code (one item read,
planned and applied at a time), clean or with a fault. Every run is a fresh process (the
state store reopened, new engine objects), the remote data is kept. Several members (or one,
twice) may react differently on one message before a run sees it. Invariants: at most one
card and one message per item, no note and no copied reply or comment twice; after a clean
sync every member edit and every member's reaction or served press is the agreed value or
recorded as a conflict's loser (with the member who asked) and every reply and comment made
before it is copied; after two clean syncs Trello, the state store and the Slack message
agree; a further sync writes nothing. What the members asked, and those checks, are the
machine's model in ``tests/support/sync_machine.py``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import shutil
from collections import Counter
from typing import Any

from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.control import currently_in_test_context
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from connectors.identity import make_token, token_in_metadata
from sync.core.errors import RemoteError
from sync.engine.buttons import BUTTONS
from sync.engine.normalize import card_values
from tests.support.fake_alliance import scratch_dir, synced
from tests.support.sync_machine import (
    DATES,
    EMOJI,
    NUMBERS,
    PEOPLE,
    TITLES,
    WRITES,
    Ledger,
    StatusRequest,
    agreed_values,
    check_agreement,
    check_nothing_twice,
    check_one_card_and_message,
    member_name,
    serve_deliveries,
)
from tests.support.sync_scenario import STATUSES, item_ids


class SyncMachine(RuleBasedStateMachine):
    """Members, the coordinator and the sync, with faults."""

    def __init__(self) -> None:
        super().__init__()
        self.alliance = synced().fork(scratch_dir())
        self.world = self.alliance.world
        self.lists = {s: self.alliance.resource("trello", "list", s) for s in STATUSES}
        self.channel = self.alliance.resource("slack", "channel", "actions")
        self.emoji = dict(self.alliance.config.slack.reactions)
        self.ids = item_ids(self.alliance)
        self.rows = {row.number: f"action:{row.key}" for row in self.alliance.rows}
        # What members and the coordinator asked for, not yet settled (the model).
        self.ledger = Ledger()
        # What the vendors would deliver to serve for the members' actions, not yet processed.
        self.deliveries: list[tuple[str, str, str, dict[str, Any]]] = []
        # Button presses delivered but not served yet: a press exists only as its delivery.
        self.presses: list[StatusRequest] = []
        self.base = agreed_values(self.alliance)

    def teardown(self) -> None:
        """Settle, check agreement, and remove the scratch folder."""
        try:
            self.settle()
        finally:
            shutil.rmtree(self.alliance.folder, ignore_errors=True)

    # ------------------------------------------------------------------ helpers

    def _card(self, number: str) -> dict[str, Any] | None:
        card = self.world.trello.cards_by_id.get(self.ids.get(number, ("", ""))[0])
        return card if card is not None and not card["closed"] else None

    def _message(self, number: str) -> dict[str, Any] | None:
        """The item's message as the members see it in Slack: the one the store records, or
        one a dying run posted and never recorded (found by its token); None if it has none
        yet (then there is no thread to reply in, nothing to react to)."""
        token = make_token(self.alliance.config.alliance.slug, self.base[number]["key"])
        ts = self.ids.get(number, ("", ""))[1]
        top = [m for m in self.world.slack.messages[self.channel] if not m["thread_ts"]]
        return next((m for m in top if ts and m["ts"] == ts), None) or next(
            (m for m in top if token_in_metadata(m["metadata"]) == token), None)

    def _delivered(self, source: str, kind: str, subject: str, who: str) -> None:
        self.deliveries.append((source, kind, subject, {"member": self.world.person(who).name}))

    def _edit(self, number: str, field: str, side: str, value: Any) -> None:
        self.ledger.edit(number, field, side, value, self.base[number][field])

    # ------------------------------------------------------------------ members in Trello

    @rule(number=NUMBERS, status=st.sampled_from(("todo", "doing", "blocked", "done")),
          who=st.sampled_from(PEOPLE))
    def move_card(self, number: str, status: str, who: str) -> None:
        """A member drags an open card to another status list."""
        card = self._card(number)
        if card is None or card["list_id"] == self.lists[status]:
            return
        self.world.as_member(who).move_card(card["id"], self.lists[status])
        self._delivered("trello", "updateCard", card["id"], who)
        values = card_values(self.world.trello._as_card(card), {v: k for k, v in
                                                              self.lists.items()}, {},
                             self.base[number]["status"])
        self._edit(number, "status", "trello", values["status"])

    @rule(number=NUMBERS, who=st.sampled_from(PEOPLE))
    def archive_card(self, number: str, who: str) -> None:
        """A member archives a card (cancelled)."""
        card = self._card(number)
        if card is not None:
            self.world.as_member(who).archive_card(card["id"])
            self._delivered("trello", "updateCard", card["id"], who)
            self._edit(number, "status", "trello", "cancelled")

    @rule(number=NUMBERS, due=DATES, who=st.sampled_from(PEOPLE))
    def change_due(self, number: str, due: dt.date, who: str) -> None:
        """A member changes a card's due date."""
        card = self._card(number)
        if card is not None:
            self.world.as_member(who).set_due(card["id"], due)
            self._delivered("trello", "updateCard", card["id"], who)
            self._edit(number, "due", "trello", due.isoformat())

    @rule(number=NUMBERS, title=TITLES, who=st.sampled_from(PEOPLE))
    def rename_card(self, number: str, title: str, who: str) -> None:
        """A member renames a card (keeping our number in front)."""
        card = self._card(number)
        if card is not None:
            self.world.as_member(who).rename_card(card["id"], f"{number} · {title}")
            self._delivered("trello", "updateCard", card["id"], who)
            self._edit(number, "title", "trello", title)

    @rule(title=TITLES, status=st.sampled_from(("todo", "doing")), who=st.sampled_from(PEOPLE))
    def add_card(self, title: str, status: str, who: str) -> None:
        """A member adds a card of their own."""
        card_id = self.world.as_member(who).add_card(self.lists[status], title)
        self._delivered("trello", "createCard", card_id, who)

    # ------------------------------------------------------------------ members in Slack

    @rule(number=NUMBERS, emoji=EMOJI, who=st.sampled_from(PEOPLE))
    def react(self, number: str, emoji: str, who: str) -> None:
        """A member reacts to an item's message with a status emoji (others, or they, may
        react differently on it before the next run: each reaction is a request)."""
        message = self._message(number)
        user = self.world.person(who).slack_id
        if message is None or user in message["reactions"].get(emoji, []):
            return
        self.world.as_member(who).react(self.channel, message["ts"], emoji)
        self.ledger.requests.append(StatusRequest(number, self.emoji[emoji],
                                                  member_name(self.alliance, who)))
        self.deliveries.append(("slack", "reaction_added", message["ts"],
                                {"user": user, "reaction": emoji}))

    @rule(number=NUMBERS, reactions=st.lists(st.tuples(EMOJI, st.sampled_from(PEOPLE)),
                                             min_size=2, max_size=3))
    def react_together(self, number: str, reactions: list[tuple[str, str]]) -> None:
        """Two or three members (or one, twice) react on one message before a run sees it:
        reactions of one item in one run asking for different statuses."""
        for emoji, who in reactions:
            self.react(number, emoji, who)

    @rule(number=NUMBERS, status=st.sampled_from(BUTTONS), who=st.sampled_from(PEOPLE))
    def press(self, number: str, status: str, who: str) -> None:
        """A member presses a status button on an item's recorded message (Slack delivers
        the press to ``serve`` only; it is a request once a batch serves it)."""
        message = self._message(number)
        if message is None or message["ts"] != self.ids.get(number, ("", ""))[1]:
            return
        self.deliveries.append(("slack", "button", message["ts"], {
            "channel": self.channel, "ts": message["ts"], "status": status,
            "user": self.world.person(who).slack_id}))
        self.presses.append(StatusRequest(number, status, member_name(self.alliance, who)))

    @rule(number=NUMBERS, who=st.sampled_from(PEOPLE))
    def reply(self, number: str, who: str) -> None:
        """A member replies in an item's thread (to be copied to the card)."""
        message = self._message(number)
        if message is None:
            return
        text = self.ledger.text("note", who)
        posted = self.world.as_member(who).reply(self.channel, message["ts"], text)
        self.ledger.replies.append((number, text))
        self.deliveries.append(("slack", "reply", message["ts"],
                                {"ts": posted.ts, "user": self.world.person(who).slack_id}))

    @rule(number=NUMBERS, who=st.sampled_from(PEOPLE))
    def comment(self, number: str, who: str) -> None:
        """A member comments on an item's card (to be copied to its thread)."""
        card = self._card(number)
        if card is not None:
            text = self.ledger.text("card note", who)
            action_id = self.world.as_member(who).comment(card["id"], text)
            self.ledger.comments.append((number, text))
            self.deliveries.append(("trello", "commentCard", card["id"], {
                "action_id": action_id, "member": self.world.person(who).name, "text": text}))

    # ------------------------------------------------------------------ the coordinator

    @rule(row=st.sampled_from(["1", "2", "3", "4", "5", "6"]), status=st.sampled_from(STATUSES),
          due=st.none() | DATES)
    def edit_row(self, row: str, status: str, due: dt.date | None) -> None:
        """The coordinator changes a row's status (and maybe its due date) in the file."""
        changes: dict[str, Any] = {"status": status}
        if due is not None:
            changes["due"] = due.isoformat()
        before = next(r for r in self.alliance.rows if r.number == row)
        self.alliance.edit_row(row, **changes)
        number = next(n for n, v in self.base.items() if v["key"] == self.rows[row])
        # Only a value that changes in the file is an edit: writing the status the row
        # already has (while a member moved the card since) asks for nothing.
        if status != before.status:
            self._edit(number, "status", "hub", status)
        if due is not None and due != before.due:
            self._edit(number, "due", "hub", due.isoformat())

    # ------------------------------------------------------------------ syncs

    @rule()
    def sync(self) -> None:
        """A clean sync; every edit since the last one is agreed or a recorded loser."""
        self.alliance.sync()
        self._check_edits()

    @rule(k=st.integers(min_value=0, max_value=30), drop=st.booleans())
    def sync_with_fault(self, k: int, drop: bool) -> None:
        """A sync that dies at its (k+1)-th write, before or after it takes effect."""
        if drop:
            self.world.drop_after(k)
        else:
            self.world.crash_after(k)
        with contextlib.suppress(RemoteError):
            self.alliance.sync()
        self.world.crash_after(None)  # fewer writes than k: nothing happened
        # Items the run got through are committed: their edits are settled already.
        self._check_edits(strict=False)

    @rule(act=st.sampled_from(("reply", "comment", "react")), number=NUMBERS,
          same=st.booleans(), who=st.sampled_from(PEOPLE), write=st.sampled_from(WRITES),
          nth=st.integers(min_value=1, max_value=3), serve=st.booleans(),
          move=st.none() | st.sampled_from(("doing", "blocked", "done")), emoji=EMOJI)
    def act_during_a_run(self, act: str, number: str, same: bool, who: str, write: str,
                         nth: int, serve: bool, move: str | None, emoji: str) -> None:
        """A member replies, comments or reacts (with ``emoji``) while a sync (or serve)
        writes: just before the run's ``nth`` write of a kind reaches the service, on the
        very item that write is about (``same``) or on another. ``move``: someone moved the
        item's card first, so the run has that item's status change to write. The run need
        not see the member's act; the next clean sync must (checked there)."""
        if move is not None:
            self.move_card(number, move, PEOPLE[0])

        def member(target: str) -> None:
            nonlocal number
            if same and target:  # a top-level post's target is "": no item to match
                number = next((n for n, ids in self.ids.items() if target in ids), number)
            if act == "react":
                self.react(number, emoji, who)
            else:
                getattr(self, act)(number, who)

        self.world.when_writing(write, member, nth=nth)
        if serve:
            self._serve()
        else:
            self.alliance.sync()
        self.world.forget_hooks()  # fewer such writes: the member did not act
        self._check_edits(strict=False)

    def _serve(self) -> None:
        """The queued deliveries processed as ``serve`` does; raises what a call raised.

        The presses of a batch served are requests, but a member's press followed by a later
        one of theirs on the same item is history (they changed their mind). A failed batch's
        presses are left to the queue's retries, which this model does not follow."""
        events, self.deliveries = self.deliveries, []
        presses, self.presses = self.presses, []
        serve_deliveries(self.alliance, events)
        last = {(p.number, p.member): p for p in presses}
        self.ledger.requests += list(last.values())

    @rule(k=st.none() | st.integers(min_value=0, max_value=12), drop=st.booleans())
    def serve(self, k: int | None, drop: bool) -> None:
        """serve processes the deliveries of the members' actions so far (``k``: dying at
        its (k+1)-th write, before or after it takes effect; the deliveries are then left
        to the scheduled sync)."""
        if k is not None:
            (self.world.drop_after if drop else self.world.crash_after)(k)
        with contextlib.suppress(RemoteError):
            self._serve()
        self.world.crash_after(None)
        self._check_edits(strict=False)

    @rule()
    def settle(self) -> None:
        """Two clean syncs: all sides agree; a third writes nothing."""
        self.sync()
        self.sync()
        check_agreement(self.alliance, self.lists)
        writes = self.world.writes
        self.alliance.sync()
        assert self.world.writes == writes, Counter(self.world.log[writes:])

    def _check_edits(self, *, strict: bool = True) -> None:
        """Each edit and request since the last check is agreed or a recorded loser
        (``strict``: all of them must be, and every reply and comment copied)."""
        asked = Counter(number for number, _ in {(r.number, r.status)
                                                 for r in self.ledger.requests})
        self.base = self.ledger.check(self.alliance, self.base, strict=strict)
        if strict and any(n > 1 for n in asked.values()) and currently_in_test_context():
            event("a clean sync settled different reactions on one item")  # the statistics
        self.ids = item_ids(self.alliance)

    # ------------------------------------------------------------------ always

    @invariant()
    def one_card_and_one_message_per_item(self) -> None:
        """Never two cards, nor two messages, for one item."""
        check_one_card_and_message(self.world, self.channel)

    @invariant()
    def nothing_we_post_twice(self) -> None:
        """No thread note (by its token) and no copied reply or comment appears twice."""
        check_nothing_twice(self.world, self.channel)


# The small profile runs in the suite; the thorough one (>= 1000 examples) is run by hand
# before an engine change is resolved:
#   MCM_SYNC_HYPOTHESIS=thorough pytest tests/engine/test_sync_machine.py
_THOROUGH = os.environ.get("MCM_SYNC_HYPOTHESIS") == "thorough"
SyncMachine.TestCase.settings = settings(
    max_examples=1000 if _THOROUGH else 25, stateful_step_count=12, deadline=None,
    suppress_health_check=[HealthCheck.too_slow])
TestSyncMachine = SyncMachine.TestCase


def test_a_reply_on_an_item_without_a_message_yet_is_no_reply() -> None:
    """The thorough profile's example, replayed: a member's card, a run dying at its first
    write (the item is recorded, its message not posted), then a run during which a member
    "replies" on that item. Its thread does not exist yet: the reply used to go to the
    channel's top level (a thread ts of ""), which no sync can copy to a card."""
    machine = SyncMachine()
    try:
        machine.rename_card(number="FRL-44", title="Call the mayor", who=PEOPLE[0])
        machine.add_card(status="todo", title="Call the mayor", who=PEOPLE[0])
        machine.sync_with_fault(drop=False, k=0)
        machine.act_during_a_run(act="reply", move=None, nth=2, number="FRL-13", same=True,
                                 serve=False, who=PEOPLE[0], write="slack.post_message",
                                 emoji="white_check_mark")
        top = [m for m in machine.world.slack.messages[machine.channel] if not m["thread_ts"]]
        assert not any(m["text"].startswith("note ") for m in top)
        machine.sync()
    finally:
        machine.teardown()


def test_two_members_reacting_differently_before_a_run_are_each_settled() -> None:
    """The machine's model of two members reacting in one run (✅ and ⛔ on a "doing" item):
    its check holds each reaction applied or recorded with its member (the engine used to
    apply the more decisive one and drop the other unrecorded)."""
    machine = SyncMachine()
    try:
        machine.move_card(number="FRL-9", status="doing", who=PEOPLE[0])
        machine.sync()
        machine.react(number="FRL-9", emoji="white_check_mark", who=PEOPLE[0])
        machine.react(number="FRL-9", emoji="no_entry", who=PEOPLE[1])
        machine.sync()
        assert machine.ledger.requests == []
    finally:
        machine.teardown()
