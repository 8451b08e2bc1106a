"""Vendor limits across connectors and workers: Trello's per-key window shared by tokens,
in PostgreSQL and in one process, hashed bucket names, Mailchimp's connection leases.

The sandbox enforces a small per-key window here (``trello_per_key``), so the tests need no
10-second waits; two connectors on two tokens of one key stand for two workers' alliances.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from connectors.limits import LocalLimits, RateLimits, bucket_name
from connectors.pacing import ConnectionGate, SlackPacer, TrelloPacer
from connectors.rate_limits import Limit
from connectors.retry import RetryPolicy
from connectors.sandbox.clients import testing
from connectors.sandbox.core.server import SandboxServer
from connectors.trello.connector import TrelloConnector
from sync.limits import limits_for
from sync.limits.postgres import SCHEMA, PostgresLimits, conninfo

KEY_WINDOW = (20, 1.0)  # what the sandbox enforces per key in these tests: 20 per second
PACED = Limit(18, 1.0)  # what the pacers book (the header-stated quota less 10 %)
CALLS_EACH = 22  # two connectors: 44 calls, more than two windows' worth
RETRY = RetryPolicy(max_attempts=8, max_total_seconds=30, initial_wait=0.05, jitter=0.0)


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[SandboxServer]:
    server = SandboxServer(port=0, data_dir=tmp_path / "sandbox", rate_limits=True)
    server.start()
    testing.admin(server, "POST", "/_sandbox/settings", {"trello_per_key": list(KEY_WINDOW)})
    yield server
    server.stop()


def trello_on(server: SandboxServer, token: str, limits: RateLimits | None) -> TrelloConnector:
    """A connector of its own (its own pacer) on the issued key and ``token``."""
    key = testing.issued(server)["trello"]["api_key"]
    pacer = TrelloPacer(limits=limits, api_key=key, token=token, per_key=PACED)
    return TrelloConnector(key, token, base_url=server.base_urls["trello"], policy=RETRY,
                           pacer=pacer)


def run_together(connectors: list[TrelloConnector]) -> None:
    """Every connector makes CALLS_EACH calls, each in a thread of its own, at once."""
    errors: list[BaseException] = []

    def calls(connector: TrelloConnector) -> None:
        try:
            for _ in range(CALLS_EACH):
                connector.token_info()
        except BaseException as error:  # reported by the assertion below
            errors.append(error)

    threads = [threading.Thread(target=calls, args=(c,)) for c in connectors]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []


def refused(server: SandboxServer) -> int:
    """How many Trello requests the sandbox answered 429."""
    return sum(codes.get("429", 0) for codes in testing.admin(
        server, "GET", "/_sandbox/stats").get("trello", {}).values())


def two_tokens(server: SandboxServer) -> tuple[str, str]:
    """The coordinator's token and a member's: two alliances' tokens of one key."""
    return testing.issued(server)["trello"]["token"], testing.member_token(
        server, "ana@example.org")


def test_two_tokens_paced_alone_overrun_the_key(sandbox: SandboxServer) -> None:
    # The reason for the rest: each connector within its token's limit, the key overrun.
    first, second = two_tokens(sandbox)
    run_together([trello_on(sandbox, first, None), trello_on(sandbox, second, None)])
    assert refused(sandbox) > 0


def test_two_workers_sharing_postgresql_stay_under_the_key(
        sandbox: SandboxServer, pg_url: str) -> None:
    first, second = two_tokens(sandbox)
    # Two backends, two connections: what two worker processes have.
    workers = [PostgresLimits(pg_url), PostgresLimits(pg_url)]
    try:
        run_together([trello_on(sandbox, first, workers[0]),
                      trello_on(sandbox, second, workers[1])])
        assert refused(sandbox) == 0
        assert all(worker.round_trips >= CALLS_EACH for worker in workers)
    finally:
        for worker in workers:
            worker.close()


def test_one_process_without_postgresql_shares_the_key_in_memory(
        sandbox: SandboxServer) -> None:
    first, second = two_tokens(sandbox)
    shared = LocalLimits()
    run_together([trello_on(sandbox, first, shared), trello_on(sandbox, second, shared)])
    assert refused(sandbox) == 0


