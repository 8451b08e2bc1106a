"""Appends made once (issue 11): notes, copied comments, digests and item messages.

Each test is the smallest scenario on the in-memory fakes that showed a duplicate: a write
failing after earlier writes of the same item, an answer lost after it took effect, a second
copy of an item message left by a post repeated after a client timeout.
"""

from __future__ import annotations

import datetime as dt
import shutil
from collections import Counter
from collections.abc import Iterator

import pytest

from connectors.identity import OUR_EVENT_TYPES, item_metadata, make_token, token_in_metadata
from sync.core.errors import RemoteError
from tests.support.fake_alliance import FakeAlliance, bot_comments, scratch_dir, synced_copy
from tests.support.sync_scenario import STATUSES, item_ids


@pytest.fixture
def alliance() -> Iterator[FakeAlliance]:
    with synced_copy() as made:
        yield made


def _thread(alliance: FakeAlliance, channel: str, ts: str) -> list[str]:
    return [m["text"] for m in alliance.world.slack.messages[channel]
            if m["thread_ts"] == ts and m["user"] == alliance.world.bot.slack_id]


def test_a_failed_note_does_not_copy_the_reply_twice(alliance: FakeAlliance) -> None:
    """A reply and a ✅ on FRL-4; the run's thread note fails; the rerun used to copy the
    reply to the card a second time (and post the earlier notes again)."""
    card, ts = item_ids(alliance)["FRL-4"]
    channel = alliance.resource("slack", "channel", "actions")
    alliance.world.as_member("hana.tesfaye@example.org").reply(channel, ts, "I will call them")
    alliance.world.as_member("bram.visser@example.org").react(channel, ts, "white_check_mark")
    reference = alliance.fork(scratch_dir())
    before = reference.world.writes
    reference.sync()
    writes = reference.world.log[before:]
    shutil.rmtree(reference.folder)
    # The note comes after the card move, the message update and the copied comment.
    failing = writes.index("slack.post_message")
    assert "trello.add_comment" in writes[:failing]
    alliance.world.crash_after(failing)
    with pytest.raises(RemoteError):
        alliance.sync()
    alliance.sync()
    comments = bot_comments(alliance, card)
    assert len(comments) == 1 and "I will call them" in comments[0]
    notes = _thread(alliance, channel, ts)
    assert len(notes) == len(set(notes)) == 1, notes
    writes_now = alliance.world.writes
    alliance.sync(full=True)
    assert alliance.world.writes == writes_now  # nothing left to repair


@pytest.mark.parametrize("mode", ["fail", "drop"])
def test_a_member_comment_reaches_the_thread_once(alliance: FakeAlliance, mode: str) -> None:
    """A comment on FRL-7's card is noted in its thread once, whatever fails on the way."""
    card, ts = item_ids(alliance)["FRL-7"]
    channel = alliance.resource("slack", "channel", "actions")
    alliance.world.as_member("ivo.postma@example.org").comment(card, "Booked the room")
    lists = {s: alliance.resource("trello", "list", s) for s in STATUSES}
    alliance.world.as_member("ivo.postma@example.org").move_card(card, lists["doing"])
    reference = alliance.fork(scratch_dir())
    before = reference.world.writes
    reference.sync()
    count = reference.world.writes - before
    shutil.rmtree(reference.folder)
    for k in range(count):  # every write of that sync
        run = alliance.fork(scratch_dir())
        (run.world.crash_after if mode == "fail" else run.world.drop_after)(k)
        with pytest.raises(RemoteError):
            run.sync()
        run.sync()
        notes = _thread(run, channel, ts)
        assert sum("Booked the room" in n for n in notes) == 1, (k, notes)
        assert len(notes) == len(set(notes)), (k, notes)
        shutil.rmtree(run.folder)


def test_the_digest_is_posted_once_when_its_answer_is_lost(alliance: FakeAlliance) -> None:
    """The digest took effect, its answer was lost, the run failed: the rerun adopts it."""
    general = alliance.resource("slack", "channel", "general")
    alliance.now += dt.timedelta(days=8)  # the weekly digest is due
    before = len(alliance.world.slack.messages[general])
    alliance.world.drop_after(0)
    with pytest.raises(RemoteError):
        alliance.sync()
    alliance.sync()
    digests = [m for m in alliance.world.slack.messages[general][before:]
               if token_in_metadata(m["metadata"], OUR_EVENT_TYPES)]
    assert len(digests) == 1


def test_a_full_reconciliation_removes_a_second_copy_of_an_item_message(
        alliance: FakeAlliance) -> None:
    """A post repeated after a client timeout left FRL-11 with two messages carrying its
    token; the full reconciliation keeps the one the state records and deletes the other,
    and later updates reach the kept one."""
    channel = alliance.resource("slack", "channel", "actions")
    card, kept = item_ids(alliance)["FRL-11"]
    with alliance.store() as store:
        token = make_token(alliance.config.alliance.slug,
                           store.get_item_by_number("FRL-11").key)  # type: ignore[union-attr]
    text = alliance.world.slack.doc(channel, kept)["text"]
    copy = alliance.world.slack.post(alliance.world.bot, channel, text,
                                     metadata=item_metadata(token, "FRL-11"))
    outcome = alliance.sync(full=True)
    assert outcome.result.duplicates_removed == [copy.ts]
    tokens = Counter(token_in_metadata(m["metadata"])
                     for m in alliance.world.slack.messages[channel] if not m["thread_ts"])
    assert tokens[token] == 1
    lists = {s: alliance.resource("trello", "list", s) for s in STATUSES}
    alliance.world.as_member("bram.visser@example.org").move_card(card, lists["done"])
    alliance.sync()
    assert alliance.world.slack.doc(channel, kept)["text"].endswith("*Done*")
