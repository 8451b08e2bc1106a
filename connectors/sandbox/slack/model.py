"""Shapes of the Slack emulator: ids, timestamps, cursors, parameters and rendered objects.

The emulator stores plain JSON documents in the sandbox store (service ``"slack"``):

- ``channel`` (id ``C`` + 10 upper-case letters/digits): name, creator, created, privacy,
  archive flag, topic, purpose, member ids;
- ``message`` (id ``"<channel>:<ts>"``; parent = the channel for top-level messages,
  ``"<channel>/<thread_ts>"`` for thread replies, so history and replies are both one indexed
  listing): author, text, blocks, metadata, reactions, pins and, on a thread parent, the reply
  counters Slack shows (``reply_count``, ``reply_users``, ``latest_reply``);
- ``state`` ``last_ts``: the last timestamp handed out, so ``ts`` strings stay strictly
  increasing even when the clock stands still or goes back.

The ``render_*`` functions turn those documents into the objects the Web API answers with,
keeping to the fields of the Slack OpenAPI description (``objs_conversation``,
``objs_message``, ``objs_user``), which closes most objects with ``additionalProperties:
false``. The exceptions are named where they are made (``edited``, ``metadata``).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import secrets
import string
from decimal import Decimal, InvalidOperation
from typing import Any

SERVICE = "slack"
TEAM_ID = "TSANDBOX01"
TEAM_NAME = "mcm-sync sandbox"
TEAM_DOMAIN = "mcm-sandbox"
MAX_NAME = 80  # "must be 80 characters or less" (conversations.create)
MAX_TEXT = 40_000  # chat.postMessage truncates/refuses beyond 40,000 characters: msg_too_long
NAME_CHARS = re.compile(r"^[a-z0-9_-]+$")
ID_ALPHABET = string.ascii_uppercase + string.digits


class SlackError(Exception):
    """A method error: answered as HTTP 200 ``{"ok": false, "error": code}``."""

    def __init__(self, code: str, **extra: Any) -> None:
        super().__init__(code)
        self.code = code
        self.extra = extra

    def body(self) -> dict[str, Any]:
        """The response body Slack sends for this error."""
        return {"ok": False, "error": self.code, **self.extra}


# ---------------------------------------------------------------------- ids and timestamps


def new_id(prefix: str) -> str:
    """A Slack-style id: ``prefix`` + 10 upper-case letters/digits (``C…``, ``U…``)."""
    return prefix + "".join(secrets.choice(ID_ALPHABET) for _ in range(10))


def ts_text(micros: int) -> str:
    """A ``ts`` string (``"1700000000.000100"``) from microseconds since the epoch."""
    return f"{micros // 1_000_000}.{micros % 1_000_000:06d}"


def ts_micros(value: Any, param: str = "ts") -> int:
    """Microseconds of a timestamp parameter (``"1700000000.000100"``, ``"0"``, ``1.5``).

    Exact (decimal, never float) so that ``ts`` strings compare as Slack compares them.
    An unparsable value is Slack's ``invalid_<param>`` (``invalid_ts_oldest``, ...).
    """
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        raise SlackError(f"invalid_{param}") from None
    if not number.is_finite() or number < 0:
        raise SlackError(f"invalid_{param}")
    return int(number * 1_000_000)


# ---------------------------------------------------------------------- parameters


def text_param(params: dict[str, Any], key: str, default: str = "") -> str:
    """A string parameter, stripped; ``default`` when absent."""
    value = params.get(key)
    return default if value is None else str(value).strip()


def flag(params: dict[str, Any], key: str, default: bool = False) -> bool:
    """A boolean parameter as Slack reads them: ``true``/``1`` (slack_sdk sends ``1``/``0``)."""
    value = params.get(key)
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in {"1", "true", "yes", "on"}


def integer(params: dict[str, Any], key: str, default: int, low: int, high: int) -> int:
    """An integer parameter clamped to ``[low, high]``; ``invalid_<key>`` if not a number."""
    value = params.get(key)
    if value is None or value == "":
        return default
    try:
        number = int(str(value).strip())
    except ValueError:
        raise SlackError(f"invalid_{key}") from None
    # Slack treats 0 as "the default page" and clamps larger pages to its maximum.
    if number <= 0:
        return default
    return max(low, min(high, number))


def json_param(params: dict[str, Any], key: str, code: str) -> Any:
    """A structured parameter (blocks, metadata): a JSON body value or a JSON string in a form.

    ``None`` when absent or empty; ``code`` when the string is not JSON.
    """
    value = params.get(key)
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            raise SlackError(code) from None
    return value


def id_list(value: Any) -> list[str]:
    """A comma list (``"U1,U2"``) or a JSON list of ids, de-duplicated, in order."""
    items = value if isinstance(value, list) else str(value or "").split(",")
    return list(dict.fromkeys(str(item).strip() for item in items if str(item).strip()))


def check_channel_name(name: str) -> None:
    """Slack's rules for a new channel name (conversations.create errors)."""
    if not name:
        raise SlackError("invalid_name_required")
    if len(name) > MAX_NAME:
        raise SlackError("invalid_name_maxlength")
    if not NAME_CHARS.match(name):
        raise SlackError("invalid_name_specials")
    if not name.strip("-_"):
        raise SlackError("invalid_name_punctuation")


def reaction_name(params: dict[str, Any]) -> str:
    """The emoji name of a reactions.* call; ``:thumbsup:`` is read as ``thumbsup``."""
    name = text_param(params, "name").strip(":")
    if not name:
        raise SlackError("invalid_name")
    return name


# ---------------------------------------------------------------------- cursors


def encode_cursor(kind: str, key: str) -> str:
    """An opaque cursor naming where the next page starts (Slack's are base64 too)."""
    return base64.b64encode(f"{kind}:{key}".encode()).decode("ascii")


