"""Slack's Events API, interactivity and slash commands, as the sandbox's Slack app sends them.

On real Slack a workspace admin enters the app's Request URLs in its settings; here
``POST /_sandbox/slack/app`` ``{"event_url", "interactivity_url", "command_url"}`` does it,
and, as Slack does when a Request URL is saved, a signed ``url_verification`` is sent to the
event URL first: the app is refused unless the challenge comes back.

Then:

- ``reactions.add`` / ``reactions.remove`` and thread replies (``chat.postMessage`` with
  ``thread_ts``) send ``event_callback`` deliveries (``reaction_added``, ``reaction_removed``,
  ``message``) to the event URL after the change is committed;
- ``POST /_sandbox/slack/press`` ``{"as", "channel", "ts", "action_id"}`` plays a member
  pressing a button of a message: a ``block_actions`` payload (form field ``payload``) to the
  interactivity URL;
- ``POST /_sandbox/slack/command`` ``{"as", "command", "text", "channel"}`` plays a member
  typing a slash command: a form post to the command URL, whose answer is returned.

Every request is signed as Slack signs it: ``X-Slack-Request-Timestamp`` and
``X-Slack-Signature`` = ``v0=`` + hex HMAC-SHA256(the issued signing secret,
``v0:{timestamp}:{body}``). An event that fails (no answer within 3 s, or not a 2xx) is
retried three times on Slack's schedule (nearly at once, after 1 minute, after 5 minutes; a
registration may scale it down with ``retry_delays``, the original's delay first) with
``X-Slack-Retry-Num`` and ``X-Slack-Retry-Reason``; a failed answer carrying
``X-Slack-No-Retry: 1`` is not retried. A timed-out delivery is retried without waiting for
its late answer, so a slow receiver sees the first post and its retry overlap, as on Slack.
Every failure is kept (``GET /_sandbox/slack/deliveries``) and shown on the sandbox page.
Deliveries go to loopback URLs only.

Events are sent only for channels the bot is a member of (Slack sends a bot's
``message.channels`` and ``reaction_added`` only for conversations it is in).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urlsplit

import requests

from connectors.sandbox.core.network import is_loopback
from connectors.sandbox.slack.model import TEAM_DOMAIN

APP_ID = "A0SANDBOXAPP"
# The original, then Slack's three retries: nearly immediately, after 1 minute, after 5.
RETRY_DELAYS = (0.0, 0.0, 60.0, 300.0)
TIMEOUT = 3.0  # Slack gives up on an answer after 3 seconds
KEPT = 200  # deliveries kept for the page and the admin API


def sign(body: bytes, timestamp: str, secret: str) -> str:
    """Slack's v0 signature of ``body`` sent at ``timestamp`` with the app's signing secret."""
    base = b"v0:" + timestamp.encode() + b":" + body
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


def _loopback(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and is_loopback(parts.hostname or "")


@dataclass
class SlackApp:
    """The sandbox's one Slack app: its Request URLs and its recent deliveries."""

    # The signing secret the sandbox issued (``/_sandbox/credentials``), read when sending.
    signing_secret: Callable[[], str] = field(default=lambda: "")
    event_url: str = ""
    interactivity_url: str = ""
    command_url: str = ""
    retry_delays: tuple[float, ...] = RETRY_DELAYS
    deliveries: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=KEPT))
    lock: threading.Lock = field(default_factory=threading.Lock)

    # ------------------------------------------------------------------ sending

    def _post(self, url: str, body: bytes, content_type: str,
              headers: dict[str, str] | None = None) -> tuple[int | None, str, str]:
        """One signed POST: (status or None, reason for Slack's retry header, answer text).

        The reason is ``no_retry`` for a failed answer that asks for no retry
        (``X-Slack-No-Retry: 1``).
        """
        stamp = str(int(time.time()))
        sent = {"Content-Type": content_type, "X-Slack-Request-Timestamp": stamp,
                "X-Slack-Signature": sign(body, stamp, self.signing_secret()),
                **(headers or {})}
        session = requests.Session()
        session.trust_env = False  # loopback only, never through a proxy
        try:
            answer = session.post(url, data=body, headers=sent, timeout=TIMEOUT,
                                  allow_redirects=False)
        except requests.Timeout:
            return None, "http_timeout", ""
        except requests.RequestException:
            return None, "connection_failed", ""
        reason = "" if 200 <= answer.status_code < 300 else "http_error"
        if reason and answer.headers.get("X-Slack-No-Retry") == "1":
            reason = "no_retry"
        return answer.status_code, reason, answer.text

    def _record(self, kind: str, url: str, status: int | None, reason: str,
                attempt: int) -> None:
        with self.lock:
            self.deliveries.append({"kind": kind, "url": url, "status": status,
                                    "ok": not reason, "reason": reason, "attempt": attempt,
                                    "at": time.time()})

    def verify(self, event_url: str) -> str | None:
        """Slack's ``url_verification`` of a new event URL; why it failed, or None."""
        if not _loopback(event_url):
            return None  # the sandbox never calls another host: accepted unchecked
        challenge = secrets.token_urlsafe(24)
        body = json.dumps({"token": "sandbox-verification", "challenge": challenge,
                           "type": "url_verification"}).encode()
        status, reason, text = self._post(event_url, body, "application/json")
        self._record("url_verification", event_url, status, reason, 0)
        if reason:
            return f"url_verification failed ({reason}, status {status})"
        try:
            answered = json.loads(text).get("challenge")
        except (ValueError, AttributeError):
            answered = text.strip()
        return None if answered == challenge else "url_verification: wrong challenge"

    def send_event(self, event: dict[str, Any], team_id: str, bot_user: str) -> None:
        """Deliver one event (background thread; retried on Slack's schedule)."""
        url = self.event_url
        if not url or not _loopback(url):
            return
        envelope = event_envelope(event, team_id, bot_user)
        body = json.dumps(envelope).encode()
        threading.Thread(target=self._deliver, args=(url, body, event["type"]),
                         daemon=True).start()

    def _deliver(self, url: str, body: bytes, kind: str) -> None:
        reason = ""
        for attempt, delay in enumerate(self.retry_delays):
            if attempt:
                time.sleep(delay)
            headers = ({"X-Slack-Retry-Num": str(attempt), "X-Slack-Retry-Reason": reason}
                       if attempt else {})
            status, reason, _ = self._post(url, body, "application/json", headers)
            self._record(kind, url, status, reason, attempt)
            if not reason or reason == "no_retry":
                return

    def send_form(self, kind: str, url: str, fields: dict[str, str]) -> tuple[int | None, str]:
        """A signed form post (interactivity, slash command), once: (status, answer text)."""
        body = urlencode(fields).encode()
        status, reason, text = self._post(url, body, "application/x-www-form-urlencoded")
        self._record(kind, url, status, reason, 0)
        return status, text

    def failures(self) -> list[dict[str, Any]]:
        """The failed deliveries kept, oldest first."""
        with self.lock:
            return [d for d in self.deliveries if not d["ok"]]

    def recent(self) -> list[dict[str, Any]]:
        """Every delivery kept, oldest first."""
        with self.lock:
            return list(self.deliveries)


