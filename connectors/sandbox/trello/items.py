"""Trello handlers for checklists and check items, labels and custom fields."""

from __future__ import annotations

from typing import Any

from werkzeug.wrappers import Request, Response

from connectors.sandbox.core.service import Identity, ServiceError, json_response
from connectors.sandbox.trello.model import (
    ID_RE,
    SERVICE,
    TrelloModel,
    iso,
    parse_date,
    truthy,
)

FIELD_TYPES = ("checkbox", "list", "number", "text", "date")


class ItemsMixin(TrelloModel):
    """Checklists, check items, labels, custom fields."""

    # -- checklists -----------------------------------------------------------------------

    def _checklist_context(
        self, checklist: dict[str, Any]
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        card = self.load("card", checklist["idCard"])
        return card, self.load("board", card["idBoard"])

    def handle_create_checklist(self, request: Request, identity: Identity) -> Response:
        """POST /1/checklists (idCard, name, pos)."""
        params = self.params(request)
        if not ID_RE.match(str(params.get("idCard") or "")):
            raise ServiceError(400, "invalid value for idCard")
        return self._new_checklist(str(params["idCard"]), params, identity)

    def handle_create_card_checklist(
        self, request: Request, identity: Identity, card_id: str
    ) -> Response:
        """POST /1/cards/{id}/checklists (name, pos)."""
        return self._new_checklist(card_id, self.params(request), identity)

    def _new_checklist(self, card_id: str, params: dict[str, Any], identity: Identity) -> Response:
        card = self.load("card", card_id)
        board = self.load("board", card["idBoard"])
        self.join_on_write(board, identity)
        siblings = self.store.list(SERVICE, "checklist", card["id"])
        checklist = {
            "id": self.new_id(),
            "name": str(params.get("name") or "Checklist"),
            "idBoard": board["id"],
            "idCard": card["id"],
            "pos": self.position(params.get("pos"), siblings),
            "checkItems": [],
        }
        self.store.insert(SERVICE, "checklist", checklist["id"], checklist, parent=card["id"])
        data = {"card": self.ref("card", card), "checklist": self.ref("checklist", checklist)}
        self.record("addChecklistToCard", board, identity, data)
        return json_response(self.checklist_json(checklist))

    def handle_card_checklists(
        self, request: Request, identity: Identity, card_id: str
    ) -> Response:
        """GET /1/cards/{id}/checklists."""
        card = self.load("card", card_id)
        return json_response(
            [self.checklist_json(c) for c in self.store.list(SERVICE, "checklist", card["id"])]
        )

    def handle_get_checklist(
        self, request: Request, identity: Identity, checklist_id: str
    ) -> Response:
        """GET /1/checklists/{id}."""
        return json_response(self.checklist_json(self.load("checklist", checklist_id)))

    def handle_update_checklist(
        self, request: Request, identity: Identity, checklist_id: str, field: str | None = None
    ) -> Response:
        """PUT /1/checklists/{id} (name, pos) or /1/checklists/{id}/{field} with ``value``."""
        checklist = self.load("checklist", checklist_id)
        card, board = self._checklist_context(checklist)
        params = self.params(request)
        if field is not None:
            params = {field: params.get("value")}
        for name in ("name", "pos"):
            if name not in params:
                continue
            if name == "pos":
                others = [
                    c
                    for c in self.store.list(SERVICE, "checklist", card["id"])
                    if c["id"] != checklist["id"]
                ]
                value: Any = self.position(params[name], others)
            else:
                value = str(params[name] or "").strip()
                if not value:
                    raise ServiceError(400, "invalid value for name")
            if checklist[name] != value:
                old = checklist[name]
                checklist[name] = value
                self.save("checklist", checklist)
                data = {
                    "card": self.ref("card", card),
                    "checklist": {**self.ref("checklist", checklist), name: value},
                    "old": {name: old},
                }
                self.record("updateChecklist", board, identity, data)
        return json_response(self.checklist_json(checklist))

    def handle_delete_checklist(
        self, request: Request, identity: Identity, checklist_id: str
    ) -> Response:
        """DELETE /1/checklists/{id} (records removeChecklistFromCard)."""
        checklist = self.load("checklist", checklist_id)
        card, board = self._checklist_context(checklist)
        self.store.delete(SERVICE, "checklist", checklist["id"])
        data = {"card": self.ref("card", card), "checklist": self.ref("checklist", checklist)}
        self.record("removeChecklistFromCard", board, identity, data)
        return json_response({"limits": {}})

    # -- check items ----------------------------------------------------------------------

    def handle_checklist_items(
        self, request: Request, identity: Identity, checklist_id: str
    ) -> Response:
        """GET /1/checklists/{id}/checkItems."""
        return json_response(
            self.checklist_json(self.load("checklist", checklist_id))["checkItems"]
        )

    def handle_create_check_item(
        self, request: Request, identity: Identity, checklist_id: str
    ) -> Response:
        """POST /1/checklists/{id}/checkItems (name, pos, checked, due, idMember)."""
        params = self.params(request)
        name = str(params.get("name") or "").strip()
        if not name:
            raise ServiceError(400, "invalid value for name")
        checklist = self.load("checklist", checklist_id)
        card, board = self._checklist_context(checklist)
        self.join_on_write(board, identity)
        due = params.get("due")
        item = {
            "id": self.new_id(),
            "name": name,
            "nameData": None,
            "pos": self.position(params.get("pos"), checklist["checkItems"]),
            "state": "complete" if truthy(params.get("checked", False)) else "incomplete",
            "idChecklist": checklist["id"],
            "due": iso(parse_date(str(due)).timestamp()) if due not in (None, "", "null") else None,
            "dueReminder": None,
            "idMember": params.get("idMember") or None,
            "limits": {},
        }
        checklist["checkItems"].append(item)
        self.save("checklist", checklist)
        data = {
            "card": self.ref("card", card),
            "checklist": self.ref("checklist", checklist),
            "checkItem": {"id": item["id"], "name": name, "state": item["state"]},
        }
        self.record("createCheckItem", board, identity, data)
        return json_response(item)

    def handle_delete_check_item(
        self, request: Request, identity: Identity, checklist_id: str, check_item_id: str
    ) -> Response:
        """DELETE /1/checklists/{id}/checkItems/{idCheckItem}."""
        checklist = self.load("checklist", checklist_id)
        card, board = self._checklist_context(checklist)
        item = self._item(checklist, check_item_id)
        checklist["checkItems"].remove(item)
        self.save("checklist", checklist)
        data = {
            "card": self.ref("card", card),
            "checklist": self.ref("checklist", checklist),
            "checkItem": {"id": item["id"], "name": item["name"], "state": item["state"]},
        }
        self.record("deleteCheckItem", board, identity, data)
        return json_response({"limits": {}})

    def _item(self, checklist: dict[str, Any], check_item_id: str) -> dict[str, Any]:
        if not ID_RE.match(check_item_id):
            raise ServiceError(400, "invalid id")
        for item in checklist["checkItems"]:
            if item["id"] == check_item_id:
                return item
        raise ServiceError(404, "The requested resource was not found.")

    def handle_update_check_item(
        self,
        request: Request,
        identity: Identity,
        card_id: str,
        check_item_id: str,
        checklist_id: str | None = None,
    ) -> Response:
        """PUT /1/cards/{idCard}/checkItem/{id} (state=complete|incomplete, name, pos, due)."""
        card = self.load("card", card_id)
        board = self.load("board", card["idBoard"])
        self.join_on_write(board, identity)
        checklists = self.store.list(SERVICE, "checklist", card["id"])
        owner = next(
            (c for c in checklists if any(i["id"] == check_item_id for i in c["checkItems"])), None
        )
        if owner is None or (checklist_id and owner["id"] != checklist_id):
            raise ServiceError(404, "The requested resource was not found.")
        item = self._item(owner, check_item_id)
        params = self.params(request)
        if "state" in params:
            state = str(params["state"])
            state = {"true": "complete", "false": "incomplete"}.get(state, state)
            if state not in ("complete", "incomplete"):
                raise ServiceError(400, "invalid value for state")
            if item["state"] != state:
                item["state"] = state
                self.save("checklist", owner)
                data = {
                    "card": self.ref("card", card),
                    "checklist": self.ref("checklist", owner),
                    "checkItem": {
                        "id": item["id"],
                        "name": item["name"],
                        "state": state,
                        "textData": {"emoji": {}},
                    },
                }
                self.record("updateCheckItemStateOnCard", board, identity, data)
        for field in ("name", "pos", "due", "idMember"):
            if field not in params:
                continue
            value = params[field]
            if field == "pos":
                value = self.position(value, [i for i in owner["checkItems"] if i is not item])
            elif field == "due":
                value = (
                    iso(parse_date(str(value)).timestamp())
                    if value not in (None, "", "null")
                    else None
                )
            if item[field] != value:
                old = item[field]
                item[field] = value
                self.save("checklist", owner)
                data = {
                    "card": self.ref("card", card),
                    "checklist": self.ref("checklist", owner),
                    "checkItem": {"id": item["id"], "name": item["name"], field: value},
                    "old": {field: old},
                }
                self.record("updateCheckItem", board, identity, data)
        return json_response(item)
