"""``serve`` while Slack holds the notes back (issue 24): a thread note meets a 429 with a
Retry-After, and a member's reaction on another item still reaches its card at once; the
note is posted once the Retry-After has passed, exactly once, its journal closed ``done``.

A real in-process ``serve`` against the real sandbox (the 429 is the sandbox's ``ratelimit``
fault with a chosen Retry-After, as Slack sends it).
"""

from __future__ import annotations

import time

from tests.support.serving import idle, in_list, start, status_shown, wait_for
from tests.support.synced import Synced

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
