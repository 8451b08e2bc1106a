"""Trello handlers for labels and custom fields."""

from __future__ import annotations

from typing import Any

from werkzeug.wrappers import Request, Response

from connectors.sandbox.core.service import Identity, ServiceError, json_response
from connectors.sandbox.trello.model import (
    COLORS,
    ID_RE,
    SERVICE,
    TrelloModel,
    iso,
    parse_date,
    select_fields,
    truthy,
)

FIELD_TYPES = ("checkbox", "list", "number", "text", "date")


class FieldsMixin(TrelloModel):
    """Labels and custom fields."""

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
        label = self.new_label(board, identity, params.get("name"), params.get("color"))
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
        return json_response(self._set_item(card, field_id, self.params(request), identity))

    def handle_set_card_custom_fields(
        self, request: Request, identity: Identity, card_id: str
    ) -> Response:
        """PUT /1/cards/{id}/customFields: ``{"customFieldItems": [{"idCustomField", "value"
        | "idValue"}]}``, every item checked before any is written (one request, all or
        nothing). Trello documents no answer body; the sandbox answers the items set."""
        card = self.load("card", card_id)
        items = self.params(request).get("customFieldItems")
        if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
            raise ServiceError(400, "invalid value for customFieldItems")
        for item in items:  # validate first: nothing half-written
            field = self.load("customField", str(item.get("idCustomField") or ""))
            if field["idModel"] != card["idBoard"]:
                raise ServiceError(400, "invalid value for idCustomField")
            self._field_value(field, item)
        return json_response([self._set_item(card, str(i["idCustomField"]), i, identity)
                              for i in items])

    def _set_item(self, card: dict[str, Any], field_id: str, params: dict[str, Any],
                  identity: Identity) -> dict[str, Any]:
        """Set (or clear) one custom field's value on a card; the action is recorded."""
        field = self.load("customField", field_id)
        board = self.load("board", card["idBoard"])
        if field["idModel"] != board["id"]:
            raise ServiceError(400, "invalid value for idCustomField")
        self.join_on_write(board, identity)
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
        return answer

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

    def handle_card_check_item_states(
        self, request: Request, identity: Identity, card_id: str
    ) -> Response:
        """GET /1/cards/{id}/checkItemStates: the card's completed check items."""
        card = self.load("card", card_id)
        states = [{"idCheckItem": item["id"], "state": "complete"}
                  for checklist in self.store.list(SERVICE, "checklist", card["id"])
                  for item in checklist["checkItems"] if item["state"] == "complete"]
        return json_response([select_fields(s, request.args.get("fields")) for s in states])

    def handle_card_custom_field_items(
        self, request: Request, identity: Identity, card_id: str
    ) -> Response:
        """GET /1/cards/{id}/customFieldItems."""
        card = self.load("card", card_id)
        return json_response(self.store.list(SERVICE, "customFieldItem", card["id"]))
