"""The sandbox's Trello limits per API key across tokens, as Trello's rate-limits guide says:
300 per 10 s per key (each token 100), ``API_KEY_LIMIT_EXCEEDED`` when the key is spent, and
every request of the key refused for the rest of the window after more than 200 refusals."""

from __future__ import annotations

from typing import Any

import requests

from connectors.sandbox.clients.testing import admin, issued, member_token
from connectors.sandbox.core.server import SandboxServer
from connectors.sandbox.trello.emulator import KEY_REFUSALS_BEFORE_LOCKOUT


def tokens(server: SandboxServer, count: int) -> list[str]:
    """``count`` tokens of the issued key (the coordinator's, then members')."""
    return [issued(server)["trello"]["token"]] + [
        member_token(server, f"m{n}@example.org") for n in range(count - 1)]


def call(server: SandboxServer, token: str) -> requests.Response:
    session = requests.Session()
    session.trust_env = False
    key = issued(server)["trello"]["api_key"]
    return session.get(f"{server.base_urls['trello']}/1/tokens/{token}",
                       params={"key": key, "token": token}, timeout=10)


def statuses(server: SandboxServer, token: str, count: int) -> list[int]:
    return [call(server, token).status_code for _ in range(count)]


def test_tokens_of_one_key_share_its_300_per_10_seconds(sandbox_rl: Any) -> None:
    four = tokens(sandbox_rl, 4)
    # 3 tokens x 100: each within its own limit, the key's 300 spent together.
    assert [statuses(sandbox_rl, token, 100) for token in four[:3]] == [[200] * 100] * 3
    refused = call(sandbox_rl, four[3])
    assert refused.status_code == 429
    assert refused.json() == {"error": "API_KEY_LIMIT_EXCEEDED", "message": "Rate limit exceeded"}
    sandbox_rl.clock.advance(10.0)
    assert call(sandbox_rl, four[3]).status_code == 200


def test_a_token_over_its_100_is_refused_as_the_token(sandbox_rl: Any) -> None:
    token = tokens(sandbox_rl, 1)[0]
    assert statuses(sandbox_rl, token, 100) == [200] * 100
    assert call(sandbox_rl, token).json()["error"] == "API_TOKEN_LIMIT_EXCEEDED"


def test_the_answers_state_the_key_quota(sandbox_rl: Any) -> None:
    first, second = tokens(sandbox_rl, 2)
    statuses(sandbox_rl, first, 5)
    headers = call(sandbox_rl, second).headers
    assert headers["x-rate-limit-api-key-max"] == "300"
    assert headers["x-rate-limit-api-key-remaining"] == "294"
    assert headers["x-rate-limit-api-token-remaining"] == "99"


def refusals_then_one_more(server: Any, tokens_: list[str], refusals: int) -> int:
    """Spend the key (3 calls), make ``refusals`` refused calls 0.9 s later, and return the
    status of a call 0.2 s after those: when the 3 have left the key's window of 1 s."""
    spend, refuse, last = tokens_
    assert statuses(server, spend, 3) == [200] * 3
    server.clock.advance(0.9)
    assert set(statuses(server, refuse, refusals)) == {429}
    server.clock.advance(0.2)
    return call(server, last).status_code


def test_the_limits_can_be_set_small_and_too_many_refusals_lock_the_key_out(
        sandbox_rl: Any) -> None:
    settings = admin(sandbox_rl, "POST", "/_sandbox/settings", {"trello_per_key": [3, 1.0]})
    assert settings["trello_per_key"] == [3, 1.0] and settings["trello_per_token"] == [100, 10.0]
    six = tokens(sandbox_rl, 6)
    # 200 refusals: the key is not locked out, the next call with room in the window passes.
    assert refusals_then_one_more(sandbox_rl, six[:3], KEY_REFUSALS_BEFORE_LOCKOUT) == 200
    sandbox_rl.clock.advance(2.0)
    # 201: every token of the key is refused for the rest of the window, then let in again.
    assert refusals_then_one_more(sandbox_rl, six[3:], KEY_REFUSALS_BEFORE_LOCKOUT + 1) == 429
    sandbox_rl.clock.advance(1.0)
    assert call(sandbox_rl, six[5]).status_code == 200


def test_settings_refuse_a_malformed_limit(sandbox_rl: Any) -> None:
    session = requests.Session()
    session.trust_env = False
    answer = session.post(f"{sandbox_rl.url}/_sandbox/settings",
                          json={"trello_per_key": [0, 1.0]}, timeout=10)
    assert answer.status_code == 400
