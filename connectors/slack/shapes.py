"""Slack answers as the project sees them: error codes mapped into :mod:`connectors.errors`, and
channels and messages turned into the plain dataclasses of :mod:`connectors.base`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from connectors.base import ChatChannel, ChatMessage
from connectors.errors import (
    AuthError,
    FatalRemoteError,
    NotFoundError,
    RemoteError,
    RetriableRemoteError,
)
from connectors.retry import error_for_status, parse_retry_after

SERVICE = "slack"
AUTH_HINT = "check slack.token (SLACK_BOT_TOKEN)"
AUTH_CODES = {
    "invalid_auth",
    "not_authed",
    "account_inactive",
    "token_revoked",
    "token_expired",
    "no_permission",
}
NOT_FOUND_CODES = {
    "channel_not_found",
    "message_not_found",
    "thread_not_found",
    "user_not_found",
    "users_not_found",
    "not_found",
}
# Documented as temporary on every method page ("the server could not complete your
# operation(s) without encountering an error, likely due to a transient issue").
TRANSIENT_CODES = {"internal_error", "fatal_error", "service_unavailable", "request_timeout"}
# Calls that create something: after a lost answer their outcome is unknown.
CREATES = {"conversations.create", "chat.postMessage"}


def slack_error(
    method: str,
    status: int,
    data: dict[str, Any],
    headers: dict[str, Any],
    *,
    clean: Callable[[str], str],
) -> RemoteError:
    """The project's exception for a failed answer to ``method`` (``clean`` removes secrets).

    HTTP 429 (or ``ratelimited``) carries Slack's ``Retry-After`` as ``retry_after``.
    """
    code = str(data.get("error") or f"HTTP {status}")
    create = method in CREATES
    if status == 429 or code == "ratelimited":
        lowered = {str(k).lower(): v for k, v in (headers or {}).items()}
        after = parse_retry_after(lowered.get("retry-after"))
        return RetriableRemoteError(SERVICE, f"{method}: rate limited", retry_after=after)
    if status != 200:
        return error_for_status(
            SERVICE,
            status,
            clean(f"{method}: {code}"),
            write=create,
            hint=AUTH_HINT if status in (401, 403) else "",
        )
    if code in TRANSIENT_CODES:
        return RetriableRemoteError(SERVICE, f"{method}: {code}", outcome_unknown=create)
    if code in AUTH_CODES:
        return AuthError(SERVICE, f"{method}: the token was refused ({code})", hint=AUTH_HINT)
    if code in NOT_FOUND_CODES:
        return NotFoundError(SERVICE, f"{method}: {code}")
    if code == "missing_scope":
        needed = data.get("needed", "?")
        return FatalRemoteError(
            SERVICE,
            f"{method}: the token lacks the scope {needed}",
            hint=f"add the {needed} scope to the Slack app and reinstall it",
        )
    details = (data.get("response_metadata") or {}).get("messages") or []
    suffix = f" ({'; '.join(map(str, details))})" if details else ""
    return FatalRemoteError(SERVICE, clean(f"{method}: {code}{suffix}"))


def ts_key(ts: str) -> tuple[int, int]:
    """Slack timestamps ("1716212345.000200") as a sortable pair, exact (no float)."""
    seconds, _, fraction = (ts or "0").partition(".")
    return int(seconds or 0), int(fraction or 0)


def as_channel(raw: dict[str, Any]) -> ChatChannel:
    """A channel object of the Web API as a :class:`ChatChannel`."""
    return ChatChannel(
        id=str(raw["id"]),
        name=str(raw.get("name") or ""),
        is_archived=bool(raw.get("is_archived")),
        topic=str((raw.get("topic") or {}).get("value") or ""),
        purpose=str((raw.get("purpose") or {}).get("value") or ""),
        is_member=bool(raw.get("is_member", True)),
    )


def as_message(raw: dict[str, Any]) -> ChatMessage:
    """A message of the Web API as a :class:`ChatMessage` (reactions: name -> user ids)."""
    reactions = {
        str(r.get("name")): tuple(str(u) for u in r.get("users") or ())
        for r in raw.get("reactions") or ()
    }
    metadata = raw.get("metadata")
    return ChatMessage(
        ts=str(raw.get("ts") or ""),
        text=str(raw.get("text") or ""),
        user=str(raw.get("user") or ""),
        bot_id=str(raw.get("bot_id") or ""),
        thread_ts=str(raw.get("thread_ts") or ""),
        reply_count=int(raw.get("reply_count") or 0),
        latest_reply=str(raw.get("latest_reply") or ""),
        metadata=dict(metadata) if isinstance(metadata, dict) else None,
        reactions=reactions,
        edited_ts=str((raw.get("edited") or {}).get("ts") or ""),
        actions=button_actions(raw.get("blocks")),
    )


def button_actions(blocks: Any) -> tuple[str, ...]:
    """The ``action_id`` of every button in a message's ``actions`` blocks."""
    found: list[str] = []
    for block in blocks if isinstance(blocks, list) else ():
        if isinstance(block, dict) and block.get("type") == "actions":
            found += [str(element.get("action_id") or "")
                      for element in block.get("elements") or ()
                      if isinstance(element, dict) and element.get("type") == "button"]
    return tuple(found)