def event_envelope(event: dict[str, Any], team_id: str, bot_user: str) -> dict[str, Any]:
    """The ``event_callback`` wrapper of one event, with the fields Slack sends today."""
    return {
        "token": "sandbox-verification", "team_id": team_id, "context_team_id": team_id,
        "context_enterprise_id": None, "api_app_id": APP_ID, "event": event,
        "type": "event_callback", "event_id": "Ev" + secrets.token_hex(6).upper(),
        "event_time": int(time.time()),
        "authorizations": [{"enterprise_id": None, "team_id": team_id, "user_id": bot_user,
                            "is_bot": True, "is_enterprise_install": False}],
        "is_ext_shared_channel": False,
        # Opaque to apps (Slack's apps.event.authorizations.list takes it).
        "event_context": "4-" + secrets.token_urlsafe(48),
    }


def reaction_event(kind: str, user: str, name: str, message: dict[str, Any]) -> dict[str, Any]:
    """A ``reaction_added`` / ``reaction_removed`` event on ``message``."""
    return {"type": kind, "user": user, "reaction": name, "item_user": message.get("user", ""),
            "item": {"type": "message", "channel": message["channel"], "ts": message["ts"]},
            "event_ts": f"{time.time():.6f}"}


def _as_event(message: dict[str, Any], team_id: str) -> dict[str, Any]:
    """A stored message as it appears inside events: ``blocks`` always (a person's typed
    text becomes one ``rich_text`` block, as Slack's clients send it), ``client_msg_id`` for a
    person's message (bots send none)."""
    body = {"type": "message", "user": message["user"], "text": message.get("text", ""),
            "ts": message["ts"], "team": team_id}
    if message.get("blocks"):
        body["blocks"] = message["blocks"]
    else:
        body["blocks"] = [{"type": "rich_text", "block_id": secrets.token_hex(3),
                           "elements": [{"type": "rich_text_section", "elements": [
                               {"type": "text", "text": message.get("text", "")}]}]}]
    if message.get("bot_id"):
        body["bot_id"] = message["bot_id"]
    else:
        body["client_msg_id"] = message.get("client_msg_id") or str(uuid.uuid4())
    for key in ("thread_ts", "parent_user_id", "edited"):
        if message.get(key):
            body[key] = message[key]
    return body


