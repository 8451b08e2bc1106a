"""The HTTP face of ``mcm-sync serve``: verify, store, acknowledge; never process in the request.

A WSGI application (served by waitress, see :mod:`sync.serve.server`) with these routes:

| route | what |
|---|---|
| ``GET /healthz`` | ``{"ok": true, "queue": {state: n}}`` |
| ``HEAD``/``POST /hooks/trello`` | Trello's creation check and deliveries |
| ``POST /hooks/slack/events`` | Slack's Events API (``url_verification``, ``event_callback``) |
| ``POST /hooks/slack/interactive`` | Block Kit button presses (``block_actions``) |
| ``POST /hooks/slack/commands`` | ``/alliance`` (answered privately; late: via ``response_url``) |
| ``GET``/``POST /hooks/mailchimp/<secret>`` | Mailchimp's check and list webhook posts |

Every delivery is verified on its raw bytes before anything in it is read
(:mod:`sync.serve.verify`), parsed, filtered (our own echoes, channels and events we do not
sync are acknowledged and dropped), then written to the durable queue
(:class:`sync.state.events.EventQueue`) *before* the 200; the worker is woken to process it.
Refusals: 413 too large, 401 bad signature (or a replay outside Slack's window), 403 wrong
Mailchimp secret, 400 malformed, 410 a Trello board that is not the alliance's (Trello then
deletes that webhook), 404 a Mailchimp audience that is not the alliance's. Each refusal is
logged with the route (the Mailchimp secret masked) and the reason, never a secret or a body.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from werkzeug.datastructures import Headers
from werkzeug.wrappers import Request, Response

from connectors.masking import mask
from connectors.slack.respond import respond as respond_privately
from sync.core.services import Secrets
from sync.engine.buttons import pressed_status
from sync.serve.guard import MAX_JSON_DEPTH, json_too_deep
from sync.serve.verify import mailchimp_problem, slack_problem, trello_problem
from sync.state.events import EventQueue

log = logging.getLogger("mcm_sync.serve")

COMMAND_DEADLINE = 2.5  # seconds; Slack gives up on a slash command's answer after 3
MAX_BODY = 1024 * 1024  # bytes; Slack and Trello deliveries are far smaller
TRELLO_PATH = "/hooks/trello"
SLACK_EVENTS_PATH = "/hooks/slack/events"
SLACK_INTERACTIVE_PATH = "/hooks/slack/interactive"
SLACK_COMMANDS_PATH = "/hooks/slack/commands"
MAILCHIMP_PREFIX = "/hooks/mailchimp/"
SLACK_EVENTS = ("reaction_added", "reaction_removed", "message")
# Trello actions that can change what we sync (others, e.g. a ticked check item, are dropped).
TRELLO_ACTIONS = ("createCard", "updateCard", "deleteCard", "commentCard", "addMemberToCard",
                  "removeMemberFromCard", "moveCardToBoard", "moveCardFromBoard", "copyCard",
                  "convertToCardFromCheckItem")
# Fields of a card whose change alone is dropped (we sync no position).
POSITION_FIELDS = frozenset({"pos"})
MAILCHIMP_TYPES = ("unsubscribe", "cleaned", "upemail", "profile", "subscribe")


@dataclass(frozen=True)
class Scope:
    """What belongs to the alliance, and who we are (to drop our own echoes)."""

    board_id: str
    trello_callback_url: str
    actions_channel: str
    audience_id: str
    me_trello: str
    me_slack: tuple[str, str]


class Refused(Exception):
    """A delivery refused with an HTTP status and a reason for the log."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


