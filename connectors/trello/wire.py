"""Trello on the wire: the HTTP session py-trello uses, JSON -> dataclasses, error mapping.

Kept apart from :mod:`connectors.trello.connector` (the methods) so each file stays small.
Nothing here makes a request by itself.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import requests
from trello.exceptions import ResourceUnavailable

from connectors.base import (
    Board,
    BoardAction,
    BoardCard,
    BoardLabel,
    BoardList,
    BoardMember,
    CheckItem,
    Checklist,
)
from connectors.errors import AuthError, RemoteError, RetriableRemoteError
from connectors.retry import error_for_status, redact

SERVICE = "trello"
TRELLO_HOST = "https://api.trello.com"
AUTH_HINT = "check trello.api_key / trello.token (TRELLO_API_KEY, TRELLO_TOKEN)"
# (connect, read) seconds. py-trello passes no timeout, so without one a silent server
# would hang a run forever; the session fills it in.
DEFAULT_TIMEOUT = (10.0, 60.0)
# The fields the sync compares; used for nested cards (snapshot) and single-card reads.
CARD_FIELDS = (
    "name,desc,idList,idBoard,closed,due,dueComplete,idMembers,idLabels,url,dateLastActivity,pos"
)
_LOOPBACK = {"127.0.0.1", "localhost", "::1"}
# py-trello's exception text is "<body> at <url>"; the url is cut off (it names our ids and,
# in some setups, could carry a query string).
_AT_URL = re.compile(r"\s+at\s+https?://\S*\s*$")
# A query string after any URL or path ("url: /1/cards?key=...&token=..." in requests' texts).
_URL_QUERY = re.compile(r"((?:https?://|/)[^\s?()'\"]*)\?[^\s()'\"]*")


class TrelloSession(requests.Session):
    """The ``http_service`` given to py-trello: base URL rewrite and a default timeout.

    py-trello hard-codes ``https://api.trello.com/1/``; its documented hook for anything else
    is the session object, so no monkeypatching is needed (API-NOTES section 4).
    """

    def __init__(self, base_url: str | None = None, timeout: Any = DEFAULT_TIMEOUT) -> None:
        super().__init__()
        self.base_url = base_url.rstrip("/") if base_url else None
        self.timeout = timeout
        self.rate_limits: dict[str, str] = {}  # the last answer's x-rate-limit-* headers
        if self.base_url and urlsplit(self.base_url).hostname in _LOOPBACK:
            # A local emulator: never route loopback traffic through an environment proxy.
            self.trust_env = False

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> Any:
        """Rewrite the Trello host to the base URL, add the timeout, then send as usual."""
        if self.base_url and isinstance(url, str) and url.startswith(TRELLO_HOST):
            url = self.base_url + url[len(TRELLO_HOST) :]
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self.timeout
        response = super().request(method, url, *args, **kwargs)
        limits = {k.lower(): v for k, v in response.headers.items()
                  if k.lower().startswith("x-rate-limit-")}
        if limits:
            self.rate_limits = limits  # Trello's headroom, read by ``mcm-sync doctor``
        return response


# ---------------------------------------------------------------- values sent to Trello


def format_due(value: dt.datetime | dt.date | str | None) -> str | None:
    """A due date as Trello takes it: ISO 8601 in UTC with milliseconds, or None to clear.

    A naive datetime is taken as UTC; a bare date as noon UTC on that day (so it shows on
    the same day in every European time zone).
    """
    if value is None or value == "":
        return None
    if isinstance(value, str):
        value = parse_due(value)
        if value is None:
            return None
    if not isinstance(value, dt.datetime):
        value = dt.datetime.combine(value, dt.time(12), tzinfo=dt.UTC)
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    text = value.astimezone(dt.UTC).isoformat(timespec="milliseconds")
    return text.replace("+00:00", "Z")


def id_list(ids: Any) -> str:
    """A comma list of ids (Trello's form for ``idMembers``/``idLabels``; ``""`` clears)."""
    if isinstance(ids, str):
        return ids
    return ",".join(str(i) for i in ids or ())


# ---------------------------------------------------------------- JSON -> dataclasses


def parse_due(value: Any) -> dt.datetime | None:
    """Trello's ``due`` (ISO 8601 with ``Z``) as an aware datetime, None when unset."""
    if not value:
        return None
    try:
        moment = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def _float(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return 0.0


def board(data: Mapping[str, Any]) -> Board:
    """A board from its JSON."""
    return Board(
        id=str(data["id"]),
        name=str(data.get("name") or ""),
        desc=str(data.get("desc") or ""),
        url=str(data.get("url") or data.get("shortUrl") or ""),
        closed=bool(data.get("closed", False)),
    )


def trello_list(data: Mapping[str, Any]) -> BoardList:
    """A list from its JSON."""
    return BoardList(
        id=str(data["id"]),
        name=str(data.get("name") or ""),
        closed=bool(data.get("closed", False)),
        pos=_float(data.get("pos")),
    )


def label(data: Mapping[str, Any]) -> BoardLabel:
    """A label from its JSON (``color`` null: a colourless label)."""
    return BoardLabel(
        id=str(data["id"]), name=str(data.get("name") or ""), color=data.get("color")
    )


def card(data: Mapping[str, Any]) -> BoardCard:
    """A card from its JSON."""
    return BoardCard(
        id=str(data["id"]),
        name=str(data.get("name") or ""),
        desc=str(data.get("desc") or ""),
        list_id=str(data.get("idList") or ""),
        closed=bool(data.get("closed", False)),
        due=parse_due(data.get("due")),
        due_complete=bool(data.get("dueComplete", False)),
        member_ids=tuple(str(m) for m in data.get("idMembers") or ()),
        label_ids=tuple(str(lab) for lab in data.get("idLabels") or ()),
        url=str(data.get("url") or data.get("shortUrl") or ""),
        last_activity=str(data.get("dateLastActivity") or ""),
        pos=_float(data.get("pos")),
    )


def check_item(data: Mapping[str, Any]) -> CheckItem:
    """A check item from its JSON (``state``: complete | incomplete)."""
    return CheckItem(
        id=str(data["id"]),
        name=str(data.get("name") or ""),
        complete=data.get("state") == "complete",
        pos=_float(data.get("pos")),
    )


def checklist(data: Mapping[str, Any]) -> Checklist:
    """A checklist with its items in position order."""
    items = sorted((check_item(i) for i in data.get("checkItems") or ()), key=lambda i: i.pos)
    return Checklist(
        id=str(data["id"]),
        card_id=str(data.get("idCard") or ""),
        name=str(data.get("name") or ""),
        items=tuple(items),
    )


def member(data: Mapping[str, Any]) -> BoardMember:
    """A member from its JSON (Trello reveals no e-mail of others)."""
    return BoardMember(
        id=str(data["id"]),
        username=str(data.get("username") or ""),
        full_name=str(data.get("fullName") or ""),
        confirmed=data.get("confirmed") is not False,
    )


def action(data: Mapping[str, Any]) -> BoardAction:
    """A board action, flattened: who (the member creator), when, which card."""
    creator = data.get("memberCreator") or {}
    payload = dict(data.get("data") or {})
    return BoardAction(
        id=str(data["id"]),
        type=str(data.get("type") or ""),
        date=str(data.get("date") or ""),
        member_id=str(data.get("idMemberCreator") or creator.get("id") or ""),
        member_name=str(creator.get("fullName") or creator.get("username") or ""),
        card_id=str((payload.get("card") or {}).get("id") or ""),
        data=payload,
    )


def id_time(object_id: str) -> float:
    """The creation time (Unix seconds) in a Trello id (a MongoDB ObjectId); 0 if not one."""
    try:
        return float(int(object_id[:8], 16))
    except (TypeError, ValueError):
        return 0.0


# ---------------------------------------------------------------- errors


def clean(text: str, secrets: tuple[str, ...]) -> str:
    """``text`` without the URL py-trello appends, query strings, or any of ``secrets``."""
    text = _AT_URL.sub("", text or "")
    text = _URL_QUERY.sub(r"\1", text)
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return redact(text).strip()


def error_for_trello(
    exc: ResourceUnavailable, operation: str, *, write: bool, secrets: tuple[str, ...]
) -> RemoteError:
    """The project's exception for py-trello's ``ResourceUnavailable`` / ``Unauthorized``.

    Trello's error bodies are mostly plain text ("invalid id", "Could not find the card"),
    so the body is quoted as it is, once the URL is cut off.
    """
    status = int(getattr(exc, "_status", 0) or 0)
    body = clean(str(getattr(exc, "_msg", "") or ""), secrets)[:300]
    if status == 401:
        reason = f" ({body})" if body else ""
        return AuthError(SERVICE, f"the API key or token was refused{reason}", hint=AUTH_HINT)
    if status == 429:
        # Refused before any effect, so never outcome_unknown; Trello sends no Retry-After,
        # so the policy's exponential backoff decides the wait.
        return RetriableRemoteError(SERVICE, f"{operation}: rate limited (HTTP 429)")
    hint = "the token's member may lack permission on this board" if status == 403 else ""
    return error_for_status(SERVICE, status, f"{operation}: {body}", write=write, hint=hint)
