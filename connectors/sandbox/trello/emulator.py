"""The Trello REST API emulator (mounted at ``/trello``, so ``/trello/1/...``).

Routes and authentication live here; the handlers are in ``boards`` (boards, lists,
actions), ``cards`` (cards, card labels/members, comments), ``items``
(checklists, check items), ``fields`` (labels, custom fields) and
``members``; shapes in ``model`` (all in this package).

Authentication: ``key`` + ``token`` as query/form/JSON parameters, or an
``Authorization: OAuth oauth_consumer_key="..", oauth_token=".."`` header (OAuth signatures are
not verified). Only credentials the sandbox issued are accepted (``core.credentials``): the
issued API key (else 401 ``invalid key``) with the coordinator's token or a member's issued token
(else 401 ``invalid token``). Errors are plain text as Trello's are.

Webhooks (HEAD check of loopback callback URLs, signed deliveries) are in
``webhooks``; the issued ``app_secret`` is the HMAC key of ``X-Trello-Webhook``.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote, urlsplit

from werkzeug.routing import Map, Rule
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request, Response

from connectors.rate_limits import TRELLO_MEMBERS_ROUTES, TRELLO_PER_KEY, TRELLO_PER_TOKEN, Limit
from connectors.sandbox.core.page import render_fragment
from connectors.sandbox.core.ratelimit import WindowLimiter
from connectors.sandbox.core.service import (
    AuthFailure,
    Identity,
    ServiceError,
    json_response,
    text_response,
)
from connectors.sandbox.trello.boards import BoardsMixin
from connectors.sandbox.trello.cards import CardsMixin
from connectors.sandbox.trello.fields import FieldsMixin
from connectors.sandbox.trello.items import ItemsMixin
from connectors.sandbox.trello.members import MembersMixin
from connectors.sandbox.trello.model import SERVICE
from connectors.sandbox.trello.webhooks import FAILURES, WebhooksMixin

MAX_BATCH = 10
# "If the amount of 429 errors per API key exceeds 200, Trello will return 429 for the
# remainder of the API key requests for the remainder of the 10s window" (rate-limits guide).
KEY_REFUSALS_BEFORE_LOCKOUT = 200
_OAUTH_PAIR = re.compile(r'(\w+)="([^"]*)"')
_TOKEN_PATH = re.compile(r"^/1/tokens/([^/]+)/")


def _rules() -> list[Rule]:
    get, post, put, delete = ["GET"], ["POST"], ["PUT"], ["DELETE"]
    table: list[tuple[str, str, list[str]]] = [
        ("/1/members/me", "me", get),
        ("/1/members/me/boards", "my_boards", get),
        (
            "/1/members/me/boards/<any(open,closed,all,members,organization,public,starred):filter>",
            "my_boards",
            get,
        ),
        ("/1/members/<member_id>", "member", get),
        ("/1/members/<member_id>/boards", "member_boards", get),
        ("/1/boards", "create_board", post),
        ("/1/boards/<board_id>", "get_board", get),
        ("/1/boards/<board_id>", "update_board", put),
        ("/1/boards/<board_id>", "delete_board", delete),
        ("/1/boards/<board_id>/<any(name,desc,closed):field>", "update_board_field", put),
        ("/1/boards/<board_id>/dateLastActivity", "board_last_activity", get),
        ("/1/boards/<board_id>/lists", "board_lists", get),
        ("/1/boards/<board_id>/lists", "create_board_list", post),
        ("/1/boards/<board_id>/cards", "board_cards", get),
        (
            "/1/boards/<board_id>/cards/<any(open,closed,all,visible,none):filter>",
            "board_cards",
            get,
        ),
        ("/1/boards/<board_id>/cards/<card_id>", "board_card", get),
        ("/1/boards/<board_id>/labels", "board_labels", get),
        ("/1/boards/<board_id>/labels", "create_board_label", post),
        ("/1/boards/<board_id>/labels/<label_id>", "get_label", get),
        ("/1/boards/<board_id>/checklists", "board_checklists", get),
        ("/1/boards/<board_id>/customFields", "board_custom_fields", get),
        ("/1/boards/<board_id>/members", "board_members", get),
        ("/1/boards/<board_id>/members", "invite_board_member", put),
        ("/1/boards/<board_id>/members/<member_id>", "put_board_member", put),
        ("/1/boards/<board_id>/members/<member_id>", "remove_board_member", delete),
        ("/1/boards/<board_id>/actions", "board_actions", get),
        ("/1/lists", "create_list", post),
        ("/1/lists/<list_id>", "get_list", get),
        ("/1/lists/<list_id>", "update_list", put),
        ("/1/lists/<list_id>/<any(name,closed,pos):field>", "update_list_field", put),
        ("/1/lists/<list_id>/cards", "list_cards", get),
        ("/1/cards", "create_card", post),
        ("/1/cards/<card_id>", "get_card", get),
        ("/1/cards/<card_id>", "update_card", put),
        ("/1/cards/<card_id>", "delete_card", delete),
        ("/1/cards/<card_id>/<field>", "update_card_field", put),
        ("/1/cards/<card_id>/pluginData", "card_plugin_data", get),
        ("/1/cards/<card_id>/attachments", "card_attachments", get),
        ("/1/cards/<card_id>/idLabels", "add_card_label", post),
        ("/1/cards/<card_id>/idLabels/<label_id>", "remove_card_label", delete),
        ("/1/cards/<card_id>/labels", "create_card_label", post),
        ("/1/cards/<card_id>/idMembers", "add_card_member", post),
        ("/1/cards/<card_id>/members", "add_card_member", post),
        ("/1/cards/<card_id>/idMembers/<member_id>", "remove_card_member", delete),
        ("/1/cards/<card_id>/actions", "card_actions", get),
        ("/1/cards/<card_id>/actions/comments", "add_comment", post),
        ("/1/cards/<card_id>/checklists", "card_checklists", get),
        ("/1/cards/<card_id>/checklists", "create_card_checklist", post),
        ("/1/cards/<card_id>/checkItem/<check_item_id>", "update_check_item", put),
        (
            "/1/cards/<card_id>/checklist/<checklist_id>/checkItem/<check_item_id>",
            "update_check_item",
            put,
        ),
        ("/1/cards/<card_id>/customFieldItems", "card_custom_field_items", get),
        ("/1/cards/<card_id>/customFields", "set_card_custom_fields", put),
        ("/1/cards/<card_id>/checkItemStates", "card_check_item_states", get),
        ("/1/cards/<card_id>/customField/<field_id>/item", "set_custom_field_item", put),
        # py-trello writes custom field values to the singular /card/ path.
        ("/1/card/<card_id>/customField/<field_id>/item", "set_custom_field_item", put),
        ("/1/checklists", "create_checklist", post),
        ("/1/checklists/<checklist_id>", "get_checklist", get),
        ("/1/checklists/<checklist_id>", "update_checklist", put),
        ("/1/checklists/<checklist_id>/<any(name,pos):field>", "update_checklist", put),
        ("/1/checklists/<checklist_id>", "delete_checklist", delete),
        ("/1/checklists/<checklist_id>/checkItems", "checklist_items", get),
        ("/1/checklists/<checklist_id>/checkItems", "create_check_item", post),
        ("/1/checklists/<checklist_id>/checkItems/<check_item_id>", "delete_check_item", delete),
        ("/1/labels", "create_label", post),
        ("/1/labels/<label_id>", "get_label", get),
        ("/1/labels/<label_id>", "update_label", put),
        ("/1/labels/<label_id>", "delete_label", delete),
        ("/1/customFields", "create_custom_field", post),
        ("/1/customFields/<field_id>", "get_custom_field", get),
        ("/1/customFields/<field_id>", "update_custom_field", put),
        ("/1/customFields/<field_id>", "delete_custom_field", delete),
        ("/1/customFields/<field_id>/options", "custom_field_options", ["GET", "POST"]),
        ("/1/batch", "batch", get),
        ("/1/webhooks", "create_webhook", post),
        ("/1/webhooks/<webhook_id>", "get_webhook", get),
        ("/1/webhooks/<webhook_id>", "update_webhook", put),
        ("/1/webhooks/<webhook_id>", "delete_webhook", delete),
        # <token_id>, not <token>: the stats key then shows {id}, never the token itself.
        ("/1/tokens/<token_id>", "token_info", get),
        ("/1/tokens/<token_id>/webhooks", "token_webhooks", get),
        ("/1/tokens/<token_id>/webhooks", "create_token_webhook", post),
    ]
    return [Rule(path, endpoint=endpoint, methods=methods) for path, endpoint, methods in table]


def _limiter(limit: Limit, clock: Callable[[], float]) -> WindowLimiter:
    """A sliding window enforcing one of Trello's published limits."""
    return WindowLimiter(limit.calls, limit.seconds, clock)


