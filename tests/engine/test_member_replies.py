"""Members' thread replies and card comments while a run writes (issue 25), on the fakes.

A member acting *between* two of a run's writes (``FakeWorld.when_writing``) is what the
state machine could not reach when members acted only between syncs: a reply posted while we
write the status change of the same item used to be skipped for good, because our own thread
note, posted after it, moved the item's "latest reply seen" mark past it. Copies are made
once: a reply's comment whose answer was lost, on the sync's path and on ``serve``'s, is
found on the card and adopted.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator

import pytest

from sync.core.errors import RemoteError
from sync.engine.model import SyncContext
from sync.engine.read import prepare
from sync.realtime.process import process
from sync.state.events import EventQueue
from tests.support.fake_alliance import FakeAlliance, bot_comments, scratch_dir, synced_copy
from tests.support.sync_scenario import item_ids

HANA = "hana.tesfaye@example.org"
BRAM = "bram.visser@example.org"
@pytest.fixture
def alliance() -> Iterator[FakeAlliance]:
    with synced_copy() as made:
        yield made


def serve_events(alliance: FakeAlliance, *events: tuple[str, str, str, dict]) -> None:
    """Queue deliveries and process them as ``serve`` does (serve's own code, one batch)."""
    with alliance.store() as store:
        queue = EventQueue.over(store)
        for source, kind, subject, payload in events:
            queue.put(source, uuid.uuid4().hex, kind, subject, payload)
        ctx: SyncContext = prepare(alliance.config, alliance.book, alliance.rows,
                                   alliance.world.trello, alliance.world.slack, store,
                                   now=alliance.now)
        pending = queue.pending()
        done = process(ctx, pending, uuid.uuid4().hex)
        queue.finish(done.done, "done")


def test_a_reply_posted_while_we_write_the_status_note_reaches_the_card(
        alliance: FakeAlliance) -> None:
    """Bram moves FRL-4; while the run posts its "moved" note, Hana replies in the thread.
    Our note comes after her reply: it must not hide it from every later run."""
    card, ts = item_ids(alliance)["FRL-4"]
    channel = alliance.resource("slack", "channel", "actions")
    doing = alliance.resource("trello", "list", "doing")
    alliance.world.as_member(BRAM).move_card(card, doing)
    alliance.world.when_writing("slack.post_message", lambda _: alliance.world.as_member(
        HANA).reply(channel, ts, "I will call them today"))
    alliance.sync()
    assert not any("I will call them today" in c for c in bot_comments(alliance, card))
    alliance.sync()
    copies = [c for c in bot_comments(alliance, card) if "I will call them today" in c]
    assert len(copies) == 1, bot_comments(alliance, card)
    writes = alliance.world.writes
    alliance.sync(full=True)
    assert alliance.world.writes == writes  # nothing left over, nothing copied twice


def test_a_reply_posted_while_serve_writes_the_status_note_reaches_the_card(
        alliance: FakeAlliance) -> None:
    """The same interleaving through serve's path (one item read, planned, applied)."""
    card, ts = item_ids(alliance)["FRL-4"]
    channel = alliance.resource("slack", "channel", "actions")
    doing = alliance.resource("trello", "list", "doing")
    alliance.world.as_member(BRAM).move_card(card, doing)
    reply = []
    alliance.world.when_writing("slack.post_message", lambda _: reply.append(
        alliance.world.as_member(HANA).reply(channel, ts, "Booked the hall")))
    serve_events(alliance, ("trello", "updateCard", card, {"member": "Bram Visser"}))
    assert reply and not any("Booked the hall" in c for c in bot_comments(alliance, card))
    # Slack tells serve about the reply; serve reads the thread past the mark.
    serve_events(alliance, ("slack", "reply", ts, {"user": "U1", "ts": reply[0].ts}))
    copies = [c for c in bot_comments(alliance, card) if "Booked the hall" in c]
    assert len(copies) == 1, bot_comments(alliance, card)
    alliance.sync()
    writes = alliance.world.writes
    alliance.sync(full=True)
    assert alliance.world.writes == writes


@pytest.mark.parametrize("path", ["sync", "serve"])
def test_a_reply_copy_whose_answer_was_lost_is_adopted_not_repeated(
        alliance: FakeAlliance, path: str) -> None:
    """The comment POST takes effect and its answer is lost (a client timeout, or serve
    killed with the POST in flight): the next attempt finds the copy on the card."""
    card, ts = item_ids(alliance)["FRL-6"]
    channel = alliance.resource("slack", "channel", "actions")
    reply = alliance.world.as_member(HANA).reply(channel, ts, "Flyers are printed")
    event = ("slack", "reply", ts, {"user": "U1", "ts": reply.ts})
    alliance.world.drop_after(0)  # the first write: the comment
    with pytest.raises(RemoteError):
        serve_events(alliance, event) if path == "serve" else alliance.sync()
    assert len(bot_comments(alliance, card)) == 1  # it took effect
    # On serve the delivery is processed again; the sync repeats the run. Either way the
    # bookmark of board actions may have moved on (serve never reads it): the card is asked.
    serve_events(alliance, event) if path == "serve" else alliance.sync()
    alliance.sync(full=True)
    copies = [c for c in bot_comments(alliance, card) if "Flyers are printed" in c]
    assert len(copies) == 1, bot_comments(alliance, card)


def test_two_equal_replies_are_two_copies_even_after_a_lost_answer(
        alliance: FakeAlliance) -> None:
    """Hana says "ok" twice: two replies, two copies; the second copy's lost answer adopts
    the second comment, never the first reply's."""
    card, ts = item_ids(alliance)["FRL-7"]
    channel = alliance.resource("slack", "channel", "actions")
    alliance.world.as_member(HANA).reply(channel, ts, "ok")
    alliance.sync()
    alliance.world.as_member(HANA).reply(channel, ts, "ok")
    alliance.world.crash_after(0)  # the copy of the second "ok" fails before any effect
    with pytest.raises(RemoteError):
        alliance.sync()
    alliance.sync()
    assert [c for c in bot_comments(alliance, card) if c.endswith(": ok")] and \
        len([c for c in bot_comments(alliance, card) if c.endswith(": ok")]) == 2


def test_an_outsiders_button_press_is_noted_and_audited_like_their_reaction(
        alliance: FakeAlliance) -> None:
    """A press of the "Done" button by someone outside the alliance changes nothing, and is
    said in the thread and kept in the audit trail (once, even if delivered twice)."""
    card, ts = item_ids(alliance)["FRL-5"]
    channel = alliance.resource("slack", "channel", "actions")
    visitor = alliance.world.person("visitor@example.net").slack_id
    press = ("slack", "button", ts, {"channel": channel, "ts": ts, "user": visitor,
                                     "status": "done"})
    with alliance.store() as store:
        queue = EventQueue.over(store)
        queue.put(*press[:1], f"{visitor}:1.5", *press[1:])
        ctx = prepare(alliance.config, alliance.book, alliance.rows, alliance.world.trello,
                      alliance.world.slack, store, now=alliance.now)
        for _ in range(2):  # processed, then processed again (a crash before finishing)
            process(ctx, queue.pending(), uuid.uuid4().hex)
        item = store.get_item_by_number("FRL-5")
        assert item is not None and item.status == "todo"
        ignored = [a for a in store.list_audit() if a.field == "button.ignored"]
    assert len(ignored) == 1 and "outside the alliance" in ignored[0].actor
    notes = [m["text"] for m in alliance.world.slack.messages[channel]
             if m["thread_ts"] == ts and m["user"] == alliance.world.bot.slack_id]
    assert len([n for n in notes if "button" in n and "was not applied" in n]) == 1, notes
    assert alliance.world.trello.cards_by_id[card]["list_id"] == alliance.resource(
        "trello", "list", "todo")


@pytest.mark.parametrize("read_between", [False, True])
def test_a_note_that_lands_after_it_was_made_again_is_removed(
        alliance: FakeAlliance, read_between: bool) -> None:
    """A worker killed with its note in flight; the next run found nothing and posted the note;
    then the first post lands (the vendor was slow). The late copy is removed by the next run
    that reads the thread (``read_between``: after a run already read the kept note)."""
    card, ts = item_ids(alliance)["FRL-8"]
    channel = alliance.resource("slack", "channel", "actions")
    alliance.world.as_member(BRAM).move_card(card, alliance.resource("trello", "list", "doing"))
    alliance.sync()
    if read_between:
        alliance.sync()
    world = alliance.world
    [kept] = [m for m in world.slack.messages[channel]
              if m["thread_ts"] == ts and m["user"] == world.bot.slack_id]
    world.slack.post(world.bot, channel, kept["text"], metadata=kept["metadata"], thread_ts=ts)
    alliance.sync()
    notes = [m["ts"] for m in world.slack.messages[channel]
             if m["thread_ts"] == ts and m["user"] == world.bot.slack_id]
    assert notes == [kept["ts"]]
    alliance.sync()
    writes = world.writes
    alliance.sync(full=True)
    assert world.writes == writes


def test_a_second_copy_of_an_item_message_is_merged_and_removed_by_the_next_run(
        alliance: FakeAlliance) -> None:
    """A post repeated after a client timeout left FRL-12 with two messages; a member reacts
    ✅ and replies on the copy (the one the state does not record). The next incremental
    run counts the ✅, copies the reply to the card and removes the copy."""
    from connectors.identity import item_metadata, make_token

    channel = alliance.resource("slack", "channel", "actions")
    card, kept = item_ids(alliance)["FRL-12"]
    with alliance.store() as store:
        item = store.get_item_by_number("FRL-12")
        assert item is not None
        token = make_token(alliance.config.alliance.slug, item.key)
    world = alliance.world
    copy = world.slack.post(world.bot, channel, world.slack.doc(channel, kept)["text"],
                            metadata=item_metadata(token, "FRL-12"))
    world.as_member(BRAM).react(channel, copy.ts, "white_check_mark")
    world.as_member(HANA).reply(channel, copy.ts, "Done, the mayor said yes")
    outcome = alliance.sync()
    assert outcome.result.duplicates_removed == [copy.ts]
    assert world.trello.cards_by_id[card]["list_id"] == alliance.resource("trello", "list",
                                                                          "done")
    copies = [c for c in bot_comments(alliance, card) if "the mayor said yes" in c]
    assert len(copies) == 1
    alliance.sync()
    writes = world.writes
    alliance.sync(full=True)
    assert world.writes == writes


@pytest.mark.parametrize("fault", ["answer lost", "died at the next write"])
def test_a_reply_under_a_message_a_dying_run_posted_reaches_the_card(
        alliance: FakeAlliance, fault: str) -> None:
    """Bram adds a card; the run posts its item's message and dies before recording it (the
    post's answer lost, or the run killed at its next write, the "new item" note). Hana
    replies in that message's thread. The next run adopts the message by its token: adopting
    it must not mark her reply as read (the thread's latest reply), or it is never copied."""
    world = alliance.world
    channel = alliance.resource("slack", "channel", "actions")
    world.as_member(BRAM).add_card(alliance.resource("trello", "list", "todo"), "Call the mayor")
    probe = alliance.fork(scratch_dir())  # where in the run the item's message is posted
    start = probe.world.writes
    probe.sync()
    post = probe.world.log[start:].index("slack.post_message")
    shutil.rmtree(probe.folder, ignore_errors=True)
    if fault == "answer lost":
        world.drop_after(post)
    else:
        world.crash_after(post + 1)
    with pytest.raises(RemoteError):
        alliance.sync()
    world.crash_after(None)
    number = max(item_ids(alliance), key=lambda n: int(n.split("-")[1]))
    card, recorded = item_ids(alliance)[number]
    assert not recorded  # the dying run never recorded its message
    message = next(m for m in world.slack.messages[channel]
                   if not m["thread_ts"] and m["text"].startswith(f"*{number}*"))
    world.as_member(HANA).reply(channel, message["ts"], "I know the mayor")
    alliance.sync()
    alliance.sync()
    copies = [c for c in bot_comments(alliance, card) if "I know the mayor" in c]
    assert len(copies) == 1, bot_comments(alliance, card)
    writes = world.writes
    alliance.sync(full=True)
    assert world.writes == writes  # nothing left over, nothing copied twice
