"""Trello handlers for members, boards, lists, board members and board actions."""

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
    select_fields,
    short_link,
    slug,
    truthy,
)

LIST_FILTERS = ("open", "closed", "all", "none")
CARD_FILTERS = ("open", "closed", "all", "visible", "none")
DEFAULT_LISTS = ("To Do", "Doing", "Done")


class BoardsMixin(TrelloModel):
    """Members, boards, lists, board membership, board actions."""

    # -- boards ---------------------------------------------------------------------------

    def _board_out(self, board: dict[str, Any]) -> dict[str, Any]:
        return dict(board)

    def _organization(self, wanted: Any) -> str:
        """The workspace a new board goes to: the one named (it must exist) or the default."""
        default = self.workspace_id()
        if wanted and str(wanted) != default:
            raise ServiceError(400, "invalid value for idOrganization")
        return default

    def handle_create_board(self, request: Request, identity: Identity) -> Response:
        """POST /1/boards/ (name, desc, defaultLists, defaultLabels, idOrganization)."""
        params = self.params(request)
        name = str(params.get("name") or "").strip()
        if not name:
            raise ServiceError(400, "invalid value for name")
        board_id = self.new_id()
        link = short_link(board_id)
        permission = params.get("prefs_permissionLevel") or "private"
        board = {
            "id": board_id,
            "name": name,
            "desc": str(params.get("desc") or ""),
            "closed": False,
            # Every board belongs to a workspace (Trello puts it in the creator's default one).
            "idOrganization": self._organization(params.get("idOrganization")),
            "idMemberCreator": identity.person["trello_id"],
            "idEnterprise": None,
            "pinned": False,
            "url": f"https://trello.com/b/{link}/{slug(name)}",
            "shortUrl": f"https://trello.com/b/{link}",
            "shortLink": link,
            "prefs": {"permissionLevel": permission, "voting": "disabled", "comments": "members"},
            "labelNames": {c: "" for c in COLORS},
            "dateLastActivity": iso(self.now()),
            "memberships": [],
        }
        self.ensure_board_member(board, identity.person, "admin")
        self.store.insert(SERVICE, "board", board_id, board)
        self.record("createBoard", board, identity, {})
        if truthy(params.get("defaultLabels", True)):
            for color in ("green", "yellow", "orange", "red", "purple", "blue"):
                label = {"id": self.new_id(), "idBoard": board_id, "name": "", "color": color}
                self.store.insert(SERVICE, "label", label["id"], label, parent=board_id)
        if truthy(params.get("defaultLists", True)):
            for index, list_name in enumerate(DEFAULT_LISTS):
                self._new_list(board, identity, list_name, 16384.0 * (index + 1))
        return json_response(self._board_out(board))

    def handle_get_board(self, request: Request, identity: Identity, board_id: str) -> Response:
        """GET /1/boards/{id} with nested lists/cards/labels/checklists/customFields/members."""
        board = self.load_board(board_id)
        args = request.args
        out = select_fields(self._board_out(board), args.get("fields"))
        if args.get("lists", "none") != "none":
            lists = self._lists(board["id"], args.get("lists", "open"))
            out["lists"] = [select_fields(lst, args.get("list_fields")) for lst in lists]
        if args.get("cards", "none") != "none":
            cards = self._cards(board["id"], args.get("cards", "open"))
            custom = truthy(args.get("card_customFieldItems", False))
            out["cards"] = [
                select_fields(self.card_json(c, custom_items=custom), args.get("card_fields"))
                for c in cards
            ]
        if args.get("labels", "none") != "none":
            out["labels"] = [
                self.label_json(lab) for lab in self.store.list(SERVICE, "label", board["id"])
            ]
        if args.get("checklists", "none") != "none":
            out["checklists"] = self._board_checklists(board["id"])
        if truthy(args.get("customFields", False)):
            out["customFields"] = self.store.list(SERVICE, "customField", board["id"])
        if args.get("members", "none") != "none":
            out["members"] = self._members(board)
        return json_response(out)

    def handle_update_board(self, request: Request, identity: Identity, board_id: str) -> Response:
        """PUT /1/boards/{id} (name, desc, closed)."""
        board = self.load_board(board_id)
        self._change_board(board, identity, self.params(request))
        return json_response(self._board_out(board))

    def handle_update_board_field(
        self, request: Request, identity: Identity, board_id: str, field: str
    ) -> Response:
        """PUT /1/boards/{id}/{name|desc|closed} with ``value``."""
        board = self.load_board(board_id)
        self._change_board(board, identity, {field: self.params(request).get("value")})
        return json_response(self._board_out(board))

    def _change_board(
        self, board: dict[str, Any], identity: Identity, params: dict[str, Any]
    ) -> None:
        self.join_on_write(board, identity)
        for field in ("name", "desc", "closed"):
            if field not in params:
                continue
            value = truthy(params[field]) if field == "closed" else str(params[field] or "")
            if field == "name" and not value:
                raise ServiceError(400, "invalid value for name")
            if board[field] != value:
                old = board[field]
                board[field] = value
                self.touch(board)
                self.save("board", board)
                self.record(
                    "updateBoard",
                    board,
                    identity,
                    {"old": {field: old}, "board_change": {field: value}},
                )

    def handle_delete_board(self, request: Request, identity: Identity, board_id: str) -> Response:
        """DELETE /1/boards/{id}: the board and everything on it."""
        board = self.load_board(board_id)
        for kind in ("list", "card", "label", "customField", "action"):
            for obj in self.store.list(SERVICE, kind, board["id"]):
                self.store.delete(SERVICE, kind, obj["id"])
        self.store.delete(SERVICE, "board", board["id"])
        return json_response({"_value": None})

    def handle_board_last_activity(
        self, request: Request, identity: Identity, board_id: str
    ) -> Response:
        """GET /1/boards/{id}/dateLastActivity."""
        return json_response({"_value": self.load_board(board_id)["dateLastActivity"]})

    # -- lists ----------------------------------------------------------------------------

    def _lists(self, board_id: str, which: str) -> list[dict[str, Any]]:
        if which not in LIST_FILTERS:
            raise ServiceError(400, "invalid value for filter")
        lists = sorted(self.store.list(SERVICE, "list", board_id), key=lambda lst: lst["pos"])
        if which == "open":
            return [lst for lst in lists if not lst["closed"]]
        if which == "closed":
            return [lst for lst in lists if lst["closed"]]
        return [] if which == "none" else lists

    def _new_list(
        self, board: dict[str, Any], identity: Identity, name: str, pos: Any
    ) -> dict[str, Any]:
        siblings = self.store.list(SERVICE, "list", board["id"])
        lst = {
            "id": self.new_id(),
            "name": name,
            "closed": False,
            "pos": self.position(pos, siblings),
            "idBoard": board["id"],
            "subscribed": False,
        }
        self.store.insert(SERVICE, "list", lst["id"], lst, parent=board["id"])
        self.record("createList", board, identity, {"list": self.ref("list", lst)})
        return lst

    def handle_board_lists(self, request: Request, identity: Identity, board_id: str) -> Response:
        """GET /1/boards/{id}/lists (filter, cards, fields)."""
        board = self.load_board(board_id)
        lists = self._lists(board["id"], request.args.get("filter", "open"))
        fields = request.args.get("fields")
        out = [select_fields(lst, fields) for lst in lists]
        cards_filter = request.args.get("cards", "none")
        if cards_filter != "none":
            cards = self._cards(board["id"], cards_filter)
            for item in out:
                item["cards"] = [self.card_json(c) for c in cards if c["idList"] == item["id"]]
        return json_response(out)

    def handle_create_board_list(
        self, request: Request, identity: Identity, board_id: str
    ) -> Response:
        """POST /1/boards/{id}/lists (name, pos)."""
        params = self.params(request)
        params["idBoard"] = board_id
        return self._create_list(params, identity)

    def handle_create_list(self, request: Request, identity: Identity) -> Response:
        """POST /1/lists (name, idBoard, pos)."""
        return self._create_list(self.params(request), identity)

    def _create_list(self, params: dict[str, Any], identity: Identity) -> Response:
        name = str(params.get("name") or "").strip()
        if not name:
            raise ServiceError(400, "invalid value for name")
        if not ID_RE.match(str(params.get("idBoard") or "")):
            raise ServiceError(400, "invalid value for idBoard")
        board = self.load_board(str(params["idBoard"]))
        self.join_on_write(board, identity)
        return json_response(self._new_list(board, identity, name, params.get("pos")))

    def handle_get_list(self, request: Request, identity: Identity, list_id: str) -> Response:
        """GET /1/lists/{id}."""
        return json_response(select_fields(self.load("list", list_id), request.args.get("fields")))

    def handle_update_list(self, request: Request, identity: Identity, list_id: str) -> Response:
        """PUT /1/lists/{id} (name, closed, pos)."""
        return self._change_list(self.load("list", list_id), identity, self.params(request))

    def handle_update_list_field(
        self, request: Request, identity: Identity, list_id: str, field: str
    ) -> Response:
        """PUT /1/lists/{id}/{name|closed|pos} with ``value``."""
        lst = self.load("list", list_id)
        return self._change_list(lst, identity, {field: self.params(request).get("value")})

    def _change_list(
        self, lst: dict[str, Any], identity: Identity, params: dict[str, Any]
    ) -> Response:
        board = self.load("board", lst["idBoard"])
        self.join_on_write(board, identity)
        for field in ("name", "closed", "pos"):
            if field not in params:
                continue
            if field == "closed":
                value: Any = truthy(params[field])
            elif field == "pos":
                others = [
                    x for x in self.store.list(SERVICE, "list", board["id"]) if x["id"] != lst["id"]
                ]
                value = self.position(params[field], others)
            else:
                value = str(params[field] or "").strip()
                if not value:
                    raise ServiceError(400, "invalid value for name")
            if lst[field] == value:
                continue
            old = lst[field]
            lst[field] = value
            self.save("list", lst)
            self.record(
                "updateList",
                board,
                identity,
                {"list": {**self.ref("list", lst), field: value}, "old": {field: old}},
            )
        return json_response(lst)

    def handle_list_cards(self, request: Request, identity: Identity, list_id: str) -> Response:
        """GET /1/lists/{id}/cards (filter, customFieldItems)."""
        lst = self.load("list", list_id)
        cards = [c for c in self._cards(lst["idBoard"], request.args.get("filter", "open"))]
        custom = truthy(request.args.get("customFieldItems", False))
        return json_response(
            [self.card_json(c, custom_items=custom) for c in cards if c["idList"] == lst["id"]]
        )

    # -- cards as seen from the board ------------------------------------------------------

    def _cards(self, board_id: str, which: str) -> list[dict[str, Any]]:
        if which not in CARD_FILTERS:
            raise ServiceError(400, "invalid value for filter")
        lists = {lst["id"]: lst for lst in self.store.list(SERVICE, "list", board_id)}
        cards = self.store.list(SERVICE, "card", board_id)
        cards.sort(key=lambda c: (lists.get(c["idList"], {}).get("pos", 0), c["pos"]))
        if which in ("open", "visible"):
            return [c for c in cards if not c["closed"] and not lists[c["idList"]]["closed"]]
        if which == "closed":
            return [c for c in cards if c["closed"]]
        return [] if which == "none" else cards

    def handle_board_cards(
        self, request: Request, identity: Identity, board_id: str, filter: str | None = None
    ) -> Response:
        """GET /1/boards/{id}/cards[/{filter}] (filter, fields, customFieldItems)."""
        board = self.load_board(board_id)
        cards = self._cards(board["id"], filter or request.args.get("filter", "visible"))
        custom = truthy(request.args.get("customFieldItems", False))
        fields = request.args.get("fields")
        return json_response(
            [select_fields(self.card_json(c, custom_items=custom), fields) for c in cards]
        )

    def handle_board_card(
        self, request: Request, identity: Identity, board_id: str, card_id: str
    ) -> Response:
        """GET /1/boards/{id}/cards/{idCard}."""
        board = self.load_board(board_id)
        card = self.load("card", card_id)
        if card["idBoard"] != board["id"]:
            raise ServiceError(404, "Could not find the card")
        return json_response(self.card_json(card))

    def _board_checklists(self, board_id: str) -> list[dict[str, Any]]:
        return [
            self.checklist_json(cl)
            for card in self.store.list(SERVICE, "card", board_id)
            for cl in self.store.list(SERVICE, "checklist", card["id"])
        ]

    def handle_board_checklists(
        self, request: Request, identity: Identity, board_id: str
    ) -> Response:
        """GET /1/boards/{id}/checklists."""
        return json_response(self._board_checklists(self.load_board(board_id)["id"]))

    def handle_board_custom_fields(
        self, request: Request, identity: Identity, board_id: str
    ) -> Response:
        """GET /1/boards/{id}/customFields."""
        board = self.load_board(board_id)
        return json_response(self.store.list(SERVICE, "customField", board["id"]))

    # -- actions ---

    def handle_board_actions(self, request: Request, identity: Identity, board_id: str) -> Response:
        """GET /1/boards/{id}/actions (since, before, filter, limit <= 1000, page)."""
        board = self.load_board(board_id)
        actions = self.store.list(SERVICE, "action", board["id"])
        return json_response(self.filter_actions(actions, request.args, default_filter="all"))
