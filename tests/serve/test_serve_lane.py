"""``serve`` while Slack holds the notes back (issue 24): a thread note meets a 429 with a
Retry-After, and a member's reaction on another item still reaches its card at once; the
note is posted once the Retry-After has passed, exactly once, its journal closed ``done``.

A real in-process ``serve`` against the real sandbox (the 429 is the sandbox's ``ratelimit``
fault with a chosen Retry-After, as Slack sends it).
"""

from __future__ import annotations

import time
from typing import Any

from sync.core.services import announce_sandbox
from tests.support.serving import idle, in_list, start, status_shown, wait_for
from tests.support.synced import FARAH, Synced

RETRY_AFTER = 3  # seconds: long enough that a drain sleeping in it would show


def test_a_reaction_reaches_its_card_while_another_items_note_waits_out_a_429(
        alliance: Synced) -> None:
    service = start(alliance)
    try:
        alliance.fault(service="slack", method="POST", path="*chat.postMessage",
                       mode="ratelimit", seconds=RETRY_AFTER, count=1)
        alliance.move("FRL-3", "doing")
        wait_for(lambda: status_shown(alliance, "FRL-3", "In progress"))
        wait_for(lambda: not alliance.admin("GET", "/_sandbox/faults"))  # the note's 429
        refused = time.monotonic()
        alliance.react("FRL-4", "white_check_mark")
        reacted = time.monotonic()
        wait_for(lambda: in_list(alliance, "FRL-4", "done"), timeout=RETRY_AFTER)
        shown = time.monotonic()
        assert shown - reacted < 1.5
        # Still inside the Retry-After: the held note is not posted yet, nor FRL-4's.
        if shown - refused < RETRY_AFTER - 0.5:
            assert alliance.message("FRL-3")["thread"] == []
        wait_for(lambda: status_shown(alliance, "FRL-4", "Done"))
        notes = wait_for(lambda: alliance.message("FRL-3")["thread"], timeout=RETRY_AFTER + 10)
        assert time.monotonic() - refused >= RETRY_AFTER - 0.5
        wait_for(lambda: alliance.message("FRL-4")["thread"])
        idle(alliance, service)
    finally:
        service.stop()
    assert len(notes) == 1 and "In progress" in notes[0]
    assert len(alliance.message("FRL-3")["thread"]) == 1
    assert len(alliance.message("FRL-4")["thread"]) == 1
    with alliance.store() as store:
        assert store.open_intents() == []
        posts = [i for i in store.intents() if i.operation == "post_note"]
    # FRL-3's note: refused once (a 429: nothing made, so not looked for), then made.
    states = {}
    for intent in posts:
        states.setdefault(intent.identity_token, []).append(
            (intent.state, bool(intent.detail.get("refused"))))
    assert sorted(states.values()) == [[("done", False)], [("failed", True), ("done", False)]]
    assert alliance.item("FRL-3").status == "doing" and alliance.item("FRL-4").status == "done"


def test_a_note_whose_answer_was_lost_is_looked_for_then_posted_once_after_a_backoff(
        alliance: Synced) -> None:
    """A 5xx on the note (it may have been posted): the lane does not retry in place; the
    item's rest starts again after the policy's backoff, looks for the note by its token and
    posts it once, while another item's reaction reaches its card meanwhile."""
    service = start(alliance)
    try:
        alliance.fault(service="slack", method="POST", path="*chat.postMessage",
                       mode="error", status=503, count=1)
        alliance.move("FRL-3", "doing")
        wait_for(lambda: not alliance.admin("GET", "/_sandbox/faults"))
        alliance.react("FRL-4", "white_check_mark")
        reacted = time.monotonic()
        wait_for(lambda: in_list(alliance, "FRL-4", "done"))
        assert time.monotonic() - reacted < 1.5
        wait_for(lambda: alliance.message("FRL-3")["thread"])
        wait_for(lambda: alliance.message("FRL-4")["thread"])
        idle(alliance, service)
    finally:
        service.stop()
    assert len(alliance.message("FRL-3")["thread"]) == 1
    with alliance.store() as store:
        assert store.open_intents() == []
        posts = [(i.identity_token, i.state, bool(i.detail.get("refused")))
                 for i in store.intents() if i.operation == "post_note"]
    assert sorted(state for _, state, _ in posts) == ["done", "done", "failed"]
    assert not any(refused for *_, refused in posts)


