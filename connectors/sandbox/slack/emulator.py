"""The Slack Web API emulator: ``/slack/api/<method>``, close enough for slack_sdk's WebClient.

Point the real client at it with ``WebClient(token=..., base_url=server.base_urls["slack"])``.
What it follows (``contracts/API-NOTES.md`` section 2, the Slack OpenAPI description and the
method pages of docs.slack.dev):

- **Envelope:** every method answers JSON with ``ok``; a method error is HTTP 200
  ``{"ok": false, "error": "<code>"}``. Parameters come as query, form or JSON body (slack_sdk
  posts forms for most methods and JSON for ``chat.*``), both GET and POST are accepted.
- **Auth:** ``Authorization: Bearer <token>`` or a ``token`` field; none -> ``not_authed``,
  an empty one or one the sandbox did not issue -> ``invalid_auth``. The issued bot token
  (``GET /_sandbox/credentials``) is the coordinator's bot; a member's issued ``xoxp-`` token
  acts as that member.
- **Rate limits** (when the app has them on): per-method tiers per app, workspace and method
  (the bot token and a member's user token our app was given, ``slack_app``, share one
  allowance; a member's own client's token, ``slack``, is another app's) and about one post
  per second per channel, answered with HTTP 429, ``Retry-After`` and ``ratelimited``.
- **App class** (``limits.set_app_class``, ``/_sandbox/settings`` ``slack_app``): an
  ``internal`` app has the tiers; a ``distributed`` one (commercially distributed, not
  Marketplace-approved) gets ``conversations.history`` and ``conversations.replies`` at 1 per
  minute, and their ``limit`` silently capped at 15 (the default 15 too): a larger page is
  answered with 15 messages, ``has_more`` and a cursor, as Slack answers (:func:`capped_page`).
- Methods: see :data:`METHODS`; the handlers live in ``channels`` and ``messages``,
  the object shapes in ``model``, the storage rules in ``workspace`` (all in this package).
"""

from __future__ import annotations

import html
import math
import threading
import time
from collections.abc import Callable
from typing import Any

from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from connectors.rate_limits import SLACK_DISTRIBUTED_METHODS, SLACK_DISTRIBUTED_PAGE
from connectors.sandbox.core.people import People
from connectors.sandbox.core.service import (
    AuthFailure,
    Identity,
    ServiceEmulator,
    ServiceError,
    json_response,
)
from connectors.sandbox.core.store import SandboxStore
from connectors.sandbox.slack import channels, messages
from connectors.sandbox.slack.app_routes import slack_app_route
from connectors.sandbox.slack.events import (
    APP_ID,
    SlackApp,
    message_changed_event,
    message_deleted_event,
    message_event,
    reaction_event,
)
from connectors.sandbox.slack.limits import POST_METHOD, SlackLimits
from connectors.sandbox.slack.model import (
    SERVICE,
    TEAM_DOMAIN,
    TEAM_ID,
    TEAM_NAME,
    SlackError,
    bot_id_of,
    decode_cursor,
    encode_cursor,
    integer,
    render_user,
    text_param,
)
from connectors.sandbox.slack.page import render_slack_page
from connectors.sandbox.slack.responses import ResponseUrls
from connectors.sandbox.slack.workspace import Workspace
from connectors.slack.scopes import METHOD_SCOPES, channel_scope

Body = dict[str, Any]
Person = dict[str, Any]
Handler = Callable[[Workspace, Person, dict[str, Any]], Body]

