"""Trello handlers for checklists and check items, labels and custom fields."""

from __future__ import annotations

from typing import Any

from werkzeug.wrappers import Request, Response

from connectors.sandbox.core import Identity, ServiceError, json_response
from connectors.sandbox.trello_model import (
    COLORS,
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

    # -- labels ---------------------------------------------------------------------------

    def handle_create_label(self, request: Request, identity: Identity) -> Response:
        """POST /1/labels (name, color, idBoard)."""
        params = self.params(request)
        if not ID_RE.match(str(params.get("idBoard") or "")):
            raise ServiceError(400, "invalid value for idBoard")
        return self._create_label(str(params["idBoard"]), params, identity)

    def handle_create_board_label(
        self, request: Request, identity: Identity, board_id: str
    ) -> Response:
        """POST /1/boards/{id}/labels (name, color)."""
        return self._create_label(board_id, self.params(request), identity)

    def _create_label(self, board_id: str, params: dict[str, Any], identity: Identity) -> Response:
        board = self.load("board", board_id)
        self.join_on_write(board, identity)
        label = self.new_label(board, identity, params.get("name"), params.get("color"))  # type: ignore[attr-defined]
        return json_response(label)

    def handle_board_labels(self, request: Request, identity: Identity, board_id: str) -> Response:
        """GET /1/boards/{id}/labels (limit)."""
        board = self.load_board(board_id)
        labels = self.store.list(SERVICE, "label", board["id"])
        try:
            limit = int(request.args.get("limit", 50))
        except ValueError:
            raise ServiceError(400, "invalid value for limit") from None
        return json_response([self.label_json(lab) for lab in labels[: max(0, limit)]])

    def handle_get_label(
        self, request: Request, identity: Identity, label_id: str, board_id: str | None = None
    ) -> Response:
        """GET /1/labels/{id} (and /1/boards/{id}/labels/{idLabel})."""
        return json_response(self.label_json(self.load("label", label_id)))

    def handle_update_label(self, request: Request, identity: Identity, label_id: str) -> Response:
        """PUT /1/labels/{id} (name, color)."""
        label = self.load("label", label_id)
        params = self.params(request)
        if "color" in params:
            color = params["color"]
            color = None if color in (None, "", "null", "none") else str(color)
            if color is not None and color not in COLORS:
                raise ServiceError(400, "invalid value for color")
            label["color"] = color
        if "name" in params:
            label["name"] = str(params["name"] or "")
        self.save("label", label)
        board = self.load("board", label["idBoard"])
        self.record("updateLabel", board, identity, {"label": dict(label)})
        return json_response(self.label_json(label))

    def handle_delete_label(self, request: Request, identity: Identity, label_id: str) -> Response:
        """DELETE /1/labels/{id}: removed from every card too."""
        label = self.load("label", label_id)
        for card in self.store.list(SERVICE, "card", label["idBoard"]):
            if label["id"] in card["idLabels"]:
                card["idLabels"].remove(label["id"])
                self.save("card", card)
        self.store.delete(SERVICE, "label", label["id"])
        return json_response({})

    # -- custom fields --------------------------------------------------------------------

    def handle_create_custom_field(self, request: Request, identity: Identity) -> Response:
        """POST /1/customFields (idModel, modelType=board, name, type, pos, options)."""
        params = self.params(request)
        kind = str(params.get("type") or "")
        if kind not in FIELD_TYPES:
            raise ServiceError(400, "invalid value for type")
        name = str(params.get("name") or "").strip()
        if not name:
            raise ServiceError(400, "invalid value for name")
        if str(params.get("modelType") or "board") != "board":
            raise ServiceError(400, "invalid value for modelType")
        board = self.load("board", str(params.get("idModel") or ""))
        self.join_on_write(board, identity)
        field_id = self.new_id()
        siblings = self.store.list(SERVICE, "customField", board["id"])
        field = {
            "id": field_id,
            "idModel": board["id"],
            "modelType": "board",
            "fieldGroup": field_id,
            "display": {"cardFront": truthy(params.get("display_cardFront", False))},
            "name": name,
            "pos": self.position(params.get("pos"), siblings),
            "type": kind,
            "isSuggestedField": False,
        }
        if kind == "list":
            field["options"] = [
                self._option(field_id, opt, index)
                for index, opt in enumerate(params.get("options") or [])
            ]
        self.store.insert(SERVICE, "customField", field_id, field, parent=board["id"])
        self.record(
            "createCustomField", board, identity, {"customField": {"id": field_id, "name": name}}
        )
        return json_response(field)

    def _option(self, field_id: str, option: Any, index: int) -> dict[str, Any]:
        if isinstance(option, dict):
            text = str((option.get("value") or {}).get("text") or option.get("text") or "")
            color = option.get("color") or "none"
        else:
            text, color = str(option), "none"
        return {
            "id": self.new_id(),
            "idCustomField": field_id,
            "value": {"text": text},
            "color": color,
            "pos": 16384.0 * (index + 1),
        }

    def handle_get_custom_field(
        self, request: Request, identity: Identity, field_id: str
    ) -> Response:
        """GET /1/customFields/{id}."""
        return json_response(self.load("customField", field_id))

    def handle_update_custom_field(
        self, request: Request, identity: Identity, field_id: str
    ) -> Response:
        """PUT /1/customFields/{id} (name, pos, display/cardFront)."""
        field = self.load("customField", field_id)
        params = self.params(request)
        if params.get("name"):
            field["name"] = str(params["name"])
        if "pos" in params:
            field["pos"] = self.position(params["pos"], [])
        for key in ("display/cardFront", "display_cardFront"):
            if key in params:
                field["display"]["cardFront"] = truthy(params[key])
        self.save("customField", field)
        return json_response(field)

    def handle_delete_custom_field(
        self, request: Request, identity: Identity, field_id: str
    ) -> Response:
        """DELETE /1/customFields/{id} (and its values on every card)."""
        field = self.load("customField", field_id)
        for card in self.store.list(SERVICE, "card", field["idModel"]):
            for item in self.store.list(SERVICE, "customFieldItem", card["id"]):
                if item["idCustomField"] == field["id"]:
                    self.store.delete(SERVICE, "customFieldItem", item["id"])
        self.store.delete(SERVICE, "customField", field["id"])
        return json_response({})

    def handle_custom_field_options(
        self, request: Request, identity: Identity, field_id: str
    ) -> Response:
        """GET/POST /1/customFields/{id}/options (list fields)."""
        field = self.load("customField", field_id)
        if field["type"] != "list":
            raise ServiceError(400, "custom field is not a list")
        if request.method == "POST":
            option = self._option(field["id"], self.params(request), len(field["options"]))
            field["options"].append(option)
            self.save("customField", field)
            return json_response(option)
        return json_response(field["options"])

    def handle_set_custom_field_item(
        self, request: Request, identity: Identity, card_id: str, field_id: str
    ) -> Response:
        """PUT /1/cards/{id}/customField/{idCustomField}/item ({"value":{type:..}} or idValue)."""
        card = self.load("card", card_id)
        field = self.load("customField", field_id)
        board = self.load("board", card["idBoard"])
        if field["idModel"] != board["id"]:
            raise ServiceError(400, "invalid value for idCustomField")
        self.join_on_write(board, identity)
        params = self.params(request)
        existing = next(
            (
                i
                for i in self.store.list(SERVICE, "customFieldItem", card["id"])
                if i["idCustomField"] == field["id"]
            ),
            None,
        )
        old = None if existing is None else existing.get("value", existing.get("idValue"))
        item: dict[str, Any] | None = self._field_value(field, params)
        if item is None:
            if existing is not None:
                self.store.delete(SERVICE, "customFieldItem", existing["id"])
            answer: dict[str, Any] = {
                "id": existing["id"] if existing else self.new_id(),
                "value": None,
            }
        else:
            item.update(
                id=existing["id"] if existing else self.new_id(),
                idCustomField=field["id"],
                idModel=card["id"],
                modelType="card",
            )
            self.store.upsert(SERVICE, "customFieldItem", item["id"], item, parent=card["id"])
            answer = item
        data = {
            "card": self.ref("card", card),
            "customField": {"id": field["id"], "name": field["name"], "type": field["type"]},
            "customFieldItem": answer,
            "old": {"value": old},
        }
        self.record("updateCustomFieldItem", board, identity, data)
        return json_response(answer)

    def _field_value(self, field: dict[str, Any], params: dict[str, Any]) -> dict[str, Any] | None:
        """The stored item for a request body, None to clear; 400 for a wrong value."""
        bad = ServiceError(400, "Invalid custom field item value.")
        if field["type"] == "list":
            option = params.get("idValue")
            if option in (None, ""):
                return None
            if option not in [o["id"] for o in field["options"]]:
                raise bad
            return {"idValue": option}
        value = params.get("value")
        if value in (None, "", {}):
            return None
        key = {"checkbox": "checked"}.get(field["type"], field["type"])
        if not isinstance(value, dict) or set(value) != {key}:
            raise bad
        raw = value[key]
        if not isinstance(raw, str):
            raise bad  # Trello wants strings, even for numbers and booleans
        if key == "number":
            try:
                float(raw)
            except ValueError:
                raise bad from None
        elif key == "checked" and raw not in ("true", "false"):
            raise bad
        elif key == "date":
            raw = iso(parse_date(raw).timestamp())
        return {"value": {key: raw}}

    def handle_card_custom_field_items(
        self, request: Request, identity: Identity, card_id: str
    ) -> Response:
        """GET /1/cards/{id}/customFieldItems."""
        card = self.load("card", card_id)
        return json_response(self.store.list(SERVICE, "customFieldItem", card["id"]))
