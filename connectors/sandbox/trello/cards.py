"""Trello handlers for cards: create/read/update, labels and members on cards, comments."""

from __future__ import annotations

from typing import Any

from werkzeug.wrappers import Request, Response

from connectors.sandbox.core.service import Identity, ServiceError, json_response
from connectors.sandbox.trello.model import (
    ID_RE,
    SERVICE,
    TrelloModel,
    id_list,
    iso,
    label_ref,
    member_json,
    parse_date,
    select_fields,
    short_link,
    slug,
    truthy,
)

# The order in which one PUT's changes are recorded, one updateCard action per field.
CARD_FIELDS = ("name", "desc", "idList", "pos", "due", "start", "dueComplete", "closed")


class CardsMixin(TrelloModel):
    """Cards and what hangs directly on them (labels, members, comments)."""

    def _due(self, value: Any) -> str | None:
        if value in (None, "", "null"):
            return None
        return iso(parse_date(str(value)).timestamp())

    def _check_labels(self, board_id: str, ids: list[str]) -> list[str]:
        for label_id in ids:
            label = self.store.get(SERVICE, "label", label_id) if ID_RE.match(label_id) else None
            if label is None or label["idBoard"] != board_id:
                raise ServiceError(400, "invalid value for idLabels")
        return list(dict.fromkeys(ids))

    def _check_members(self, ids: list[str]) -> list[dict[str, Any]]:
        people = []
        for member_id in ids:
            person = self.people.get_by_trello_id(member_id) if ID_RE.match(member_id) else None
            if person is None:
                raise ServiceError(400, "invalid value for idMembers")
            people.append(person)
        return people

    def _list_of(self, list_id: Any) -> dict[str, Any]:
        if not ID_RE.match(str(list_id or "")):
            raise ServiceError(400, "invalid value for idList")
        lst = self.store.get(SERVICE, "list", str(list_id))
        if lst is None:
            raise ServiceError(400, "invalid value for idList")
        return lst

    # -- create, read, delete -------------------------------------------------------------

    def handle_create_card(self, request: Request, identity: Identity) -> Response:
        """POST /1/cards: idList (required), name, desc, pos, due, dueComplete, idMembers,
        idLabels."""
        params = self.params(request)
        lst = self._list_of(params.get("idList"))
        board = self.load("board", lst["idBoard"])
        self.join_on_write(board, identity)
        people = self._check_members(id_list(params.get("idMembers")))
        for person in people:
            if self.ensure_board_member(board, person):
                self.save("board", board)
        card_id = self.new_id()
        id_short = self.store.next_counter(f"trello-idshort-{board['id']}")
        link = short_link(card_id)
        name = str(params.get("name") or "")
        siblings = [
            c for c in self.store.list(SERVICE, "card", board["id"]) if c["idList"] == lst["id"]
        ]
        card = {
            "id": card_id,
            "name": name,
            "desc": str(params.get("desc") or ""),
            "closed": False,
            "idBoard": board["id"],
            "idList": lst["id"],
            "pos": self.position(params.get("pos"), siblings),
            "due": self._due(params.get("due")),
            "start": self._due(params.get("start")),
            "dueComplete": truthy(params.get("dueComplete", False)),
            "dueReminder": None,
            "idMembers": [p["trello_id"] for p in people],
            "idLabels": self._check_labels(board["id"], id_list(params.get("idLabels"))),
            "idShort": id_short,
            "shortLink": link,
            "shortUrl": f"https://trello.com/c/{link}",
            "url": f"https://trello.com/c/{link}/{id_short}-{slug(name)}",
            "dateLastActivity": iso(self.now()),
            "idMembersVoted": [],
            "idAttachmentCover": None,
            "manualCoverAttachment": False,
            "subscribed": False,
        }
        self.store.insert(SERVICE, "card", card_id, card, parent=board["id"])
        self.touch(board)
        self.save("board", board)
        self.record(
            "createCard",
            board,
            identity,
            {"card": self.ref("card", card), "list": self.ref("list", lst)},
        )
        return json_response(self.card_json(card))

    def handle_get_card(self, request: Request, identity: Identity, card_id: str) -> Response:
        """GET /1/cards/{id} (fields, customFieldItems, checklists, members)."""
        card = self.load("card", card_id)
        args = request.args
        out = self.card_json(card, custom_items=truthy(args.get("customFieldItems", False)))
        out = select_fields(out, args.get("fields"))
        if args.get("checklists", "none") != "none":
            out["checklists"] = [
                self.checklist_json(c) for c in self.store.list(SERVICE, "checklist", card["id"])
            ]
        if truthy(args.get("members", False)):
            out["members"] = [
                member_json(p)
                for p in (self.people.get_by_trello_id(m) for m in card["idMembers"])
                if p
            ]
        return json_response(out)

    def handle_delete_card(self, request: Request, identity: Identity, card_id: str) -> Response:
        """DELETE /1/cards/{id} (records deleteCard)."""
        card = self.load("card", card_id)
        board = self.load("board", card["idBoard"])
        for kind in ("checklist", "customFieldItem", "comment"):
            for obj in self.store.list(SERVICE, kind, card["id"]):
                self.store.delete(SERVICE, kind, obj["id"])
        self.store.delete(SERVICE, "card", card["id"])
        ref = {"id": card["id"], "idShort": card["idShort"], "shortLink": card["shortLink"]}
        lst = self.load("list", card["idList"])
        self.record("deleteCard", board, identity, {"card": ref, "list": self.ref("list", lst)})
        return json_response({"limits": {}})

    def handle_card_plugin_data(
        self, request: Request, identity: Identity, card_id: str
    ) -> Response:
        """GET /1/cards/{id}/pluginData (always empty here)."""
        self.load("card", card_id)
        return json_response([])

    def handle_card_attachments(
        self, request: Request, identity: Identity, card_id: str
    ) -> Response:
        """GET /1/cards/{id}/attachments (always empty here)."""
        self.load("card", card_id)
        return json_response([])

    # -- update ---------------------------------------------------------------------------

    def handle_update_card(self, request: Request, identity: Identity, card_id: str) -> Response:
        """PUT /1/cards/{id}: any of idList, closed, due, dueComplete, desc, name, pos,
        idMembers, idLabels; one action per changed field."""
        card = self.load("card", card_id)
        self.change_card(card, identity, self.params(request))
        return json_response(self.card_json(card))

    def handle_update_card_field(
        self, request: Request, identity: Identity, card_id: str, field: str
    ) -> Response:
        """PUT /1/cards/{id}/{field} with ``value`` (py-trello's setters)."""
        card = self.load("card", card_id)
        if field not in (*CARD_FIELDS, "idMembers", "idLabels"):
            raise ServiceError(404, f"Cannot PUT /1/cards/{card_id}/{field}")
        self.change_card(card, identity, {field: self.params(request).get("value")})
        return json_response(self.card_json(card))

    def change_card(self, card: dict[str, Any], identity: Identity, params: dict[str, Any]) -> None:
        """Apply changes to a card and record them the way Trello does."""
        board = self.load("board", card["idBoard"])
        self.join_on_write(board, identity)
        new: dict[str, Any] = {}
        for field in CARD_FIELDS:
            if field not in params:
                continue
            raw = params[field]
            if field in ("closed", "dueComplete"):
                new[field] = truthy(raw)
            elif field in ("due", "start"):
                new[field] = self._due(raw)
            elif field == "idList":
                target = self._list_of(raw)
                if target["idBoard"] != board["id"]:
                    raise ServiceError(400, "invalid value for idList")
                new[field] = target["id"]
            elif field == "pos":
                siblings = [
                    c
                    for c in self.store.list(SERVICE, "card", board["id"])
                    if c["idList"] == new.get("idList", card["idList"]) and c["id"] != card["id"]
                ]
                new[field] = self.position(raw, siblings)
            else:
                new[field] = "" if raw is None else str(raw)
        if "idList" in new and "pos" not in new and new["idList"] != card["idList"]:
            siblings = [
                c
                for c in self.store.list(SERVICE, "card", board["id"])
                if c["idList"] == new["idList"]
            ]
            new["pos"] = self.position("bottom", siblings)
        for field, value in new.items():
            if card[field] == value:
                continue
            old = card[field]
            card[field] = value
            self.touch(card)
            self.save("card", card)
            data: dict[str, Any] = {
                "card": {**self.ref("card", card), field: value},
                "old": {field: old},
            }
            if field == "idList":
                data["listBefore"] = self.ref("list", self.load("list", old))
                data["listAfter"] = self.ref("list", self.load("list", value))
            else:
                data["list"] = self.ref("list", self.load("list", card["idList"]))
            self.record("updateCard", board, identity, data)
        if "idMembers" in params:
            wanted = [p["trello_id"] for p in self._check_members(id_list(params["idMembers"]))]
            for member_id in [m for m in card["idMembers"] if m not in wanted]:
                self.remove_member(card, board, identity, member_id)
            for member_id in [m for m in wanted if m not in card["idMembers"]]:
                self.add_member(card, board, identity, member_id)
        if "idLabels" in params:
            wanted = self._check_labels(board["id"], id_list(params["idLabels"]))
            for label_id in [x for x in card["idLabels"] if x not in wanted]:
                self.remove_label(card, board, identity, label_id)
            for label_id in [x for x in wanted if x not in card["idLabels"]]:
                self.add_label(card, board, identity, label_id)
        self.touch(board)
        self.save("board", board)

    # -- members on cards -----------------------------------------------------------------

    def add_member(
        self, card: dict[str, Any], board: dict[str, Any], identity: Identity, member_id: str
    ) -> None:
        """Put a member on a card (records addMemberToCard)."""
        person = self._check_members([member_id])[0]
        if member_id in card["idMembers"]:
            raise ServiceError(400, "member is already on the card")
        if self.ensure_board_member(board, person):
            self.save("board", board)
        card["idMembers"].append(member_id)
        self.touch(card)
        self.save("card", card)
        data = {"idMember": member_id, "card": self.ref("card", card)}
        data["member"] = {"id": member_id, "name": person["name"]}
        self.record("addMemberToCard", board, identity, data, member=person)

    def remove_member(
        self, card: dict[str, Any], board: dict[str, Any], identity: Identity, member_id: str
    ) -> None:
        """Take a member off a card (records removeMemberFromCard)."""
        if member_id not in card["idMembers"]:
            raise ServiceError(400, "member is not on the card")
        person = self.people.get_by_trello_id(member_id)
        card["idMembers"].remove(member_id)
        self.touch(card)
        self.save("card", card)
        data = {"idMember": member_id, "card": self.ref("card", card)}
        data["member"] = {"id": member_id, "name": person["name"] if person else ""}
        self.record("removeMemberFromCard", board, identity, data, member=person)

    def handle_add_card_member(
        self, request: Request, identity: Identity, card_id: str
    ) -> Response:
        """POST /1/cards/{id}/idMembers (or /members) with ``value`` = member id."""
        card = self.load("card", card_id)
        board = self.load("board", card["idBoard"])
        self.join_on_write(board, identity)
        self.add_member(card, board, identity, str(self.params(request).get("value") or ""))
        people = (self.people.get_by_trello_id(m) for m in card["idMembers"])
        return json_response([member_json(p) for p in people if p])

    def handle_remove_card_member(
        self, request: Request, identity: Identity, card_id: str, member_id: str
    ) -> Response:
        """DELETE /1/cards/{id}/idMembers/{idMember}."""
        card = self.load("card", card_id)
        board = self.load("board", card["idBoard"])
        self.join_on_write(board, identity)
        self.remove_member(card, board, identity, member_id)
        people = (self.people.get_by_trello_id(m) for m in card["idMembers"])
        return json_response([member_json(p) for p in people if p])

    # -- labels on cards ------------------------------------------------------------------

    def add_label(
        self, card: dict[str, Any], board: dict[str, Any], identity: Identity, label_id: str
    ) -> None:
        """Put a label on a card (records addLabelToCard)."""
        self._check_labels(board["id"], [label_id])
        if label_id in card["idLabels"]:
            raise ServiceError(400, "that label is already on the card")
        label = self.load("label", label_id)
        card["idLabels"].append(label_id)
        self.touch(card)
        self.save("card", card)
        data = {"card": self.ref("card", card), "label": label_ref(label), "text": label["name"]}
        self.record("addLabelToCard", board, identity, data)

    def remove_label(
        self, card: dict[str, Any], board: dict[str, Any], identity: Identity, label_id: str
    ) -> None:
        """Take a label off a card (records removeLabelFromCard)."""
        if label_id not in card["idLabels"]:
            raise ServiceError(400, "that label is not on the card")
        label = self.load("label", label_id)
        card["idLabels"].remove(label_id)
        self.touch(card)
        self.save("card", card)
        data = {"card": self.ref("card", card), "label": label_ref(label), "text": label["name"]}
        self.record("removeLabelFromCard", board, identity, data)

    def handle_add_card_label(self, request: Request, identity: Identity, card_id: str) -> Response:
        """POST /1/cards/{id}/idLabels with ``value`` = label id."""
        card = self.load("card", card_id)
        board = self.load("board", card["idBoard"])
        self.join_on_write(board, identity)
        self.add_label(card, board, identity, str(self.params(request).get("value") or ""))
        return json_response(card["idLabels"])

    def handle_remove_card_label(
        self, request: Request, identity: Identity, card_id: str, label_id: str
    ) -> Response:
        """DELETE /1/cards/{id}/idLabels/{idLabel}."""
        card = self.load("card", card_id)
        board = self.load("board", card["idBoard"])
        self.join_on_write(board, identity)
        self.remove_label(card, board, identity, label_id)
        return json_response({"_value": None})

    def handle_create_card_label(
        self, request: Request, identity: Identity, card_id: str
    ) -> Response:
        """POST /1/cards/{id}/labels (name, color): a new board label, put on the card."""
        card = self.load("card", card_id)
        board = self.load("board", card["idBoard"])
        self.join_on_write(board, identity)
        params = self.params(request)
        label = self.new_label(board, identity, params.get("name"), params.get("color"))
        self.add_label(card, board, identity, label["id"])
        return json_response(card["idLabels"])

    # -- comments and card actions --------------------------------------------------------

    def handle_add_comment(self, request: Request, identity: Identity, card_id: str) -> Response:
        """POST /1/cards/{id}/actions/comments (text) -> the commentCard action."""
        text = str(self.params(request).get("text") or "")
        if not text.strip():
            raise ServiceError(400, "invalid value for text")
        card = self.load("card", card_id)
        board = self.load("board", card["idBoard"])
        self.join_on_write(board, identity)
        lst = self.load("list", card["idList"])
        data = {"text": text, "card": self.ref("card", card), "list": self.ref("list", lst)}
        action = self.record("commentCard", board, identity, data)
        self.store.insert(SERVICE, "comment", action["id"], {"id": action["id"]}, parent=card["id"])
        self.touch(card)
        self.save("card", card)
        return json_response(action)

    def handle_card_actions(self, request: Request, identity: Identity, card_id: str) -> Response:
        """GET /1/cards/{id}/actions (default filter: commentCard and updateCard:idList)."""
        card = self.load("card", card_id)
        actions = [
            a
            for a in self.store.list(SERVICE, "action", card["idBoard"])
            if a["data"].get("card", {}).get("id") == card["id"]
        ]
        answer = self.filter_actions(
            actions, request.args, default_filter="commentCard,updateCard:idList"
        )
        return json_response(answer)
