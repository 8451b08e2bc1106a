"""Slack message methods of the emulator: post, update, history, replies, reactions, pins.

Same handler shape as ``channels``: ``(workspace, caller, params) -> success body``,
errors raised as :class:`~connectors.sandbox.slack.model.SlackError`.
"""

from __future__ import annotations

from typing import Any

from connectors.sandbox.slack.blocks import check_blocks, check_emoji
from connectors.sandbox.slack.model import (
    MAX_TEXT,
    SlackError,
    bot_id_of,
    decode_cursor,
    encode_cursor,
    flag,
    integer,
    json_param,
    reaction_name,
    render_message,
    text_param,
    ts_micros,
)
from connectors.sandbox.slack.workspace import Workspace

Body = dict[str, Any]
Person = dict[str, Any]
HISTORY_DEFAULT = 100
HISTORY_MAX = 999  # conversations.history: "maximum 999"
REPLIES_DEFAULT = 1000
REPLIES_MAX = 1000


def _content(params: dict[str, Any]) -> tuple[str | None, list[Any] | None, dict[str, Any] | None]:
    """The ``text``, ``blocks`` and ``metadata`` of a post or update (None = not given)."""
    text = None if params.get("text") is None else str(params["text"])
    if text is not None and len(text) > MAX_TEXT:
        raise SlackError("msg_too_long")
    blocks = json_param(params, "blocks", "invalid_blocks")
    if blocks is not None and not (
        isinstance(blocks, list) and all(isinstance(b, dict) and b.get("type") for b in blocks)
    ):
        raise SlackError("invalid_blocks")
    if blocks is not None:
        check_blocks(blocks)
    metadata = json_param(params, "metadata", "invalid_metadata_format")
    if metadata is not None and not (
        isinstance(metadata, dict)
        and isinstance(metadata.get("event_type"), str)
        and metadata["event_type"]
        and isinstance(metadata.get("event_payload", {}), dict)
    ):
        raise SlackError("invalid_metadata_format")
    if metadata is not None:
        metadata = {
            "event_type": metadata["event_type"],
            "event_payload": metadata.get("event_payload") or {},
        }
    return text, blocks, metadata


def chat_post_message(ws: Workspace, caller: Person, params: dict[str, Any]) -> Body:
    """Post a message (or a thread reply with ``thread_ts``) as the caller."""
    user_id = caller["slack_id"]
    # chat.postMessage takes a channel's name too ("#general" or "general"), as Slack does.
    channel = ws.writable(ws.channel_id_of(text_param(params, "channel")), user_id)
    text, blocks, metadata = _content(params)
    if not (text or "").strip() and not blocks:
        raise SlackError("no_text")
    doc: dict[str, Any] = {
        "channel": channel["id"],
        "ts": ws.next_ts(),
        "user": user_id,
        "text": text or "",
        "reactions": [],
    }
    if bot_id_of(caller):
        doc["bot_id"] = bot_id_of(caller)
    if blocks:
        doc["blocks"] = blocks
    if metadata:
        doc["metadata"] = metadata
    thread_ts = text_param(params, "thread_ts")
    if thread_ts:
        try:
            parent = ws.message(channel["id"], thread_ts)
        except SlackError:
            raise SlackError("thread_not_found") from None
        # A reply to a reply joins the same thread, as in Slack's clients.
        doc["thread_ts"] = parent.get("thread_ts") or parent["ts"]
        root = ws.message(channel["id"], doc["thread_ts"])
        doc["parent_user_id"] = root["user"]
    ws.add_message(doc)
    return {
        "ok": True,
        "channel": channel["id"],
        "ts": doc["ts"],
        "message": render_message(doc),
    }


