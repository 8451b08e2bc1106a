"""The rest's writes, one at a time: the calls each will make (asked of the services' pacing
before it is made, by the real-time lane) and the journalled appends (a thread note, a reply
copied to the card as a comment), each made at most once per identity token, found again
after a lost answer or a crash (:class:`sync.state.journal.Journal`).

Used by :mod:`sync.engine.apply` (a sync, an item's rest, a new message's note).
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass
from typing import Protocol

from connectors.base import ChatMessage
from connectors.identity import note_metadata, token_in_metadata
from sync.engine.actions import Append
from sync.engine.model import SyncContext
from sync.state.journal import Journal


@dataclass(frozen=True)
class Call:
    """A remote call an item's rest is about to make: the service's role (``board`` or
    ``chat``), its method (the service's own name of it: Slack's Web API method, Trello's
    operation) and the channel."""

    role: str
    method: str
    channel: str | None = None


# An item's rest, one write at a time: each value is the calls of the next write, yielded
# before they are made (see :func:`sync.engine.apply.rest_steps`).
RestSteps = Generator[tuple[Call, ...], None, None]


class Rest(Protocol):
    """What is left of one item after its visible writes, made one write at a time by a
    caller that asks the services' pacing first (the real-time lane)."""

    @property
    def item_id(self) -> str:
        """The item it belongs to (busy until the rest is done)."""
        ...

    def steps(self, ctx: SyncContext) -> RestSteps:
        """The rest from where it stands (:func:`sync.engine.apply.rest_steps`); started
        again after a refusal, it makes none of the writes already made."""
        ...


def append_calls(journal: Journal, token: str, make: Call, look: Call) -> tuple[Call, ...]:
    """The calls a journalled append will make: none (made before), the look for an earlier
    attempt's copy and the write, or the write."""
    to_do = journal.to_do(token)
    return () if to_do == "nothing" else (look, make) if to_do == "look" else (make,)


def post_note(ctx: SyncContext, journal: Journal, item_id: str, thread_ts: str,
          note: Append) -> ChatMessage | None:
    """Post a thread note once (its token in the metadata finds it after a lost answer)."""
    channel = ctx.settings.actions_channel

    def find() -> ChatMessage | None:
        return next((m for m in ctx.chat.replies(channel, thread_ts)
                     if token_in_metadata(m.metadata, ("mcm_sync_note",)) == note.token), None)

    return journal.append(
        ctx.names.chat, "post_note", note.token,
        lambda: ctx.chat.post_message(channel, note.text, thread_ts=thread_ts,
                                       metadata=note_metadata(note.token)),
        lambda posted: posted.ts, item_id=item_id, find=find)


def add_comment(ctx: SyncContext, journal: Journal, item_id: str, card_id: str,
             append: Append) -> str | None:
    """Copy a Slack reply to the card once, journalled like every append.

    A comment carries no metadata, so after a crash or a lost answer the copy is looked for on
    the card itself (its comments, read only then): our comment with this very text that no
    other copy's intent owns is this one's (two equal replies are two copies, each adopted at
    most once). Found on every path alike: the sync's, ``serve``'s, a worker's.
    """
    def find() -> str | None:
        me = ctx.settings.me_board
        ours = [a.id for a in ctx.board.card_comments(card_id)
                if a.member_id == me and str(a.data.get("text", "")) == append.text]
        claimed = ctx.store.claimed_remote_ids(ctx.names.board, "add_comment", ours)
        # Oldest unclaimed first: copies are made in the order of the replies.
        return next((action_id for action_id in reversed(ours) if action_id not in claimed),
                    None)

    return journal.append(
        ctx.names.board, "add_comment", append.token,
        lambda: ctx.board.add_comment(card_id, append.text),
        lambda made: str(made), item_id=item_id, find=find)