def _pacing_on(alliance: Synced) -> None:
    """The sandbox's rate limits on, announced so that the runs pace as for the vendors."""
    alliance.admin("POST", "/_sandbox/settings", {"rate_limits": True})
    announce_sandbox(alliance.config.state_path.parent / "sandbox", alliance.server.url,
                     rate_limits=True)


def _thread(alliance: Synced, ts: str) -> list[dict[str, Any]]:
    """A message's thread replies as the sandbox holds them (read without an API call: a test
    polling through Slack's API would spend the tier that the pacing test counts on)."""
    workspace = alliance.server.app.service("slack").workspace  # type: ignore[attr-defined]  # the Slack emulator's
    return list(workspace.replies(alliance.resource("slack", "channel", "actions"), ts))


def _shown(alliance: Synced, number: str) -> dict[str, Any]:
    """An item's message as the sandbox holds it (no API call, as :func:`_thread`)."""
    workspace = alliance.server.app.service("slack").workspace  # type: ignore[attr-defined]  # the Slack emulator's
    channel = alliance.resource("slack", "channel", "actions")
    return dict(workspace.message(channel, alliance.side(number, "slack")))


def test_a_card_added_during_a_burst_becomes_an_item_before_the_lanes_notes_are_done(
        alliance: Synced) -> None:
    """Six moves fill the lane with notes that Slack's pacing lets out about one a second in
    the channel; a card a member adds meanwhile (a whole sync) gets its item and message
    before the last of those notes, instead of after all of them: the sync leaves the
    lane's items to it. Every note is posted once, every decision closed once.

    The pacing is on (the sandbox's limits, and so the client's): with the suite's sandbox,
    which emulates no limits, nothing paces the notes and the lane posts all six within some
    70 ms, often before the new card's delivery has even arrived (the test then failed about
    one run in three), so the order of that message and the notes would only be the order of
    arrival. Paced, the channel's posts (the notes and the sync's) are about 1.1 s apart,
    which the test checks first; the lane books a note's slot only when it can go, so the
    sync's post waits at most one slot behind a note already made, and its message comes
    several notes before the last one."""
    moved = ["FRL-3", "FRL-4", "FRL-5", "FRL-6", "FRL-7", "FRL-8"]
    _pacing_on(alliance)
    service = start(alliance)
    try:
        for number in moved:
            alliance.move(number, "doing")
        wait_for(lambda: all("*In progress*" in _shown(alliance, n)["text"] for n in moved))
        alliance.trello_member(FARAH).fetch_json(
            "/cards", http_method="POST",
            query_params={"idList": alliance.resource("trello", "list", "todo"),
                          "name": "Rent a hall"})

        def added() -> Any:
            with alliance.store() as store:
                return next((i for i in store.list_items() if i.title == "Rent a hall"
                             and store.get_side(i.id, "slack") is not None), None)

        new = wait_for(added)
        ts = {n: alliance.side(n, "slack") for n in moved}
        notes = wait_for(lambda: all(_thread(alliance, t) for t in ts.values())
                         and {n: _thread(alliance, t) for n, t in ts.items()}, timeout=30)
        idle(alliance, service)
    finally:
        service.stop()
    posted = alliance.side(new.number, "slack")
    assert [len(thread) for thread in notes.values()] == [1] * len(moved)
    noted = sorted(float(thread[0]["ts"]) for thread in notes.values())
    # Paced as Slack's one post a second per channel (1.1 s each; 0.5 s of slack for jitter
    # at the two ends): the order below is the pacing's, not the deliveries' arrival.
    channel_posts = sorted([*noted, float(posted)])
    assert channel_posts[-1] - channel_posts[0] >= len(channel_posts) - 1 - 0.5, channel_posts
    assert float(posted) < noted[-1], (posted, noted)
    with alliance.store() as store:
        assert store.open_intents() == []
        decisions = [i.state for i in store.intents() if i.operation == "item_decision"]
        assert all(store.get_item_by_number(n).status == "doing" for n in moved)
    assert decisions.count("done") == len(decisions) >= len(moved)