class HookApp:
    """The WSGI app; ``wake`` tells the worker there is something new in the queue."""

    def __init__(self, queue: EventQueue, secrets: Secrets, scope: Scope,
                 wake: Callable[[], None],
                 command: Callable[[Mapping[str, str]], str] | None = None,
                 respond: Callable[[str, str], None] = respond_privately) -> None:
        self.queue = queue
        self.secrets = secrets
        self.scope = scope
        self.wake = wake
        self.command = command
        self.respond = respond  # posts a late answer to a response_url

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        """The WSGI entry point."""
        request = Request(environ)
        try:
            response = self.handle(request)
        except Refused as refused:
            log.warning("refused %s %s: %s (%d)", request.method, mask(request.path),
                        refused.reason, refused.status)
            response = Response(refused.reason + "\n", refused.status, mimetype="text/plain")
        return response(environ, start_response)

    # ------------------------------------------------------------------ routing

    def handle(self, request: Request) -> Response:
        """Answer one request (raises :class:`Refused` for bad input)."""
        path, method = request.path, request.method
        if path == "/healthz" and method in ("GET", "HEAD"):
            return json_response({"ok": True, "queue": self.queue.counts()})
        if path == TRELLO_PATH and method in ("HEAD", "GET"):
            return Response("", 200)  # Trello's check when the webhook is created
        if path == TRELLO_PATH and method == "POST":
            return self.trello(request)
        if path == SLACK_EVENTS_PATH and method == "POST":
            return self.slack_events(request)
        if path == SLACK_INTERACTIVE_PATH and method == "POST":
            return self.slack_interactive(request)
        if path == SLACK_COMMANDS_PATH and method == "POST":
            return self.slack_command(request)
        if path.startswith(MAILCHIMP_PREFIX) and method in ("GET", "HEAD", "POST"):
            return self.mailchimp(request, path[len(MAILCHIMP_PREFIX):])
        return Response("not found\n", 404, mimetype="text/plain")

    @staticmethod
    def _body(request: Request) -> bytes:
        return read_body(request)

    def _store(self, source: str, dedup: str, kind: str, subject: str,
               payload: Mapping[str, Any]) -> Response:
        """Queue the delivery (committed), wake the worker, acknowledge."""
        new = self.queue.put(source, dedup, kind, subject, payload)
        if new:
            self.wake()
        else:
            log.info("%s delivery %s seen before: acknowledged, not processed again", source,
                     kind)
        return Response("", 200)

    # ------------------------------------------------------------------ Trello

    def trello(self, request: Request) -> Response:
        """A Trello delivery: signature over body + callback URL, then the board, then queue."""
        return self.on_trello(self._body(request), request.headers)

    def on_trello(self, body: bytes, headers: Headers) -> Response:
        """A Trello delivery's raw body and headers (see :meth:`trello`)."""
        problem = trello_problem(body, self.scope.trello_callback_url, self.secrets.trello,
                                 headers.get("X-Trello-Webhook"))
        if problem:
            raise Refused(401, problem)
        data = json_body(body)
        action = data.get("action")
        model = data.get("model")
        if not isinstance(action, dict) or not isinstance(model, dict):
            raise Refused(400, "no action or model in the delivery")
        board = str(model.get("id") or "")
        if board != self.scope.board_id:
            raise Refused(410, "not the alliance's board")
        details = action["data"] if isinstance(action.get("data"), dict) else {}
        card = details["card"] if isinstance(details.get("card"), dict) else {}
        card_id = str(card.get("id") or "")
        member = str(action.get("idMemberCreator") or "")
        if (not card_id or member == self.scope.me_trello or not action.get("id")
                or action.get("type") not in TRELLO_ACTIONS):
            return Response("", 200)  # not about what we sync, or our own write coming back
        if position_only(str(action.get("type") or ""), details):
            log.debug("trello: a card's position changed, nothing we sync: dropped")
            return Response("", 200)
        creator = action["memberCreator"] if isinstance(action.get("memberCreator"),
                                                        dict) else {}
        return self._store("trello", str(action["id"]), str(action.get("type") or ""), card_id,
                           {"action_id": str(action["id"]), "type": str(action.get("type")),
                            "card_id": card_id, "member_id": member,
                            "member": str(creator.get("fullName") or creator.get("username")
                                          or ""),
                            "date": str(action.get("date") or ""),
                            "text": str(details.get("text") or "")})

    # ------------------------------------------------------------------ Slack

    def slack_verified(self, body: bytes, headers: Headers) -> bytes:
        """``body`` if Slack's signature on it is good and fresh; else :class:`Refused` 401."""
        problem = slack_problem(body, self.secrets.slack,
                                headers.get("X-Slack-Request-Timestamp"),
                                headers.get("X-Slack-Signature"))
        if problem:
            raise Refused(401, problem)
        return body

    def slack_events(self, request: Request) -> Response:
        """Events API: ``url_verification`` answered; events queued once per ``event_id``."""
        return self.on_event(json_body(self.slack_verified(self._body(request),
                                                           request.headers)))

    def on_event(self, data: Mapping[str, Any]) -> Response:
        """One Events API payload, verified (HTTP) or from Slack's socket (Socket Mode)."""
        if data.get("type") == "url_verification":
            return json_response({"challenge": str(data.get("challenge") or "")})
        event = data.get("event")
        event_id = str(data.get("event_id") or "")
        if data.get("type") != "event_callback" or not isinstance(event, dict) or not event_id:
            raise Refused(400, "not an event_callback with an event and an event_id")
        kind = str(event.get("type") or "")
        user = str(event.get("user") or "")
        if kind not in SLACK_EVENTS or user in self.scope.me_slack or event.get("bot_id"):
            return Response("", 200)  # not one we sync, or our own write coming back
        if kind == "message":
            thread_ts = str(event.get("thread_ts") or "")
            ts = str(event.get("ts") or "")
            channel = str(event.get("channel") or "")
            if event.get("subtype") or not thread_ts or thread_ts == ts:
                return Response("", 200)  # edits, deletions, top-level messages
            return self._in_actions(channel, event_id, "reply", thread_ts,
                                    {"channel": channel, "ts": ts, "thread_ts": thread_ts,
                                     "user": user})
        item = event["item"] if isinstance(event.get("item"), dict) else {}
        channel = str(item.get("channel") or "")
        if item.get("type") != "message":
            return Response("", 200)
        ts = str(item.get("ts") or "")
        return self._in_actions(channel, event_id, kind, ts,
                                {"channel": channel, "ts": ts, "user": user,
                                 "reaction": str(event.get("reaction") or "")})

    def _in_actions(self, channel: str, event_id: str, kind: str, subject: str,
                    payload: Mapping[str, Any]) -> Response:
        if channel != self.scope.actions_channel:
            # Another channel the bot is in: acknowledged (Slack retries anything else and
            # turns the subscription off after many failures), logged, never stored.
            log.info("slack %s in another channel than the actions channel: ignored", kind)
            return Response("", 200)
        return self._store("slack", event_id, kind, subject, payload)

    def slack_interactive(self, request: Request) -> Response:
        """A button press on an item message: queued and acknowledged (the worker applies it)."""
        return self.on_interaction(interaction(
            self.slack_verified(self._body(request), request.headers)))

    def on_interaction(self, data: Any) -> Response:
        """One interactivity payload (a button press), over HTTP or Socket Mode."""
        if not isinstance(data, dict) or data.get("type") != "block_actions":
            return Response("", 200)
        actions = data["actions"] if isinstance(data.get("actions"), list) else []
        container = data["container"] if isinstance(data.get("container"), dict) else {}
        user = data["user"] if isinstance(data.get("user"), dict) else {}
        action = actions[0] if actions and isinstance(actions[0], dict) else {}
        status = pressed_status(str(action.get("action_id") or ""))
        channel = str(container.get("channel_id") or "")
        ts = str(container.get("message_ts") or "")
        if status is None or not ts:
            return Response("", 200)
        press = f"{user.get('id')}:{action.get('action_ts') or data.get('trigger_id')}"
        return self._in_actions(channel, press, "button", ts,
                                {"channel": channel, "ts": ts, "user": str(user.get("id") or ""),
                                 "status": status,
                                 "response_url": str(data.get("response_url") or "")})

    def slack_command(self, request: Request) -> Response:
        """``/alliance``: answered privately (ephemeral) within Slack's 3 seconds."""
        return self.on_command(form_fields(self.slack_verified(self._body(request),
                                                              request.headers)))

    def on_command(self, form: Mapping[str, str]) -> Response:
        """A slash command's fields, over HTTP or Socket Mode: the private answer.

        Slack waits 3 seconds for it; an answer not ready after :data:`COMMAND_DEADLINE` is
        acknowledged empty and posted to the command's ``response_url`` when it is, as Slack
        expects answers that take longer.
        """
        if self.command is None:
            return json_response({"response_type": "ephemeral", "text": "not available"})
        command = self.command
        lock = threading.Lock()
        box: dict[str, Any] = {}
        ready = threading.Event()
        url = str(form.get("response_url") or "")

        def answer() -> None:
            try:
                text = command(form)
            except Exception as exc:  # said privately, never a traceback to the channel
                log.warning("/alliance failed: %s", exc)
                text = "mcm-sync could not answer just now: try again in a minute"
            with lock:
                box["text"] = text
                late = box.get("late", False)
            ready.set()
            if late and url:
                try:
                    self.respond(url, text)
                except Exception as exc:
                    log.warning("/alliance: the late answer could not be posted: %s", exc)

        threading.Thread(target=answer, name="slash-command", daemon=True).start()
        ready.wait(COMMAND_DEADLINE)
        with lock:
            if "text" in box:
                return json_response({"response_type": "ephemeral", "text": box["text"]})
            box["late"] = True
        return Response("", 200)

    # ------------------------------------------------------------------ Mailchimp

    def mailchimp(self, request: Request, secret: str) -> Response:
        """Mailchimp's GET check, then form posts (unsubscribe, cleaned, upemail, profile)."""
        body = b"" if request.method in ("GET", "HEAD") else self._body(request)
        return self.on_mailchimp(request.method, secret, body)

    def on_mailchimp(self, method: str, secret: str, body: bytes) -> Response:
        """A Mailchimp request's method, URL secret and raw body (see :meth:`mailchimp`)."""
        problem = mailchimp_problem(secret, self.secrets.mailchimp)
        if problem:
            raise Refused(403, problem)
        if method in ("GET", "HEAD"):
            return Response("", 200)  # Mailchimp's check when the webhook is saved
        form = form_fields(body)
        kind = form.get("type", "")
        if kind not in MAILCHIMP_TYPES:
            raise Refused(400, "not a Mailchimp list webhook post")
        if self.scope.audience_id and form.get("data[list_id]") != self.scope.audience_id:
            raise Refused(404, "not the alliance's audience")
        email = (form.get("data[email]") or form.get("data[old_email]") or "").strip().lower()
        if not email:
            raise Refused(400, "no e-mail address in the post")
        subject = hashlib.md5(email.encode()).hexdigest()  # Mailchimp's subscriber hash
        dedup = hashlib.sha256(body).hexdigest()
        merges = {name[len("data[merges]["):-1]: value for name, value in form.items()
                  if name.startswith("data[merges][") and name.endswith("]")}
        return self._store("mailchimp", dedup, kind, subject,
                           {"email": email, "new_email": form.get("data[new_email]", ""),
                            "fired_at": form.get("fired_at", ""),
                            "reason": form.get("data[reason]", ""), "merges": merges})


