"""Mailchimp answers as the project sees them: ids, the data centre of a key, problem+json
messages, and audiences and members as the plain dataclasses of :mod:`connectors.base`."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from connectors.base import Audience, AudienceMember


def subscriber_hash(email: str) -> str:
    """Mailchimp's member id: the MD5 of the lowercased address (hex)."""
    return hashlib.md5(email.strip().lower().encode("utf-8")).hexdigest()


def data_centre(api_key: str) -> str:
    """The data centre of an API key: its suffix after the last ``-`` ('' if none)."""
    head, dash, tail = api_key.rpartition("-")
    return tail if dash and head and tail else ""


def problem_text(text: Any) -> str:
    """Mailchimp's problem+json (string or parsed) as one line: title, detail, field errors."""
    body = text
    if isinstance(text, str | bytes):
        try:
            body = json.loads(text)
        except ValueError:
            return str(text)[:300]
    if not isinstance(body, Mapping):
        return str(body)[:300]
    parts = [str(body.get("title") or ""), str(body.get("detail") or "")]
    parts += [f"{e.get('field')}: {e.get('message')}" for e in body.get("errors") or []]
    return " - ".join(p for p in parts if p)


def as_audience(raw: Mapping[str, Any]) -> Audience:
    """An audience (list) of the API as a :class:`Audience`."""
    stats = raw.get("stats") or {}
    return Audience(
        id=str(raw["id"]),
        name=str(raw.get("name") or ""),
        member_count=int(stats.get("member_count") or 0),
    )


def as_member(raw: Mapping[str, Any]) -> AudienceMember:
    """A member of the API as a :class:`AudienceMember` (tags by name)."""
    email = str(raw.get("email_address") or "")
    return AudienceMember(
        email=email,
        subscriber_hash=str(raw.get("id") or subscriber_hash(email)),
        status=str(raw.get("status") or ""),
        merge_fields=dict(raw.get("merge_fields") or {}),
        tags=tuple(str(t.get("name")) for t in raw.get("tags") or ()),
        last_changed=str(raw.get("last_changed") or ""),
    )
