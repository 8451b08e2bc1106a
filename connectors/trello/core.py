"""The Trello connector's core: the one call path and the reads.

Every request goes through :meth:`TrelloCore._call`, which paces it
(:class:`connectors.pacing.TrelloPacer`), counts it (``calls``), runs it under the shared
retry policy (:mod:`connectors.retry`) and maps failures into :mod:`connectors.errors`
(:func:`connectors.trello.wire.error_for_trello`): 401 -> AuthError naming the settings,
404 -> NotFoundError, 429 / 5xx / dropped connections -> RetriableRemoteError, other 4xx ->
FatalRemoteError with Trello's plain-text reason. No message carries the key, the token or
a URL with its query string.

A ``PUT`` sets absolute values, so repeating it after a lost answer is harmless; a ``POST``
creates, so after a lost answer (``outcome_unknown``) it is repeated only when its
``recover`` lookup finds nothing (see :mod:`connectors.trello.connector`).

Reads use ``TrelloClient.fetch_json`` with ``fields=`` and nested resources rather than
py-trello's object model, which costs a call per object: a whole board is one call.
"""

from __future__ import annotations

import contextlib
import hashlib
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

import requests
from trello import TrelloClient
from trello.exceptions import ResourceUnavailable

from connectors.base import Board, BoardAction, BoardCard, BoardMember, BoardSnapshot
from connectors.errors import RetriableRemoteError
from connectors.masking import remember_secret
from connectors.pacing import TrelloPacer
from connectors.retry import (
    DEFAULT_POLICY,
    Retrier,
    RetryPolicy,
    error_for_connection,
    error_for_status,
    refuse_if_held,
)
from connectors.trello import wire

SERVICE = wire.SERVICE
ACTIONS_PAGE = 1000  # Trello's maximum ``limit`` for board actions
BATCH_SIZE = 10  # Trello's maximum number of routes in one ``/batch``

T = TypeVar("T")


# The operations whose requests go to Trello's stricter ``/1/members/`` routes.
_MEMBERS_PATHS = {"me": "/members/me", "find_boards": "/members/me/boards"}


