"""The registry of services (``sync.core.services.SERVICES``): a service is found by its name
in its role, so a second chat service is one more entry, not an ``if`` across the code."""

from __future__ import annotations

import pytest
import yaml

from connectors.roles import ChatService
from sync.core.config import Config, load_config, parse_config
from sync.core.errors import ConfigError, UserError
from sync.core.services import (
    ALL_SERVICES,
    SERVICES,
    Connected,
    Registered,
    ServiceRegistry,
    Wiring,
)
from sync.engine.conflicts import SIDES
from sync.engine.texts import WHERE
from tests.support.fakes import FakeWorld
from tests.support.fakes_slack import FakeSlack
from tests.support.paths import ROOT


class OtherChat(FakeSlack):
    """Another chat service, in memory: the tests' Slack fake by another name."""

    service_name = "otherchat"


def _registry_with_another_chat(world: FakeWorld) -> ServiceRegistry:
    registry = ServiceRegistry(board=dict(SERVICES.board), chat=dict(SERVICES.chat),
                               audience=dict(SERVICES.audience))
    registry.chat["otherchat"] = Registered("otherchat", "Other Chat",
                                            lambda wiring: OtherChat(world))
    return registry


def _wiring() -> Wiring:
    return Wiring(load_config(ROOT / "config.example.yaml"), sleep=lambda s: None, limits=None)


def test_the_three_services_are_registered_by_role() -> None:
    assert ALL_SERVICES == ("trello", "slack", "mailchimp")
    assert [SERVICES.role_of(name) for name in ALL_SERVICES] == ["board", "chat", "audience"]
    assert SERVICES.titles() == {"trello": "Trello", "slack": "Slack", "mailchimp": "Mailchimp"}
    # What the engine shows and accepts comes from the registry, not from a second list.
    assert {k: WHERE[k] for k in ("trello", "slack")} == SERVICES.titles(("board", "chat"))
    assert SIDES == ("hub", "trello", "slack")


def test_a_second_chat_service_is_one_entry_and_connects_in_the_chat_role() -> None:
    world = FakeWorld()
    registry = _registry_with_another_chat(world)
    assert registry.role_of("otherchat") == "chat"
    assert registry.names(("chat",)) == ("slack", "otherchat")
    connected = Connected()
    registry.add_connectors(connected, ("otherchat",), _wiring())
    assert isinstance(connected.chat, ChatService)
    assert connected.need_chat().service_name == "otherchat"
    assert connected.board is None and connected.audience is None


def test_one_service_per_role_and_no_unknown_service() -> None:
    registry = _registry_with_another_chat(FakeWorld())
    wiring = _wiring()
    with pytest.raises(UserError, match="two chat services"):
        registry.add_connectors(Connected(), ("otherchat", "otherchat"), wiring)
    with pytest.raises(UserError, match="unknown service 'teams'") as raised:
        registry.add_connectors(Connected(), ("teams",), wiring)
    assert raised.value.hint == "the services are: trello, slack, otherchat, mailchimp"


def _paced_config(pacing: str, base_url: str | None) -> Config:
    text = (ROOT / "config.example.yaml").read_text(encoding="utf-8")
    data = yaml.safe_load(text)
    for service, path in (("trello", "/trello"), ("slack", "/slack/api/")):
        data[service]["pacing"] = pacing
        if base_url:
            data[service]["base_url"] = f"{base_url}{path}"
    return parse_config(yaml.safe_dump(data), "alliance.yaml")


def _waits_of(config: Config) -> list[float]:
    """What the real services' connectors of ``config`` sleep for two posts to one channel
    and 91 Trello requests (one over Trello's paced window)."""
    slept: list[float] = []
    wiring = Wiring(config, sleep=slept.append, limits=None)
    slack = SERVICES.chat["slack"].make(wiring)
    trello = SERVICES.board["trello"].make(wiring)
    for _ in range(2):
        slack._pacer.acquire("chat.postMessage", "C1")  # the pacer the factory gave it
    for _ in range(91):
        trello._pacer.acquire("/1/cards")  # the pacer the factory gave it
    return slept


def test_the_real_services_are_paced_unless_a_base_url_is_set_to_pacing_none(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """``pacing: none`` (a test server, a sandbox without limits behind ``base_url``) spaces
    no call; the default paces at the vendors' limits; the vendors' own APIs are always paced."""
    for name in ("TRELLO_API_KEY", "TRELLO_TOKEN", "SLACK_BOT_TOKEN", "MAILCHIMP_API_KEY"):
        monkeypatch.setenv(name, "x-test-value")
    local = "http://127.0.0.1:9"
    assert len(_waits_of(_paced_config("vendor", local))) == 2  # a post, a Trello window
    assert _waits_of(_paced_config("none", local)) == []
    with pytest.raises(ConfigError) as refused:
        _paced_config("none", None)
    assert any("trello: pacing: none is only for a base_url" in line
               for line in refused.value.lines()), refused.value.lines()
