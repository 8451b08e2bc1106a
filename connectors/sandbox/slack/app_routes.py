"""The sandbox's admin routes for its Slack app (``/_sandbox/slack/...``), see ``events``.

- ``POST /_sandbox/slack/app`` ``{"event_url", "interactivity_url", "command_url",
  "retry_delays"}``: set the Request URLs (``url_verification`` of the event URL first);
  ``GET`` shows them; ``DELETE`` clears them.
- ``POST /_sandbox/slack/press`` ``{"as", "channel", "ts", "action_id"}``: a member presses a
  button of a message.
- ``POST /_sandbox/slack/command`` ``{"as", "command", "text", "channel"}``: a member types a
  slash command; answers ``{"status", "response"}`` with the app's answer.
- ``GET /_sandbox/slack/deliveries``: recent deliveries (``?failed=1``: the failures only).
- ``POST /_sandbox/slack/response/<id>``: a press's or command's ``response_url`` (see
  ``responses``); ``GET /_sandbox/slack/responses``: what was posted to them.
"""

from __future__ import annotations

import json
import secrets
from typing import Any

from werkzeug.wrappers import Request, Response

from connectors.sandbox.core.service import json_response
from connectors.sandbox.slack.events import block_actions, find_button
from connectors.sandbox.slack.model import TEAM_DOMAIN, TEAM_ID, SlackError
from connectors.sandbox.slack.responses import PREFIX as RESPONSE_PREFIX

# The Slack emulator (``app``, ``people``, ``workspace``); not imported: it imports this module.
SlackEmulator = Any

PREFIX = "/_sandbox/slack/"


def _body(request: Request) -> dict[str, Any]:
    data = request.get_json(force=True, silent=True)
    return data if isinstance(data, dict) else {}


def _error(message: str, status: int = 400) -> Response:
    return json_response({"ok": False, "error": message}, status)


def slack_app_route(emulator: SlackEmulator, request: Request) -> Response | None:
    """Answer one of the routes above, or None if the path is not one of them."""
    if not request.path.startswith(PREFIX):
        return None
    route = (request.method, request.path[len(PREFIX):].rstrip("/"))
    app = emulator.app
    if route == ("GET", "app"):
        return json_response({"event_url": app.event_url, "interactivity_url":
                              app.interactivity_url, "command_url": app.command_url})
    if route == ("DELETE", "app"):
        app.event_url = app.interactivity_url = app.command_url = ""
        return json_response({"ok": True})
    if route == ("POST", "app"):
        body = _body(request)
        event_url = str(body.get("event_url") or "")
        if event_url:
            problem = app.verify(event_url)
            if problem:
                return _error(problem)
        app.event_url = event_url
        app.interactivity_url = str(body.get("interactivity_url") or "")
        app.command_url = str(body.get("command_url") or "")
        if isinstance(body.get("retry_delays"), list):
            app.retry_delays = tuple(float(d) for d in body["retry_delays"]) or (0.0,)
        return json_response({"ok": True, "app_id": "A0SANDBOXAPP"})
    if route == ("GET", "deliveries"):
        failed = request.args.get("failed") in ("1", "true")
        return json_response(app.failures() if failed else app.recent())
    if route == ("POST", "press"):
        return _press(emulator, _body(request), request.host_url)
    if route == ("POST", "command"):
        return _command(emulator, _body(request), request.host_url)
    if route == ("GET", "responses"):
        return json_response(emulator.responses.recorded())
    if request.method == "POST" and request.path.startswith(RESPONSE_PREFIX):
        key = request.path[len(RESPONSE_PREFIX):].strip("/")
        with emulator.store.transaction():
            status, answer = emulator.responses.respond(
                key, _body(request) or request.get_json(force=True, silent=True),
                emulator.workspace, emulator.people.bot())
        return json_response(answer, status)
    return None


def _press(emulator: SlackEmulator, body: dict[str, Any], base_url: str) -> Response:
    app = emulator.app
    if not app.interactivity_url:
        return _error("no interactivity_url registered")
    person = emulator.people.ensure(str(body.get("as") or ""))
    ws = emulator.workspace
    try:
        channel = ws.channel(str(body.get("channel") or ""), person["slack_id"])
        message = ws.message(channel["id"], str(body.get("ts") or ""))
    except SlackError as error:
        return _error(error.code, 404)
    found = find_button(message, str(body.get("action_id") or ""))
    if found is None:
        return _error("no such button on the message", 404)
    button, block_id = found
    url = emulator.responses.issue(base_url, "block_actions", channel["id"],
                                   person["slack_id"], message["ts"])
    fields = block_actions(person, TEAM_ID, channel, message, button, block_id, url)
    status, _ = app.send_form("block_actions", app.interactivity_url, fields)
    return json_response({"ok": status is not None and 200 <= status < 300, "status": status})


def _command(emulator: SlackEmulator, body: dict[str, Any], base_url: str) -> Response:
    app = emulator.app
    if not app.command_url:
        return _error("no command_url registered")
    person = emulator.people.ensure(str(body.get("as") or ""))
    channel_id = str(body.get("channel") or "")
    doc = emulator.store.get("slack", "channel", channel_id) if channel_id else None
    # The fields Slack posts for a slash command (docs.slack.dev, "Implementing slash
    # commands"); a channel the person cannot see is "privategroup", as Slack names it.
    fields = {"token": "sandbox-verification", "team_id": TEAM_ID, "team_domain": TEAM_DOMAIN,
              "channel_id": channel_id,
              "channel_name": str(doc["name"]) if doc else "privategroup",
              "user_id": person["slack_id"], "user_name": str(person.get("name") or ""),
              "command": str(body.get("command") or "/alliance"),
              "text": str(body.get("text") or ""), "api_app_id": "A0SANDBOXAPP",
              "is_enterprise_install": "false",
              "response_url": emulator.responses.issue(base_url, "slash_command", channel_id,
                                                       person["slack_id"]),
              "trigger_id": secrets.token_hex(8)}
    status, text = app.send_form("slash_command", app.command_url, fields)
    try:
        response: Any = json.loads(text)
    except ValueError:
        response = text
    return json_response({"ok": status == 200, "status": status, "response": response})
