"""Slack ``conversations.*`` channel methods of the emulator (not history/replies).

Each handler takes the workspace, the calling person (from ``core.people``) and the merged
request parameters, and returns the success body; errors are raised as
:class:`~connectors.sandbox.slack.model.SlackError`. Behaviour follows the method pages of
docs.slack.dev and ``contracts/API-NOTES.md``.
"""

from __future__ import annotations

from typing import Any

from connectors.sandbox.slack.model import (
    SlackError,
    check_channel_name,
    decode_cursor,
    encode_cursor,
    flag,
    id_list,
    integer,
    render_channel,
    text_param,
)
from connectors.sandbox.slack.workspace import Workspace

Body = dict[str, Any]
Person = dict[str, Any]
LIST_DEFAULT = 100
LIST_MAX = 1000  # "must be an integer under 1000" (conversations.list); we clamp
CHANNEL_TYPES = {"public_channel", "private_channel", "mpim", "im"}


def conversations_create(ws: Workspace, caller: Person, params: dict[str, Any]) -> Body:
    """Create a channel; its name must be new (archived channels keep theirs)."""
    name = text_param(params, "name")
    check_channel_name(name)
    if ws.channel_by_name(name) is not None:
        raise SlackError("name_taken")
    doc = ws.create_channel(name, caller["slack_id"], flag(params, "is_private"))
    return {"ok": True, "channel": render_channel(doc, caller["slack_id"])}


def conversations_list(ws: Workspace, caller: Person, params: dict[str, Any]) -> Body:
    """The visible channels of the requested types, paged by cursor (``""`` when done)."""
    types = set(id_list(params.get("types") or "public_channel"))
    if not types or not types <= CHANNEL_TYPES:
        raise SlackError("invalid_types")
    exclude_archived = flag(params, "exclude_archived")
    limit = integer(params, "limit", LIST_DEFAULT, 1, LIST_MAX)
    user_id = caller["slack_id"]
    found = [
        doc
        for doc in ws.channels()
        if ws.visible(doc, user_id)
        and ("private_channel" if doc.get("is_private") else "public_channel") in types
        and not (exclude_archived and doc.get("is_archived"))
    ]
    start = 0
    after = decode_cursor(params.get("cursor"), "team")
    if after is not None:
        ids = [doc["id"] for doc in found]
        if after not in ids:
            raise SlackError("invalid_cursor")
        start = ids.index(after)
    chunk = found[start : start + limit]
    rest = found[start + limit :]
    return {
        "ok": True,
        "channels": [render_channel(doc, user_id) for doc in chunk],
        "response_metadata": {"next_cursor": encode_cursor("team", rest[0]["id"]) if rest else ""},
    }


def conversations_info(ws: Workspace, caller: Person, params: dict[str, Any]) -> Body:
    """One channel."""
    doc = ws.channel(text_param(params, "channel"), caller["slack_id"])
    return {"ok": True, "channel": render_channel(doc, caller["slack_id"])}


def conversations_archive(ws: Workspace, caller: Person, params: dict[str, Any]) -> Body:
    """Archive a channel (``already_archived`` if it is)."""
    doc = ws.channel(text_param(params, "channel"), caller["slack_id"])
    if doc.get("is_archived"):
        raise SlackError("already_archived")
    if caller["slack_id"] not in doc["members"]:
        raise SlackError("not_in_channel")
    doc["is_archived"] = True
    ws.save_channel(doc)
    return {"ok": True}


def conversations_unarchive(ws: Workspace, caller: Person, params: dict[str, Any]) -> Body:
    """Unarchive a channel (``not_archived`` if it is not archived)."""
    doc = ws.channel(text_param(params, "channel"), caller["slack_id"])
    if not doc.get("is_archived"):
        raise SlackError("not_archived")
    doc["is_archived"] = False
    ws.save_channel(doc)
    return {"ok": True}


def conversations_join(ws: Workspace, caller: Person, params: dict[str, Any]) -> Body:
    """Join a public channel (archived: ``is_archived``; already in: ok with a warning)."""
    user_id = caller["slack_id"]
    doc = ws.channel(text_param(params, "channel"), user_id)
    if doc.get("is_private"):
        raise SlackError("method_not_supported_for_channel_type")
    if doc.get("is_archived"):
        raise SlackError("is_archived")
    body: Body = {"ok": True}
    if user_id in doc["members"]:
        body["warning"] = "already_in_channel"
        body["response_metadata"] = {"warnings": ["already_in_channel"]}
    else:
        doc["members"] = [*doc["members"], user_id]
        ws.save_channel(doc)
    body["channel"] = render_channel(doc, user_id)
    return body


def conversations_invite(ws: Workspace, caller: Person, params: dict[str, Any]) -> Body:
    """Invite users (comma list); the whole call fails on the first refused user."""
    user_id = caller["slack_id"]
    doc = ws.writable(text_param(params, "channel"), user_id)
    users = id_list(params.get("users"))
    if not users:
        raise SlackError("no_user")
    for invited in users:
        if invited == user_id:
            raise SlackError("cant_invite_self")
        if ws.people.get_by_slack_id(invited) is None:
            raise SlackError("user_not_found")
        if invited in doc["members"]:
            raise SlackError("already_in_channel")
    doc["members"] = [*doc["members"], *users]
    ws.save_channel(doc)
    return {"ok": True, "channel": render_channel(doc, user_id)}


def _set_text(ws: Workspace, caller: Person, params: dict[str, Any], field: str) -> Body:
    """setTopic / setPurpose: members of a live channel may change them."""
    doc = ws.writable(text_param(params, "channel"), caller["slack_id"])
    value = params.get(field)
    if value is None:
        raise SlackError("invalid_arguments")
    doc[field] = {"value": str(value), "creator": caller["slack_id"], "last_set": ws.now()}
    ws.save_channel(doc)
    return {"ok": True, "channel": render_channel(doc, caller["slack_id"])}


def conversations_set_topic(ws: Workspace, caller: Person, params: dict[str, Any]) -> Body:
    """Set the channel topic."""
    return _set_text(ws, caller, params, "topic")


def conversations_set_purpose(ws: Workspace, caller: Person, params: dict[str, Any]) -> Body:
    """Set the channel purpose."""
    return _set_text(ws, caller, params, "purpose")
