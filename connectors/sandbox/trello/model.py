"""The Trello emulator's data: stored documents, their JSON shapes, positions and actions.

Documents live in the sandbox store under service ``trello``: ``board``, ``list`` (parent =
board), ``card`` (parent = board), ``label`` (parent = board), ``checklist`` (parent = card,
check items embedded), ``customField`` (parent = board), ``customFieldItem`` (parent = card),
``action`` (parent = board) and ``webhook``. Shapes follow the Trello OpenAPI document and
what py-trello reads (``Board.from_json``, ``Card.from_json``, ``List``, ``Label``,
``Checklist``, ``Member``).
"""

from __future__ import annotations

import hashlib
import operator
import re
import secrets
from datetime import UTC, datetime
from typing import Any

from werkzeug.wrappers import Request

from connectors.sandbox.core.service import Identity, ServiceError
from connectors.sandbox.trello.access import AccessMixin

SERVICE = "trello"
ID_RE = re.compile(r"^[0-9a-fA-F]{24}$")
_HUES = ("green", "yellow", "orange", "red", "purple", "blue", "sky", "lime", "pink", "black")
# Trello's current palette: each hue plain, _dark and _light (trello.com label colours).
COLORS = tuple(f"{hue}{shade}" for shade in ("", "_dark", "_light") for hue in _HUES)
POS_STEP = 16384.0
NOT_FOUND = {
    "board": "The requested resource was not found.",
    "list": "The requested resource was not found.",
    "card": "Could not find the card",
    "label": "The requested resource was not found.",
    "checklist": "The requested resource was not found.",
    "customField": "The requested resource was not found.",
    "webhook": "The requested resource was not found.",
    "action": "The requested resource was not found.",
}