def _own_message(ws: Workspace, caller: Person, params: dict[str, Any],
                 refusal: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The channel and the message ``ts`` that ``caller`` wrote; ``refusal`` if someone else."""
    channel = ws.writable(text_param(params, "channel"), caller["slack_id"], member=False)
    doc = ws.message(channel["id"], text_param(params, "ts"))
    if doc["user"] != caller["slack_id"]:
        raise SlackError(refusal)
    return channel, doc


def chat_update(ws: Workspace, caller: Person, params: dict[str, Any]) -> Body:
    """Replace a message's text, blocks or metadata; only its author may."""
    user_id = caller["slack_id"]
    channel, doc = _own_message(ws, caller, params, "cant_update_message")
    text, blocks, metadata = _content(params)
    if text is None and blocks is None and metadata is None:
        raise SlackError("no_text")
    if text is not None:
        doc["text"] = text
    if blocks is not None:
        doc["blocks"] = blocks
    if metadata is not None:
        doc["metadata"] = metadata
    doc["edited"] = {"user": user_id, "ts": ws.next_ts()}
    ws.save_message(doc)
    return {
        "ok": True,
        "channel": channel["id"],
        "ts": doc["ts"],
        "text": doc["text"],
        "message": render_message(doc),
    }


def chat_delete(ws: Workspace, caller: Person, params: dict[str, Any]) -> Body:
    """Delete a message; only its author may (a bot deletes its own; admins act as bots here)."""
    channel, doc = _own_message(ws, caller, params, "cant_delete_message")
    ws.delete_message(doc)
    return {"ok": True, "channel": channel["id"], "ts": doc["ts"]}


def _window(params: dict[str, Any]) -> tuple[int, int | None, bool]:
    """``oldest``, ``latest`` (None: no upper bound) and ``inclusive`` of a history read."""
    oldest = ts_micros(params.get("oldest") or "0", "ts_oldest")
    latest_raw = params.get("latest")
    latest = ts_micros(latest_raw, "ts_latest") if latest_raw not in (None, "") else None
    return oldest, latest, flag(params, "inclusive")


def _inside(ts: str, oldest: int, latest: int | None, inclusive: bool) -> bool:
    """Whether ``ts`` lies between ``oldest`` and ``latest`` (bounds only if inclusive)."""
    micros = ts_micros(ts)
    if inclusive:
        return micros >= oldest and (latest is None or micros <= latest)
    return micros > oldest and (latest is None or micros < latest)


def _resume(items: list[dict[str, Any]], params: dict[str, Any]) -> int:
    """Index of the message a ``cursor`` (``next_ts:<ts>``) resumes at."""
    after = decode_cursor(params.get("cursor"), "next_ts")
    if after is None:
        return 0
    for index, doc in enumerate(items):
        if doc["ts"] == after:
            return index
    raise SlackError("invalid_cursor")


def conversations_history(ws: Workspace, caller: Person, params: dict[str, Any]) -> Body:
    """Top-level messages in the window, newest first, paged by cursor."""
    channel = ws.channel(text_param(params, "channel"), caller["slack_id"])
    oldest, latest, inclusive = _window(params)
    limit = integer(params, "limit", HISTORY_DEFAULT, 1, HISTORY_MAX)
    with_metadata = flag(params, "include_all_metadata")
    found = [
        doc
        for doc in reversed(ws.top_level(channel["id"]))
        if _inside(doc["ts"], oldest, latest, inclusive)
    ]
    start = _resume(found, params)
    chunk = found[start : start + limit]
    rest = found[start + limit :]
    body: Body = {
        "ok": True,
        "messages": [render_message(doc, metadata=with_metadata) for doc in chunk],
        "has_more": bool(rest),
        "pin_count": int(channel.get("pin_count") or 0),
        "channel_actions_ts": None,
        "channel_actions_count": 0,
    }
    if rest:
        body["response_metadata"] = {"next_cursor": encode_cursor("next_ts", rest[0]["ts"])}
    return body


def conversations_replies(ws: Workspace, caller: Person, params: dict[str, Any]) -> Body:
    """A thread: its parent first, then the replies in the window, oldest first."""
    channel = ws.channel(text_param(params, "channel"), caller["slack_id"])
    try:
        doc = ws.message(channel["id"], text_param(params, "ts"))
    except SlackError:
        raise SlackError("thread_not_found") from None
    parent = ws.message(channel["id"], doc.get("thread_ts") or doc["ts"])
    oldest, latest, inclusive = _window(params)
    limit = integer(params, "limit", REPLIES_DEFAULT, 1, REPLIES_MAX)
    with_metadata = flag(params, "include_all_metadata")
    found = [
        reply
        for reply in ws.replies(channel["id"], parent["ts"])
        if _inside(reply["ts"], oldest, latest, inclusive)
    ]
    start = _resume(found, params)
    chunk = found[start : start + limit]
    rest = found[start + limit :]
    # Slack repeats the parent at the top of every page of a thread.
    messages = [parent, *chunk]
    body: Body = {
        "ok": True,
        "messages": [render_message(m, metadata=with_metadata) for m in messages],
        "has_more": bool(rest),
    }
    if rest:
        body["response_metadata"] = {"next_cursor": encode_cursor("next_ts", rest[0]["ts"])}
    return body


def _target(ws: Workspace, caller: Person, params: dict[str, Any]) -> dict[str, Any]:
    """The message a reactions/pins call names by ``channel`` and ``timestamp``."""
    channel = ws.channel(text_param(params, "channel"), caller["slack_id"])
    timestamp = text_param(params, "timestamp")
    if not timestamp:
        raise SlackError("no_item_specified")
    return ws.message(channel["id"], timestamp)


def reactions_add(ws: Workspace, caller: Person, params: dict[str, Any]) -> Body:
    """Add the caller's reaction ``name`` to a message (``already_reacted`` twice)."""
    doc = _target(ws, caller, params)
    ws.writable(doc["channel"], caller["slack_id"], member=False)
    name = reaction_name(params)
    check_emoji(name)
    reactions = doc.setdefault("reactions", [])
    entry = next((r for r in reactions if r["name"] == name), None)
    if entry is None:
        entry = {"name": name, "users": []}
        reactions.append(entry)
    if caller["slack_id"] in entry["users"]:
        raise SlackError("already_reacted")
    entry["users"].append(caller["slack_id"])
    ws.save_message(doc)
    return {"ok": True}


def reactions_remove(ws: Workspace, caller: Person, params: dict[str, Any]) -> Body:
    """Remove the caller's reaction ``name`` (``no_reaction`` if there is none)."""
    doc = _target(ws, caller, params)
    name = reaction_name(params)
    reactions = doc.get("reactions") or []
    entry = next((r for r in reactions if r["name"] == name), None)
    if entry is None or caller["slack_id"] not in entry["users"]:
        raise SlackError("no_reaction")
    entry["users"].remove(caller["slack_id"])
    doc["reactions"] = [r for r in reactions if r["users"]]
    ws.save_message(doc)
    return {"ok": True}


def reactions_get(ws: Workspace, caller: Person, params: dict[str, Any]) -> Body:
    """A message with its reactions (always the full user lists, as with ``full=true``)."""
    doc = _target(ws, caller, params)
    return {
        "ok": True,
        "type": "message",
        "channel": doc["channel"],
        "message": render_message(doc),
    }


def pins_add(ws: Workspace, caller: Person, params: dict[str, Any]) -> Body:
    """Pin a message to its channel (``already_pinned`` twice)."""
    doc = _target(ws, caller, params)
    channel = ws.writable(doc["channel"], caller["slack_id"])
    pinned = list(doc.get("pinned_to") or [])
    if channel["id"] in pinned:
        raise SlackError("already_pinned")
    doc["pinned_to"] = [*pinned, channel["id"]]
    ws.save_message(doc)
    channel["pin_count"] = int(channel.get("pin_count") or 0) + 1
    ws.save_channel(channel)
    return {"ok": True}


def pins_list(ws: Workspace, caller: Person, params: dict[str, Any]) -> Body:
    """The channel's pinned messages, newest pin first (``items`` of type ``message``)."""
    channel = ws.channel(text_param(params, "channel"), caller["slack_id"])
    pinned = [doc for doc in ws.top_level(channel["id"])
              if channel["id"] in (doc.get("pinned_to") or [])]
    items = [
        {
            "type": "message",
            "created": int(float(doc["ts"])),
            "created_by": doc.get("user", ""),
            "channel": channel["id"],
            "message": render_message(doc),
        }
        for doc in reversed(pinned)
    ]
    return {"ok": True, "items": items}
