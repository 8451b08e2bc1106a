"""Answers through a ``response_url``: the private reply to a button press or slash command.

Slack hands an app a ``response_url`` with every interaction and slash command and expects
answers that come later than the 3-second acknowledgement to go there (up to 5 within 30
minutes; "Handling user interaction", docs.slack.dev). The URL comes inside a payload whose
signature serve has verified; it is still only followed to Slack's own hooks host over HTTPS,
or to a loopback address (the sandbox serves its own), never anywhere else.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from slack_sdk.webhook import WebhookClient

from connectors.errors import FatalRemoteError

SLACK_HOOKS_HOST = "hooks.slack.com"
TIMEOUT = 10  # seconds


def _allowed(url: str) -> bool:
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.scheme == "https" and host == SLACK_HOOKS_HOST:
        return True
    try:
        return parts.scheme in ("http", "https") and (
            host == "localhost" or ipaddress.ip_address(host).is_loopback)
    except ValueError:
        return False


def respond(url: str, text: str, *, in_channel: bool = False) -> None:
    """Post ``text`` to ``url`` (ephemeral unless ``in_channel``); raises on a refusal."""
    if not _allowed(url):
        raise FatalRemoteError("slack", "response_url is not Slack's hooks host")
    client = WebhookClient(url, timeout=TIMEOUT)
    if urlsplit(url).hostname != SLACK_HOOKS_HOST:
        client.proxy = None  # loopback (the sandbox): never through a proxy from the environment
    answer = client.send(text=text, response_type="in_channel" if in_channel else "ephemeral",
                         replace_original=False)
    if answer.status_code != 200:
        raise FatalRemoteError("slack", f"response_url answered {answer.status_code}")
