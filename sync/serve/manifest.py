"""The Slack app manifest, made from what mcm-sync uses (``mcm-sync slack manifest``).

One source for the app a workspace admin creates: the bot scopes are
:data:`connectors.slack.scopes.REQUIRED_BOT_SCOPES` (which the doctor checks and the sandbox
grants), the event subscriptions, interactivity and the ``/alliance`` command point at the
endpoints ``mcm-sync serve`` handles. Three shapes, as ``real_time`` in the config:

- ``none`` (only a scheduled ``sync``): no events, no interactivity, no slash command; Slack
  is only called, never calls back, so no URL is needed;
- ``serve`` with its public URL: Slack calls ``<public URL>/hooks/slack/...``;
- ``socket_mode``: the same subscriptions over the app's Socket Mode connection, no URL.

``slack-app-manifest.yaml`` in the repository is the ``serve`` shape with the placeholder URL
:data:`PLACEHOLDER_URL` (a test keeps the two equal).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import yaml

from connectors.slack.scopes import REQUIRED_BOT_SCOPES
from sync.core.errors import UserError
from sync.serve.hooks import SLACK_COMMANDS_PATH, SLACK_EVENTS_PATH, SLACK_INTERACTIVE_PATH

PLACEHOLDER_URL = "https://mcm-sync.example.org"
# Slack's names for the events serve handles: a message in a public channel, in a private
# one, and reactions.
BOT_EVENTS = ("message.channels", "message.groups", "reaction_added", "reaction_removed")
_LOOPBACK = ("127.0.0.1", "localhost", "::1")

_HEADER = {
    "none": """\
# Slack app manifest for mcm-sync without real time (real_time: none): `mcm-sync sync` runs
# on a schedule and calls Slack; Slack never calls back, so there are no URLs, events,
# buttons or /alliance. Made by `mcm-sync slack manifest`; with `mcm-sync serve` later, make
# it again with --public-url (or --socket-mode) and paste it over the app's manifest.
""",
    "serve": """\
# Slack app manifest for mcm-sync with real time (real_time: serve): Slack calls
# `mcm-sync serve` at {url}
# (made by `mcm-sync slack manifest --public-url URL`). Slack checks the events URL when the
# manifest is saved: serve must be reachable then.
""",
    "socket_mode": """\
# Slack app manifest for mcm-sync with real time over Socket Mode (real_time: socket_mode):
# no public URL; run `mcm-sync serve --socket-mode` with SLACK_APP_TOKEN (an app-level token
# with connections:write, from the app's Basic Information page).
# Made by `mcm-sync slack manifest --socket-mode`.
""",
}
_COMMON = """\
# A workspace admin creates the app in one paste (https://api.slack.com/apps > Create New
# App > From an app manifest), installs it, and gives the coordinator its Bot User OAuth
# Token (xoxb-...) as SLACK_BOT_TOKEN. The scopes are exactly the ones mcm-sync uses
# (connectors/slack/scopes.py, which `mcm-sync doctor` checks too); groups:* are for an
# alliance channel that is private.
"""


def public_base(url: str) -> str:
    """The public URL without a trailing slash; UserError unless Slack would accept it."""
    parts = urlsplit(url.strip())
    loopback = parts.hostname in _LOOPBACK
    if parts.scheme not in ("https", "http") or not parts.hostname or (
            parts.scheme == "http" and not loopback) or parts.query or parts.fragment:
        raise UserError(f"--public-url: {url!r} is not an https:// URL",
                        hint="give the address that reaches `mcm-sync serve`, e.g. "
                        "https://mcm.example.org (Slack calls https only)")
    return url.strip().rstrip("/")


def slack_manifest(mode: str = "serve", public_url: str = PLACEHOLDER_URL) -> dict[str, Any]:
    """The manifest for ``mode`` (``none``, ``serve`` or ``socket_mode``) as data."""
    base = public_base(public_url) if mode == "serve" else ""
    features: dict[str, Any] = {"bot_user": {"display_name": "mcm-sync",
                                             "always_online": False}}
    settings: dict[str, Any] = {}
    if mode != "none":
        command: dict[str, Any] = {"command": "/alliance"}
        if base:
            command["url"] = base + SLACK_COMMANDS_PATH
        command.update(description="Your open action items and the next plenary meeting",
                       should_escape=False)
        features["slash_commands"] = [command]
        events: dict[str, Any] = {"request_url": base + SLACK_EVENTS_PATH} if base else {}
        events["bot_events"] = list(BOT_EVENTS)
        interactivity: dict[str, Any] = {"is_enabled": True}
        if base:
            interactivity["request_url"] = base + SLACK_INTERACTIVE_PATH
        settings.update(event_subscriptions=events, interactivity=interactivity)
    settings.update(org_deploy_enabled=False, socket_mode_enabled=mode == "socket_mode",
                    token_rotation_enabled=False)
    return {
        "display_information": {
            "name": "mcm-sync",
            "description": "Keeps the regional alliance's action items in step between "
                           "Trello and Slack.",
            "background_color": "#2c5f2d",
        },
        "features": features,
        "oauth_config": {"scopes": {"bot": list(REQUIRED_BOT_SCOPES)}},
        "settings": settings,
    }


def manifest_text(mode: str = "serve", public_url: str = PLACEHOLDER_URL) -> str:
    """The manifest as the YAML a workspace admin pastes, with what to do in its comments."""
    header = _HEADER[mode].format(url=public_base(public_url) if mode == "serve" else "")
    if mode == "serve" and public_base(public_url) == PLACEHOLDER_URL:
        header += ("# The URL below is a placeholder: run `mcm-sync slack manifest --public-url "
                   "URL` for yours,\n# or `mcm-sync slack manifest` without serve "
                   "(see docs/going-live.md).\n")
    body = yaml.safe_dump(slack_manifest(mode, public_url), sort_keys=False,
                          allow_unicode=True, width=100)
    return header + _COMMON + body
