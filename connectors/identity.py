"""Identity tokens: how an object we created is recognised again, whatever happened since.

A token is derived, not random: ``hash(alliance slug, logical key)``. So the same alliance and
the same playbook task always give the same token, and a run that crashed after a create (or
even lost its whole state store) finds the object again by its token and adopts it instead of
creating a duplicate (the mbsync ``X-TUID`` idea, made deterministic).

On Trello the token lives in a one-line marker at the end of the board or card description
(members see a small footer, nothing else); on Slack in the message metadata.
"""

from __future__ import annotations

import hashlib
import re

TOKEN_LENGTH = 12
SLACK_EVENT_TYPE = "mcm_sync_item"
# A thread note or digest we post carries its own token, so a repeated run finds it.
NOTE_EVENT_TYPE = "mcm_sync_note"
OUR_EVENT_TYPES = (SLACK_EVENT_TYPE, NOTE_EVENT_TYPE)
_MARKER = re.compile(
    r"(?:\n\n)?-{3}\n?mcm-sync (?P<number>[A-Z0-9]+-\d+|board) · id (?P<token>[0-9a-f]{12})\s*$"
)
_TOKEN_ONLY = re.compile(r"mcm-sync (?:[A-Z0-9]+-\d+|board) · id (?P<token>[0-9a-f]{12})")


def make_token(alliance_slug: str, logical_key: str) -> str:
    """The identity token of the object with ``logical_key`` in this alliance."""
    digest = hashlib.sha256(f"mcm-sync\0{alliance_slug}\0{logical_key}".encode()).hexdigest()
    return digest[:TOKEN_LENGTH]


def marker(token: str, label: str) -> str:
    """The footer line that carries ``token``; ``label`` is the item number or ``board``."""
    return f"---\nmcm-sync {label} · id {token}"


def with_marker(text: str, token: str, label: str) -> str:
    """``text`` with our marker as its last line (replacing an older marker)."""
    body = strip_marker(text).rstrip()
    return f"{body}\n\n{marker(token, label)}" if body else marker(token, label)


def strip_marker(text: str) -> str:
    """``text`` without our marker (what a member wrote, plus what we wrote above it)."""
    return _MARKER.sub("", text or "").rstrip()


def token_in(text: str | None) -> str | None:
    """The token carried by a description, or None. Tolerates members editing around it."""
    match = _TOKEN_ONLY.search(text or "")
    return match.group("token") if match else None


def item_metadata(token: str, item_number: str) -> dict[str, object]:
    """The Slack message metadata that marks a message as the one of an item."""
    payload = {"token": token, "number": item_number}
    return {"event_type": SLACK_EVENT_TYPE, "event_payload": payload}


def note_metadata(token: str, **facts: str) -> dict[str, object]:
    """The Slack message metadata of a thread note or digest: its identity token (and
    ``facts`` such as a digest's kind and time, so a later run can find it by them)."""
    return {"event_type": NOTE_EVENT_TYPE, "event_payload": {"token": token, **facts}}


def token_in_metadata(metadata: dict[str, object] | None,
                      event_types: tuple[str, ...] = (SLACK_EVENT_TYPE,)) -> str | None:
    """The token in a Slack message's metadata (an item's, unless ``event_types`` says), or None."""
    if not metadata or metadata.get("event_type") not in event_types:
        return None
    payload = metadata.get("event_payload")
    if isinstance(payload, dict) and isinstance(payload.get("token"), str):
        return str(payload["token"])
    return None