def position_only(action_type: str, details: Mapping[str, Any]) -> bool:
    """Whether a Trello action only moved a card up or down within its list.

    An ``updateCard`` action's ``data.old`` holds the previous value of each field it changed;
    Trello records a move to another list as the list change followed by a position change
    (a second delivery a few ms later), and a drag within a list as a position change alone.
    We sync no position, so such a delivery is acknowledged and dropped: no queue row, no
    read, no write.
    """
    old = details.get("old")
    return action_type == "updateCard" and isinstance(old, dict) and bool(old) \
        and set(old) <= POSITION_FIELDS


def read_body(request: Request) -> bytes:
    """The request's raw body; :class:`Refused` 413 over :data:`MAX_BODY`."""
    length = request.content_length
    if length is not None and length > MAX_BODY:
        raise Refused(413, f"body of {length} bytes is over {MAX_BODY}")
    body = request.stream.read(MAX_BODY + 1)
    if len(body) > MAX_BODY:
        raise Refused(413, f"body is over {MAX_BODY} bytes")
    return bytes(body)


def json_response(data: Any) -> Response:
    """A 200 answer carrying ``data`` as JSON (challenges, ephemeral replies, health)."""
    return Response(json.dumps(data), 200, mimetype="application/json")


def interaction(body: bytes) -> Any:
    """The JSON ``payload`` field of an interactivity post."""
    payload = form_fields(body).get("payload", "")
    if json_too_deep(payload.encode()):
        raise Refused(400, f"payload nests deeper than {MAX_JSON_DEPTH} levels")
    try:
        return json.loads(payload)
    except ValueError:
        raise Refused(400, "payload is not JSON") from None


def json_body(body: bytes) -> dict[str, Any]:
    """A body that must be a JSON object (else :class:`Refused` 400)."""
    if json_too_deep(body):
        raise Refused(400, f"body nests deeper than {MAX_JSON_DEPTH} levels")
    try:
        data = json.loads(body)
    except ValueError:
        raise Refused(400, "body is not JSON") from None
    if not isinstance(data, dict):
        raise Refused(400, "body is not a JSON object")
    return data


def form_fields(body: bytes) -> dict[str, str]:
    """A form-encoded body's fields (else :class:`Refused` 400)."""
    from urllib.parse import parse_qsl

    try:
        return dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
    except UnicodeDecodeError:
        raise Refused(400, "body is not UTF-8") from None
