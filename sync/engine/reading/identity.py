"""Who our tokens are on the board and the chat service, recorded in the state store.

The bot's chat identity (Slack's ``auth.test``) is kept in the state store between processes
(:func:`chat_identity`): a token's identity never changes, so it is recorded once, under a
fingerprint of the token (:meth:`connectors.roles.ChatService.identity_key`, a one-way digest,
never the token). A new token finds no record and asks again (the records of earlier tokens
are dropped), and a run that fails on a remote call forgets it (:func:`forget_chat_identity`),
so a revoked or replaced token, or an app reinstalled elsewhere, is asked about afresh. No new
table: it is a resource row (<chat service>, ``identity``, <fingerprint>) whose remote id is
``"<user id> <bot id>"``. Our board member (Trello's ``GET /members/me``) is kept the same
way (:func:`board_identity`): a resource row (<board service>, ``me``, <fingerprint of the
board token>) whose remote id is the member's id; a store of before kept it under the key
``me`` whatever the token, and asks once more. The rows are under the service's own name
(``slack``, ``trello``: its ``service_name``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from connectors.roles import BoardService, ChatService
from sync.state.store import StateStore

IDENTITY = "identity"  # the resource kind of the bot's recorded chat identity
ME = "me"  # the resource kind of our recorded board member, keyed by the token's fingerprint


def chat_identity(chat: ChatService, store: StateStore,
                  recorded: Mapping[str, str] | None = None) -> tuple[str, str]:
    """(user id, bot id) of ``chat``'s token: from the store when recorded for this token,
    otherwise asked (``auth.test``) and recorded.

    ``recorded``: fingerprint -> remote id of the ``identity`` resources, when the caller has
    read them already (a scheduled run reads every id it needs in one query).
    """
    def ask() -> str:
        user, bot = chat.identity()
        return f"{user} {bot}"

    user, _, bot = _our_identity(store, chat.service_name, IDENTITY, chat.identity_key(), ask,
                                 recorded).partition(" ")
    return user, bot


def forget_chat_identity(store: StateStore, chat: ChatService) -> None:
    """Drop every recorded identity on ``chat``'s service: the next run asks again."""
    _forget_identity(store, chat.service_name, IDENTITY)


def board_identity(board: BoardService, store: StateStore,
                   recorded: Mapping[str, str] | None = None) -> str:
    """The member id of ``board``'s token: from the store when recorded for this token,
    otherwise asked (``GET /members/me``) and recorded, the records of other tokens dropped.

    ``recorded``: fingerprint -> member id of the ``me`` resources, when the caller has read
    them already.
    """
    def ask() -> str:
        member_id: str = board.me().id
        return member_id

    return _our_identity(store, board.service_name, ME, board.identity_key(), ask, recorded)


def forget_board_identity(store: StateStore, board: BoardService) -> None:
    """Drop every recorded board member of ours: the next run asks the board service again."""
    _forget_identity(store, board.service_name, ME)


def _our_identity(store: StateStore, service: str, kind: str, key: str,
                  ask: Callable[[], str], recorded: Mapping[str, str] | None) -> str:
    """Who our token is on ``service``: recorded under the token's fingerprint ``key``, else
    asked once and recorded, the records of other tokens dropped (a new token asks again)."""
    if recorded is None:
        found = store.get_resource(service, kind, key)
        known = found.remote_id if found else None
    else:
        known = recorded.get(key)
    if known is not None:
        return known
    answer = ask()
    with store.transaction():
        _forget_identity(store, service, kind)
        store.put_resource(service, kind, key, answer)
    return answer


def _forget_identity(store: StateStore, service: str, kind: str) -> None:
    with store.transaction():
        for old in store.list_resources(service, kind):
            store.delete_resource(service, kind, old.logical_key)
