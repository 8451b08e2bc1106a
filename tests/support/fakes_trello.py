"""The in-memory Trello of the fake world (:class:`connectors.roles.BoardService`).

Behaves like ``connectors.trello.connector`` on the sandbox: a snapshot lists cards by list position
then card position, closed cards included on request; ``cards()`` leaves deleted cards out;
every change is recorded as a board action the way the sandbox records it (``createCard``;
one ``updateCard`` per changed field in Trello's order, ``listBefore``/``listAfter`` on a
move; ``addMemberToCard``/``removeMemberFromCard``; ``commentCard``; ``deleteCard``) with the
acting member's id and full name; ``board_actions`` answers them oldest first, after ``since``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from connectors.base import (
    Board,
    BoardAction,
    BoardCard,
    BoardLabel,
    BoardList,
    BoardMember,
    BoardSnapshot,
    CheckItem,
    Checklist,
)
from sync.core.errors import FatalRemoteError, NotFoundError

if TYPE_CHECKING:
    from tests.support.fakes import FakeWorld, Person

SERVICE = "trello"
POS_STEP = 16384.0
# The order in which one PUT's changes are recorded (the sandbox's CARD_FIELDS).
_FIELDS = (("name", "name"), ("desc", "desc"), ("list_id", "idList"), ("pos", "pos"),
           ("due", "due"), ("due_complete", "dueComplete"), ("closed", "closed"))


def _due(value: Any) -> dt.datetime | None:
    """A due date as Trello keeps it: a UTC instant (a bare date: noon UTC), or None."""
    if value in (None, ""):
        return None
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    if not isinstance(value, dt.datetime):
        value = dt.datetime.combine(value, dt.time(12), tzinfo=dt.UTC)
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC).replace(microsecond=value.microsecond // 1000 * 1000)


def _wire(value: Any) -> Any:
    """A value as it appears in an action's ``data`` (dates as ISO text)."""
    if isinstance(value, dt.datetime):
        return value.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return value


