"""Mailchimp list webhooks through the connector's call path: list, create, delete.

Kept beside :mod:`connectors.mailchimp.connector` (which is long enough). Mailchimp first sends
``GET`` to the URL and refuses the webhook unless it answers 200; deliveries are unsigned form
posts, so the URL carries a secret (``mcm-sync serve`` checks it). Never log the URL.
"""

from __future__ import annotations

from typing import Any

EVENTS = {"subscribe": False, "unsubscribe": True, "profile": True, "cleaned": True,
          "upemail": True, "campaign": False}
# A person's own unsubscribe ("user"), the list owner's actions ("admin"); not our API calls:
# those are our own writes, already known.
SOURCES = {"user": True, "admin": True, "api": False}


def list_webhooks(connector: Any, audience_id: str) -> list[dict[str, Any]]:
    """The audience's webhooks (id, url, events, sources)."""
    raw = connector._call("list webhooks",
                          lambda: connector._client.lists.get_list_webhooks(audience_id))
    return list((raw or {}).get("webhooks") or [])


def create_webhook(connector: Any, audience_id: str, url: str) -> dict[str, Any]:
    """A webhook on the audience for people's own changes; looked up after a lost answer."""

    def recover() -> dict[str, Any] | None:
        return next((h for h in list_webhooks(connector, audience_id) if h.get("url") == url),
                    None)

    body = {"url": url, "events": EVENTS, "sources": SOURCES}
    return dict(connector._call(
        "create webhook", lambda: connector._client.lists.create_list_webhook(audience_id, body),
        create=True, recover=recover))


def delete_webhook(connector: Any, audience_id: str, webhook_id: str) -> None:
    """Delete one webhook of the audience."""
    connector._call("delete webhook",
                    lambda: connector._client.lists.delete_list_webhook(audience_id, webhook_id))
