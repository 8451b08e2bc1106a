"""Trello webhooks: create (with the HEAD check), list, update, delete, and deliveries.

Creating a webhook sends ``HEAD <callbackURL>`` and fails unless it answers 200, but only for
loopback callback URLs: the sandbox never contacts another host, so a non-loopback URL is
accepted unchecked (and never receives deliveries). Deliveries to loopback URLs are POSTs of
``{action, model, webhook}`` signed with ``X-Trello-Webhook`` = base64(HMAC-SHA1(
the issued ``app_secret``, body + callbackURL)), sent after the change is committed.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from collections import deque
from typing import Any
from urllib.parse import unquote, urlsplit

import requests
from werkzeug.wrappers import Request, Response

from connectors.sandbox.core.network import is_loopback
from connectors.sandbox.core.service import Identity, ServiceError, json_response, text_response
from connectors.sandbox.trello.model import ID_RE, SERVICE, TrelloModel, select_fields

_WEBHOOK_ENDPOINTS = ("create_webhook", "create_token_webhook")


def token_bucket(token: str) -> str:
    """A stable, non-reversible stand-in for a token (webhooks are stored per token)."""
    return hashlib.sha256(token.encode()).hexdigest()[:24]


class WebhooksMixin(TrelloModel):
    """Webhooks and their deliveries."""

    _pending: threading.local

    # -- webhooks -------------------------------------------------------------------------

    def before_transaction(
        self, request: Request, identity: Identity, endpoint: str, values: dict[str, Any]
    ) -> Response | None:
        """The HEAD check of a new webhook's callback URL (loopback URLs only, see above)."""
        if endpoint not in _WEBHOOK_ENDPOINTS:
            return None
        url = str(self.params(request).get("callbackURL") or "")
        if not _is_http_url(url):
            return text_response("invalid value for callbackURL", 400)
        if not _is_loopback_url(url):
            return None
        try:
            answer = _session().head(url, timeout=5, allow_redirects=False)
        except requests.RequestException:
            answer = None
        if answer is None or answer.status_code != 200:
            status = "no answer" if answer is None else f"status {answer.status_code}"
            return text_response(f"URL ({url}) did not return 200 status code, got {status}", 400)
        return None

    def handle_create_webhook(self, request: Request, identity: Identity) -> Response:
        """POST /1/webhooks (callbackURL, idModel, description, active)."""
        return self._create_webhook(request, identity)

    def handle_create_token_webhook(
        self, request: Request, identity: Identity, token_id: str
    ) -> Response:
        """POST /1/tokens/{token}/webhooks (py-trello's create_hook)."""
        return self._create_webhook(request, identity)

    def _create_webhook(self, request: Request, identity: Identity) -> Response:
        params = self.params(request)
        model_id = str(params.get("idModel") or "")
        if not ID_RE.match(model_id) or not any(
            self.store.get(SERVICE, kind, model_id) for kind in ("board", "list", "card")
        ):
            raise ServiceError(400, "invalid value for idModel")
        bucket = token_bucket(identity.credential_key)
        url = str(params.get("callbackURL"))
        for hook in self.store.list(SERVICE, "webhook", bucket):
            if hook["callbackURL"] == url and hook["idModel"] == model_id:
                raise ServiceError(
                    400, "A webhook with that callback, model, and token already exists"
                )
        hook = {
            "id": self.new_id(),
            "description": str(params.get("description") or ""),
            "idModel": model_id,
            "callbackURL": url,
            "active": bool(params.get("active", True) in (True, "true", "True", None)),
            "consecutiveFailures": 0,
            "firstConsecutiveFailDate": None,
        }
        self.store.insert(SERVICE, "webhook", hook["id"], hook, parent=bucket)
        return json_response(hook)

    def handle_token_webhooks(
        self, request: Request, identity: Identity, token_id: str
    ) -> Response:
        """GET /1/tokens/{token}/webhooks: the webhooks this token created."""
        return json_response(self.store.list(SERVICE, "webhook", token_bucket(unquote(token_id))))

    def handle_token_info(self, request: Request, identity: Identity, token_id: str) -> Response:
        """GET /1/tokens/{token}: the caller's own token (read/write on everything, never
        expires: what the authorize page grants with scope=read,write and expiration=never).
        Another token is not the caller's to read: 401, as Trello."""
        if unquote(token_id) != identity.credential_key:
            raise ServiceError(401, "invalid token")
        everything = [{"idModel": "*", "modelType": kind, "read": True, "write": True}
                      for kind in ("Board", "Organization")]
        info = {
            "id": self.new_id(), "identifier": "mcm-sync", "idMember": identity.person["trello_id"],
            "dateCreated": "2026-01-01T00:00:00.000Z", "dateExpires": None,
            "permissions": everything,
        }
        return json_response(select_fields(info, request.args.get("fields")))

    def handle_get_webhook(self, request: Request, identity: Identity, webhook_id: str) -> Response:
        """GET /1/webhooks/{id}."""
        return json_response(self.load("webhook", webhook_id))

    def handle_update_webhook(
        self, request: Request, identity: Identity, webhook_id: str
    ) -> Response:
        """PUT /1/webhooks/{id} (description, callbackURL, idModel, active)."""
        hook = self.load("webhook", webhook_id)
        params = self.params(request)
        for field in ("description", "callbackURL", "idModel"):
            if field in params:
                hook[field] = str(params[field])
        if "active" in params:
            hook["active"] = params["active"] in (True, "true", "True")
        self.save("webhook", hook)
        return json_response(hook)

    def handle_delete_webhook(
        self, request: Request, identity: Identity, webhook_id: str
    ) -> Response:
        """DELETE /1/webhooks/{id}."""
        self.load("webhook", webhook_id)
        self.store.delete(SERVICE, "webhook", webhook_id)
        return json_response({"_value": None})

    def after_action(self, action: dict[str, Any], board: dict[str, Any]) -> None:
        """Queue deliveries to active loopback webhooks on the board or the card."""
        models = {
            board["id"],
            action["data"].get("card", {}).get("id"),
            action["data"].get("list", {}).get("id"),
        }
        hooks = [
            h
            for h in self.store.list(SERVICE, "webhook")
            if h["active"] and h["idModel"] in models and _is_loopback_url(h["callbackURL"])
        ]
        if hooks:
            pending = getattr(self._pending, "items", None)
            if pending is None:
                pending = self._pending.items = []
            for hook in hooks:
                model = self.store.get(SERVICE, "board", hook["idModel"]) or {"id": hook["idModel"]}
                pending.append({"action": action, "model": model, "webhook": hook})

    def dispatch(
        self, request: Request, identity: Identity, endpoint: str, values: dict[str, Any]
    ) -> Response:
        """Run the handler; deliver its webhooks after the app's transaction commits."""
        self._pending.items = []
        response = super().dispatch(request, identity, endpoint, values)
        return response

    def after_commit(self) -> None:
        """Send the queued webhook deliveries (background thread, loopback only)."""
        pending = getattr(self._pending, "items", None) or []
        self._pending.items = []
        if pending:
            secret = self.people.credentials.coordinator()["trello"]["app_secret"]
            threading.Thread(target=_deliver, args=(pending, secret), daemon=True).start()


