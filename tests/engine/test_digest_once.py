"""One weekly digest, even after a lost state store (issue 21, item 10).

The sync error's hint says to run ``bootstrap`` when the state store is gone; bootstrap adopts
the board and the channels again, and the next ``sync`` posted the week's digest a second
time the same day (the digest's bookmark was in the lost store). The digest now carries its
kind and time in its metadata, and a sync without a bookmark looks in the general channel for
our last digest before posting. The plenary reminders likewise look in the channel before
posting one the store has no record of.
"""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

import pytest

from playbooks import load_playbook
from sync.core.services import connect
from sync.plenary.meetings import post_meeting_reminders
from tests.support.synced import ESRA, Synced


def _digests(alliance: Synced) -> list[str]:
    channel = alliance.resource("slack", "channel", "general")
    history = alliance.slack_member(ESRA).conversations_history(channel=channel)["messages"]
    return [m["text"] for m in history if "Weekly digest" in m["text"]]


@pytest.fixture
def alliance(tmp_path: Path) -> Synced:
    made = Synced(tmp_path)
    made.cli("bootstrap")
    return made


def test_a_rebuilt_state_does_not_post_the_digest_again(alliance: Synced) -> None:
    try:
        assert alliance.json("sync")["digest_posted"] is True
        assert len(_digests(alliance)) == 1
        alliance.config.state_path.unlink()  # the state store is lost
        alliance.cli("bootstrap")  # what the hint says: adopts the board and channels again
        again = alliance.json("sync")
        assert again["digest_posted"] is False
        assert len(_digests(alliance)) == 1
        # The bookmark came back from the channel: the next run does not look again, and
        # does not post either.
        assert alliance.json("sync")["digest_posted"] is False
    finally:
        alliance.close()


def test_a_digest_older_than_the_interval_does_not_stop_the_next(tmp_path: Path) -> None:
    made = Synced(tmp_path, copy_of=None)
    text = made.config_path.read_text(encoding="utf-8")
    made.config_path.write_text(text.replace("digest_every: 7d", "digest_every: 1s"),
                                encoding="utf-8")
    try:
        made.cli("bootstrap")
        made.cli("sync")
        made.config.state_path.unlink()
        made.cli("bootstrap")
        time.sleep(1.1)
        assert made.json("sync")["digest_posted"] is True
        assert len(_digests(made)) == 2
    finally:
        made.close()


def test_a_rebuilt_state_does_not_post_a_meeting_reminder_again(tmp_path: Path) -> None:
    """The same for the plenary reminders (posted by the sync beside the digest)."""
    made = Synced(tmp_path)
    config, book = made.config, load_playbook("en")
    now = dt.datetime(2027, 2, 16, 9, 0, tzinfo=dt.UTC)  # a week before the kick-off
    try:
        made.cli("bootstrap", "--only", "trello,slack")
        with made.store() as store, connect(config, ("slack",)) as connected:
            first = post_meeting_reminders(config, book, connected.chat, store, now)
        assert [r.lead_days for r in first] == [7]
        config.state_path.unlink()
        made.cli("bootstrap", "--only", "trello,slack")
        with made.store() as store, connect(config, ("slack",)) as connected:
            post_meeting_reminders(config, book, connected.chat, store, now)
            again = post_meeting_reminders(config, book, connected.chat, store, now)
        assert again == []
        channel = made.resource("slack", "channel", "general")
        history = made.slack_member(ESRA).conversations_history(channel=channel)["messages"]
        assert len([m for m in history if "Plenary meeting in one week" in m["text"]]) == 1
    finally:
        made.close()
