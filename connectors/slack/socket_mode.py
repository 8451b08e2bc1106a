"""Slack's Socket Mode through slack-sdk's built-in client (for ``mcm-sync serve``).

The connection is authenticated by an app-level token (``xapp-...``, ``connections:write``);
each envelope (``events_api``, ``interactive``, ``slash_commands``) goes to ``handle``, whose
answer (or None) acknowledges it. Nothing here knows what the envelopes mean.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Handle = Callable[[str, Any], "dict[str, Any] | None"]


def open_socket_mode(app_token: str, bot_token: str, handle: Handle,
                     base_url: str | None = None) -> Any:
    """Connect and deliver every envelope to ``handle``; returns the client (``close()``)."""
    from slack_sdk import WebClient
    from slack_sdk.socket_mode.builtin import SocketModeClient
    from slack_sdk.socket_mode.request import SocketModeRequest
    from slack_sdk.socket_mode.response import SocketModeResponse

    web = WebClient(token=bot_token, base_url=base_url) if base_url else WebClient(token=bot_token)
    client = SocketModeClient(app_token=app_token, web_client=web)

    def listener(socket: Any, request: SocketModeRequest) -> None:
        answer = handle(request.type, request.payload)
        socket.send_socket_mode_response(SocketModeResponse(envelope_id=request.envelope_id,
                                                            payload=answer))

    client.socket_mode_request_listeners.append(listener)
    client.connect()
    return client
