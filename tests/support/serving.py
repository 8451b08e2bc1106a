"""A running ``serve`` for a synced alliance, and the waits and looks its tests share."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import requests

from connectors.sandbox.clients.testing import issued
from sync.api import Alliance
from sync.serve.hooks import Scope
from sync.serve.server import ServeOptions, Service
from sync.state.events import EventQueue
from tests.support.synced import Synced


def wait_for(check: Callable[[], Any], timeout: float = 15.0) -> Any:
    """Poll ``check`` until it returns something true (or fail after ``timeout``)."""
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(0.05)


def session() -> requests.Session:
    """A requests session that ignores proxy settings (loopback only)."""
    made = requests.Session()
    made.trust_env = False
    return made


def start(alliance: Synced, **options: Any) -> Service:
    """A running serve for the alliance (no backstop sync unless asked)."""
    options.setdefault("reconcile_every", None)
    options.setdefault("port", 0)
    return Service(Alliance(alliance.config), ServeOptions(**options)).start()


def pending(alliance: Synced) -> list[Any]:
    """The deliveries not processed yet (a fresh queue handle, closed again)."""
    with EventQueue(alliance.config.state_location, schema=alliance.config.state_schema) as queue:
        return queue.pending()


def idle(alliance: Synced, service: Service) -> None:
    """Wait until the queue is empty and the worker has let go of the alliance's lock."""
    time.sleep(0.3)  # deliveries of our own writes still on their way
    wait_for(lambda: not pending(alliance))
    service.stop()


def status_shown(alliance: Synced, number: str, label: str) -> bool:
    """Whether the item's message shows the status ``label``."""
    return f"*{label}*" in alliance.message(number)["text"]


def in_list(alliance: Synced, number: str, status: str) -> bool:
    """Whether the item's card is on the list of ``status``."""
    return alliance.card(number)["idList"] == alliance.resource("trello", "list", status)


def issued_secret(alliance: Synced, service: str, name: str) -> str:
    """A secret the alliance's sandbox issued (as the vendor issues it to the app)."""
    return issued(alliance.server)[service][name]


SCOPE = Scope(board_id="B1", trello_callback_url="https://h.example.org/hooks/trello",
              actions_channel="C1", audience_id="L1", me_trello="ME", me_slack=("UBOT", "BBOT"))