def decode_cursor(value: Any, kind: str) -> str | None:
    """The key of a cursor made by :func:`encode_cursor`; None when absent; else invalid_cursor."""
    text = str(value or "").strip()
    if not text:
        return None
    try:
        decoded = base64.b64decode(text.encode("ascii"), validate=True).decode()
    except (binascii.Error, UnicodeError, ValueError):
        raise SlackError("invalid_cursor") from None
    prefix, _, key = decoded.partition(":")
    if prefix != kind or not key:
        raise SlackError("invalid_cursor")
    return key


# ---------------------------------------------------------------------- rendering


def render_channel(doc: dict[str, Any], viewer_id: str) -> dict[str, Any]:
    """A channel as ``objs_conversation`` (its first alternative), seen by ``viewer_id``."""
    members = list(doc.get("members") or [])
    return {
        "id": doc["id"],
        "name": doc["name"],
        "is_channel": True,
        "is_group": False,
        "is_im": False,
        "is_mpim": False,
        "is_private": bool(doc.get("is_private")),
        "created": int(doc["created"]),
        "is_archived": bool(doc.get("is_archived")),
        "is_general": False,
        "unlinked": 0,
        "name_normalized": doc["name"],
        "is_shared": False,
        "is_org_shared": False,
        "is_pending_ext_shared": False,
        "pending_shared": [],
        "parent_conversation": None,
        "creator": doc["creator"],
        "is_ext_shared": False,
        "shared_team_ids": [TEAM_ID],
        "pending_connected_team_ids": [],
        "is_member": viewer_id in members,
        "topic": dict(doc["topic"]),
        "purpose": dict(doc["purpose"]),
        "previous_names": list(doc.get("previous_names") or []),
        "num_members": len(members),
    }


def render_message(doc: dict[str, Any], *, metadata: bool = True) -> dict[str, Any]:
    """A stored message as ``objs_message`` (with reactions, thread fields, pins).

    ``metadata``: include the message metadata (history/replies only do so when asked with
    ``include_all_metadata``). ``edited`` and ``metadata`` are live-API fields missing from the
    2020 OpenAPI description (the contract tests name that flaw).
    """
    out: dict[str, Any] = {"type": "message", "user": doc["user"], "text": doc.get("text", "")}
    if doc.get("bot_id"):
        out["bot_id"] = doc["bot_id"]
    out["ts"] = doc["ts"]
    out["team"] = TEAM_ID
    if doc.get("blocks"):
        out["blocks"] = doc["blocks"]
    if doc.get("edited"):
        out["edited"] = dict(doc["edited"])
    thread_ts = doc.get("thread_ts")
    if thread_ts and thread_ts != doc["ts"]:  # a reply
        out["thread_ts"] = thread_ts
        out["parent_user_id"] = doc.get("parent_user_id", "")
    elif doc.get("reply_count"):  # a thread parent
        out["thread_ts"] = doc["ts"]
        out["reply_count"] = int(doc["reply_count"])
        out["reply_users_count"] = len(doc.get("reply_users") or [])
        out["latest_reply"] = doc["latest_reply"]
        out["reply_users"] = list(doc.get("reply_users") or [])
        out["subscribed"] = False
    reactions = render_reactions(doc)
    if reactions:
        out["reactions"] = reactions
    if doc.get("pinned_to"):
        out["pinned_to"] = list(doc["pinned_to"])
    if metadata and doc.get("metadata"):
        out["metadata"] = dict(doc["metadata"])
    return out


def render_reactions(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """A message's reactions as Slack lists them: ``[{name, users, count}]``."""
    return [
        {"name": r["name"], "users": list(r["users"]), "count": len(r["users"])}
        for r in doc.get("reactions") or []
        if r.get("users")
    ]


def render_user(person: dict[str, Any], updated: int) -> dict[str, Any]:
    """A sandbox person (see ``core.people``) as ``objs_user`` (non-enterprise alternative)."""
    email = str(person.get("email") or "")
    name = str(person.get("name") or email.split("@")[0] or "member")
    handle = re.sub(r"[^a-z0-9._-]", "", (email.split("@")[0] or name).lower()) or "member"
    is_bot = bool(person.get("is_bot"))
    profile: dict[str, Any] = {
        "title": "",
        "phone": "",
        "skype": "",
        "real_name": name,
        "real_name_normalized": name,
        "display_name": name,
        "display_name_normalized": name,
        "fields": None,
        "status_text": "",
        "status_emoji": "",
        "status_expiration": 0,
        "avatar_hash": "g" + handle[:11].ljust(11, "0"),
        "first_name": name.split(" ")[0],
        "last_name": " ".join(name.split(" ")[1:]),
        "team": TEAM_ID,
    }
    if is_bot:
        profile["bot_id"] = bot_id_of(person)
        profile["always_active"] = False
    else:
        profile["email"] = email  # Slack hides bots' addresses; members' are visible
    return {
        "id": person["slack_id"],
        "team_id": TEAM_ID,
        "name": handle,
        "deleted": False,
        "color": "9f69e7",
        "real_name": name,
        "tz": "Europe/Brussels",
        "tz_label": "Central European Time",
        "tz_offset": 3600,
        "profile": profile,
        "is_admin": False,
        "is_owner": False,
        "is_primary_owner": False,
        "is_restricted": False,
        "is_ultra_restricted": False,
        "is_bot": is_bot,
        "is_app_user": False,
        "updated": updated,
    }


def bot_id_of(person: dict[str, Any]) -> str:
    """The ``B…`` bot id of the coordinator person ("" for a member)."""
    if not person.get("is_bot"):
        return ""
    return str(person.get("slack_bot_id") or person.get("bot_id") or "")