def message_event(message: dict[str, Any], team_id: str) -> dict[str, Any]:
    """A ``message`` event for a new message (a thread reply carries ``thread_ts``)."""
    return {**_as_event(message, team_id), "channel": message["channel"],
            "channel_type": "channel", "event_ts": message["ts"]}


def message_changed_event(before: dict[str, Any], after: dict[str, Any], team_id: str,
                          event_ts: str) -> dict[str, Any]:
    """``message`` subtype ``message_changed`` (``chat.update``): the new and previous message."""
    return {"type": "message", "subtype": "message_changed", "hidden": True,
            "channel": after["channel"], "ts": event_ts, "event_ts": event_ts,
            "channel_type": "channel", "message": _as_event(after, team_id),
            "previous_message": _as_event(before, team_id)}


def message_deleted_event(before: dict[str, Any], team_id: str,
                          event_ts: str) -> dict[str, Any]:
    """``message`` subtype ``message_deleted`` (``chat.delete``): the message that went."""
    return {"type": "message", "subtype": "message_deleted", "hidden": True,
            "channel": before["channel"], "ts": event_ts, "event_ts": event_ts,
            "deleted_ts": before["ts"], "channel_type": "channel",
            "previous_message": _as_event(before, team_id)}


def block_actions(person: dict[str, Any], team_id: str, channel: dict[str, Any],
                  message: dict[str, Any], button: dict[str, Any], block_id: str,
                  response_url: str = "") -> dict[str, str]:
    """The form of a button press: ``payload`` = the ``block_actions`` JSON."""
    now = f"{time.time():.6f}"
    payload = {
        "type": "block_actions", "api_app_id": APP_ID, "token": "sandbox-verification",
        "user": {"id": person["slack_id"], "username": person.get("name", ""),
                 "name": person.get("name", ""), "team_id": team_id},
        "container": {"type": "message", "message_ts": message["ts"],
                      "channel_id": channel["id"], "is_ephemeral": False},
        "trigger_id": secrets.token_hex(8), "team": {"id": team_id, "domain": TEAM_DOMAIN},
        "channel": {"id": channel["id"], "name": channel.get("name", "")},
        "message": {k: message[k] for k in ("ts", "text", "user", "blocks") if k in message},
        "response_url": response_url, "is_enterprise_install": False, "enterprise": None,
        "actions": [{"action_id": button["action_id"], "block_id": block_id,
                     "text": button.get("text"), "value": button.get("value", ""),
                     "type": "button", "action_ts": now}],
    }
    return {"payload": json.dumps(payload)}


def find_button(message: dict[str, Any], action_id: str) -> tuple[dict[str, Any], str] | None:
    """The button ``action_id`` among a message's blocks, with its block id, or None."""
    for block in message.get("blocks") or []:
        if block.get("type") != "actions":
            continue
        for element in block.get("elements") or []:
            if element.get("type") == "button" and element.get("action_id") == action_id:
                return element, str(block.get("block_id") or "")
    return None
