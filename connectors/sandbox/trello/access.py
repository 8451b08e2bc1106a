"""Who may see and change a Trello board in the sandbox: membership, as Trello decides it.

A private board (the default) is visible to its members only; an org or public board can be
read by others, but only members change it; nobody joins by acting on a board (Trello answers
401 ``unauthorized permission requested``). Every board belongs to a workspace.
"""

from __future__ import annotations

import threading
from typing import Any

from connectors.sandbox.core.service import Identity, ServiceEmulator, ServiceError

SERVICE = "trello"
NO_ACCESS = "unauthorized permission requested"  # Trello's 401 for a board one may not see


class AccessMixin(ServiceEmulator):
    """The caller of the current request and the board access checks."""

    def new_id(self) -> str:
        """A fresh Trello id (``TrelloModel`` provides it)."""
        raise NotImplementedError

    def workspace_id(self) -> str:
        """The sandbox's one Trello workspace (organization), made on first use."""
        found = self.store.list(SERVICE, "organization")
        if found:
            return str(found[0]["id"])
        org = {"id": self.new_id(), "name": "sandboxworkspace", "displayName": "Sandbox workspace",
               "url": "https://trello.com/w/sandboxworkspace"}
        self.store.insert(SERVICE, "organization", org["id"], org)
        return str(org["id"])

    # -- who is asking (set per request by the emulator's dispatch) ------------------------

    _local = threading.local()

    def set_caller(self, person: dict[str, Any] | None, write: bool) -> None:
        """Remember the request's caller, for the board access checks of ``load``."""
        self._local.person = person
        self._local.write = write

    def caller(self) -> dict[str, Any] | None:
        """The person making the current request (None outside a request)."""
        return getattr(self._local, "person", None)

    def check_access(self, board: dict[str, Any]) -> None:
        """Trello's 401 for a caller who is not a member of a board it may not see or change.

        A private board (the default) is visible to its members only; an org or public board
        can be read by others, but only members change it. No silent join.
        """
        person = self.caller()
        if person is None:
            return
        if any(m["idMember"] == person["trello_id"] for m in board["memberships"]):
            return
        level = (board.get("prefs") or {}).get("permissionLevel", "private")
        if level == "private" or getattr(self._local, "write", True):
            raise ServiceError(401, NO_ACCESS)

    def join_on_write(self, board: dict[str, Any], identity: Identity) -> None:
        """Writing needs board membership: Trello answers 401 to anyone else (no silent join;
        a person is invited first, ``PUT /boards/{id}/members``)."""
        if not any(m["idMember"] == identity.person["trello_id"] for m in board["memberships"]):
            raise ServiceError(401, NO_ACCESS)

