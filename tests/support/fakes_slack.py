"""The in-memory Slack of the fake world (:class:`connectors.roles.ChatService`).

Behaves like ``connectors.slack.connector`` on the sandbox: ``ts`` values grow ("seconds.micros");
``history`` gives top-level messages oldest first with their reactions (name -> users, in the
order they reacted), metadata and thread counters (``reply_count``, ``latest_reply``);
``replies`` gives a thread without its parent, oldest first, after ``oldest``; a channel name
that exists is adopted by ``create_channel``; only a message's author may update it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from connectors.base import ChatChannel, ChatMessage, HistoryPage
from connectors.slack.shapes import button_actions
from sync.core.errors import FatalRemoteError, NotFoundError

if TYPE_CHECKING:
    from tests.support.fakes import FakeWorld, Person

SERVICE = "slack"


def _ts_key(ts: str) -> tuple[int, int]:
    seconds, _, fraction = ts.partition(".")
    return int(seconds), int(fraction or 0)


class FakeSlack:
    """Channels, messages, threads and reactions in memory."""

    service_name = "slack"  # stored and reported under this name (connectors.roles)

    def __init__(self, world: FakeWorld) -> None:
        self.world = world
        self.token = "token-1"
        self.identity_calls = 0
        self.channels: dict[str, dict[str, Any]] = {}
        self.messages: dict[str, list[dict[str, Any]]] = {}  # channel -> all, in ts order
        self.page = 15  # a history page (a distributed app's largest)
        self.holds: dict[str, float] = {}  # method -> seconds until it could go (a test's)

    # ------------------------------------------------------------------ helpers

    def _write(self, operation: str, apply: Any, *, create: bool = False,
               target: str = "") -> Any:
        return self.world.write(SERVICE, operation, apply, create=create, target=target)

    def _next_ts(self) -> str:
        n = self.world.tick()
        return f"{1_700_000_000 + n}.{n % 1_000_000:06d}"

    def _channel(self, channel_id: str) -> dict[str, Any]:
        channel = self.channels.get(channel_id)
        if channel is None:
            raise NotFoundError(SERVICE, "channel_not_found")
        return channel

    def doc(self, channel_id: str, ts: str) -> dict[str, Any]:
        """The stored message ``ts`` of a channel (NotFoundError if there is none)."""
        found = next((m for m in self.messages.get(channel_id, []) if m["ts"] == ts), None)
        if found is None:
            raise NotFoundError(SERVICE, "message_not_found")
        return found

    @staticmethod
    def _as_channel(channel: dict[str, Any]) -> ChatChannel:
        return ChatChannel(id=channel["id"], name=channel["name"],
                            is_archived=channel["archived"], topic=channel["topic"],
                            purpose=channel["purpose"])

    @staticmethod
    def _as_message(doc: dict[str, Any]) -> ChatMessage:
        parent = not doc.get("thread_ts") and doc["reply_count"]
        return ChatMessage(
            ts=doc["ts"], text=doc["text"], user=doc["user"], bot_id=doc["bot_id"],
            thread_ts=doc.get("thread_ts") or (doc["ts"] if parent else ""),
            reply_count=doc["reply_count"], latest_reply=doc["latest_reply"],
            metadata=dict(doc["metadata"]) if doc["metadata"] else None,
            reactions={name: tuple(users) for name, users in doc["reactions"].items()},
            edited_ts=doc["edited_ts"], actions=button_actions(doc.get("blocks")))

    # ------------------------------------------------------------------ identity, channels

    def identity(self) -> tuple[str, str]:
        """(user id, bot id) of the bot (auth.test), counted in ``identity_calls``."""
        self.identity_calls += 1
        return self.world.bot.slack_id, self.world.bot.slack_bot_id

    def identity_key(self) -> str:
        """The fingerprint of the bot's token (``token``: a test sets another to change it)."""
        return f"fake:{self.token}"

    def ready_in(self, method: str, channel: str | None = None) -> float:
        """No pacing in memory: 0.0, unless a test holds ``method`` back (``holds``)."""
        return self.holds.get(method, 0.0)

    def list_channels(self) -> list[ChatChannel]:
        """Every channel, archived included, in creation order."""
        return [self._as_channel(c) for c in self.channels.values()]

    def create_channel(self, name: str) -> ChatChannel:
        """A new channel; an existing name is adopted (``name_taken`` tolerated)."""
        def apply() -> ChatChannel:
            found = next((c for c in self.channels.values() if c["name"] == name), None)
            if found is None:
                found = {"id": "C" + self.world.object_id()[-10:].upper(), "name": name,
                         "archived": False, "topic": "", "purpose": "", "members": [],
                         "pins": []}
                self.channels[found["id"]] = found
                self.messages[found["id"]] = []
            return self._as_channel(found)
        return self._write("create_channel", apply, create=True)

    def join(self, channel_id: str) -> None:
        """Join a channel (our bot is a member of every channel in the fakes)."""
        self._write("join", lambda: self._channel(channel_id))

    def unarchive(self, channel_id: str) -> bool:
        """Unarchive (already unarchived is fine); True: the fake's token may."""
        self._write("unarchive", lambda: self._channel(channel_id).update(archived=False))
        return True

    def archive(self, channel_id: str) -> None:
        """Archive a channel (a person's doing in tests; not counted)."""
        self._channel(channel_id)["archived"] = True

    def set_topic(self, channel_id: str, topic: str) -> None:
        """Set the channel topic."""
        self._write("set_topic", lambda: self._channel(channel_id).update(topic=topic))

    def set_purpose(self, channel_id: str, purpose: str) -> None:
        """Set the channel purpose."""
        self._write("set_purpose", lambda: self._channel(channel_id).update(purpose=purpose))

    # ------------------------------------------------------------------ people

    def lookup_user(self, email: str) -> str | None:
        """The user id of a known person (``users_not_found``: None)."""
        person = self.world.people.get(email.strip().lower())
        return person.slack_id if person else None

    def invite(self, channel_id: str, user_ids: Sequence[str]) -> None:
        """Invite users (already in the channel is fine)."""
        def apply() -> None:
            members = self._channel(channel_id)["members"]
            members.extend(u for u in dict.fromkeys(user_ids) if u and u not in members)
        self._write("invite", apply)

    # ------------------------------------------------------------------ messages

    def post(self, actor: Person, channel_id: str, text: str, *,
             metadata: dict[str, Any] | None = None, thread_ts: str | None = None,
             blocks: list[dict[str, Any]] | None = None) -> ChatMessage:
        """Post as ``actor`` (no write counted): the bot's and the members' path."""
        self._channel(channel_id)
        if not text.strip() and not blocks:
            raise FatalRemoteError(SERVICE, "chat.postMessage: no_text")
        doc: dict[str, Any] = {
            "ts": self._next_ts(), "text": text, "user": actor.slack_id,
            "bot_id": actor.slack_bot_id, "thread_ts": "", "reply_count": 0,
            "latest_reply": "", "reactions": {}, "edited_ts": "", "blocks": blocks,
            "metadata": ({"event_type": metadata["event_type"],
                          "event_payload": dict(metadata.get("event_payload") or {})}
                         if metadata else None),
        }
        if thread_ts:
            parent = self.doc(channel_id, thread_ts)
            root = self.doc(channel_id, parent.get("thread_ts") or parent["ts"])
            doc["thread_ts"] = root["ts"]
            root["reply_count"] += 1
            root["latest_reply"] = doc["ts"]
        self.messages[channel_id].append(doc)
        return self._as_message(doc)

    def post_message(self, channel_id: str, text: str, *,
                     blocks: list[dict[str, Any]] | None = None,
                     metadata: dict[str, Any] | None = None,
                     thread_ts: str | None = None) -> ChatMessage:
        """Post a message as the bot."""
        return self._write("post_message", lambda: self.post(
            self.world.bot, channel_id, text, metadata=metadata, thread_ts=thread_ts,
            blocks=blocks), create=True, target=thread_ts or "")

    def update_message(self, channel_id: str, ts: str, text: str, *,
                       blocks: list[dict[str, Any]] | None = None,
                       metadata: dict[str, Any] | None = None) -> None:
        """Replace a message's text (and blocks, metadata); only its author may."""
        def apply() -> None:
            doc = self.doc(channel_id, ts)
            if doc["user"] != self.world.bot.slack_id:
                raise FatalRemoteError(SERVICE, "chat.update: cant_update_message")
            doc["text"] = text
            if blocks is not None:
                doc["blocks"] = blocks
            if metadata is not None:
                doc["metadata"] = {"event_type": metadata["event_type"],
                                   "event_payload": dict(metadata.get("event_payload") or {})}
            doc["edited_ts"] = self._next_ts()
        self._write("update_message", apply, target=ts)

    def delete_message(self, channel_id: str, ts: str) -> None:
        """Delete one of the bot's messages (one already gone is fine)."""
        def apply() -> None:
            found = [m for m in self.messages[channel_id] if m["ts"] == ts]
            for doc in found:
                if doc["user"] != self.world.bot.slack_id:
                    raise FatalRemoteError(SERVICE, "chat.delete: cant_delete_message")
                self.messages[channel_id].remove(doc)
        self._write("delete_message", apply)

    def pin(self, channel_id: str, ts: str) -> None:
        """Pin a message (already pinned is fine)."""
        def apply() -> None:
            self.doc(channel_id, ts)
            pins = self._channel(channel_id)["pins"]
            if ts not in pins:
                pins.append(ts)
        self._write("pin", apply)

    def react(self, actor: Person, channel_id: str, ts: str, name: str) -> None:
        """Add ``actor``'s reaction (already reacted is fine; not counted)."""
        users = self.doc(channel_id, ts)["reactions"].setdefault(name, [])
        if actor.slack_id not in users:
            users.append(actor.slack_id)

    def unreact(self, actor: Person, channel_id: str, ts: str, name: str) -> None:
        """Remove ``actor``'s reaction, if any (not counted)."""
        reactions = self.doc(channel_id, ts)["reactions"]
        users = reactions.get(name, [])
        if actor.slack_id in users:
            users.remove(actor.slack_id)
        if not users:
            reactions.pop(name, None)

    # ------------------------------------------------------------------ reads

    def history(self, channel_id: str, *, oldest: str | None = None) -> list[ChatMessage]:
        """Top-level messages after ``oldest``, oldest first."""
        self._channel(channel_id)
        after = _ts_key(oldest) if oldest else (0, 0)
        return [self._as_message(m) for m in self.messages[channel_id]
                if not m["thread_ts"] and _ts_key(m["ts"]) > after]

    def history_page(self, channel_id: str, *, before: str | None = None) -> HistoryPage:
        """One page of top-level messages older than ``before`` (``page`` of them)."""
        self._channel(channel_id)
        below = _ts_key(before) if before else None
        older = [m for m in self.messages[channel_id]
                 if below is None or _ts_key(m["ts"]) < below]
        chunk = older[-self.page:]
        top = [self._as_message(m) for m in chunk if not m["thread_ts"]]
        return HistoryPage(top, len(older) > len(chunk), chunk[0]["ts"] if chunk else "")

    def message(self, channel_id: str, ts: str) -> ChatMessage | None:
        """One top-level message by its ts (``conversations.history`` of one), or None."""
        found = next((m for m in self.messages.get(channel_id, [])
                      if m["ts"] == ts and not m["thread_ts"]), None)
        return self._as_message(found) if found is not None else None

    def replies(self, channel_id: str, ts: str, *, oldest: str | None = None
                ) -> list[ChatMessage]:
        """A thread's replies (without the parent) after ``oldest``, oldest first."""
        parent = self.doc(channel_id, ts)
        root = parent.get("thread_ts") or parent["ts"]
        after = _ts_key(oldest) if oldest else (0, 0)
        return [self._as_message(m) for m in self.messages[channel_id]
                if m["thread_ts"] == root and _ts_key(m["ts"]) > after]