def _is_http_url(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def _is_loopback_url(url: str) -> bool:
    host = urlsplit(url).hostname
    return bool(host) and is_loopback(host or "")


def _session() -> requests.Session:
    session = requests.Session()
    session.trust_env = False  # never through a proxy: loopback only
    return session


# Failed deliveries (no answer or not 2xx), newest last, for the sandbox page.
FAILURES: deque[dict[str, Any]] = deque(maxlen=100)


def _failed(url: str, action: dict[str, Any], status: int | None) -> None:
    FAILURES.append({"url": url, "type": str(action.get("type") or ""), "status": status,
                     "at": time.time()})


def _deliver(pending: list[dict[str, Any]], secret: str) -> None:
    """POST each delivery with Trello's signature header (HMAC-SHA1 with the app secret the
    sandbox issued); failures are kept for the page."""
    session = _session()
    for delivery in pending:
        hook = delivery["webhook"]
        body = json.dumps(delivery)
        digest = hmac.new(
            secret.encode(), (body + hook["callbackURL"]).encode(), hashlib.sha1
        ).digest()
        headers = {
            "Content-Type": "application/json",
            "X-Trello-Webhook": base64.b64encode(digest).decode(),
        }
        try:
            answer = session.post(hook["callbackURL"], data=body.encode(), headers=headers,
                                  timeout=5)
        except requests.RequestException:
            _failed(hook["callbackURL"], delivery["action"], None)
            continue
        if not 200 <= answer.status_code < 300:
            _failed(hook["callbackURL"], delivery["action"], answer.status_code)
