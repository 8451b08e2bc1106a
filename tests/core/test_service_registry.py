"""The registry of services (``sync.core.services.SERVICES``): a service is found by its name
in its role, so a second chat service is one more entry, not an ``if`` across the code."""

from __future__ import annotations

import pytest

from connectors.roles import ChatService
from sync.core.config import load_config
from sync.core.errors import UserError
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