class TrelloCore:
    """Construction, the one call path, and the reads of :class:`TrelloConnector`."""

    def __init__(
        self,
        api_key: str,
        token: str,
        *,
        base_url: str | None = None,
        policy: RetryPolicy | None = None,
        pacer: TrelloPacer | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        # Key/token mode (api_secret=token): py-trello sends ?key=&token=; passing token=
        # would switch it to OAuth1 signing with the app secret, which we do not have.
        self._client = TrelloClient(
            api_key=api_key, api_secret=token, http_service=wire.TrelloSession(base_url)
        )
        self._secrets = (api_key, token)
        remember_secret(api_key, token)  # masked in every log line and error from now on
        self._retrier = Retrier(SERVICE, policy or DEFAULT_POLICY, sleep=sleep)
        self._pacer = pacer or TrelloPacer(sleep=sleep)
        self._me: BoardMember | None = None
        self._board_members: dict[str, tuple[float, tuple[dict[str, Any], ...]]] = {}
        self.calls = 0
        self.actions_page = ACTIONS_PAGE  # actions per page; tests lower it to exercise paging

    # ------------------------------------------------------------------ the one call path

    def _call(
        self,
        method: str,
        path: str,
        parse: Callable[[Any], T],
        *,
        params: Mapping[str, Any] | None = None,
        body: Mapping[str, Any] | None = None,
        recover: Callable[[], T | None] | None = None,
    ) -> T:
        """One request (paced, counted, retried, errors mapped), its answer through ``parse``.

        ``parse`` runs inside the retry loop, so it may raise RetriableRemoteError (a batch
        with a 5xx part). ``recover`` returns what a lost create made, or None.
        """
        write = method == "POST"  # creates; PUT and DELETE set absolute values
        operation = f"{method} {path.split('?', 1)[0]}"
        for secret in self._secrets:  # /tokens/{token}: never in an operation name or error
            if secret:
                operation = operation.replace(secret, "{token}")

        def once() -> T:
            # Asked not to wait (connectors.retry.without_waiting), a request the pacing
            # would hold back is refused here, unsent, with how long until it could go.
            refuse_if_held(SERVICE, operation, lambda: self._pacer.ready_in(path))
            self._pacer.acquire(path)
            self.calls += 1
            try:
                answer = self._client.fetch_json(
                    path,
                    http_method=method,
                    # fetch_json adds key and token to the dict it is given: a fresh copy
                    # per attempt keeps them out of ours.
                    query_params=dict(params or {}),
                    post_args=dict(body) if body is not None else None,
                )
            except ResourceUnavailable as exc:  # Unauthorized is a subclass
                self._pacer.observe(self._client.http_service.rate_limits)
                raise wire.error_for_trello(
                    exc, operation, write=write, secrets=self._secrets
                ) from None
            except requests.exceptions.JSONDecodeError:
                # A 200 whose body was cut off: the write may well have happened.
                raise RetriableRemoteError(
                    SERVICE, f"{operation}: the answer was not valid JSON", outcome_unknown=write
                ) from None
            except (requests.RequestException, OSError) as exc:
                raise error_for_connection(
                    SERVICE, _Sanitized(exc, self._secrets), write=write
                ) from None
            # Trello's quota as this answer states it paces the calls that follow.
            self._pacer.observe(self._client.http_service.rate_limits)
            return parse(answer)

        return self._retrier.call(once, operation=operation, recover=recover if write else None)

    def ready_in(self, method: str) -> float:
        """How long until one call of ``method`` (an operation of the board interface:
        ``add_comment``) could go under our pacing, a 429's hold included; books nothing and
        calls nothing (0.0: at once)."""
        return self._pacer.ready_in(_MEMBERS_PATHS.get(method, ""))

    # ------------------------------------------------------------------ member, boards

    def me(self) -> BoardMember:
        """The member whose token we use (``GET /members/me``, one call)."""
        self._me = self._call(
            "GET", "/members/me", wire.member, params={"fields": "username,fullName"}
        )
        return self._me

    def identity_key(self) -> str:
        """A fingerprint of our token: the first 16 hex digits of a SHA-256 of it (one-way, so
        it may be kept where the token may not; enough to tell a changed token)."""
        digest = hashlib.sha256(b"mcm-sync trello identity\0" + self._secrets[1].encode())
        return digest.hexdigest()[:16]

    def token_info(self) -> dict[str, Any]:
        """Our token's own record: ``permissions`` (per model type, read/write) and
        ``dateExpires`` (None: never). ``GET /tokens/{token}``; errors never show the token."""
        token = self._secrets[1]
        return self._call("GET", f"/tokens/{token}", lambda data: dict(data),
                          params={"fields": "identifier,dateCreated,dateExpires,permissions"})

    def rate_limit_headroom(self) -> dict[str, tuple[int, int]]:
        """``{"token"|"key": (remaining, max)}`` from the last answer's ``x-rate-limit-*``
        headers (empty when Trello sent none)."""
        headers = self._client.http_service.rate_limits
        found = {}
        for name in ("token", "key"):
            remaining = headers.get(f"x-rate-limit-api-{name}-remaining")
            most = headers.get(f"x-rate-limit-api-{name}-max")
            if remaining is not None and most is not None:
                with contextlib.suppress(ValueError):
                    found[name] = (int(remaining), int(most))
        return found

    def _my_id(self) -> str:
        return (self._me or self.me()).id

    def find_boards(self) -> list[Board]:
        """Open boards of the token's member, with descriptions (one call)."""
        return self._call(
            "GET",
            "/members/me/boards",
            lambda data: [wire.board(b) for b in data],
            params={"filter": "open", "fields": "name,desc,url,closed"},
        )

    def snapshot(self, board_id: str, *, include_closed_cards: bool = True) -> BoardSnapshot:
        """The board with lists, labels, cards, checklists and members, in one call."""
        params = {
            "fields": "name,desc,url,closed",
            "lists": "all",
            "list_fields": "name,closed,pos",
            "labels": "all",
            "label_fields": "name,color",
            "labels_limit": 1000,
            "cards": "all" if include_closed_cards else "open",
            "card_fields": wire.CARD_FIELDS,
            "checklists": "all",
            "checklist_fields": "name,idCard,pos",
            "members": "all",
            "member_fields": "username,fullName,confirmed",
        }

        def parse(data: Mapping[str, Any]) -> BoardSnapshot:
            return BoardSnapshot(
                board=wire.board(data),
                lists=tuple(wire.trello_list(x) for x in data.get("lists") or ()),
                labels=tuple(wire.label(x) for x in data.get("labels") or ()),
                cards=tuple(wire.card(x) for x in data.get("cards") or ()),
                checklists=tuple(wire.checklist(x) for x in data.get("checklists") or ()),
                members=tuple(wire.member(x) for x in data.get("members") or ()),
            )

        return self._call("GET", f"/boards/{board_id}", parse, params=params)

    # ------------------------------------------------------------------ cards (read)

    def cards(self, card_ids: Sequence[str]) -> list[BoardCard]:
        """The current state of these cards (``/batch``, ten per call); missing ones left out.

        Each batch part answers ``{"<status>": body}``. A 404/400 part is a deleted card (left
        out); a 429/5xx part makes the whole batch retriable; any other refusal is raised.
        """
        found: list[BoardCard] = []
        unique = list(dict.fromkeys(card_ids))
        for start in range(0, len(unique), BATCH_SIZE):
            chunk = unique[start : start + BATCH_SIZE]
            # No ``?fields=`` inside: ``urls`` is itself a comma list.
            urls = ",".join(f"/cards/{card_id}" for card_id in chunk)
            found.extend(self._call("GET", "/batch", self._batch_cards, params={"urls": urls}))
        return found

    def _batch_cards(self, parts: Any) -> list[BoardCard]:
        result: list[BoardCard] = []
        for part in parts or ():
            if not isinstance(part, Mapping) or not part:
                continue
            status_text, body = next(iter(part.items()))
            status = int(status_text) if str(status_text).isdigit() else 0
            if status == 200 and isinstance(body, Mapping):
                result.append(wire.card(body))
            elif status in (400, 404, 410):
                continue
            else:
                message = body if isinstance(body, str) else str(body)
                raise error_for_status(
                    SERVICE, status or 500, f"GET /batch part: {wire.clean(message, ())}"
                )
        return result

    # ------------------------------------------------------------------ board actions

    def board_actions(
        self, board_id: str, *, since: str | None = None, types: Sequence[str] = ()
    ) -> list[BoardAction]:
        """Board actions after ``since`` (an action id), oldest first, all pages.

        Trello lists newest first, at most 1000 per call; older pages are read with
        ``before=<oldest id so far>``. So a sync with nothing new costs one call.
        """
        params: dict[str, Any] = {
            "limit": self.actions_page,
            "memberCreator": "true",
            "memberCreator_fields": "fullName,username",
        }
        if since:
            params["since"] = since
        if types:
            params["filter"] = ",".join(types)
        newest_first: list[dict[str, Any]] = []
        before: str | None = None
        while True:
            page_params = {**params, "before": before} if before else params
            page = self._call(
                "GET",
                f"/boards/{board_id}/actions",
                lambda data: [dict(x) for x in data],
                params=page_params,
            )
            newest_first.extend(page)
            if len(page) < self.actions_page or page[-1]["id"] == before:
                break
            before = str(page[-1]["id"])
        seen: set[str] = {since} if since else set()
        result: list[BoardAction] = []
        for raw in reversed(newest_first):
            if raw["id"] not in seen:
                seen.add(raw["id"])
                result.append(wire.action(raw))
        return result


class _Sanitized(Exception):
    """A connection failure's text without secrets, keeping its cause chain for
    :func:`connectors.retry.error_for_connection` (which tells "never sent" apart)."""

    def __init__(self, exc: BaseException, secrets: tuple[str, ...]) -> None:
        super().__init__(wire.clean(str(exc), secrets) or type(exc).__name__)
        self.__cause__ = exc
