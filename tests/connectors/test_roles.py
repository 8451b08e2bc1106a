"""The services by role (``connectors.roles``): each connector and each test fake is the
board, chat or audience service it stands for, and the engine is typed by role, not vendor.

mypy holds the signatures (each connector module assigns its class to ``type[<role>]``);
these tests hold the method names at run time and that nothing else crept back in.
"""

from __future__ import annotations

import ast
import dataclasses

import pytest

from connectors.mailchimp.connector import MailchimpConnector
from connectors.roles import AudienceService, BoardService, ChatService
from connectors.slack.connector import SlackConnector
from connectors.trello.connector import TrelloConnector
from sync.core.services import Connected
from tests.support.fakes import FakeWorld
from tests.support.paths import ROOT

LOOPBACK = "http://127.0.0.1:9"  # never called: constructing a connector makes no request


@pytest.mark.parametrize(("connector", "role"), [
    (lambda: SlackConnector("xoxb-test", base_url=f"{LOOPBACK}/slack/api/"), ChatService),
    (lambda: TrelloConnector("key", "token", base_url=f"{LOOPBACK}/trello"), BoardService),
    (lambda: MailchimpConnector("key-us1", server="us1", base_url=f"{LOOPBACK}/3.0"),
     AudienceService),
])
def test_each_connector_is_the_service_of_its_role(connector, role):
    assert isinstance(connector(), role)


def test_the_fakes_of_the_tests_are_services_of_their_roles():
    world = FakeWorld()
    assert isinstance(world.slack, ChatService)
    assert isinstance(world.trello, BoardService)
    assert isinstance(world.mailchimp, AudienceService)


def test_a_service_lacking_a_method_is_not_of_the_role():
    class HalfChat:
        def post_message(self, channel_id, text, **kw):  # pragma: no cover - never called
            return None

    assert not isinstance(HalfChat(), ChatService)


def test_connected_is_typed_by_role():
    fields = {f.name: f.type for f in dataclasses.fields(Connected)}
    assert fields["chat"] == "ChatService | None"
    assert fields["board"] == "BoardService | None"
    assert fields["audience"] == "AudienceService | None"
    assert not any(name in fields for name in ("slack", "trello", "mailchimp"))


def test_no_module_of_sync_names_a_vendor_connector_outside_the_place_that_picks_it():
    """Only ``sync.core.services`` (which builds the connectors from the config) imports a
    vendor's connector class; everything else sees the roles of ``connectors.roles``."""
    pickers = {ROOT / "sync" / "core" / "services.py"}
    offenders = []
    for path in sorted((ROOT / "sync").rglob("*.py")):
        if path in pickers:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").endswith(".connector") \
                    and (node.module or "").startswith("connectors."):
                offenders.append(f"{path.relative_to(ROOT)}: from {node.module}")
    assert offenders == []


def test_the_doctor_gives_slacks_checks_only_to_slacks_connector():
    """Another chat service (here the tests' in-memory one, which has no token scopes to
    show) gets none of Slack's checks; the doctor still runs the rest."""
    from sync.core.config import load_config
    from sync.doctor.run import diagnose

    other_chat = FakeWorld().slack
    assert isinstance(other_chat, ChatService) and not hasattr(other_chat, "granted_scopes")
    report = diagnose(load_config(ROOT / "config.example.yaml"), Connected(chat=other_chat), None)
    assert report.checks and not any(check.service == "slack" for check in report.checks)
