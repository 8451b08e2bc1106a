"""Who sent a delivery: Trello's and Slack's signatures, Mailchimp's secret in the URL.

Each check runs on the raw body *before* anything in it is read, compares in constant time,
and returns a reason (for the log, never carrying a secret) or ``None`` when the delivery is
genuine.

- Trello: ``X-Trello-Webhook`` = base64(HMAC-SHA1(app secret, raw body + callback URL exactly
  as registered)).
- Slack: ``X-Slack-Signature`` = ``v0=`` + hex(HMAC-SHA256(signing secret,
  ``v0:{X-Slack-Request-Timestamp}:{raw body}``)), refused outside a 5-minute window (replay).
- Mailchimp signs nothing: the webhook URL carries a secret, compared in constant time.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time

SLACK_WINDOW = 300  # seconds: Slack's advised replay window


def trello_problem(body: bytes, callback_url: str, secret: str, header: str | None) -> str | None:
    """Why a Trello delivery is not genuine, or None."""
    if not secret:
        return "no Trello app secret configured: every delivery is refused"
    if not header:
        return "no X-Trello-Webhook header"
    digest = hmac.new(secret.encode(), body + callback_url.encode(), hashlib.sha1).digest()
    if not hmac.compare_digest(base64.b64encode(digest), _header_bytes(header)):
        return "X-Trello-Webhook does not match"
    return None


def _header_bytes(value: str) -> bytes:
    """A header as bytes to compare: surrounding whitespace (a trailing newline) dropped, and
    any character encodable (``compare_digest`` refuses non-ASCII text: that was a 500)."""
    return value.strip().encode("utf-8", "replace")


def slack_signature(secret: str, timestamp: str, body: bytes) -> str:
    """The ``X-Slack-Signature`` of ``body`` sent at ``timestamp`` (also the sandbox's)."""
    base = b"v0:" + timestamp.encode() + b":" + body
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


def slack_problem(body: bytes, secret: str, timestamp: str | None, signature: str | None,
                  now: float | None = None) -> str | None:
    """Why a Slack request is not genuine (or too old: a replay), or None."""
    if not secret:
        return "no Slack signing secret configured: every request is refused"
    if not timestamp or not signature:
        return "no X-Slack-Request-Timestamp or X-Slack-Signature header"
    try:
        sent = int(timestamp)
    except ValueError:
        return "X-Slack-Request-Timestamp is not a number"
    if abs((now if now is not None else time.time()) - sent) > SLACK_WINDOW:
        return "X-Slack-Request-Timestamp outside the 5-minute window (replay?)"
    if not hmac.compare_digest(slack_signature(secret, timestamp, body).encode(),
                               _header_bytes(signature)):
        return "X-Slack-Signature does not match"
    return None


def mailchimp_problem(given: str | None, secret: str) -> str | None:
    """Why a Mailchimp request is not ours (wrong or missing URL secret), or None."""
    if not given or not secret or not hmac.compare_digest(given.encode("utf-8", "replace"),
                                                          secret.encode()):
        return "wrong or missing secret in the webhook URL"
    return None
