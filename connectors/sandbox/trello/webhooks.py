"""Trello webhooks: create (with the HEAD check), list, update, delete, and deliveries.

As Trello's webhooks guide (developer.atlassian.com, "Webhooks") has them:

- "Webhooks belong to tokens and can only monitor objects that the token can access": a
  token whose member may not read the model's board gets 401 ``unauthorized permission
  requested``.
- Creating one sends ``HEAD <callbackURL>`` and fails unless it answers 200, but only for
  loopback callback URLs: the sandbox never contacts another host, so a non-loopback URL is
  accepted unchecked (and never receives deliveries).
- A delivery is a POST of ``{"action", "model", "webhook"}``: ``model`` is the watched model
  in full (the board, the list, or the card as ``GET /cards/{id}`` shows it) and ``action``
  carries ``display`` (its ``translationKey``, see ``display``). A board webhook gets every
  action on the board; a card webhook the card's; a list webhook the actions on its cards,
  moves into and out of it included. The body is compact UTF-8 JSON (``,``/``:`` separators,
  no ``\\u`` escapes), exactly as Trello sends it, signed with ``X-Trello-Webhook`` =
  base64(HMAC-SHA1(the issued ``app_secret``, body bytes + callbackURL)), sent after the
  change is committed.
- A failed delivery (no answer within 10 s, or not 2xx) is retried with backoff (after 30,
  60 and 120 s); each failure counts in the webhook's ``consecutiveFailures`` (from
  ``firstConsecutiveFailDate``), a success resets both; once it has failed
  ``disable_after_failures`` times over ``disable_after_days`` days the webhook is
  disabled (``active: false``). An answer of 410 Gone deletes the webhook at once.
  ``POST /_sandbox/trello/webhook-policy`` ``{"retry_delays", "disable_after_failures",
  "disable_after_days"}`` scales the schedule down for tests.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import sqlite3
import threading
import time
from collections import deque
from typing import Any
from urllib.parse import unquote, urlsplit

import requests
from werkzeug.wrappers import Request, Response

from connectors.sandbox.core.network import is_loopback
from connectors.sandbox.core.service import Identity, ServiceError, json_response, text_response
from connectors.sandbox.trello.access import NO_ACCESS
from connectors.sandbox.trello.display import display
from connectors.sandbox.trello.model import ID_RE, SERVICE, TrelloModel, iso, select_fields

_WEBHOOK_ENDPOINTS = ("create_webhook", "create_token_webhook")
POLICY_PATH = "/_sandbox/trello/webhook-policy"
DELIVERY_TIMEOUT = 10.0  # seconds


def default_policy() -> dict[str, Any]:
    """Trello's retry and disabling schedule (see the module docstring)."""
    return {"retry_delays": [30.0, 60.0, 120.0], "disable_after_failures": 1000,
            "disable_after_days": 30.0}


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
        found = next((self.store.get(SERVICE, kind, model_id)
                      for kind in ("board", "list", "card")
                      if ID_RE.match(model_id) and self.store.get(SERVICE, kind, model_id)),
                     None)
        if found is None:
            raise ServiceError(400, "invalid value for idModel")
        # A token watches only what it can read: a private board's non-members may not.
        board = self.store.get(SERVICE, "board", str(found.get("idBoard") or found["id"]))
        if board is not None and not self._may_read(board, identity):
            raise ServiceError(401, NO_ACCESS)
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

    def _may_read(self, board: dict[str, Any], identity: Identity) -> bool:
        if any(m["idMember"] == identity.person.get("trello_id") for m in board["memberships"]):
            return True
        return (board.get("prefs") or {}).get("permissionLevel", "private") != "private"

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
        """Queue deliveries to active loopback webhooks on the board, the card or its lists."""
        data = action["data"]
        models = {board["id"], (data.get("card") or {}).get("id")}
        models |= {(data.get(name) or {}).get("id") for name in ("list", "listBefore",
                                                                  "listAfter")}
        hooks = [
            h
            for h in self.store.list(SERVICE, "webhook")
            if h["active"] and h["idModel"] in models and _is_loopback_url(h["callbackURL"])
        ]
        if hooks:
            pending = getattr(self._pending, "items", None)
            if pending is None:
                pending = self._pending.items = []
            shown = {**action, "display": display(action)}
            for hook in hooks:
                pending.append({"action": shown, "model": self._model(hook["idModel"]),
                                "webhook": hook})

    def _model(self, model_id: str) -> dict[str, Any]:
        """The watched model in full, as the delivery carries it."""
        card = self.store.get(SERVICE, "card", model_id)
        if card is not None:
            return self.card_json(card)
        for kind in ("board", "list"):
            doc = self.store.get(SERVICE, kind, model_id)
            if doc is not None:
                return dict(doc)
        return {"id": model_id}

    def admin_route(self, request: Request) -> Response | None:
        """``POST /_sandbox/trello/webhook-policy``: scale the retry schedule (tests)."""
        if request.path.rstrip("/") != POLICY_PATH:
            return None
        if request.method == "POST":
            body = request.get_json(force=True, silent=True) or {}
            for name in ("retry_delays", "disable_after_failures", "disable_after_days"):
                if name in body:
                    self.webhook_policy()[name] = body[name]
        return json_response(self.webhook_policy())

    def webhook_policy(self) -> dict[str, Any]:
        """The retry and disabling schedule in force (Trello's unless a test changed it)."""
        policy: dict[str, Any] | None = getattr(self, "_webhook_policy", None)
        if policy is None:
            policy = self._webhook_policy = default_policy()
        return policy

    def dispatch(
        self, request: Request, identity: Identity, endpoint: str, values: dict[str, Any]
    ) -> Response:
        """Run the handler; deliver its webhooks after the app's transaction commits."""
        self._pending.items = []
        response = super().dispatch(request, identity, endpoint, values)
        return response

    def after_commit(self) -> None:
        """Send the queued webhook deliveries (one background thread each, loopback only)."""
        pending = getattr(self._pending, "items", None) or []
        self._pending.items = []
        if pending:
            secret = self.people.credentials.coordinator()["trello"]["app_secret"]
            for delivery in pending:
                threading.Thread(target=self._deliver, args=(delivery, secret),
                                 daemon=True).start()

    def _deliver(self, delivery: dict[str, Any], secret: str) -> None:
        """POST one delivery, retried on Trello's schedule; the webhook's failure counters
        follow (disabled after too many, deleted on 410)."""
        hook_id = delivery["webhook"]["id"]
        url = delivery["webhook"]["callbackURL"]
        body = delivery_body(delivery)
        headers = {"Content-Type": "application/json",
                   "X-Trello-Webhook": trello_signature(body, url, secret)}
        policy = self.webhook_policy()
        for attempt, delay in enumerate([0.0, *policy["retry_delays"]]):
            if attempt:
                time.sleep(float(delay))
            try:
                status: int | None = _session().post(url, data=body, headers=headers,
                                                     timeout=DELIVERY_TIMEOUT).status_code
            except requests.RequestException:
                status = None
            if status is not None and 200 <= status < 300:
                self._count(hook_id, ok=True)
                return
            _failed(url, delivery["action"], status)
            if status == 410:  # Gone: the receiver wants no more
                with contextlib.suppress(sqlite3.ProgrammingError), self.store.transaction():
                    if self.store.get(SERVICE, "webhook", hook_id) is not None:
                        self.store.delete(SERVICE, "webhook", hook_id)
                return
            if not self._count(hook_id, ok=False):
                return  # disabled or gone: no more tries

    def _count(self, hook_id: str, *, ok: bool) -> bool:
        """Note one delivery's outcome on the webhook; False once it is disabled or gone
        (or the sandbox stopped while the delivery waited for its retry)."""
        try:
            return self._counted(hook_id, ok=ok)
        except sqlite3.ProgrammingError:  # the store closed: the sandbox has stopped
            return False

    def _counted(self, hook_id: str, *, ok: bool) -> bool:
        policy = self.webhook_policy()
        with self.store.transaction():
            hook = self.store.get(SERVICE, "webhook", hook_id)
            if hook is None or not hook["active"]:
                return False
            if ok:
                hook.update(consecutiveFailures=0, firstConsecutiveFailDate=None)
            else:
                now = self.now()
                hook["consecutiveFailures"] = int(hook.get("consecutiveFailures") or 0) + 1
                hook["firstConsecutiveFailDate"] = hook.get("firstConsecutiveFailDate") or iso(now)
                since = _seconds(hook["firstConsecutiveFailDate"])
                days = (now - since) / 86400.0 if since is not None else 0.0
                if (hook["consecutiveFailures"] >= int(policy["disable_after_failures"])
                        and days >= float(policy["disable_after_days"])):
                    hook["active"] = False
            self.store.update(SERVICE, "webhook", hook_id, hook)
            return bool(hook["active"])


def delivery_body(delivery: dict[str, Any]) -> bytes:
    """The body as Trello sends it: compact JSON, UTF-8, no ``\\u`` escapes."""
    return json.dumps(delivery, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def trello_signature(body: bytes, callback_url: str, secret: str) -> str:
    """``X-Trello-Webhook``: base64(HMAC-SHA1(app secret, body bytes + callbackURL))."""
    digest = hmac.new(secret.encode(), body + callback_url.encode("utf-8"), hashlib.sha1)
    return base64.b64encode(digest.digest()).decode()


def _seconds(stamp: str) -> float | None:
    import datetime as dt

    try:
        return dt.datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


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