def test_the_quota_trellos_headers_state_is_what_is_paced(sandbox: SandboxServer) -> None:
    token = testing.issued(sandbox)["trello"]["token"]
    pacer = TrelloPacer(limits=LocalLimits(), api_key="k", token=token)
    key = testing.issued(sandbox)["trello"]["api_key"]
    trello = TrelloConnector(key, token, base_url=sandbox.base_urls["trello"], pacer=pacer)
    trello.token_info()
    # Sandbox: 20 per 1 s per key (less 10 %), 100 per 10 s per token (less the reserve of 2).
    assert pacer.shared_limits == {"key": Limit(18, 1.0), "token": Limit(98, 10.0)}


def test_bucket_names_never_hold_a_secret(sandbox: SandboxServer, pg_url: str) -> None:
    issued = testing.issued(sandbox)
    key, token = issued["trello"]["api_key"], issued["trello"]["token"]
    bot = issued["slack"]["bot_token"]
    limits = PostgresLimits(pg_url)
    try:
        trello_on(sandbox, token, limits).token_info()
        SlackPacer(limits=limits, token=bot, sleep=lambda _: None).acquire("chat.update")
        with ConnectionGate(limits=limits, api_key=issued["mailchimp"]["api_key"]):
            pass
        with psycopg.connect(conninfo(pg_url)) as conn:
            names = [row[0] for row in conn.execute(f"SELECT bucket FROM {SCHEMA}.slots")]
    finally:
        limits.close()
    assert bucket_name("trello-key", key) in names
    assert bucket_name("trello-token", token) in names
    assert bucket_name("slack", bot, "chat.update") in names
    for secret in (key, token, bot, issued["mailchimp"]["api_key"]):
        assert not any(secret in name or secret[:12] in name for name in names)


def test_slack_books_per_app_installation_and_method() -> None:
    limits = LocalLimits()
    one = SlackPacer(limits=limits, token="xoxb-one", sleep=lambda _: None)
    other = SlackPacer(limits=limits, token="xoxb-two", sleep=lambda _: None)
    tier2 = 20  # conversations.list: 20 per minute
    waits = [one.acquire("conversations.list") for _ in range(tier2 + 1)]
    assert waits[:tier2] == [0.0] * tier2 and waits[-1] > 60  # the 21st: after the window
    # Another workspace's installation, and another method, have their own windows.
    assert other.acquire("conversations.list") == 0.0
    assert one.acquire("users.info") == 0.0


def test_a_mailchimp_lease_is_given_back_when_the_call_fails(pg_url: str) -> None:
    workers = [PostgresLimits(pg_url), PostgresLimits(pg_url)]
    gates = [ConnectionGate(1, limits=worker, api_key="0123abcd-us1") for worker in workers]
    try:
        with pytest.raises(RuntimeError), gates[0]:
            raise RuntimeError("the call failed")
        taken = threading.Event()

        def hold() -> None:
            with gates[1]:
                taken.set()

        thread = threading.Thread(target=hold)
        thread.start()
        thread.join(5)
        assert taken.is_set()  # the other worker got the only connection
    finally:
        for worker in workers:
            worker.close()


def test_a_lease_is_exclusive_across_workers_and_freed_when_a_worker_dies(pg_url: str) -> None:
    holder, waiter = PostgresLimits(pg_url), PostgresLimits(pg_url)
    got = threading.Event()
    try:
        lease = holder.lease("mailchimp:abc", 1)
        lease.__enter__()

        def wait_for_it() -> None:
            with waiter.lease("mailchimp:abc", 1):
                got.set()

        thread = threading.Thread(target=wait_for_it, daemon=True)
        thread.start()
        assert not got.wait(0.3)  # one slot, held by the other worker
        holder.close()  # the holder's connection ends, as when its process is killed
        assert got.wait(5)
        thread.join(5)
    finally:
        waiter.close()


