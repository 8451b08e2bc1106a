"""The bot's Slack identity and our Trello member are kept in the state store: asked once per
token, not per process.

A scheduled sync is a process of its own every few minutes; asking ``auth.test`` each time was
a third of a quiet run's calls. These tests check that the identity is recorded and read back
on both state backends, that a new token asks again (and drops the old record), and that a run
failing on a remote call forgets it, so the next run asks Slack again. Our Trello member
(``GET /members/me``) likewise: a run with the same token does not ask, one whose token in the
environment changed asks again.
"""

from __future__ import annotations

import pytest

from sync.engine.read import (
    IDENTITY,
    ME,
    board_identity,
    chat_identity,
    forget_board_identity,
    forget_chat_identity,
)
from tests.support.doctoring import real_mode
from tests.support.fakes import FakeWorld
from tests.support.stores import StoreTarget
from tests.support.synced import Synced, until_quiet

AUTH_TEST = "POST /api/auth.test"
MEMBERS_ME = "GET /1/members/me"


def test_the_identity_is_asked_once_then_read_from_the_store(target: StoreTarget) -> None:
    world = FakeWorld()
    expected = (world.bot.slack_id, world.bot.slack_bot_id)
    with target.open() as store:
        assert chat_identity(world.slack, store) == expected
        assert chat_identity(world.slack, store) == expected
    with target.open() as store:  # another process, the same store
        assert chat_identity(world.slack, store) == expected
    assert world.slack.identity_calls == 1


def test_a_new_token_asks_again_and_drops_the_old_record(target: StoreTarget) -> None:
    world = FakeWorld()
    with target.open() as store:
        chat_identity(world.slack, store)
        world.slack.token = "token-2"
        chat_identity(world.slack, store)
        assert world.slack.identity_calls == 2
        assert [r.logical_key for r in store.list_resources("slack", IDENTITY)] == \
            [world.slack.identity_key()]
        forget_chat_identity(store, world.slack)
        assert store.list_resources("slack", IDENTITY) == []
        chat_identity(world.slack, store)
        assert world.slack.identity_calls == 3


def test_our_trello_member_is_asked_once_per_token(target: StoreTarget) -> None:
    world = FakeWorld()
    member = world.bot.trello_id
    with target.open() as store:
        assert board_identity(world.trello, store) == member
        assert board_identity(world.trello, store) == member
    with target.open() as store:  # another process, the same store and token
        assert board_identity(world.trello, store) == member
    assert world.trello.me_calls == 1
    with target.open() as store:
        world.trello.token = "token-2"
        assert board_identity(world.trello, store) == member
        assert world.trello.me_calls == 2
        assert [r.logical_key for r in store.list_resources("trello", ME)] == \
            [world.trello.identity_key()]  # the first token's record dropped
        forget_board_identity(store, world.trello)
        assert store.list_resources("trello", ME) == []
        board_identity(world.trello, store)
        assert world.trello.me_calls == 3


def auth_tests(alliance: Synced) -> int:
    """``auth.test`` calls the sandbox answered since the counters were reset."""
    routes = alliance.admin("GET", "/_sandbox/stats").get("slack", {})
    return sum(routes.get(AUTH_TEST, {}).values())


def test_a_quiet_sync_is_two_reads_without_auth_test(alliance: Synced) -> None:
    until_quiet(alliance)
    alliance.reset_calls()
    for _ in range(3):  # three processes in a row (each CLI run connects anew)
        assert alliance.json("sync")["quiet"] is True
    assert auth_tests(alliance) == 0
    assert alliance.calls() == {"trello": 3, "slack": 3}  # the board's actions, the history


def test_a_run_failing_on_a_remote_call_asks_again(alliance: Synced) -> None:
    until_quiet(alliance)
    alliance.fault(service="trello", method="GET", path="/1/boards/*/actions", mode="error",
                   status=401, count=1)
    alliance.cli("sync", expect=4)
    alliance.reset_calls()
    alliance.json("sync")
    assert auth_tests(alliance) == 1
    alliance.reset_calls()
    alliance.json("sync")
    assert auth_tests(alliance) == 0


def members_me(alliance: Synced) -> int:
    """``GET /1/members/me`` calls the sandbox answered since the counters were reset."""
    routes = alliance.admin("GET", "/_sandbox/stats").get("trello", {})
    return sum(routes.get(MEMBERS_ME, {}).values())


def test_a_changed_trello_token_asks_who_we_are_again(alliance: Synced,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    until_quiet(alliance)
    real_mode(alliance, monkeypatch)  # the sandbox's own token, now from TRELLO_TOKEN
    alliance.reset_calls()
    alliance.json("sync")
    assert members_me(alliance) == 0  # the same token as the runs before: recorded
    other = alliance.server.app.people.credentials.member_tokens("anna.devries@example.org")
    monkeypatch.setenv("TRELLO_TOKEN", other["trello"])
    alliance.json("sync")
    assert members_me(alliance) == 1
    alliance.reset_calls()
    alliance.json("sync")
    assert members_me(alliance) == 0  # recorded for the new token
