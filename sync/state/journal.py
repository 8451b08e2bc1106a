"""The one journal helper: every remote create or append is an intent on disk before the call.

``Journal(store, run_id).create(...)`` writes an open intent carrying the object's identity
token (committed at once), makes the call, and closes the intent ``done`` with the remote id,
or ``failed`` if the call raised. A run that died in between leaves an intent behind; the next
run sees it (:meth:`sync.state.store.StateStore.intents`) and looks the object up by its token
before making it again, so nothing is made twice (the mbsync/vdirsyncer discipline).

Every create site of the app goes through here: bootstrap, new items' cards, item messages,
meeting reminders, newsletter drafts, and erasures. The journal's rows themselves are written
and read by :class:`JournalMixin`, a part of the store (``StateStore`` is made of it).
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from sync.state.base import StoreBase, dumps, where
from sync.state.rows import INTENT_STATES, Intent

T = TypeVar("T")

# A write a killed run left in flight may still land: the service had the request, only the
# answer was lost. An append whose intent a dead run left open less than this many seconds
# ago waits until then before looking for it, so that the copy is adopted instead of made
# again. A landing later still (a service slower than this) is repaired where the reads can
# see it (sync.engine.read.repeated_notes: a second copy of a note is removed).
IN_FLIGHT_SECONDS = 10.0


def _wait_for_in_flight(opened_at: str) -> None:
    """Sleep until ``IN_FLIGHT_SECONDS`` after ``opened_at`` (never longer than that)."""
    try:
        opened = dt.datetime.fromisoformat(opened_at)
    except ValueError:
        return
    age = (dt.datetime.now(dt.UTC) - opened).total_seconds()
    time.sleep(min(IN_FLIGHT_SECONDS, max(0.0, IN_FLIGHT_SECONDS - age)))


def _no_remote_id(result: object) -> str | None:
    return None


def _refused(exc: BaseException) -> bool:
    """Whether ``exc`` says the call was refused before it could take effect: a 429 (or our
    own pacing's refusal) carries a ``retry_after`` and a known outcome."""
    return (getattr(exc, "retry_after", None) is not None
            and getattr(exc, "outcome_unknown", True) is False)


def _may_exist(earlier: list[Intent]) -> bool:
    """Whether an earlier attempt may have made the object: an intent left open, or one that
    failed in a way that can have taken effect (not a refusal)."""
    return any(intent.state == "open"
               or (intent.state != "done" and not intent.detail.get("refused"))
               for intent in earlier)


class Journal:
    """Journals each remote call of one run before it is made, and closes it after."""

    def __init__(self, store: JournalMixin, run_id: str) -> None:
        self.store = store
        self.run_id = run_id

    def create(self, service: str, operation: str, token: str, call: Callable[[], T],
               remote_id: Callable[[T], str | None] = _no_remote_id, *,
               item_id: str | None = None, detail: dict[str, Any] | None = None,
               on_failure: Callable[[], object] | None = None) -> T:
        """Open an intent for ``token``, run ``call``, close it with ``remote_id(result)``.

        ``on_failure`` runs after the intent is closed ``failed`` and before the error goes
        on (a caller that recorded a run closes it there).
        """
        intent = self.store.journal_open(self.run_id, service, operation, token,
                                         item_id=item_id, detail=detail)
        try:
            result = call()
        except BaseException as exc:
            # Closed "failed", not left open: the next run observes and adopts it by its
            # token if the call did take effect. A refusal (a 429) cannot have: marked so,
            # the next attempt makes it without first looking for it.
            self.store.journal_close(intent, "failed",
                                     detail={"refused": True} if _refused(exc) else None)
            if on_failure is not None:
                on_failure()
            raise
        self.store.journal_close(intent, "done", remote_id(result))
        return result

    def to_do(self, token: str) -> str:
        """What :meth:`append` would do for ``token`` now, asked before it is done (the
        real-time lane checks the service's pacing for those calls): ``"nothing"`` (made
        before), ``"look"`` (look for it, then make it if it is not found) or ``"make"``."""
        earlier = self.store.intents(identity_token=token)
        if any(intent.state == "done" for intent in earlier):
            return "nothing"
        return "look" if _may_exist(earlier) else "make"

    def append(self, service: str, operation: str, token: str, call: Callable[[], T],
               remote_id: Callable[[T], str | None] = _no_remote_id, *,
               item_id: str | None = None,
               find: Callable[[], T | None] | None = None) -> T | None:
        """Make an append (a note, a comment) at most once per ``token``; None if made before.

        A ``done`` intent for the token means an earlier run made it: nothing to do. An intent
        left open or failed (a crash, a lost answer) means it may exist: ``find`` looks for it
        first and it is adopted if found (an intent left open by a run that was killed is
        given :data:`IN_FLIGHT_SECONDS` from its opening to land first). Only then is the call
        made, journalled as ever; the dead run's open intents are then closed ``abandoned``.
        Intents closed ``failed`` by a refusal (a 429: nothing was made) are not looked for.
        """
        earlier = self.store.intents(identity_token=token)
        if any(intent.state == "done" for intent in earlier):
            return None
        left_open = [intent for intent in earlier if intent.state == "open"]
        if left_open and find is not None:
            _wait_for_in_flight(left_open[-1].created_at)
        found = find() if _may_exist(earlier) and find is not None else None
        if found is not None:
            intent = self.store.journal_open(self.run_id, service, operation, token,
                                             item_id=item_id, detail={"adopted": True})
            self.store.journal_close(intent, "done", remote_id(found))
        else:
            found = self.create(service, operation, token, call, remote_id, item_id=item_id)
        for earlier_intent in earlier:
            if earlier_intent.state == "open":  # a dead run's, settled now (adopted or anew)
                self.store.journal_close(earlier_intent.id, "abandoned")
        return found


class JournalMixin(StoreBase):
    """The journal's rows in the store (intents opened, closed, looked up); mixed into
    ``StateStore``."""

    def journal_open(
        self,
        run_id: str,
        service: str,
        operation: str,
        identity_token: str,
        *,
        item_id: str | None = None,
        detail: dict[str, Any] | None = None,
    ) -> int:
        """Write an intent before a remote call and commit it at once; returns its id.

        Refused inside :meth:`transaction`: the intent must be on disk before the call, not
        when an enclosing block happens to commit.
        """
        if self._depth:
            raise RuntimeError(
                "journal_open() inside a transaction: the intent must be "
                "committed before the remote call"
            )
        with self.transaction():
            row = self._conn.execute(
                "INSERT INTO journal (run_id, item_id, service, operation, identity_token,"
                " state, detail, created_at) VALUES (?, ?, ?, ?, ?, 'open', ?, ?) RETURNING id",
                (
                    run_id,
                    item_id,
                    service,
                    operation,
                    identity_token,
                    dumps(detail or {}, guard="journal detail"),
                    self._now(),
                ),
            ).fetchone()
        assert row is not None
        return int(row[0])

    def journal_close(
        self,
        intent_id: int,
        state: str,
        remote_id: str | None = None,
        *,
        detail: dict[str, Any] | None = None,
    ) -> Intent:
        """Close an open intent as done, failed or abandoned (with the remote id if known)."""
        if state not in INTENT_STATES - {"open"}:
            raise ValueError(f"cannot close an intent as {state!r}")
        with self.transaction():
            intent = self.get_intent(intent_id)
            if intent.state != "open":
                raise ValueError(f"intent {intent_id} is already {intent.state}")
            merged = {**intent.detail, **(detail or {})}
            self._conn.execute(
                "UPDATE journal SET state = ?, remote_id = COALESCE(?, remote_id), detail = ?,"
                " closed_at = ? WHERE id = ?",
                (state, remote_id, dumps(merged, guard="journal detail"), self._now(), intent_id),
            )
        return self.get_intent(intent_id)

    def get_intent(self, intent_id: int) -> Intent:
        """One journal entry (``KeyError`` if unknown)."""
        row = self._one("SELECT * FROM journal WHERE id = ?", (intent_id,))
        if row is None:
            raise KeyError(intent_id)
        return Intent.from_row(row)

    def open_intents(self, service: str | None = None) -> list[Intent]:
        """Intents left open by a run that died mid-call: resolve them by token first."""
        clause, values = where(state="open", service=service)
        rows = self._all(f"SELECT * FROM journal{clause} ORDER BY id", values)
        return [Intent.from_row(r) for r in rows]

    def claimed_remote_ids(
        self, service: str, operation: str, remote_ids: Sequence[str]
    ) -> set[str]:
        """Those of ``remote_ids`` that a closed ``done`` intent of ``operation`` made or adopted:
        an append found remotely by its text is adopted only if no other token owns it."""
        if not remote_ids:
            return set()
        marks = ", ".join("?" for _ in remote_ids)
        rows = self._all(
            "SELECT remote_id FROM journal WHERE state = 'done' AND service = ? AND"
            f" operation = ? AND remote_id IN ({marks})",
            (service, operation, *remote_ids),
        )
        return {str(r["remote_id"]) for r in rows}

    def intents(
        self, *, run_id: str | None = None, identity_token: str | None = None
    ) -> list[Intent]:
        """Journal entries of one run and/or one identity token, oldest first."""
        clause, values = where(run_id=run_id, identity_token=identity_token)
        rows = self._all(f"SELECT * FROM journal{clause} ORDER BY id", values)
        return [Intent.from_row(r) for r in rows]
