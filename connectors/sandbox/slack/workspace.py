"""The emulated Slack workspace: channel and message documents in the sandbox store.

:class:`Workspace` is what the method handlers (``channels``, ``messages``) work
on: it finds channels and messages with Slack's visibility and permission rules (a private
channel is invisible to non-members: ``channel_not_found``; writing needs membership:
``not_in_channel``; an archived channel refuses writes: ``is_archived``) and hands out
strictly increasing ``ts`` strings.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from connectors.sandbox.core.people import People
from connectors.sandbox.core.store import SandboxStore
from connectors.sandbox.slack.model import SERVICE, SlackError, new_id, ts_text

CHANNEL = "channel"
MESSAGE = "message"
STATE = "state"


def message_key(channel_id: str, ts: str) -> str:
    """The store id of a message (unique per channel, as Slack's ``ts`` is)."""
    return f"{channel_id}:{ts}"


def thread_parent(channel_id: str, thread_ts: str) -> str:
    """The store parent under which a thread's replies are listed."""
    return f"{channel_id}/{thread_ts}"


class Workspace:
    """Channels and messages of the one sandbox workspace."""

    def __init__(self, store: SandboxStore, people: People, clock: Callable[[], float]) -> None:
        self.store = store
        self.people = people
        self.clock = clock

    # ------------------------------------------------------------------ time

    def now(self) -> int:
        """The clock in whole seconds (``created``, ``last_set``, ``updated``)."""
        return int(self.clock())

    def next_ts(self) -> str:
        """A new message ``ts``: the clock in microseconds, but always after the last one.

        Slack's ``ts`` is unique per channel and ordered; the persisted "last ts" keeps that
        true across restarts and with a clock that stands still (tests) or steps back.
        """
        with self.store.transaction():
            state = self.store.get(SERVICE, STATE, "last_ts") or {"micros": 0}
            micros = max(int(self.clock() * 1_000_000), int(state["micros"]) + 1)
            self.store.upsert(SERVICE, STATE, "last_ts", {"micros": micros})
        return ts_text(micros)

    # ------------------------------------------------------------------ channels

    def channels(self) -> list[dict[str, Any]]:
        """Every channel document, in creation order."""
        return self.store.list(SERVICE, CHANNEL)

    def channel_by_name(self, name: str) -> dict[str, Any] | None:
        """The channel called ``name`` (archived ones too: their names stay taken)."""
        found = self.store.find(SERVICE, CHANNEL, name=name)
        return found[0] if found else None

    def channel_id_of(self, given: str) -> str:
        """The id of a channel given by id or by name (``#name`` or ``name``), as
        ``chat.postMessage`` takes it; an unknown name is returned as is (not found later)."""
        name = given[1:] if given.startswith("#") else given
        if given.startswith("#") or (name and name == name.lower()):
            found = self.channel_by_name(name)
            if found is not None:
                return str(found["id"])
        return given

    def visible(self, doc: dict[str, Any], user_id: str) -> bool:
        """Whether ``user_id`` can see the channel (public, or a member of a private one)."""
        return not doc.get("is_private") or user_id in (doc.get("members") or [])

    def channel(self, channel_id: str, user_id: str) -> dict[str, Any]:
        """The channel ``user_id`` asks for, else ``channel_not_found``."""
        doc = self.store.get(SERVICE, CHANNEL, channel_id) if channel_id else None
        if doc is None or not self.visible(doc, user_id):
            raise SlackError("channel_not_found")
        return doc

    def writable(self, channel_id: str, user_id: str, *, member: bool = True) -> dict[str, Any]:
        """A channel ``user_id`` may change: not archived and (if ``member``) joined."""
        doc = self.channel(channel_id, user_id)
        if doc.get("is_archived"):
            raise SlackError("is_archived")
        if member and user_id not in (doc.get("members") or []):
            raise SlackError("not_in_channel")
        return doc

    def create_channel(self, name: str, creator: str, is_private: bool) -> dict[str, Any]:
        """Store a new channel with its creator as the first member."""
        now = self.now()
        channel_id = new_id("C")
        while self.store.get(SERVICE, CHANNEL, channel_id) is not None:
            channel_id = new_id("C")
        doc = {
            "id": channel_id,
            "name": name,
            "created": now,
            "creator": creator,
            "is_private": is_private,
            "is_archived": False,
            "topic": {"value": "", "creator": "", "last_set": 0},
            "purpose": {"value": "", "creator": "", "last_set": 0},
            "members": [creator],
            "pin_count": 0,
        }
        return self.store.insert(SERVICE, CHANNEL, channel_id, doc)

    def save_channel(self, doc: dict[str, Any]) -> dict[str, Any]:
        """Write a changed channel document back."""
        return self.store.update(SERVICE, CHANNEL, doc["id"], doc)

    # ------------------------------------------------------------------ messages

    def message(self, channel_id: str, ts: str) -> dict[str, Any]:
        """The message ``ts`` of a channel (top-level or reply), else ``message_not_found``."""
        doc = self.store.get(SERVICE, MESSAGE, message_key(channel_id, ts)) if ts else None
        if doc is None:
            raise SlackError("message_not_found")
        return doc

    def top_level(self, channel_id: str) -> list[dict[str, Any]]:
        """A channel's top-level messages, oldest first."""
        return self.store.list(SERVICE, MESSAGE, channel_id)

    def replies(self, channel_id: str, thread_ts: str) -> list[dict[str, Any]]:
        """A thread's replies, oldest first."""
        return self.store.list(SERVICE, MESSAGE, thread_parent(channel_id, thread_ts))

    def add_message(self, doc: dict[str, Any]) -> dict[str, Any]:
        """Store a new message (a reply also updates its parent's thread counters)."""
        channel_id, ts = doc["channel"], doc["ts"]
        thread_ts = doc.get("thread_ts")
        if not thread_ts:
            return self.store.insert(SERVICE, MESSAGE, message_key(channel_id, ts), doc, channel_id)
        parent = self.message(channel_id, thread_ts)
        parent["reply_count"] = int(parent.get("reply_count") or 0) + 1
        parent["latest_reply"] = ts
        users = list(parent.get("reply_users") or [])
        if doc["user"] not in users:
            users.append(doc["user"])
        parent["reply_users"] = users
        self.save_message(parent)
        return self.store.insert(
            SERVICE, MESSAGE, message_key(channel_id, ts), doc, thread_parent(channel_id, thread_ts)
        )

    def save_message(self, doc: dict[str, Any]) -> dict[str, Any]:
        """Write a changed message document back."""
        return self.store.update(SERVICE, MESSAGE, message_key(doc["channel"], doc["ts"]), doc)

    def delete_message(self, doc: dict[str, Any]) -> None:
        """Remove a message (a top-level message keeps no thread: Slack hides its replies)."""
        self.store.delete(SERVICE, MESSAGE, message_key(doc["channel"], doc["ts"]))
