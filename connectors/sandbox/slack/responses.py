"""The ``response_url`` of button presses and slash commands, as the sandbox serves it.

Slack puts a ``response_url`` in every ``block_actions`` payload and slash command; the app
answers through it, up to 5 times within 30 minutes ("Handling user interaction",
docs.slack.dev). A JSON body with ``text``/``blocks`` and:

- ``response_type``: ``ephemeral`` (the default: only the person who acted sees it) or
  ``in_channel`` (a message in the channel, from the app);
- ``replace_original: true`` (a press only): the pressed message is replaced;
- ``delete_original: true`` (a press only): the pressed message is deleted.

Here the URL is ``<sandbox>/_sandbox/slack/response/<id>`` (Slack's are under its own hooks
host); every answer posted to it is recorded (``GET /_sandbox/slack/responses``) and the
in-channel, replaced and deleted ones change the workspace as on Slack. Blocks are validated
as ``chat.postMessage`` validates them. A used-up or expired URL answers 404
``{"ok": false, "error": "used_url"|"expired_url"}``.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from connectors.sandbox.slack.blocks import check_blocks
from connectors.sandbox.slack.model import SlackError, bot_id_of

MAX_USES = 5
LIFETIME = 30 * 60.0  # seconds
KEPT = 200
PREFIX = "/_sandbox/slack/response/"


@dataclass
class _Url:
    kind: str  # block_actions | slash_command
    channel: str
    user: str
    message_ts: str = ""
    uses: int = 0
    made: float = field(default_factory=time.time)


class ResponseUrls:
    """The response URLs handed out, and what was posted to them."""

    def __init__(self) -> None:
        self._urls: dict[str, _Url] = {}
        self.posted: deque[dict[str, Any]] = deque(maxlen=KEPT)
        self.lock = threading.Lock()

    def issue(self, base_url: str, kind: str, channel: str, user: str,
              message_ts: str = "") -> str:
        """A new response URL for one press or command (``base_url``: the sandbox's)."""
        key = secrets.token_urlsafe(18)
        with self.lock:
            self._urls[key] = _Url(kind, channel, user, message_ts)
        return base_url.rstrip("/") + PREFIX + key

    def recorded(self) -> list[dict[str, Any]]:
        """What the app posted to response URLs, oldest first."""
        with self.lock:
            return list(self.posted)

    def respond(self, key: str, body: Any, workspace: Any, bot: dict[str, Any]
                ) -> tuple[int, dict[str, Any]]:
        """Apply one answer posted to the URL ``key``: (HTTP status, JSON answer)."""
        with self.lock:
            url = self._urls.get(key)
            if url is None:
                return 404, {"ok": False, "error": "invalid_url"}
            if time.time() - url.made > LIFETIME:
                return 404, {"ok": False, "error": "expired_url"}
            if url.uses >= MAX_USES:
                return 404, {"ok": False, "error": "used_url"}
            url.uses += 1
        if not isinstance(body, dict):
            return 400, {"ok": False, "error": "invalid_payload"}
        blocks = body.get("blocks")
        text = str(body.get("text") or "")
        try:
            if blocks is not None:
                check_blocks(blocks)
            effect = self._apply(url, body, text, blocks, workspace, bot)
        except SlackError as error:
            return 400, error.body()
        with self.lock:
            self.posted.append({"kind": url.kind, "channel": url.channel, "user": url.user,
                                "message_ts": url.message_ts, "effect": effect,
                                "response_type": str(body.get("response_type") or "ephemeral"),
                                "text": text, "blocks": blocks, "at": time.time()})
        return 200, {"ok": True}

    def _apply(self, url: _Url, body: dict[str, Any], text: str, blocks: Any,
               workspace: Any, bot: dict[str, Any]) -> str:
        """Change the workspace as Slack would; returns what was done."""
        pressed = url.kind == "block_actions" and url.message_ts
        if pressed and body.get("delete_original") in (True, "true"):
            workspace.delete_message(workspace.message(url.channel, url.message_ts))
            return "deleted"
        if pressed and body.get("replace_original") in (True, "true"):
            doc = workspace.message(url.channel, url.message_ts)
            doc["text"] = text
            doc["blocks"] = blocks or []
            doc["edited"] = {"user": bot["slack_id"], "ts": workspace.next_ts()}
            workspace.save_message(doc)
            return "replaced"
        if not text.strip() and not blocks:
            raise SlackError("no_text")
        if body.get("response_type") == "in_channel":
            doc = {"channel": url.channel, "ts": workspace.next_ts(), "user": bot["slack_id"],
                   "text": text, "reactions": [], "bot_id": bot_id_of(bot)}
            if blocks:
                doc["blocks"] = blocks
            workspace.add_message(doc)
            return "posted"
        return "ephemeral"