def test_an_unreachable_database_falls_back_to_this_process() -> None:
    limits = PostgresLimits("postgresql://nobody@127.0.0.1:1/none")
    bucket = [("b", Limit(1, 60.0))]
    assert limits.reserve(bucket) == 0.0
    assert limits.reserve(bucket) > 59  # still paced, in this process
    with limits.lease("m", 1):
        pass


def test_the_backend_follows_the_state_store(pg_url: str) -> None:
    assert isinstance(limits_for(None), LocalLimits)
    assert limits_for(None) is limits_for("")
    made: Any = limits_for(pg_url)
    assert isinstance(made, PostgresLimits) and made is limits_for(pg_url)


def test_a_new_connector_on_the_key_paces_at_the_quota_another_was_told() -> None:
    # A worker's next alliance on the key must not start from the published 300 when
    # Trello's answers have said otherwise: its first call would overrun.
    limits = LocalLimits()
    told = TrelloPacer(limits=limits, api_key="key", token="token-1", sleep=lambda _: None)
    told.observe({"x-rate-limit-api-key-max": "20", "x-rate-limit-api-key-interval-ms": "10000",
                  "x-rate-limit-api-key-remaining": "19"})
    newcomer = TrelloPacer(limits=limits, api_key="key", token="token-2", sleep=lambda _: None)
    newcomer.acquire("/1/boards/b")
    assert newcomer.shared_limits["key"] == Limit(18, 10.0)
    other_key = TrelloPacer(limits=limits, api_key="other", token="t", sleep=lambda _: None)
    other_key.acquire("/1/boards/b")
    assert other_key.shared_limits["key"] == Limit(270, 10.0)


def test_a_stated_quota_reaches_the_other_workers(pg_url: str) -> None:
    told, other = PostgresLimits(pg_url), PostgresLimits(pg_url)
    try:
        bucket = bucket_name("trello-key", "a key of this test")
        assert other.learned(bucket) is None
        told.learn(bucket, Limit(18, 10.0))
        fresh = PostgresLimits(pg_url)  # a worker started after the quota was stated
        assert fresh.learned(bucket) == Limit(18, 10.0)
        fresh.close()
    finally:
        told.close()
        other.close()


def test_in_one_process_another_process_on_the_token_still_holds_it_back() -> None:
    # SQLite: a coordinator's command beside a cron run spends the same token unseen here;
    # Trello's count of the token says so, and the token waits a window, as before.
    limits = LocalLimits()
    pacer = TrelloPacer(limits=limits, api_key="key", token="tok", sleep=lambda _: None)
    pacer.acquire("/1/boards/b")
    pacer.observe({"x-rate-limit-api-token-max": "100",
                   "x-rate-limit-api-token-interval-ms": "10000",
                   "x-rate-limit-api-token-remaining": "60"})  # 40 counted, 1 ours
    assert pacer.acquire("/1/boards/b") > 9
    quiet = TrelloPacer(limits=LocalLimits(), api_key="key", token="tok", sleep=lambda _: None)
    quiet.acquire("/1/boards/b")
    quiet.observe({"x-rate-limit-api-token-max": "100",
                   "x-rate-limit-api-token-interval-ms": "10000",
                   "x-rate-limit-api-token-remaining": "99"})
    assert quiet.acquire("/1/boards/b") == 0.0


def test_postgresql_answers_when_a_call_could_go_without_booking(pg_url: str) -> None:
    limits = PostgresLimits(pg_url)
    try:
        wanted = [(bucket_name("slack", uuid_token(), "chat.update"), Limit(1, 30.0))]
        assert limits.ready_in(wanted) == 0.0
        limits.reserve(wanted)
        assert 25.0 < limits.ready_in(wanted) <= 30.0
        assert 25.0 < limits.ready_in(wanted) <= 30.0  # asking books nothing
        assert 25.0 < limits.reserve(wanted) <= 30.0  # the peeks took no slot before it
    finally:
        limits.close()


def uuid_token() -> str:
    """A token no other test's bucket shares."""
    import uuid

    return uuid.uuid4().hex
