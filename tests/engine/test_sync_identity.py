"""The bot's Slack identity is kept in the state store: asked once per token, not per process.

A scheduled sync is a process of its own every few minutes; asking ``auth.test`` each time was
a third of a quiet run's calls. These tests check that the identity is recorded and read back
on both state backends, that a new token asks again (and drops the old record), and that a run
failing on a remote call forgets it, so the next run asks Slack again.
"""

from __future__ import annotations

from sync.engine.read import IDENTITY, forget_slack_identity, slack_identity
from tests.support.fakes import FakeWorld
from tests.support.stores import StoreTarget
from tests.support.synced import Synced, until_quiet

AUTH_TEST = "POST /api/auth.test"


def test_the_identity_is_asked_once_then_read_from_the_store(target: StoreTarget) -> None:
    world = FakeWorld()
    expected = (world.bot.slack_id, world.bot.slack_bot_id)
    with target.open() as store:
        assert slack_identity(world.slack, store) == expected
        assert slack_identity(world.slack, store) == expected
    with target.open() as store:  # another process, the same store
        assert slack_identity(world.slack, store) == expected
    assert world.slack.identity_calls == 1


def test_a_new_token_asks_again_and_drops_the_old_record(target: StoreTarget) -> None:
    world = FakeWorld()
    with target.open() as store:
        slack_identity(world.slack, store)
        world.slack.token = "token-2"
        slack_identity(world.slack, store)
        assert world.slack.identity_calls == 2
        assert [r.logical_key for r in store.list_resources("slack", IDENTITY)] == \
            [world.slack.identity_key()]
        forget_slack_identity(store)
        assert store.list_resources("slack", IDENTITY) == []
        slack_identity(world.slack, store)
        assert world.slack.identity_calls == 3


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
