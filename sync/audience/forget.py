"""``mcm-sync forget EMAIL``: the right to erasure (GDPR article 17).

Erasing a person means: the Mailchimp member is deleted *permanently* (``delete-permanent``,
not the archive that a later PUT would undo); the person's row leaves the state store; every
stakeholder export file mcm-sync wrote loses their row; and what remains is a tombstone and an
audit line holding only a salted hash of the address and the date. The tombstone keeps the
address out of later imports and pushes; so do tombstones of the addresses the person left for
this one in Mailchimp (``upemail``), which the store knew only by the same salted hash.

The address also leaves the rest of the state store: every text cell that holds it (item owners,
sides, resources, the audit trail, the journal, conflicts) gets ``erased:<hash>`` instead, so a
dump of the state file no longer contains it. A person who is still one of the config's
``people`` keeps the traces the sync needs to work with them: the plan names exactly what
remains and where (the config entry, items, Trello, Slack), and how to remove it.

Order matters: the remote erasure comes first, behind a journal intent (which holds the hash,
never the address). If Mailchimp cannot be reached, nothing local is removed and the command
can be repeated; a member Mailchimp no longer knows counts as erased.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from connectors.roles import AudienceService
from sync.audience.store import StakeholderStore
from sync.core import csv_cells
from sync.core.errors import NotFoundError, UserError
from sync.state.journal import Journal
from sync.state.schema import text_columns
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
    # "table.column" -> rows of the state store holding the address (outside the database).
    traces: dict[str, int] = field(default_factory=dict)
    # Where the config still names this person ("people[4]: Esra Yilmaz"), else "".
    member: str = ""

    @property
    def nothing_to_do(self) -> bool:
        """Already erased and nowhere to be found: a repeat makes no call at all."""
        return self.already_erased and not self.in_store and not self.exports \
            and not (self.traces and not self.member)

    def remains(self) -> list[str]:
        """What erasing leaves, for a person still in the config: where, so it can be removed."""
        if not self.member:
            return []
        kept = ", ".join(f"{where} ({count})" for where, count in sorted(self.traces.items()))
        return [f"config: {self.member} (remove the entry, then run forget again)",
                *([f"state: {kept} (erased by forget once the config no longer names them)"]
                  if kept else []),
                "Trello and Slack: their board membership, cards and messages (remove them "
                "there by hand)"]


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


_SKIPPED_TABLES = frozenset({"stakeholders", "erasures", "settings", "exports"})


def _like(email: str) -> str:
    """A LIKE pattern that finds ``email`` anywhere in a cell (``_`` and ``%`` taken literally)."""
    escaped = email.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _matches(store: StateStore, table: str, column: str, keys: tuple[str, ...],
             email: str) -> list[tuple[tuple[object, ...], str]]:
    """The rows (primary key, cell) whose ``column`` holds ``email`` in any case."""
    quoted = ", ".join(f'"{k}"' for k in keys)
    rows = store._conn.execute(
        f'SELECT {quoted}, "{column}" AS cell FROM "{table}" '
        f'WHERE lower("{column}") LIKE ? ESCAPE \'\\\'', (_like(email),)).fetchall()
    return [(tuple(row[k] for k in keys), row["cell"]) for row in rows]


def state_traces(store: StateStore, email: str) -> dict[str, int]:
    """``table.column`` -> how many rows hold ``email`` (any case), outside the database."""
    found = {}
    for table, column, keys in text_columns(_SKIPPED_TABLES):
        if keys and (count := len(_matches(store, table, column, keys, email))):
            found[f"{table}.{column}"] = count
    return found


def scrub_state(store: StateStore, email: str, token: str) -> int:
    """Replace ``email`` (any case) by ``token`` in every text cell; returns the cells changed.

    Portable SQL only (the same on SQLite and PostgreSQL): the matching cells are read, the
    address replaced here, and each cell written back by its row's primary key.
    """
    lowered = email.lower()

    def scrub(text: str) -> str:
        out, at, low = [], 0, text.lower()
        while (hit := low.find(lowered, at)) >= 0:
            out += [text[at:hit], token]
            at = hit + len(lowered)
        return "".join(out) + text[at:]

    changed = 0
    for table, column, keys in text_columns(_SKIPPED_TABLES):
        if not keys:
            continue
        for key, cell in _matches(store, table, column, keys, lowered):
            match = " AND ".join(f'"{k}" = ?' for k in keys)
            store._conn.execute(f'UPDATE "{table}" SET "{column}" = ? WHERE {match}',
                                (scrub(cell), *key))
            changed += 1
    return changed


def plan_forget(store: StateStore, email: str,
                members: Mapping[str, str] | None = None) -> ForgetPlan:
    """Look up what erasing ``email`` would touch (no writes, no remote calls).

    ``members`` maps the config's people's addresses (lowercase) to where the config names
    them; such a person's state traces are kept and listed instead of erased.
    """
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
        traces=state_traces(store, key),
        member=(members or {}).get(key, ""),
    )


def forget(
    store: StateStore,
    plan: ForgetPlan,
    mailchimp: AudienceService | None,
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
        # The addresses they left in Mailchimp are theirs too: kept out like this one.
        for left in people.left_addresses.drop(plan.email):
            people.add_erasure_hash(left)
        people.delete(plan.email)
        if not plan.member:
            scrub_state(store, plan.email, f"erased:{plan.digest[:12]}")
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
