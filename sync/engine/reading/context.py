"""A run's context: the alliance's recorded remote ids, our identities, and the state view.

:func:`prepare` finds the recorded board, lists and channel (failing early if bootstrap is
due) and names the sides after the run's services (:class:`sync.engine.decide.SideNames`);
:func:`state_view` reads the state store once into plain data, its sides keyed by role (the
way in of the one translation between roles and stored names). Nothing here reads a service
but our identities, once per token.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from connectors.roles import BoardService, ChatService
from playbooks.model import STATUSES, ActionRow, Playbook
from sync.core.config import Config
from sync.core.errors import UserError
from sync.engine import pending
from sync.engine.decide import SideNames
from sync.engine.model import DECISION, Settings, StateView, SyncContext, inputs_digest
from sync.engine.reading.identity import IDENTITY, ME, board_identity, chat_identity
from sync.state.store import StateStore


def _resource(found: Mapping[tuple[str, str], str], service: str, kind: str, key: str) -> str:
    remote_id = found.get((kind, key))
    if remote_id is None:
        raise UserError(f"no {service} {kind} recorded for this alliance",
                        hint="run `mcm-sync bootstrap` first")
    return remote_id


def prepare(config: Config, book: Playbook, rows: Sequence[ActionRow], board: BoardService,
            chat: ChatService, store: StateStore, now: dt.datetime | None = None,
            inputs: str = "") -> SyncContext:
    """Resolve the recorded board, lists, channel and people; fail early if bootstrap is due.

    ``inputs``: the digest of config, playbook and rows when the caller keeps one (a worker
    computes it once per alliance); computed here otherwise.
    """
    names = SideNames(board=board.service_name, chat=chat.service_name)
    # Two queries for every id the run needs: a scheduled run repeats this every few seconds.
    board_ids = store.remote_ids(names.board, ("board", "list", ME, "member"))
    chat_ids = store.remote_ids(names.chat, ("channel", IDENTITY))
    board_id = _resource(board_ids, names.board, "board", "board")
    status_list: dict[str, str] = {status: _resource(board_ids, names.board, "list", status)
                                   for status in STATUSES}
    me_board = board_identity(board, store, {key: v for (kind, key), v in board_ids.items()
                                             if kind == ME})
    members = {remote_id: key for (kind, key), remote_id in board_ids.items()
               if kind == "member"}
    settings = Settings(
        config=config, book=book, rows=tuple(rows), board_id=board_id,
        actions_channel=_resource(chat_ids, names.chat, "channel", "actions"),
        list_status={v: k for k, v in status_list.items()}, status_list=status_list,
        member_emails=members, me_board=me_board,
        me_chat=chat_identity(chat, store, {key: v for (kind, key), v in chat_ids.items()
                                             if kind == IDENTITY}),
        names=names,
        now=now or dt.datetime.now(dt.UTC),
        inputs=inputs or inputs_digest(config, book, rows),
    )
    return SyncContext(settings=settings, board=board, chat=chat, store=store)


def due_for_full(store: StateStore, every: dt.timedelta, now: dt.datetime,
                 names: SideNames) -> bool:
    """True when the last full reconciliation is older than ``every`` (or never happened)."""
    last = store.get_bookmark(names.board, "full")
    if not last:
        return True
    return now - dt.datetime.fromisoformat(last) >= every


def state_view(store: StateStore, prefix: str, names: SideNames) -> StateView:
    """The state store's items, sides and bookkeeping as plain data (a handful of queries);
    the sides keyed by role (``board``, ``chat``, ``file``), as the engine speaks of them."""
    items = tuple(store.list_items())
    waiting: dict[str, set[str]] = {}
    for record in store.list_conflicts(unresolved=True):
        waiting.setdefault(record.item_id, set()).add(record.field)
    summary = store.audit_summary()
    return StateView(
        items=items,
        by_key={item.key: item for item in items},
        sides={(s.item_id, names.role(s.side)): s for s in store.all_sides()},
        waiting={k: frozenset(v) for k, v in waiting.items()},
        chat_users={r.remote_id: r.logical_key
                     for r in store.list_resources(names.chat, "user")},
        label_ids={r.logical_key: r.remote_id for r in store.list_resources(names.board, "label")},
        next_number=store.peek_item_number(prefix),
        audit_counts={item_id: n for item_id, (n, _) in summary.items()},
        first_actors={item_id: actor for item_id, (_, actor) in summary.items()},
        pending=_pending(store, names),
    )


def _pending(store: StateStore, names: SideNames) -> dict[str, dict[str, Any]]:
    """Item decisions a dead run journalled and never committed (the latest per item), their
    sides by role."""
    found: dict[str, dict[str, Any]] = {}
    for intent in store.open_intents("hub"):
        if intent.operation == DECISION and intent.item_id is not None:
            earlier = found.get(intent.item_id, {}).get("intent_ids", [])
            found[intent.item_id] = {**pending.in_roles(intent.detail, names),
                                     "intent_ids": [*earlier, intent.id]}
    return found
