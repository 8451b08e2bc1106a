"""``mcm-sync forget EMAIL``: the right to erasure (GDPR article 17).

Erasing a person means: the Mailchimp member is deleted *permanently* (``delete-permanent``,
not the archive that a later PUT would undo); the person's row leaves the state store; every
stakeholder export file mcm-sync wrote loses their row; and what remains is a tombstone and an
audit line holding only a salted hash of the address and the date. The tombstone keeps the
address out of later imports and pushes.

Order matters: the remote erasure comes first, behind a journal intent (which holds the hash,
never the address). If Mailchimp cannot be reached, nothing local is removed and the command
can be repeated; a member Mailchimp no longer knows counts as erased.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path

from connectors.base import MailchimpAPI
from sync.audience.store import StakeholderStore
from sync.core import csv_cells
from sync.core.errors import NotFoundError, UserError
from sync.state.journal import Journal
from sync.state.store import StateStore

AUDIT_FIELD = "stakeholder.erased"


@dataclass
class ForgetPlan:
    """What erasing one address involves (shown by ``--dry-run`` and before confirming)."""

    email: str
    digest: str
    in_store: bool
    organisation: str
    already_erased: bool
    exports: list[str] = field(default_factory=list)

    @property
    def nothing_to_do(self) -> bool:
        """Already erased and nowhere to be found: a repeat makes no call at all."""
        return self.already_erased and not self.in_store and not self.exports


@dataclass
class ForgetResult:
    """What erasing did."""

    plan: ForgetPlan
    remote: str  # erased, not-found, skipped
    erased_at: str
    exports_cleaned: list[str]


def _rows_without(text: str, email: str) -> tuple[str, int]:
    """A CSV export's text without the rows of ``email``, and how many rows went."""
    rows = list(csv.reader(io.StringIO(text)))
    if not rows or "email" not in rows[0]:
        return text, 0
    column = rows[0].index("email")
    keep = [rows[0]] + [
        r for r in rows[1:] if len(r) <= column or r[column].strip().lower() != email
    ]
    buffer = io.StringIO()
    csv_cells.writer(buffer, lineterminator="\n").writerows(keep)
    return buffer.getvalue(), len(rows) - len(keep)


def _exports_holding(people: StakeholderStore, email: str) -> list[str]:
    found = []
    for path, _kind in people.exports():
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError:
            continue  # moved or deleted by the user: nothing of ours to clean
        if _rows_without(text, email)[1]:
            found.append(path)
    return found


def plan_forget(store: StateStore, email: str) -> ForgetPlan:
    """Look up what erasing ``email`` would touch (no writes, no remote calls)."""
    key = email.strip().lower()
    if "@" not in key:
        raise UserError(f"{email!r} is not an e-mail address", hint="forget takes an address")
    people = StakeholderStore(store)
    record = people.get(key)
    return ForgetPlan(
        email=key,
        digest=people.erasure_hash(key),
        in_store=record is not None,
        organisation=record.person.organisation if record else "",
        already_erased=people.is_erased(key),
        exports=_exports_holding(people, key),
    )


def forget(
    store: StateStore,
    plan: ForgetPlan,
    mailchimp: MailchimpAPI | None,
    audience_id: str,
    *,
    actor: str = "",
) -> ForgetResult:
    """Erase the person of ``plan`` everywhere (see the module docstring)."""
    people = StakeholderStore(store)
    remote = "skipped"
    if plan.nothing_to_do:
        return ForgetResult(plan, remote, "", [])
    if mailchimp is not None and audience_id and not plan.already_erased:
        run = store.start_run("forget")

        def erase() -> str:
            try:
                mailchimp.delete_permanent(audience_id, plan.email)
            except NotFoundError:
                return "not-found"  # never pushed, or erased by an earlier, interrupted run
            return "erased"

        remote = Journal(store, run.id).create(
            "mailchimp", "delete_permanent", plan.digest[:16], erase,
            detail={"hash": plan.digest},
            on_failure=lambda: store.finish_run(run.id, "remote-error"))
        store.finish_run(run.id, "ok")
    cleaned = []
    for path in plan.exports:
        target = Path(path)
        text, removed = _rows_without(target.read_text(encoding="utf-8"), plan.email)
        if removed:
            target.write_text(text, encoding="utf-8")
            cleaned.append(path)
    with store.transaction():
        people.delete(plan.email)
        digest, erased_at = people.add_erasure(plan.email)
        store.add_audit(
            None,
            actor or "coordinator",
            "cli",
            AUDIT_FIELD,
            None,
            {"hash": digest, "date": erased_at[:10], "mailchimp": remote},
        )
    return ForgetResult(plan, remote, erased_at, cleaned)