class FakeTrello:
    """Boards, lists, labels, cards, checklists, comments and board actions in memory."""

    service_name = "trello"  # stored and reported under this name (connectors.roles)

    def __init__(self, world: FakeWorld) -> None:
        self.world = world
        self.boards: dict[str, dict[str, Any]] = {}
        self.lists: dict[str, dict[str, Any]] = {}
        self.labels: dict[str, dict[str, Any]] = {}
        self.cards_by_id: dict[str, dict[str, Any]] = {}
        self.checklists: dict[str, dict[str, Any]] = {}
        self.actions: list[dict[str, Any]] = []
        self.token = "token-1"  # a test sets another to change the bot's token
        self.me_calls = 0
        self.holds: dict[str, float] = {}  # operation -> seconds until it could go (a test's)

    def ready_in(self, method: str) -> float:
        """No pacing in memory: 0.0, unless a test holds ``method`` back (``holds``)."""
        return self.holds.get(method, 0.0)

    # ------------------------------------------------------------------ helpers

    def _write(self, operation: str, apply: Any, *, create: bool = True,
               target: str = "") -> Any:
        return self.world.write(SERVICE, operation, apply, create=create, target=target)

    def _card(self, card_id: str) -> dict[str, Any]:
        card = self.cards_by_id.get(card_id)
        if card is None:
            raise NotFoundError(SERVICE, "not found (HTTP 404): Could not find the card")
        return card

    def _list(self, list_id: str) -> dict[str, Any]:
        lst = self.lists.get(list_id)
        if lst is None:
            raise FatalRemoteError(SERVICE, "HTTP 400: invalid value for idList")
        return lst

    def _bottom(self, list_id: str, skip: str = "") -> float:
        positions = [c["pos"] for c in self.cards_by_id.values()
                     if c["list_id"] == list_id and c["id"] != skip]
        return (max(positions) if positions else 0.0) + POS_STEP

    def _record(self, kind: str, board_id: str, actor: Person, data: dict[str, Any],
                card_id: str = "") -> None:
        self.actions.append({
            "id": self.world.object_id(), "type": kind, "date": self.world.iso_now(),
            "board_id": board_id, "member_id": actor.trello_id, "member_name": actor.name,
            "card_id": card_id, "data": {**data, "board": {"id": board_id}},
        })

    def _ref(self, card: dict[str, Any]) -> dict[str, Any]:
        return {"id": card["id"], "name": card["name"], "idShort": card["short"]}

    @staticmethod
    def _as_card(card: dict[str, Any]) -> BoardCard:
        return BoardCard(
            id=card["id"], name=card["name"], desc=card["desc"], list_id=card["list_id"],
            closed=card["closed"], due=card["due"], due_complete=card["due_complete"],
            member_ids=tuple(card["member_ids"]), label_ids=tuple(card["label_ids"]),
            url=card["url"], last_activity=card["last_activity"], pos=card["pos"])

    @staticmethod
    def _as_checklist(checklist: dict[str, Any]) -> Checklist:
        items = sorted(checklist["items"], key=lambda i: i.pos)
        return Checklist(id=checklist["id"], card_id=checklist["card_id"],
                               name=checklist["name"], items=tuple(items))

    def _member(self, person: Person) -> BoardMember:
        return BoardMember(id=person.trello_id, username=person.trello_username,
                            full_name=person.name)

    # ------------------------------------------------------------------ reads

    def me(self) -> BoardMember:
        """The bot member (``GET /members/me``), counted."""
        self.me_calls += 1
        return self._member(self.world.bot)

    def identity_key(self) -> str:
        """The fingerprint of the bot's token (``token``)."""
        return f"fake:{self.token}"

    def find_boards(self) -> list[Board]:
        """Open boards the bot is a member of, in creation order."""
        bot = self.world.bot.trello_id
        return [self._as_board(b) for b in self.boards.values()
                if bot in b["members"] and not b["closed"]]

    @staticmethod
    def _as_board(board: dict[str, Any]) -> Board:
        return Board(id=board["id"], name=board["name"], desc=board["desc"],
                           url=board["url"], closed=board["closed"])

    def snapshot(self, board_id: str, *, include_closed_cards: bool = True) -> BoardSnapshot:
        """The board with lists (by pos), labels, cards (list pos, card pos), checklists."""
        board = self.boards.get(board_id)
        if board is None:
            raise NotFoundError(SERVICE, "not found (HTTP 404): The requested resource")
        lists = sorted((x for x in self.lists.values() if x["board_id"] == board_id),
                       key=lambda x: x["pos"])
        list_pos = {x["id"]: x["pos"] for x in lists}
        closed_lists = {x["id"] for x in lists if x["closed"]}
        cards = sorted((c for c in self.cards_by_id.values() if c["board_id"] == board_id),
                       key=lambda c: (list_pos.get(c["list_id"], 0.0), c["pos"]))
        if not include_closed_cards:
            cards = [c for c in cards if not c["closed"] and c["list_id"] not in closed_lists]
        card_ids = {c["id"] for c in cards}
        people = [self.world.by_trello_id(m) for m in board["members"]]
        return BoardSnapshot(
            board=self._as_board(board),
            lists=tuple(BoardList(x["id"], x["name"], x["closed"], x["pos"]) for x in lists),
            labels=tuple(BoardLabel(x["id"], x["name"], x["color"])
                         for x in self.labels.values() if x["board_id"] == board_id),
            cards=tuple(self._as_card(c) for c in cards),
            checklists=tuple(self._as_checklist(c) for c in self.checklists.values()
                             if c["card_id"] in card_ids),
            members=tuple(self._member(p) for p in people if p is not None),
        )

    def cards(self, card_ids: Sequence[str]) -> list[BoardCard]:
        """These cards as they are now (``/batch``); deleted ones left out."""
        unique = list(dict.fromkeys(card_ids))
        return [self._as_card(self.cards_by_id[c]) for c in unique if c in self.cards_by_id]

    def board_actions(self, board_id: str, *, since: str | None = None,
                      types: Sequence[str] = ()) -> list[BoardAction]:
        """Board actions after ``since``, oldest first."""
        return [BoardAction(id=a["id"], type=a["type"], date=a["date"],
                             member_id=a["member_id"], member_name=a["member_name"],
                             card_id=a["card_id"], data=dict(a["data"]))
                for a in self.actions
                if a["board_id"] == board_id and (not since or a["id"] > since)
                and (not types or a["type"] in types)]

    def card_comments(self, card_id: str) -> list[BoardAction]:
        """A card's comments, newest first (``GET /cards/{id}/actions?filter=commentCard``)."""
        return [BoardAction(id=a["id"], type=a["type"], date=a["date"],
                             member_id=a["member_id"], member_name=a["member_name"],
                             card_id=a["card_id"], data=dict(a["data"]))
                for a in reversed(self.actions)
                if a["type"] == "commentCard" and a["card_id"] == card_id]

    # ------------------------------------------------------------------ creates

    def create_board(self, name: str, desc: str, workspace_id: str = "") -> Board:
        """A new board (no default lists or labels), the bot its admin."""
        def apply() -> Board:
            board_id = self.world.object_id()
            self.boards[board_id] = {
                "id": board_id, "name": name, "desc": desc, "closed": False,
                "url": f"https://trello.com/b/{board_id[-8:]}/{name.lower().replace(' ', '-')}",
                "members": [self.world.bot.trello_id], "short": 0,
            }
            return self._as_board(self.boards[board_id])
        return self._write("create_board", apply)

    def create_list(self, board_id: str, name: str, pos: str | float = "bottom") -> BoardList:
        """A new list at the right of the board."""
        def apply() -> BoardList:
            siblings = [x["pos"] for x in self.lists.values() if x["board_id"] == board_id]
            lst = {"id": self.world.object_id(), "board_id": board_id, "name": name,
                   "closed": False, "pos": (max(siblings) if siblings else 0.0) + POS_STEP}
            self.lists[lst["id"]] = lst
            return BoardList(lst["id"], name, False, lst["pos"])
        return self._write("create_list", apply)

    def create_label(self, board_id: str, name: str, color: str | None) -> BoardLabel:
        """A new label on the board."""
        def apply() -> BoardLabel:
            label = {"id": self.world.object_id(), "board_id": board_id, "name": name,
                     "color": color}
            self.labels[label["id"]] = label
            return BoardLabel(label["id"], name, color)
        return self._write("create_label", apply)

    def new_card(self, actor: Person, list_id: str, name: str, desc: str, *,
                 due: Any = None, label_ids: Sequence[str] = (),
                 member_ids: Sequence[str] = ()) -> dict[str, Any]:
        """Make a card as ``actor`` (no write counted): the bot's and the members' path."""
        lst = self._list(list_id)
        board = self.boards[lst["board_id"]]
        for member_id in member_ids:
            if self.world.by_trello_id(member_id) is None:
                raise FatalRemoteError(SERVICE, "HTTP 400: invalid value for idMembers")
            if member_id not in board["members"]:
                board["members"].append(member_id)
        board["short"] += 1
        card_id = self.world.object_id()
        card = {
            "id": card_id, "board_id": board["id"], "list_id": list_id, "name": name,
            "desc": desc, "closed": False, "due": _due(due), "due_complete": False,
            "member_ids": list(dict.fromkeys(member_ids)),
            "label_ids": list(dict.fromkeys(label_ids)), "pos": self._bottom(list_id),
            "short": board["short"], "url": f"https://trello.com/c/{card_id[-8:]}",
            "last_activity": self.world.iso_now(),
        }
        self.cards_by_id[card_id] = card
        self._record("createCard", board["id"], actor,
                     {"card": self._ref(card), "list": {"id": list_id, "name": lst["name"]}},
                     card_id)
        return card

    def create_card(self, list_id: str, name: str, desc: str, *, due: dt.datetime | None = None,
                    label_ids: Sequence[str] = (), member_ids: Sequence[str] = (),
                    pos: str | float = "bottom") -> BoardCard:
        """A new card at the bottom of its list."""
        return self._write("create_card", lambda: self._as_card(self.new_card(
            self.world.bot, list_id, name, desc, due=due, label_ids=label_ids,
            member_ids=member_ids)))

    def create_checklist(self, card_id: str, name: str, items: Sequence[str]) -> Checklist:
        """A checklist, then its items: one write each, as the connector makes them."""
        def make() -> dict[str, Any]:
            card = self._card(card_id)
            checklist = {"id": self.world.object_id(), "card_id": card_id, "name": name,
                         "items": []}
            self.checklists[checklist["id"]] = checklist
            self._record("addChecklistToCard", card["board_id"], self.world.bot,
                         {"card": self._ref(card), "checklist": {"id": checklist["id"]}},
                         card_id)
            return checklist
        checklist = self._write("create_checklist", make)
        for item in items:
            self.add_checkitem(checklist["id"], item)
        return self._as_checklist(checklist)

    def add_checkitem(self, checklist_id: str, name: str) -> CheckItem:
        """One item at the bottom of a checklist."""
        def apply() -> CheckItem:
            checklist = self.checklists.get(checklist_id)
            if checklist is None:
                raise NotFoundError(SERVICE, "not found (HTTP 404): checklist")
            pos = max((i.pos for i in checklist["items"]), default=0.0) + POS_STEP
            item = CheckItem(self.world.object_id(), name, False, pos)
            checklist["items"].append(item)
            return item
        return self._write("add_checkitem", apply)

    def add_comment(self, card_id: str, text: str) -> str:
        """Comment on a card as the bot; the action id."""
        return self._write("add_comment", lambda: self.comment(self.world.bot, card_id, text),
                           target=card_id)

    def comment(self, actor: Person, card_id: str, text: str) -> str:
        """Comment as ``actor`` (no write counted)."""
        card = self._card(card_id)
        self._record("commentCard", card["board_id"], actor,
                     {"text": text, "card": self._ref(card)}, card_id)
        return str(self.actions[-1]["id"])

    def invite_member(self, board_id: str, email: str, full_name: str) -> BoardMember | None:
        """Invite by e-mail: the person joins the board at once (the sandbox's way)."""
        def apply() -> BoardMember:
            person = self.world.person(email, full_name)
            members = self.boards[board_id]["members"]
            if person.trello_id not in members:
                members.append(person.trello_id)
            return self._member(person)
        return self._write("invite_member", apply, create=False)

    # ------------------------------------------------------------------ updates

    def update_card(self, card_id: str, **changes: Any) -> BoardCard:
        """Set fields absolutely (the connector's keys); one action per changed field."""
        known = {k for k, _ in _FIELDS} | {"member_ids", "label_ids"}
        unknown = set(changes) - known
        if unknown:
            raise TypeError(f"update_card: unknown field(s) {', '.join(sorted(unknown))}")
        return self._write("update_card", lambda: self._as_card(
            self.change_card(self.world.bot, card_id, changes)), create=False, target=card_id)

    def change_card(self, actor: Person, card_id: str, changes: dict[str, Any]
                    ) -> dict[str, Any]:
        """Apply ``changes`` as ``actor`` and record them the way Trello does."""
        card = self._card(card_id)
        new = dict(changes)
        if "due" in new:
            new["due"] = _due(new["due"])
        for key in ("closed", "due_complete"):
            if key in new:
                new[key] = bool(new[key])
        if "list_id" in new:
            self._list(new["list_id"])
            if new["list_id"] != card["list_id"] and "pos" not in new:
                new["pos"] = self._bottom(new["list_id"], skip=card_id)
        for key, wire_key in _FIELDS:
            if key not in new or card[key] == new[key]:
                continue
            old, card[key] = card[key], new[key]
            card["last_activity"] = self.world.iso_now()
            data: dict[str, Any] = {"card": {**self._ref(card), wire_key: _wire(new[key])},
                                    "old": {wire_key: _wire(old)}}
            if key == "list_id":
                data["listBefore"] = {"id": old, "name": self.lists[old]["name"]}
                data["listAfter"] = {"id": new[key], "name": self.lists[new[key]]["name"]}
            else:
                data["list"] = {"id": card["list_id"]}
            self._record("updateCard", card["board_id"], actor, data, card_id)
        if "member_ids" in new:
            wanted = list(dict.fromkeys(new["member_ids"]))
            for member_id in [m for m in card["member_ids"] if m not in wanted]:
                card["member_ids"].remove(member_id)
                self._record("removeMemberFromCard", card["board_id"], actor,
                             {"idMember": member_id, "card": self._ref(card)}, card_id)
            for member_id in [m for m in wanted if m not in card["member_ids"]]:
                if self.world.by_trello_id(member_id) is None:
                    raise FatalRemoteError(SERVICE, "HTTP 400: invalid value for idMembers")
                card["member_ids"].append(member_id)
                self._record("addMemberToCard", card["board_id"], actor,
                             {"idMember": member_id, "card": self._ref(card)}, card_id)
        if "label_ids" in new:
            card["label_ids"] = list(dict.fromkeys(new["label_ids"]))
        return card

    def delete_card(self, actor: Person, card_id: str) -> None:
        """Delete a card for good as ``actor`` (records ``deleteCard``)."""
        card = self._card(card_id)
        del self.cards_by_id[card_id]
        for checklist_id in [c["id"] for c in self.checklists.values()
                             if c["card_id"] == card_id]:
            del self.checklists[checklist_id]
        self._record("deleteCard", card["board_id"], actor,
                     {"card": {"id": card_id, "idShort": card["short"]}}, card_id)