class TrelloEmulator(MembersMixin, BoardsMixin, CardsMixin, ItemsMixin, FieldsMixin, WebhooksMixin):
    """Trello's REST API v1 as py-trello and mcm-sync use it."""

    name = "trello"
    mount = "/trello"
    url_map = Map(_rules(), strict_slashes=False, merge_slashes=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._members_limit = _limiter(TRELLO_MEMBERS_ROUTES, self.clock)
        self.set_limits(TRELLO_PER_TOKEN, TRELLO_PER_KEY)
        self._pending = threading.local()

    def set_limits(self, per_token: Limit | None = None, per_key: Limit | None = None) -> None:
        """Enforce other figures than Trello's 100 per token and 300 per key per 10 s (tests
        and benchmarks use small windows; ``POST /_sandbox/settings``); counts start afresh."""
        if per_token is not None:
            self._token_limit = _limiter(per_token, self.clock)
        if per_key is not None:
            self._key_limit = _limiter(per_key, self.clock)
            # 429s per key, to lock a key out after too many (see KEY_REFUSALS_BEFORE_LOCKOUT).
            self._key_refusals = WindowLimiter(KEY_REFUSALS_BEFORE_LOCKOUT + 1,
                                               per_key.seconds, self.clock)

    def limits(self) -> dict[str, list[float]]:
        """The figures enforced: ``{"per_token": [calls, seconds], "per_key": [...]}``."""
        return {name: [limiter.limit, limiter.window]
                for name, limiter in (("per_token", self._token_limit),
                                      ("per_key", self._key_limit))}

    # -- authentication and limits --------------------------------------------------------

    def credentials(self, request: Request) -> tuple[str, str]:
        """(key, token) from the OAuth header, the parameters, or a /tokens/{token}/ path."""
        params = self.request_params(request)
        key, token = str(params.get("key") or ""), str(params.get("token") or "")
        header = request.headers.get("Authorization", "")
        if header.startswith("OAuth "):
            pairs = {k: unquote(v) for k, v in _OAUTH_PAIR.findall(header)}
            key = key or pairs.get("oauth_consumer_key", "")
            token = token or pairs.get("oauth_token", "")
        rel = request.path[len(self.mount) :]
        match = _TOKEN_PATH.match(rel)
        if not token and match:
            token = unquote(match.group(1))
        return key.strip(), token.strip()

    def authenticate(self, request: Request) -> Identity:
        """Key and token present and well-formed, or Trello's plain-text 401."""
        key, token = self.credentials(request)
        if not key or not self.people.credentials.is_trello_key(key):
            raise AuthFailure(text_response("invalid key", 401))
        if not token:
            raise AuthFailure(text_response("unauthorized permission requested", 401))
        person = self.people.for_token(SERVICE, token)
        if person is None:
            raise AuthFailure(text_response("invalid token", 401))
        return Identity(SERVICE, token, person)

    def check_rate_limit(self, request: Request, identity: Identity) -> Response | None:
        """100 requests / 10 s per token, 300 / 10 s per key, 100 / 900 s on /1/members/."""
        key, _ = self.credentials(request)
        if self._key_refusals.remaining(key) <= 0:
            # Locked out until the refusals leave the window (these answers are not counted,
            # or a client that keeps trying would never get back in).
            return self._limited("API_KEY_LIMIT_EXCEEDED")
        if self._token_limit.hit(identity.credential_key) is not None:
            return self._refused(key, "API_TOKEN_LIMIT_EXCEEDED")
        if self._key_limit.hit(key) is not None:
            return self._refused(key, "API_KEY_LIMIT_EXCEEDED")
        rel = request.path[len(self.mount) :]
        if rel.startswith("/1/members/") and self._members_limit.hit(identity.credential_key):
            return self._refused(key, "API_TOKEN_LIMIT_EXCEEDED")
        return None

    def _refused(self, key: str, code: str) -> Response:
        """Trello's 429, counted against the key (too many lock it out for the window)."""
        self._key_refusals.hit(key)
        return self._limited(code)

    def _limited(self, code: str) -> Response:
        return json_response({"error": code, "message": "Rate limit exceeded"}, 429)

    def ratelimited_response(self) -> Response:
        """Trello's 429 (JSON, unlike its other errors)."""
        return self._limited("API_TOKEN_LIMIT_EXCEEDED")

    # -- batch ----------------------------------------------------------------------------

    def dispatch(
        self, request: Request, identity: Identity, endpoint: str, values: dict[str, Any]
    ) -> Response:
        """Run the handler knowing who asks (board access checks in ``model.load``)."""
        self.set_caller(identity.person, write=request.method not in ("GET", "HEAD"))
        try:
            response = super().dispatch(request, identity, endpoint, values)
        finally:
            self.set_caller(None, write=False)
        response.headers.update(self.rate_limit_headers(request, identity))
        return response

    def rate_limit_headers(self, request: Request, identity: Identity) -> dict[str, str]:
        """Trello's ``x-rate-limit-api-{token,key}-{interval-ms,max,remaining}`` headers."""
        key, _ = self.credentials(request)
        headers = {}
        for name, limiter, bucket in (("token", self._token_limit, identity.credential_key),
                                      ("key", self._key_limit, key)):
            headers[f"x-rate-limit-api-{name}-interval-ms"] = str(int(limiter.window * 1000))
            headers[f"x-rate-limit-api-{name}-max"] = str(limiter.limit)
            headers[f"x-rate-limit-api-{name}-remaining"] = str(limiter.remaining(bucket))
        return headers

    def handle_batch(self, request: Request, identity: Identity) -> Response:
        """GET /1/batch?urls=/boards/x,/cards/y: up to 10 GET routes, one answer each."""
        urls = [u.strip() for u in request.args.get("urls", "").split(",") if u.strip()]
        if not urls or len(urls) > MAX_BATCH:
            raise ServiceError(400, "invalid value for urls")
        adapter = self.url_map.bind("sandbox", "/")
        answers = []
        for url in urls:
            parts = urlsplit(url if url.startswith("/") else "/" + url)
            path = parts.path if parts.path.startswith("/1/") else "/1" + parts.path
            try:
                endpoint, values = adapter.match(path, "GET")
                if endpoint == "batch":
                    raise ServiceError(400, "batch requests cannot be nested")
                sub = Request(EnvironBuilder(path=path, query_string=parts.query).get_environ())
                response = self.dispatch(sub, identity, str(endpoint), dict(values))
            except ServiceError as error:
                response = error.response or self.error_response(error.status, error.message)
            except Exception:  # a bad route in a batch answers 404, like Trello
                response = text_response("Cannot GET " + path, 404)
            body = response.get_data(as_text=True)
            is_json = response.mimetype == "application/json"
            answers.append({str(response.status_code): json.loads(body) if is_json else body})
        return json_response(answers)

    # -- page -----------------------------------------------------------------------------

    def render_page(self) -> str:
        """Each board as columns (open lists) of open cards."""
        boards = []
        for board in self.store.list(SERVICE, "board"):
            labels = {lab["id"]: lab for lab in self.store.list(SERVICE, "label", board["id"])}
            columns = []
            for lst in self._lists(board["id"], "open"):
                cards = [
                    {
                        **c,
                        "label_names": [
                            labels[i]["name"] or labels[i]["color"]
                            for i in c["idLabels"]
                            if i in labels
                        ],
                    }
                    for c in self._cards(board["id"], "open")
                    if c["idList"] == lst["id"]
                ]
                columns.append({"name": lst["name"], "cards": cards})
            boards.append({"board": board, "columns": columns})
        return render_fragment(_PAGE, boards=boards, failures=list(FAILURES)[-20:])


_PAGE = """
{% for item in boards %}
<h3>{{ item.board.name }}
{% if item.board.closed %} <span class="muted">(closed)</span>{% endif %}</h3>
<div class="columns">
{% for column in item.columns %}
  <div class="column"><strong>{{ column.name }}</strong>
  {% for card in column.cards %}
    <div class="card">{{ card.name }}
    {% for name in card.label_names %}<span class="tag">{{ name }}</span>{% endfor %}
    {% if card.due %}<div class="muted">due {{ card.due }}
    {% if card.dueComplete %} (done){% endif %}</div>{% endif %}
    </div>
  {% endfor %}
  </div>
{% endfor %}
</div>
{% endfor %}
{% if failures %}<h4>Failed webhook deliveries ({{ failures|length }})</h4><ul>
{% for f in failures %}<li>{{ f.type }} to {{ f.url }}: status {{ f.status }}</li>{% endfor %}
</ul>{% endif %}
"""