# Error codes for HTTP-level errors (faults, unknown methods), as Slack names them.
_STATUS_CODES = {
    400: "invalid_arguments",
    401: "invalid_auth",
    403: "not_allowed_token_type",
    404: "unknown_method",
    429: "ratelimited",
    500: "internal_error",
    503: "service_unavailable",
    504: "request_timeout",
}
USERS_DEFAULT = 200
USERS_MAX = 1000
# Every workspace has Slackbot, a user that is neither a bot nor a person with an address.
SLACKBOT: dict[str, Any] = {"slack_id": "USLACKBOT", "email": "", "name": "Slackbot"}
# Bots cannot unarchive ("Bot tokens (xoxb-...) cannot currently be used to unarchive
# conversations", docs.slack.dev conversations.unarchive): its error list has user_is_bot.
BOT_REFUSED = {"conversations.unarchive": "user_is_bot"}
# A bot reads only the channels it is in (public ones too).
MEMBERS_ONLY_READS = ("conversations.history", "conversations.replies")
# The methods on one channel whose scope depends on the channel's type (channel_scope).
CHANNEL_METHODS = ("conversations.info", "conversations.history", "conversations.replies",
                   "conversations.archive", "conversations.unarchive", "conversations.invite",
                   "conversations.setTopic", "conversations.setPurpose")


# ---------------------------------------------------------------------- auth and users


def auth_test(ws: Workspace, caller: Person, params: dict[str, Any]) -> Body:
    """Who the token is: user id, team and (for the bot) the bot id."""
    user = render_user(caller, ws.now())
    body: Body = {
        "ok": True,
        "url": f"https://{TEAM_DOMAIN}.slack.com/",
        "team": TEAM_NAME,
        "user": user["name"],
        "team_id": TEAM_ID,
        "user_id": caller["slack_id"],
    }
    if bot_id_of(caller):
        body["bot_id"] = bot_id_of(caller)
    body["is_enterprise_install"] = False
    return body


def users_lookup_by_email(ws: Workspace, caller: Person, params: dict[str, Any]) -> Body:
    """The user with this email (a sandbox person), else ``users_not_found``."""
    email = text_param(params, "email")
    person = ws.people.get_by_email(email) if email else None
    if person is None:
        raise SlackError("users_not_found")
    return {"ok": True, "user": render_user(person, ws.now())}


def _slackbot(now: int) -> Body:
    user = render_user(SLACKBOT, now)
    user["profile"].pop("email", None)
    user["name"] = "slackbot"
    return user


def users_info(ws: Workspace, caller: Person, params: dict[str, Any]) -> Body:
    """The user with this id, else ``user_not_found``."""
    user_id = text_param(params, "user")
    if user_id == SLACKBOT["slack_id"]:
        return {"ok": True, "user": _slackbot(ws.now())}
    person = ws.people.get_by_slack_id(user_id) if user_id else None
    if person is None:
        raise SlackError("user_not_found")
    return {"ok": True, "user": render_user(person, ws.now())}


def users_list(ws: Workspace, caller: Person, params: dict[str, Any]) -> Body:
    """Slackbot, then every person of the sandbox (the bot included), paged by cursor."""
    ws.people.bot()  # the bot user exists in a workspace from the app's installation on
    people = [SLACKBOT, *ws.people.all()]
    limit = integer(params, "limit", USERS_DEFAULT, 1, USERS_MAX)
    start = 0
    after = decode_cursor(params.get("cursor"), "user")
    if after is not None:
        ids = [p["slack_id"] for p in people]
        if after not in ids:
            raise SlackError("invalid_cursor")
        start = ids.index(after)
    chunk, rest = people[start : start + limit], people[start + limit :]
    return {
        "ok": True,
        "members": [_slackbot(ws.now()) if p is SLACKBOT else render_user(p, ws.now())
                    for p in chunk],
        "cache_ts": ws.now(),
        "response_metadata": {
            "next_cursor": encode_cursor("user", rest[0]["slack_id"]) if rest else ""
        },
    }