def iso(timestamp: float) -> str:
    """Trello's date format: ``2020-03-09T19:41:51.396Z``."""
    moment = datetime.fromtimestamp(timestamp, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def parse_date(value: str) -> datetime:
    """An ISO date or date-time (``Z`` or offset) as an aware datetime; 400 if malformed."""
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ServiceError(400, f"invalid date: {value}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def truthy(value: Any) -> bool:
    """Trello's booleans arrive as JSON booleans or as the strings true/false."""
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1", "yes", "on")
    return bool(value)


def id_list(value: Any) -> list[str]:
    """A comma list (or JSON list) of ids, empty for None/""."""
    if value is None:
        return []
    items = [str(v) for v in value] if isinstance(value, list) else str(value).split(",")
    return [i.strip() for i in items if i.strip()]


def short_link(object_id: str) -> str:
    """An 8-character short link derived from the id (stable)."""
    digest = hashlib.sha256(object_id.encode()).hexdigest()
    alphabet = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
    number = int(digest, 16)
    chars = []
    for _ in range(8):
        number, rest = divmod(number, len(alphabet))
        chars.append(alphabet[rest])
    return "".join(chars)


def slug(text: str) -> str:
    """The URL slug Trello appends to board and card URLs."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "item"


def select_fields(obj: dict[str, Any], fields: str | None) -> dict[str, Any]:
    """Keep only ``fields`` (comma list; ``all`` or empty keeps all); ``id`` always stays."""
    if not fields or fields == "all":
        return obj
    wanted = {f.strip() for f in fields.split(",") if f.strip()} | {"id"}
    return {k: v for k, v in obj.items() if k in wanted}


def member_json(person: dict[str, Any], *, with_email: bool = False) -> dict[str, Any]:
    """A person as a Trello member object.

    Trello never shows another member's e-mail (``with_email`` only for the caller's own), and
    a person invited by e-mail who has no Trello account yet is an unconfirmed placeholder.
    """
    words = person["name"].split()
    initials = "".join(w[0] for w in words[:3]).upper() or "M"
    avatar = hashlib.md5(person["email"].encode()).hexdigest()
    out = {
        "id": person["trello_id"],
        "username": person["trello_username"],
        "fullName": person["name"],
        "initials": initials,
        "avatarHash": avatar,
        "avatarUrl": f"https://trello-members.s3.amazonaws.com/{person['trello_id']}/{avatar}",
        "bio": "",
        "url": f"https://trello.com/{person['trello_username']}",
        "status": "disconnected",
        "confirmed": bool(person.get("trello_confirmed", True)),
        "memberType": "normal",
        "activityBlocked": False,
        "idMemberReferrer": None,
        "nonPublic": {},
        "nonPublicAvailable": True,
    }
    if with_email:  # Trello shows the caller's own address only
        out["email"] = person["email"]
    return out


def creator_json(person: dict[str, Any]) -> dict[str, Any]:
    """The ``memberCreator`` summary an action carries."""
    full = member_json(person)
    keys = ("id", "activityBlocked", "avatarHash", "avatarUrl", "fullName", "idMemberReferrer")
    summary = {k: full[k] for k in keys}
    summary.update(initials=full["initials"], username=full["username"], nonPublic={})
    summary["nonPublicAvailable"] = True
    return summary


class TrelloModel(AccessMixin):
    """Store access and shapes shared by the Trello handler mixins."""

    # -- ids, lookups ---------------------------------------------------------------------

    def new_id(self) -> str:
        """A fresh 24-hex id: 4 bytes of seconds, then random bytes, like a Mongo ObjectId
        made on one of many servers: ids of different seconds sort by time, ids made in the
        same second carry no order."""
        return f"{int(self.now()) & 0xFFFFFFFF:08x}{secrets.token_hex(8)}"

    def load(self, kind: str, object_id: str) -> dict[str, Any]:
        """A stored object; 400 ``invalid id`` if malformed, 404 if absent."""
        if not ID_RE.match(object_id or ""):
            raise ServiceError(400, "invalid id")
        found = self.store.get(SERVICE, kind, object_id)
        if found is None:
            raise ServiceError(404, NOT_FOUND.get(kind, "The requested resource was not found."))
        board_id = found["id"] if kind == "board" else found.get("idBoard")
        board = found if kind == "board" else (
            self.store.get(SERVICE, "board", board_id) if board_id else None)
        if board is not None:
            self.check_access(board)
        return found

    def load_board(self, board_id: str) -> dict[str, Any]:
        """A board by id or short link."""
        if len(board_id) == 8 and not ID_RE.match(board_id):
            found = self.store.find(SERVICE, "board", shortLink=board_id)
            if found:
                self.check_access(found[0])
                return found[0]
        return self.load("board", board_id)

    def save(self, kind: str, obj: dict[str, Any]) -> dict[str, Any]:
        """Write back a changed object."""
        return self.store.update(SERVICE, kind, obj["id"], obj)

    def params(self, request: Request) -> dict[str, Any]:
        """Arguments from the query, a form body or a JSON body (without key and token)."""
        params = self.request_params(request)
        params.pop("key", None)
        params.pop("token", None)
        return params

    def touch(self, *objects: dict[str, Any]) -> None:
        """Set ``dateLastActivity`` on boards/cards that changed."""
        stamp = iso(self.now())
        for obj in objects:
            obj["dateLastActivity"] = stamp

    # -- positions ------------------------------------------------------------------------

    def position(self, value: Any, siblings: list[dict[str, Any]]) -> float:
        """``top``, ``bottom`` (default) or a positive number, as Trello accepts."""
        positions = [float(s["pos"]) for s in siblings]
        if value in (None, "", "bottom"):
            return (max(positions) if positions else 0.0) + POS_STEP
        if value == "top":
            return min(positions) / 2 if positions else POS_STEP
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise ServiceError(400, "invalid value for pos") from None
        if number < 0:
            raise ServiceError(400, "invalid value for pos")
        return number

    # -- membership -----------------------------------------------------------------------

    def ensure_board_member(
        self, board: dict[str, Any], person: dict[str, Any], member_type: str = "normal"
    ) -> bool:
        """Add a person to a board's memberships; True if they were not a member yet."""
        if any(m["idMember"] == person["trello_id"] for m in board["memberships"]):
            return False
        board["memberships"].append(
            {
                "id": self.new_id(),
                "idMember": person["trello_id"],
                "memberType": member_type,
                "unconfirmed": not person.get("trello_confirmed", True),
                "deactivated": False,
            }
        )
        return True

    # -- actions --------------------------------------------------------------------------

    def ref(self, kind: str, obj: dict[str, Any]) -> dict[str, Any]:
        """The short reference to an object that action data carries."""
        if kind == "board":
            return {"id": obj["id"], "name": obj["name"], "shortLink": obj["shortLink"]}
        if kind == "card":
            return {
                "id": obj["id"],
                "name": obj["name"],
                "idShort": obj["idShort"],
                "shortLink": obj["shortLink"],
            }
        return {"id": obj["id"], "name": obj.get("name", "")}

    def record(
        self,
        action_type: str,
        board: dict[str, Any],
        identity: Identity,
        data: dict[str, Any],
        *,
        member: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Store a board action by the acting identity (newest-first listing sorts by id)."""
        action_id = self.new_id()
        data = {**data, "board": self.ref("board", board)}
        action = {
            "id": action_id,
            "idMemberCreator": identity.person["trello_id"],
            "data": data,
            "appCreator": None,
            "type": action_type,
            "date": iso(self.now()),
            "limits": {},
            "memberCreator": creator_json(identity.person),
        }
        if member is not None:
            action["member"] = creator_json(member)
        self.store.insert(SERVICE, "action", action_id, action, parent=board["id"])
        self.after_action(action, board)
        return action

    def after_action(self, action: dict[str, Any], board: dict[str, Any]) -> None:
        """Hook for webhook deliveries (the emulator overrides it)."""

    def new_label(
        self, board: dict[str, Any], identity: Identity, name: Any, color: Any
    ) -> dict[str, Any]:
        """Create a board label (colour one of Trello's or none)."""
        color = None if color in (None, "", "null", "none") else str(color)
        if color is not None and color not in COLORS:
            raise ServiceError(400, "invalid value for color")
        label = {
            "id": self.new_id(),
            "idBoard": board["id"],
            "name": str(name or ""),
            "color": color,
        }
        self.store.insert(SERVICE, "label", label["id"], label, parent=board["id"])
        self.record("createLabel", board, identity, {"label": label_ref(label)})
        return label

    # -- output shapes --------------------------------------------------------------------

    def label_json(self, label: dict[str, Any]) -> dict[str, Any]:
        """A label as Trello answers it."""
        uses = sum(
            1
            for c in self.store.list(SERVICE, "card", label["idBoard"])
            if label["id"] in c["idLabels"]
        )
        return {**label, "uses": uses}

    def card_json(self, card: dict[str, Any], *, custom_items: bool = False) -> dict[str, Any]:
        """A card with its computed ``labels``, ``badges`` and ``idChecklists``."""
        checklists = self.store.list(SERVICE, "checklist", card["id"])
        items = [i for cl in checklists for i in cl["checkItems"]]
        comments = self.store.count(SERVICE, "comment", card["id"])
        labels = [self.store.get(SERVICE, "label", lid) for lid in card["idLabels"]]
        out = dict(card)
        out["idChecklists"] = [cl["id"] for cl in checklists]
        out["labels"] = [
            {k: v for k, v in lab.items() if k in ("id", "idBoard", "name", "color")}
            for lab in labels
            if lab
        ]
        out["badges"] = {
            "attachmentsByType": {"trello": {"board": 0, "card": 0}},
            "location": False,
            "votes": 0,
            "viewingMemberVoted": False,
            "subscribed": False,
            "fogbugz": "",
            "checkItems": len(items),
            "checkItemsChecked": sum(1 for i in items if i["state"] == "complete"),
            "comments": comments,
            "attachments": 0,
            "description": bool(card["desc"]),
            "due": card["due"],
            "start": card.get("start"),
            "dueComplete": card["dueComplete"],
        }
        out["checkItemStates"] = []
        if custom_items:
            out["customFieldItems"] = self.store.list(SERVICE, "customFieldItem", card["id"])
        return out

    def checklist_json(self, checklist: dict[str, Any]) -> dict[str, Any]:
        """A checklist with its check items ordered by position."""
        out = dict(checklist)
        out["checkItems"] = sorted(checklist["checkItems"], key=lambda i: i["pos"])
        return out

    def _members(self, board: dict[str, Any]) -> list[dict[str, Any]]:
        found = (self.people.get_by_trello_id(m["idMember"]) for m in board["memberships"])
        me = (self.caller() or {}).get("trello_id")
        return [member_json(p, with_email=p["trello_id"] == me) for p in found if p]

    def filter_actions(
        self, actions: list[dict[str, Any]], args: Any, *, default_filter: str
    ) -> list[dict[str, Any]]:
        """Apply Trello's action query: filter, since/before (date or id), limit, page."""
        wanted = [f.strip() for f in str(args.get("filter") or default_filter).split(",")]
        wanted = [f for f in wanted if f]
        if "all" not in wanted:
            actions = [a for a in actions if _matches_filter(a, wanted)]
        for bound, keep in (("since", operator.gt), ("before", operator.lt)):
            value = args.get(bound)
            if not value or value == "null":
                continue
            if ID_RE.match(value):
                actions = _around(actions, value, after=bound == "since")
            else:
                moment = parse_date(value)
                actions = [a for a in actions if keep(parse_date(a["date"]), moment)]
        try:
            limit = int(args.get("limit", 50))
            page = int(args.get("page", 0))
        except ValueError:
            raise ServiceError(400, "invalid value for limit") from None
        if not 0 <= limit <= 1000:
            raise ServiceError(400, "invalid value for limit")
        if page < 0 or (page + 1) * limit > 1000 and page > 0:
            raise ServiceError(400, "invalid value for page")
        # Trello lists actions newest first by their time, not by id (same-second ids carry
        # no order); the store keeps them in the order they happened.
        newest_first = list(reversed(actions))
        return newest_first[page * limit : page * limit + limit]


POS_BASE = 16384.0


def _around(actions: list[dict[str, Any]], action_id: str, *, after: bool) -> list[dict[str, Any]]:
    """The actions after (or before) the one with this id, in the order they happened; for an
    id not on the board, by the time in the id (its first 4 bytes, in seconds)."""
    ids = [a["id"] for a in actions]
    if action_id in ids:
        index = ids.index(action_id)
        return actions[index + 1 :] if after else actions[:index]
    second = int(action_id[:8], 16)
    moment = datetime.fromtimestamp(second, UTC)
    if after:
        return [a for a in actions if parse_date(a["date"]) >= moment]
    return [a for a in actions if parse_date(a["date"]) < moment]


def _matches_filter(action: dict[str, Any], wanted: list[str]) -> bool:
    for item in wanted:
        kind, _, field = item.partition(":")
        if action["type"] != kind:
            continue
        if not field or field in action["data"].get("old", {}):
            return True
    return False


def label_ref(label: dict[str, Any]) -> dict[str, Any]:
    """The short label reference action data carries."""
    return {"id": label["id"], "name": label["name"], "color": label["color"]}
