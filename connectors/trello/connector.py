"""Trello connector: :class:`connectors.roles.BoardService` on py-trello's ``TrelloClient``.

py-trello's object model costs a call per object (``Board.all_cards()`` then one call per
checklist, ...), so every request goes through ``TrelloClient.fetch_json`` with ``fields=`` and
nested resources instead: a whole board is one call (:meth:`TrelloConnector.snapshot`).

The call path, error mapping and reads live in :mod:`connectors.trello.core`; wire formats
in :mod:`connectors.trello.wire`. This module holds the writes.

Which calls may be repeated: a ``PUT`` sets absolute values, so repeating it after a lost
answer is harmless; a ``POST`` creates, so after a lost answer (``outcome_unknown``) it is
repeated only if a ``recover`` lookup (card or board by the identity token in its
description, list or label by name, checklist by name, check item by position or name,
comment by text and author) finds nothing.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

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
from connectors.identity import token_in
from connectors.trello import wire
from connectors.trello.webhooks import TrelloWebhooks

# A lost comment is looked for among our own comments this recent (seconds before the first
# attempt): older identical texts are earlier, deliberate comments.
COMMENT_WINDOW = 120.0
# The member list seen by the last invitation on a board stands in for a fresh read this long.
INVITE_MEMBERS_TTL = 60.0
_UPDATE_KEYS = {
    "list_id": "idList",
    "name": "name",
    "desc": "desc",
    "closed": "closed",
    "due": "due",
    "due_complete": "dueComplete",
    "member_ids": "idMembers",
    "label_ids": "idLabels",
    "pos": "pos",
}


class TrelloConnector(TrelloWebhooks):
    """The engine's Trello (:class:`connectors.roles.BoardService`): boards, lists, labels, cards,
    checklists, comments, invitations; reads and the call path come from TrelloCore."""

    service_name = "trello"  # stored and reported under this name (connectors.roles)

    # ------------------------------------------------------------------ boards

    def create_board(self, name: str, desc: str, workspace_id: str = "") -> Board:
        """A new board without default lists or labels (one call).

        After a lost answer the board is looked up by the identity token in ``desc``; a
        description without a token gives nothing to look up, so such a create is then not
        repeated (the RetriableRemoteError reaches the caller).
        """
        token = token_in(desc)

        def find_board() -> Board | None:
            return next((b for b in self.find_boards() if token_in(b.desc) == token), None)

        return self._call(
            "POST",
            "/boards",
            wire.board,
            body={"name": name, "desc": desc, "defaultLists": False, "defaultLabels": False,
                  **({"idOrganization": workspace_id} if workspace_id else {})},
            recover=find_board if token else None,
        )

    def create_list(self, board_id: str, name: str, pos: str | float = "bottom") -> BoardList:
        """A new list on the board (one call); a lost answer: the newest open list of that name."""

        def recover() -> BoardList | None:
            lists = self._call(
                "GET",
                f"/boards/{board_id}/lists",
                lambda data: [wire.trello_list(x) for x in data],
                params={"filter": "open", "fields": "name,closed,pos"},
            )
            return _newest(x for x in lists if x.name == name)

        return self._call(
            "POST",
            "/lists",
            wire.trello_list,
            body={"name": name, "idBoard": board_id, "pos": pos},
            recover=recover,
        )

    def create_label(self, board_id: str, name: str, color: str | None) -> BoardLabel:
        """A new label on the board (one call); a lost answer: the newest label of that name."""

        def recover() -> BoardLabel | None:
            labels = self._call(
                "GET",
                f"/boards/{board_id}/labels",
                lambda data: [wire.label(x) for x in data],
                params={"fields": "name,color", "limit": 1000},
            )
            return _newest(x for x in labels if x.name == name and x.color == color)

        return self._call(
            "POST",
            "/labels",
            wire.label,
            body={"name": name, "color": color, "idBoard": board_id},
            recover=recover,
        )

    # ------------------------------------------------------------------ cards (write)

    def create_card(
        self,
        list_id: str,
        name: str,
        desc: str,
        *,
        due: dt.datetime | None = None,
        label_ids: Sequence[str] = (),
        member_ids: Sequence[str] = (),
        pos: str | float = "bottom",
    ) -> BoardCard:
        """A new card (one call).

        After a lost answer the card is looked up in its list by the identity token in
        ``desc`` (one call); without a token the create is not repeated.
        """
        body: dict[str, Any] = {"idList": list_id, "name": name, "desc": desc, "pos": pos}
        if due is not None:
            body["due"] = wire.format_due(due)
        if label_ids:
            body["idLabels"] = wire.id_list(label_ids)
        if member_ids:
            body["idMembers"] = wire.id_list(member_ids)
        token = token_in(desc)

        def find_card() -> BoardCard | None:
            cards = self._call(
                "GET",
                f"/lists/{list_id}/cards",
                lambda data: [wire.card(x) for x in data],
                params={"fields": wire.CARD_FIELDS},
            )
            return _newest(c for c in cards if token_in(c.desc) == token)

        return self._call(
            "POST", "/cards", wire.card, body=body, recover=find_card if token else None
        )

    def update_card(self, card_id: str, **changes: Any) -> BoardCard:
        """Set fields absolutely in one ``PUT``: list_id, name, desc, closed, due (datetime,
        date, ISO text or None to clear), due_complete, member_ids, label_ids (replace), pos.

        Safe to repeat, so a lost answer is simply retried. An unknown field is a TypeError.
        """
        unknown = set(changes) - set(_UPDATE_KEYS)
        if unknown:
            raise TypeError(f"update_card: unknown field(s) {', '.join(sorted(unknown))}")
        body: dict[str, Any] = {}
        for key, value in changes.items():
            if key == "due":
                value = wire.format_due(value)
            elif key in ("member_ids", "label_ids"):
                value = wire.id_list(value)
            elif key in ("closed", "due_complete"):
                value = bool(value)
            body[_UPDATE_KEYS[key]] = value
        return self._call("PUT", f"/cards/{card_id}", wire.card, body=body)

    # ------------------------------------------------------------------ checklists

    def create_checklist(self, card_id: str, name: str, items: Sequence[str]) -> Checklist:
        """A checklist with its items: one call for the checklist, one per item.

        A lost checklist answer: the newest checklist of that name on the card. A lost item
        answer: the item at that position if the checklist has grown to it (so repeated
        names in one checklist are safe).
        """

        def recover_checklist() -> Checklist | None:
            found = self._call(
                "GET",
                f"/cards/{card_id}/checklists",
                lambda data: [wire.checklist(x) for x in data],
                params={"fields": "name,idCard,pos"},
            )
            return _newest(c for c in found if c.name == name)

        made = self._call(
            "POST",
            "/checklists",
            wire.checklist,
            body={"idCard": card_id, "name": name},
            recover=recover_checklist,
        )
        added = list(made.items)  # a recovered checklist may already hold some items
        for index in range(len(added), len(items)):
            added.append(self._add_item(made.id, items[index], index=index))
        return Checklist(id=made.id, card_id=card_id, name=made.name, items=tuple(added))

    def add_checkitem(self, checklist_id: str, name: str) -> CheckItem:
        """Add one item at the bottom of a checklist (one call); a lost answer: the item of
        that name, if there is one."""
        return self._add_item(checklist_id, name, index=None)

    def _add_item(self, checklist_id: str, name: str, *, index: int | None) -> CheckItem:
        def recover() -> CheckItem | None:
            present = self._call(
                "GET",
                f"/checklists/{checklist_id}/checkItems",
                lambda data: sorted((wire.check_item(x) for x in data), key=lambda i: i.pos),
                params={"fields": "name,state,pos"},
            )
            if index is None:
                return _newest(i for i in present if i.name == name)
            if len(present) > index and present[index].name == name:
                return present[index]
            return None

        return self._call(
            "POST",
            f"/checklists/{checklist_id}/checkItems",
            wire.check_item,
            body={"name": name, "pos": "bottom"},
            recover=recover,
        )

    # ------------------------------------------------------------------ comments, people

    def add_comment(self, card_id: str, text: str) -> str:
        """Comment on a card (one call); returns the action id.

        A lost answer: our own comment with the same text made since shortly before the
        first attempt (``COMMENT_WINDOW``), found among the card's recent comments.
        """
        started = time.time()

        def recover() -> str | None:
            me = self._my_id()
            actions = self._call(
                "GET",
                f"/cards/{card_id}/actions",
                lambda data: [wire.action(x) for x in data],
                params={"filter": "commentCard", "limit": 50},
            )
            for found in actions:  # newest first
                if (
                    found.member_id == me
                    and found.data.get("text") == text
                    and wire.id_time(found.id) >= started - COMMENT_WINDOW
                ):
                    return found.id
            return None

        return self._call(
            "POST",
            f"/cards/{card_id}/actions/comments",
            lambda data: str(data["id"]),
            body={"text": text},
            recover=recover,
        )

    def card_comments(self, card_id: str) -> list[BoardAction]:
        """A card's comments, newest first (one call, Trello's limit of 1,000 actions)."""
        return self._call(
            "GET",
            f"/cards/{card_id}/actions",
            lambda data: [wire.action(x) for x in data],
            params={"filter": "commentCard", "limit": 1000},
        )

    def invite_member(self, board_id: str, email: str, full_name: str) -> BoardMember | None:
        """Invite someone to the board by e-mail; the member if it can be told apart.

        ``PUT /boards/{id}/members`` answers with the board's members. Trello reveals no
        e-mail of others, so the invitee is recognised by, in order: an ``email`` field in
        the answer (emulators send one), the one member that was not there before the call,
        or the one member with that full name. Otherwise None (the caller asks for a
        username). The members "before" come from a ``GET`` (so two calls), or from the
        answer of the previous invitation on the same board if it is recent (one call).
        The PUT is idempotent, so a lost answer is simply retried.
        """
        cached = self._board_members.get(board_id)
        if cached and time.monotonic() - cached[0] < INVITE_MEMBERS_TTL:
            before = cached[1]
        else:
            before = self._members_json(board_id)
        answer = self._call(
            "PUT",
            f"/boards/{board_id}/members",
            lambda data: data,
            body={"email": email, "fullName": full_name, "type": "normal"},
        )
        after = answer.get("members") if isinstance(answer, Mapping) else None
        if not isinstance(after, list):
            after = list(self._members_json(board_id))
        self._board_members[board_id] = (time.monotonic(), tuple(after))
        return _invitee(before, after, email, full_name)

    def _members_json(self, board_id: str) -> tuple[dict[str, Any], ...]:
        return self._call(
            "GET",
            f"/boards/{board_id}/members",
            lambda data: tuple(dict(m) for m in data),
            params={"fields": "username,fullName,confirmed"},
        )


# ---------------------------------------------------------------------- helpers


class _Identified(Protocol):
    @property
    def id(self) -> str: ...


_Shape = TypeVar("_Shape", bound=_Identified)


def _newest(candidates: Iterable[_Shape]) -> _Shape | None:
    """The most recently created of ``candidates`` (Trello ids start with their time)."""
    ordered = sorted(candidates, key=lambda obj: obj.id)
    return ordered[-1] if ordered else None


def _invitee(
    before: Sequence[Mapping[str, Any]],
    after: Sequence[Mapping[str, Any]],
    email: str,
    full_name: str,
) -> BoardMember | None:
    """The invited member among ``after`` (see :meth:`TrelloConnector.invite_member`)."""
    wanted = email.strip().lower()
    by_email = [m for m in after if str(m.get("email") or "").strip().lower() == wanted]
    if len(by_email) == 1:
        return wire.member(by_email[0])
    known = {str(m.get("id")) for m in before}
    new = [m for m in after if str(m.get("id")) not in known]
    if len(new) == 1:
        return wire.member(new[0])
    named = [m for m in (new or after) if str(m.get("fullName") or "") == full_name]
    if len(named) == 1:
        return wire.member(named[0])
    return None


if TYPE_CHECKING:  # the type checker holds that the connector is the board service it stands for
    from connectors.roles import BoardService

    _ROLE: type[BoardService] = TrelloConnector