METHODS: dict[str, Handler] = {
    "auth.test": auth_test,
    "conversations.create": channels.conversations_create,
    "conversations.list": channels.conversations_list,
    "conversations.info": channels.conversations_info,
    "conversations.archive": channels.conversations_archive,
    "conversations.unarchive": channels.conversations_unarchive,
    "conversations.join": channels.conversations_join,
    "conversations.invite": channels.conversations_invite,
    "conversations.setTopic": channels.conversations_set_topic,
    "conversations.setPurpose": channels.conversations_set_purpose,
    "conversations.history": messages.conversations_history,
    "conversations.replies": messages.conversations_replies,
    "chat.postMessage": messages.chat_post_message,
    "chat.update": messages.chat_update,
    "chat.delete": messages.chat_delete,
    "reactions.add": messages.reactions_add,
    "reactions.remove": messages.reactions_remove,
    "reactions.get": messages.reactions_get,
    "pins.add": messages.pins_add,
    "pins.list": messages.pins_list,
    "users.lookupByEmail": users_lookup_by_email,
    "users.info": users_info,
    "users.list": users_list,
}


def capped_page(params: dict[str, Any]) -> dict[str, Any]:
    """``params`` of a distributed app's history or replies read with ``limit`` at most 15
    (absent, 0 or larger: 15; "the maximum and default for the limit parameter has been
    reduced to 15 objects"). A limit that is not a number is left for the method to refuse."""
    raw = params.get("limit")
    try:
        asked = int(str(raw).strip()) if raw not in (None, "") else 0
    except ValueError:
        return params
    page = asked if 0 < asked <= SLACK_DISTRIBUTED_PAGE else SLACK_DISTRIBUTED_PAGE
    return {**params, "limit": page}


def rate_bucket(person: Person, *, through_app: bool = False) -> str:
    """Whose allowance a call counts against: Slack's limits are per app, workspace and
    method, so every token of our app shares one (the bot's, and a member's user token the
    app was given: ``through_app``); a member's own client is another app."""
    if person.get("is_bot") or through_app:
        return f"{TEAM_ID}:{APP_ID}"
    return f"{TEAM_ID}:user:{person['slack_id']}"


