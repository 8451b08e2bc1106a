"""Trello handlers for members (``/members/me``, boards of a member) and board membership."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from werkzeug.wrappers import Request, Response

from connectors.sandbox.core.service import Identity, ServiceError, json_response
from connectors.sandbox.trello.model import ID_RE, SERVICE, TrelloModel, member_json, select_fields


class MembersMixin(TrelloModel):
    """Members and board membership."""

    # -- members --------------------------------------------------------------------------

    def _person_boards(self, person: dict[str, Any]) -> list[dict[str, Any]]:
        return [
            b
            for b in self.store.list(SERVICE, "board")
            if any(m["idMember"] == person["trello_id"] for m in b["memberships"])
        ]

    def handle_me(self, request: Request, identity: Identity) -> Response:
        """GET /1/members/me."""
        return self._member_answer(request, identity.person)

    def handle_member(self, request: Request, identity: Identity, member_id: str) -> Response:
        """GET /1/members/{id or username}."""
        return self._member_answer(request, self._person(member_id))

    def _person(self, member_ref: str) -> dict[str, Any]:
        person = (
            self.people.get_by_trello_id(member_ref)
            if ID_RE.match(member_ref)
            else self.people.get_by_trello_username(member_ref)
        )
        if person is None:
            raise ServiceError(404, "The requested resource was not found.")
        return person

    def _member_answer(self, request: Request, person: dict[str, Any]) -> Response:
        me = (self.caller() or {}).get("trello_id")
        out = member_json(person, with_email=person["trello_id"] == me)
        out.setdefault("email", None)  # one member's full object: the field, empty for others
        out["idBoards"] = [b["id"] for b in self._person_boards(person)]
        out["idOrganizations"] = [self.workspace_id()]
        return json_response(select_fields(out, request.args.get("fields")))

    def handle_my_boards(
        self, request: Request, identity: Identity, filter: str | None = None
    ) -> Response:
        """GET /1/members/me/boards[/{filter}] (filter=open|closed|all, fields=...)."""
        return self._boards_of(request, identity.person, filter)

    def handle_member_boards(
        self, request: Request, identity: Identity, member_id: str
    ) -> Response:
        """GET /1/members/{id}/boards."""
        return self._boards_of(request, self._person(member_id), None)

    if TYPE_CHECKING:  # BoardsMixin's, in the emulator that mixes both in
        def _board_out(self, board: dict[str, Any]) -> dict[str, Any]: ...

    def _boards_of(
        self, request: Request, person: dict[str, Any], path_filter: str | None
    ) -> Response:
        which = path_filter or request.args.get("filter", "all")
        boards = self._person_boards(person)
        if which == "open":
            boards = [b for b in boards if not b["closed"]]
        elif which == "closed":
            boards = [b for b in boards if b["closed"]]
        fields = request.args.get("fields")
        return json_response([select_fields(self._board_out(b), fields) for b in boards])

    # -- board members --------------------------------------------------------------------

    def handle_board_members(self, request: Request, identity: Identity, board_id: str) -> Response:
        """GET /1/boards/{id}/members (fields)."""
        board = self.load_board(board_id)
        fields = request.args.get("fields")
        return json_response([select_fields(m, fields) for m in self._members(board)])

    def handle_invite_board_member(
        self, request: Request, identity: Identity, board_id: str
    ) -> Response:
        """PUT /1/boards/{id}/members?email=&fullName=&type= : invite by e-mail.

        Someone without a Trello account becomes an unconfirmed placeholder member (confirmed
        once they sign up: here, once the sandbox issues them a token)."""
        params = self.params(request)
        email = str(params.get("email") or "").strip()
        if "@" not in email:
            raise ServiceError(400, "invalid value for email")
        board = self.load_board(board_id)
        self.join_on_write(board, identity)
        person = self.people.invite(email, params.get("fullName") or None)
        return self._add_board_member(board, identity, person, params.get("type") or "normal")

    def handle_put_board_member(
        self, request: Request, identity: Identity, board_id: str, member_id: str
    ) -> Response:
        """PUT /1/boards/{id}/members/{idMember} (type)."""
        board = self.load_board(board_id)
        person = self._person(member_id)
        return self._add_board_member(board, identity, person, self.params(request).get("type"))

    def _add_board_member(
        self, board: dict[str, Any], identity: Identity, person: dict[str, Any], kind: Any
    ) -> Response:
        member_type = str(kind or "normal")
        if member_type not in ("admin", "normal", "observer"):
            raise ServiceError(400, "invalid value for type")
        if self.ensure_board_member(board, person, member_type):
            self.save("board", board)
            self.record(
                "addMemberToBoard",
                board,
                identity,
                {"idMember": person["trello_id"]},
                member=person,
            )
        else:
            for membership in board["memberships"]:
                if membership["idMember"] == person["trello_id"]:
                    membership["memberType"] = member_type
            self.save("board", board)
        return json_response(
            {
                "id": board["id"],
                "members": self._members(board),
                "memberships": board["memberships"],
            }
        )

    def handle_remove_board_member(
        self, request: Request, identity: Identity, board_id: str, member_id: str
    ) -> Response:
        """DELETE /1/boards/{id}/members/{idMember}."""
        board = self.load_board(board_id)
        person = self._person(member_id)
        before = len(board["memberships"])
        board["memberships"] = [
            m for m in board["memberships"] if m["idMember"] != person["trello_id"]
        ]
        if len(board["memberships"]) != before:
            self.save("board", board)
            self.record(
                "removeMemberFromBoard",
                board,
                identity,
                {"idMember": person["trello_id"]},
                member=person,
            )
        return json_response(
            {
                "id": board["id"],
                "members": self._members(board),
                "memberships": board["memberships"],
            }
        )
