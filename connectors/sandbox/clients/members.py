"""Act as an alliance member on a running sandbox, through the vendors' own SDKs.

Members work only in Trello and Slack; on the sandbox, ``mcm-sync sandbox move|react|...``
plays them, so a newcomer can watch a member's change travel through ``mcm-sync sync``
without any account. Each call is what the member's own client would send: py-trello and
slack_sdk with the tokens the sandbox issued to the member (``POST /_sandbox/members/tokens``)
and the sandbox's Trello API key (``GET /_sandbox/credentials``). Anyone may be played, an
alliance member or not: the sandbox then answers as the service would (Trello refuses a
non-member of the board; Slack takes a reaction in a public channel, which mcm-sync ignores).
A refusal is a :class:`~connectors.errors.FatalRemoteError` naming the service's answer.

A newsletter reader's acts are the sandbox's whole person actions (``newsletter``): an
unsubscribe (the webhook and the compliance state together), a bounce, an address change, a
profile update, a signup through the form.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from trello import TrelloClient
from trello.exceptions import ResourceUnavailable

from connectors.errors import FatalRemoteError
from connectors.sandbox.clients.testing import RewritingSession

_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _admin(base: str, path: str, body: Any = None) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(base + path, data=data, method="POST" if data else "GET",
                                     headers={"Content-Type": "application/json"})
    with _NO_PROXY.open(request, timeout=10) as answer:
        return json.loads(answer.read())


@contextmanager
def _refusals() -> Iterator[None]:
    """The services' refusals of a played member, as the connectors' one error type."""
    try:
        yield
    except SlackApiError as error:
        raise FatalRemoteError("slack", str(error.response.get("error") or error)) from None
    except ResourceUnavailable as error:
        raise FatalRemoteError("trello", str(getattr(error, "_msg", error)).splitlines()[0]
                               ) from None


def _guarded(call: Callable[[], Any]) -> Any:
    with _refusals():
        return call()


def newsletter(base_url: str, list_id: str, email: str, action: str, **extra: Any) -> Any:
    """A newsletter reader's act on the audience (``unsubscribe``, ``cleaned``, ``upemail``
    with ``new_email``, ``profile`` with ``merge_fields``, ``subscribe``): one whole act, the
    change and its webhook (``POST /_sandbox/mailchimp/member``)."""
    import urllib.error

    try:
        return _admin(base_url.rstrip("/"), "/_sandbox/mailchimp/member",
                      {"list_id": list_id, "email": email, "action": action, **extra})
    except urllib.error.HTTPError as error:
        detail = json.loads(error.read() or b"{}").get("error") or error.reason
        raise FatalRemoteError("mailchimp", str(detail)) from None


class SandboxMember:
    """One person acting on the sandbox at ``base_url`` (``http://127.0.0.1:PORT``)."""

    def __init__(self, base_url: str, email: str) -> None:
        base = base_url.rstrip("/")
        tokens = _admin(base, "/_sandbox/members/tokens", {"email": email})
        key = _admin(base, "/_sandbox/credentials")["trello"]["api_key"]
        self.email = email
        self.trello = TrelloClient(api_key=key, api_secret=tokens["trello"],
                                   http_service=RewritingSession(f"{base}/trello"))
        self.slack = WebClient(token=tokens["slack"], base_url=f"{base}/slack/api/")
        self.slack.proxy = None  # loopback: never through a proxy from the environment

    def move_card(self, card_id: str, list_id: str) -> dict[str, Any]:
        """Drag a card to another list."""
        return dict(_guarded(lambda: self.trello.fetch_json(
            f"/cards/{card_id}", http_method="PUT", query_params={"idList": list_id})))

    def archive_card(self, card_id: str) -> dict[str, Any]:
        """Archive a card (the sync reads it as cancelled)."""
        return dict(_guarded(lambda: self.trello.fetch_json(
            f"/cards/{card_id}", http_method="PUT", query_params={"closed": "true"})))

    def set_due(self, card_id: str, due: str) -> dict[str, Any]:
        """Change a card's due date (ISO date)."""
        return dict(_guarded(lambda: self.trello.fetch_json(
            f"/cards/{card_id}", http_method="PUT",
            query_params={"due": f"{due}T12:00:00.000Z"})))

    def add_card(self, list_id: str, name: str) -> dict[str, Any]:
        """Add a new card to a list (the sync makes it an action item)."""
        return dict(_guarded(lambda: self.trello.fetch_json(
            "/cards", http_method="POST", query_params={"idList": list_id, "name": name})))

    def comment(self, card_id: str, text: str) -> dict[str, Any]:
        """Comment on a card (the sync copies it to the item's Slack thread)."""
        return dict(_guarded(lambda: self.trello.fetch_json(
            f"/cards/{card_id}/actions/comments", http_method="POST",
            query_params={"text": text})))

    def react(self, channel: str, ts: str, emoji: str) -> None:
        """Add a reaction to a message (a status emoji changes the item's status)."""
        _guarded(lambda: self.slack.reactions_add(channel=channel, timestamp=ts, name=emoji))

    def reply(self, channel: str, ts: str, text: str) -> None:
        """Reply in a message's thread (the sync copies it to the card as a comment)."""
        _guarded(lambda: self.slack.chat_postMessage(channel=channel, thread_ts=ts, text=text))