class SlackEmulator(ServiceEmulator):
    """The Slack Web API under ``/slack/api/<method>`` (see the module docstring)."""

    name = SERVICE
    mount = "/slack"
    url_map = Map(
        [Rule(f"/api/{method}", endpoint=method, methods=["GET", "POST"]) for method in METHODS]
    )

    def __init__(
        self, store: SandboxStore, people: People, clock: Callable[[], float] = time.time
    ) -> None:
        super().__init__(store, people, clock)
        self.workspace = Workspace(store, people, clock)
        self.limits = SlackLimits(clock)
        # Its Request URLs and deliveries (``events``), signed with the issued secret.
        self.app = SlackApp(
            signing_secret=lambda: people.credentials.coordinator()["slack"]["signing_secret"])
        self._events = threading.local()
        self.responses = ResponseUrls()  # the response_url of presses and slash commands

    # ------------------------------------------------------------------ app hooks

    def authenticate(self, request: Request) -> Identity:
        """The caller from the Bearer header or the ``token`` field (not from a JSON body)."""
        header = request.headers.get("Authorization")
        if header is not None:
            scheme, _, token = header.strip().partition(" ")
            if scheme.lower() != "bearer":
                raise AuthFailure(self._error_body("invalid_auth"))
        else:
            given = request.form["token"] if "token" in request.form else request.args.get("token")
            if given is None:
                raise AuthFailure(self._error_body("not_authed"))
            token = given
        token = token.strip()
        if not token:
            raise AuthFailure(self._error_body("invalid_auth"))
        person = self.people.for_token(SERVICE, token)
        if person is None:
            raise AuthFailure(self._error_body("invalid_auth"))
        return Identity(service=SERVICE, credential_key=token, person=person)

    def check_rate_limit(self, request: Request, identity: Identity) -> Response | None:
        """Slack's 429 when the method's tier (or the channel's post rate) is exceeded."""
        method = request.path.rsplit("/", 1)[-1]
        channel = ""
        if method == POST_METHOD:
            channel = str(self.request_params(request).get("channel") or "")
        through_app = self.people.credentials.through_app(identity.credential_key)
        retry_after = self.limits.hit(
            method, rate_bucket(identity.person, through_app=through_app), channel)
        return None if retry_after is None else self.ratelimited_response(retry_after)

    def dispatch(
        self, request: Request, identity: Identity, endpoint: str, values: dict[str, Any]
    ) -> Response:
        """Run the method's handler; a method error rolls the transaction back."""
        params = self.request_params(request)
        params.pop("token", None)
        headers: dict[str, str] = {}
        if self.limits.distributed and endpoint in SLACK_DISTRIBUTED_METHODS:
            params = capped_page(params)
        before = self._before(endpoint, params)
        try:
            if identity.person.get("is_bot"):
                scopes = self.people.credentials.slack_bot_scopes()
                headers["x-oauth-scopes"] = ",".join(scopes)
                self._check_bot(endpoint, scopes, identity.person, params)
            body = METHODS[endpoint](self.workspace, identity.person, params)
        except SlackError as error:
            raise ServiceError(
                200, error.code, response=json_response(error.body(), headers=headers)
            ) from None
        events = self._event_of(endpoint, identity.person, params, body, before)
        bot = self.people.bot()["slack_id"] if events else ""
        self._events.pending = [(event, bot) for event in events]
        return json_response(body, headers=headers)

    def _check_bot(
        self, method: str, scopes: list[str], bot: Person, params: dict[str, Any]
    ) -> None:
        """What Slack refuses a bot token: a method without its scope, unarchiving, reading
        a channel the bot has not joined."""
        needed = METHOD_SCOPES.get(method, ())
        if needed and not set(needed) & set(scopes):
            raise SlackError("missing_scope", needed=needed[0], provided=",".join(scopes))
        if method in CHANNEL_METHODS and text_param(params, "channel"):
            # A private channel needs the groups:* scope, a public one the channels:* scope.
            try:
                doc = self.workspace.channel(text_param(params, "channel"), bot["slack_id"])
            except SlackError:
                doc = None  # the handler answers channel_not_found
            scope = channel_scope(method, bool(doc and doc.get("is_private")))
            if doc is not None and scope and scope not in scopes:
                raise SlackError("missing_scope", needed=scope, provided=",".join(scopes))
        if method in BOT_REFUSED:
            raise SlackError(BOT_REFUSED[method])
        if method in MEMBERS_ONLY_READS:
            channel = self.workspace.channel(text_param(params, "channel"), bot["slack_id"])
            if bot["slack_id"] not in (channel.get("members") or []):
                raise SlackError("not_in_channel")

    def _before(self, endpoint: str, params: dict[str, Any]) -> dict[str, Any] | None:
        """The message a ``chat.update``/``chat.delete`` is about, as it was (for its event)."""
        if endpoint not in ("chat.update", "chat.delete") or not self.app.event_url:
            return None
        try:
            return self.workspace.message(str(params.get("channel") or ""),
                                          str(params.get("ts") or ""))
        except SlackError:
            return None

    def _bot_in(self, channel_id: str) -> bool:
        """Whether the bot is a member of the channel: Slack sends a bot's events only then."""
        doc = self.store.get(SERVICE, "channel", channel_id)
        return doc is not None and self.people.bot()["slack_id"] in (doc.get("members") or [])

    def _event_of(self, endpoint: str, caller: Person, params: dict[str, Any],
                  body: Body, before: dict[str, Any] | None) -> list[dict[str, Any]]:
        """The Events API event a successful call causes, if the app subscribes to it and the
        bot is in the channel."""
        if not self.app.event_url:
            return []
        if endpoint in ("reactions.add", "reactions.remove"):
            message = self.workspace.message(str(params.get("channel")),
                                             str(params.get("timestamp")))
            kind = "reaction_added" if endpoint == "reactions.add" else "reaction_removed"
            events = [reaction_event(kind, caller["slack_id"],
                                     str(params.get("name")).strip(":"), message)]
        elif endpoint == "chat.postMessage":
            message = self.workspace.message(str(body["channel"]), str(body["ts"]))
            events = [message_event(message, TEAM_ID)]
        elif endpoint == "chat.update" and before is not None:
            after = self.workspace.message(str(body["channel"]), str(body["ts"]))
            events = [message_changed_event(before, after, TEAM_ID, self.workspace.next_ts())]
        elif endpoint == "chat.delete" and before is not None:
            events = [message_deleted_event(before, TEAM_ID, self.workspace.next_ts())]
        else:
            return []
        channel = events[0].get("channel") or events[0].get("item", {}).get("channel")
        return events if self._bot_in(str(channel)) else []

    def after_commit(self) -> None:
        """Send the events of the committed call (background threads, loopback only)."""
        pending = getattr(self._events, "pending", None) or []
        self._events.pending = []
        for event, bot in pending:
            self.app.send_event(event, TEAM_ID, bot)

    def admin_route(self, request: Request) -> Response | None:
        """The Slack app's admin routes under ``/_sandbox/slack/`` (``app_routes``)."""
        return slack_app_route(self, request)

    # ------------------------------------------------------------------ vendor formats

    def error_response(self, status: int, message: str) -> Response:
        """Slack's envelope for an HTTP-level error (injected faults, unknown paths)."""
        code = message if message.isidentifier() and message.islower() else None
        return json_response(
            {"ok": False, "error": code or _STATUS_CODES.get(status, "fatal_error")}, status
        )

    def ratelimited_response(self, retry_after: int = 1) -> Response:
        """HTTP 429 with ``Retry-After`` and ``{"ok": false, "error": "ratelimited"}``."""
        return json_response(
            {"ok": False, "error": "ratelimited"}, 429, {"Retry-After": str(retry_after)}
        )

    def ratelimited_fault(self, seconds: float) -> Response:
        """The ``ratelimit`` fault: Slack's 429 with ``Retry-After`` the test's ``seconds`` in
        whole seconds, as Slack sends it (rounded up; 1 when none was chosen)."""
        return self.ratelimited_response(max(1, math.ceil(seconds)))

    def not_found_response(self, request: Request, relative_path: str) -> Response:
        """An unknown method: HTTP 404 ``unknown_method`` naming it, as Slack answers."""
        method = relative_path.rsplit("/", 1)[-1]
        return json_response({"ok": False, "error": "unknown_method", "req_method": method}, 404)

    def render_page(self) -> str:
        """Each channel with its messages, reactions and thread replies (escaped HTML)."""
        failures = self.app.failures()
        shown = "".join(
            f"<li>{html.escape(str(f['kind']))} to {html.escape(str(f['url']))}: "
            f"{html.escape(str(f['reason']))} (status {f['status']}, attempt {f['attempt']})</li>"
            for f in failures[-20:])
        failed = (f"<h3>Slack app: failed deliveries ({len(failures)})</h3><ul>{shown}</ul>"
                  if failures else "")
        return self._app_class_line() + render_slack_page(self.workspace) + failed

    def _app_class_line(self) -> str:
        """What the page says of the app's class (what it means for history reads)."""
        if not self.limits.distributed:
            return ("<p class=\"slack-app\">Slack app: internal (conversations.history and "
                    ".replies at their tiers)</p>")
        return ("<p class=\"slack-app\">Slack app: distributed, not Marketplace-approved: "
                "conversations.history and .replies at 1 call per "
                f"{self.limits.distributed_window:g} s each, limit at most "
                f"{SLACK_DISTRIBUTED_PAGE}</p>")

    def _error_body(self, code: str) -> Response:
        """An auth error: HTTP 200 with ``ok: false`` (Slack never answers 401)."""
        return json_response({"ok": False, "error": code})
