"""Slack without a public URL: Socket Mode carries the same events, presses and commands.

Where the coordinator cannot expose an HTTPS URL, ``mcm-sync serve --socket-mode`` opens
Slack's Socket Mode connection with slack-sdk's own client (an app-level token ``xapp-...``
with ``connections:write``, from ``SLACK_APP_TOKEN``) and hands each envelope to the same
handlers as the HTTP endpoints (:class:`sync.serve.hooks.HookApp`): an ``events_api``
envelope to ``on_event``, ``interactive`` to ``on_interaction``, ``slash_commands`` to
``on_command``. The delivery is queued (committed) *before* the envelope is acknowledged, as
over HTTP; Slack signs nothing on the socket (the connection itself is authenticated by the
app token). Trello has no such channel: without a public URL it is read by the backstop sync
(``--reconcile-every``), see the latency table in docs/realtime.md.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from sync.serve.hooks import HookApp, Refused

log = logging.getLogger("mcm_sync.serve")


def handle_envelope(app: HookApp, kind: str, payload: Any) -> dict[str, Any] | None:
    """Queue one Socket Mode envelope's content; the payload to acknowledge it with (or None).

    Refused content (malformed) is logged and acknowledged all the same: Slack would only send
    it again.
    """
    try:
        if kind == "events_api":
            app.on_event(payload)
        elif kind == "interactive":
            app.on_interaction(payload)
        elif kind == "slash_commands":
            answer = app.on_command({k: str(v) for k, v in dict(payload).items()})
            return dict(json.loads(answer.get_data(as_text=True)))
    except Refused as refused:
        log.warning("refused a Socket Mode %s envelope: %s", kind, refused.reason)
    return None


def connect_socket_mode(app: HookApp, app_token: str, bot_token: str,
                        base_url: str | None = None) -> Any:
    """Open the Socket Mode connection (slack-sdk's client, in the connectors)."""
    from connectors.slack.socket_mode import open_socket_mode

    return open_socket_mode(app_token, bot_token,
                            lambda kind, payload: handle_envelope(app, kind, payload), base_url)
