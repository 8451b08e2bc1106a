"""Trello webhooks of the connector: list ours, create one, delete one.

``mcm-sync serve`` registers one webhook on the board (``POST /webhooks``; Trello first sends
``HEAD`` to the callback URL and refuses the webhook unless it answers 200), adopts the one it
finds on a later start (``GET /tokens/{token}/webhooks``) and makes it again when Trello has
disabled it (``active: false`` after repeated failed deliveries). A create whose answer was
lost is looked up by model and callback URL before it is ever repeated.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from connectors.trello.core import TrelloCore


@dataclass(frozen=True)
class TrelloWebhook:
    """One webhook of our token."""

    id: str
    model_id: str
    callback_url: str
    active: bool
    description: str = ""
    # Trello's count of failed deliveries in a row, and when the first of them was.
    consecutive_failures: int = 0
    first_failure: str = ""


def _webhook(data: Mapping[str, Any]) -> TrelloWebhook:
    return TrelloWebhook(id=str(data.get("id") or ""), model_id=str(data.get("idModel") or ""),
                         callback_url=str(data.get("callbackURL") or ""),
                         active=bool(data.get("active", True)),
                         description=str(data.get("description") or ""),
                         consecutive_failures=int(data.get("consecutiveFailures") or 0),
                         first_failure=str(data.get("firstConsecutiveFailDate") or ""))


class TrelloWebhooks(TrelloCore):
    """The webhook calls, on the connector's one call path."""

    def webhooks(self) -> list[TrelloWebhook]:
        """Every webhook our token made (one call)."""
        token = quote(self._secrets[1], safe="")
        return self._call("GET", f"/tokens/{token}/webhooks",
                          lambda data: [_webhook(d) for d in data or []])

    def create_webhook(self, model_id: str, callback_url: str,
                       description: str = "") -> TrelloWebhook:
        """A webhook on ``model_id`` delivering to ``callback_url`` (Trello checks it first)."""

        def recover() -> TrelloWebhook | None:
            return next((h for h in self.webhooks() if h.model_id == model_id
                         and h.callback_url == callback_url), None)

        return self._call("POST", "/webhooks", _webhook,
                          body={"idModel": model_id, "callbackURL": callback_url,
                                "description": description}, recover=recover)

    def delete_webhook(self, webhook_id: str) -> None:
        """Delete one of our webhooks."""
        self._call("DELETE", f"/webhooks/{webhook_id}", lambda data: None)
