"""The stakeholder database, its Mailchimp audience, erasure and the progress newsletter.

Reached from an alliance as ``alliance.stakeholders`` and ``alliance.newsletter``::

    report = alliance.stakeholders.import_file(Path("people.csv"), dry_run=True)
    result = alliance.stakeholders.push()             # consenting people, fields, tags
    plan = alliance.stakeholders.plan_forget("x@example.org")   # what erasing involves
    alliance.stakeholders.forget("x@example.org")     # GDPR erasure, a tombstone kept

Reads take no lock; every write (import, push, forget, a newsletter draft) runs under the
alliance's lock. Mailchimp is only contacted where a command needs it, and only after every
input has been read and checked.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING

from sync.audience.stakeholders import audience_state, summary
from sync.core.errors import UserError

if TYPE_CHECKING:
    from sync.api.opened import OpenAlliance
    from sync.audience.apply import PushResult
    from sync.audience.forget import ForgetPlan, ForgetResult
    from sync.audience.newsletter import DraftResult, Newsletter
    from sync.audience.stakeholders import ImportReport
    from sync.audience.store import StakeholderRecord
    from sync.state.store import StateStore

__all__ = ["Newsletters", "Stakeholders", "audience_state", "summary"]


def audience_id(alliance: OpenAlliance, store: StateStore) -> str:
    """The Mailchimp audience bootstrap made (or the config's); UserError if there is none."""
    found = store.get_resource("mailchimp", "audience", "audience")
    audience = found.remote_id if found else alliance.config.mailchimp.audience_id
    if not audience:
        raise UserError(
            "no Mailchimp audience yet",
            hint="run `mcm-sync bootstrap` first (or set mailchimp.audience_id)",
        )
    return audience


class Stakeholders:
    """The alliance's stakeholder database (the guide's template) and its audience."""

    def __init__(self, alliance: OpenAlliance) -> None:
        self.alliance = alliance

    def sector_titles(self) -> dict[str, str]:
        """Sector key -> its title in the alliance's playbook."""
        return dict(self.alliance.playbook.facts.sectors)

    def import_file(self, path: Path, *, skip_invalid: bool = False, dry_run: bool = False,
                    allow_consent_changes: bool = False) -> ImportReport:
        """Import a CSV file (UTF-8, header row); every row is validated first.

        Blank cells keep what the database holds; a change of someone's consent holds the
        whole import back (``report.held``) unless ``allow_consent_changes``.
        """
        from sync.audience.stakeholders import import_file
        from sync.audience.store import StakeholderStore

        titles = {title: key for key, title in self.sector_titles().items()}
        opened = self.alliance.store() if dry_run else self.alliance.writing()
        with opened as store:
            return import_file(StakeholderStore(store), path, skip_invalid=skip_invalid,
                               dry_run=dry_run, sector_names=titles,
                               allow_consent_changes=allow_consent_changes)

    def people(self) -> list[StakeholderRecord]:
        """Everyone in the database, with their newsletter state."""
        from sync.audience.store import StakeholderStore

        with self.alliance.store() as store:
            return StakeholderStore(store).people()

    def find(self, email: str) -> StakeholderRecord | None:
        """The person with this address, if there is one."""
        from sync.audience.store import StakeholderStore

        with self.alliance.store() as store:
            return StakeholderStore(store).find_email(email)

    def export_text(self) -> str:
        """The database as CSV in the import format (it round-trips); nothing recorded."""
        from sync.audience.stakeholders import export_text
        from sync.audience.store import StakeholderStore

        with self.alliance.store() as store:
            return export_text(StakeholderStore(store).people())

    def export_file(self, path: Path) -> int:
        """Write the CSV to ``path`` and remember the export (forget cleans it); the count."""
        from sync.audience.stakeholders import export_file
        from sync.audience.store import StakeholderStore

        with self.alliance.store() as store:
            return export_file(StakeholderStore(store), path)

    def push(self, *, dry_run: bool = False, sandbox: bool | None = None) -> PushResult:
        """Bring the Mailchimp audience in step: consenting people, their fields and tags.

        Under the lock unless ``dry_run``; the people Mailchimp refused are in
        ``result.failed`` (the others were sent).
        """
        from sync.audience.apply import push

        opened = self.alliance.store() if dry_run else self.alliance.writing()
        with opened as store:  # no store yet: "no Mailchimp audience yet", run bootstrap
            audience = audience_id(self.alliance, store)
            with self.alliance.connect(("mailchimp",), sandbox=sandbox) as connected:
                return push(store,
                            connected.need_audience(),
                            audience, alliance_slug=self.alliance.config.alliance.slug,
                            sector_titles=self.sector_titles(), dry_run=dry_run)

    def _members(self) -> dict[str, str]:
        """Address -> where the config names that person ("people[4]: Esra Yilmaz")."""
        return {str(p.email).lower(): f"people[{i}]: {p.name}"
                for i, p in enumerate(self.alliance.config.people)}

    def plan_forget(self, email: str) -> ForgetPlan:
        """What erasing ``email`` involves (read only, no lock: shown before confirming)."""
        from sync.audience.forget import plan_forget

        with self.alliance.store() as store:
            return plan_forget(store, email, self._members())

    def forget(self, email: str, *, sandbox: bool | None = None) -> ForgetResult:
        """Erase a person (GDPR): Mailchimp delete-permanent, state, exports; a tombstone kept.

        Planned again under the lock (what is there now): if someone else erased the person
        meanwhile, ``result.plan.nothing_to_do`` is true and nothing was called.
        """
        from sync.audience.forget import ForgetResult, plan_forget
        from sync.audience.forget import forget as forget_person

        with self.alliance.writing() as store:
            plan = plan_forget(store, email, self._members())
            if plan.nothing_to_do:
                return ForgetResult(plan, "skipped", "", [])
            found = store.get_resource("mailchimp", "audience", "audience")
            audience = found.remote_id if found else self.alliance.config.mailchimp.audience_id
            if audience and not plan.already_erased:
                with self.alliance.connect(("mailchimp",), sandbox=sandbox) as connected:
                    return forget_person(store, plan, connected.audience, audience)
            return forget_person(store, plan, None, "")


class Newsletters:
    """Progress newsletters from the alliance's real state (drafts only, never sent)."""

    def __init__(self, alliance: OpenAlliance) -> None:
        self.alliance = alliance

    def preview(self, path: Path, *, since: dt.date | None = None) -> Newsletter:
        """Write the newsletter's HTML to ``path``; Mailchimp is not touched."""
        from sync.audience.newsletter import build

        alliance = self.alliance
        with alliance.store() as store:
            letter = build(alliance.config, alliance.playbook, store, since=since,
                           rows=alliance.rows)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(letter.html, encoding="utf-8")
        return letter

    def draft(self, *, since: dt.date | None = None,
              sandbox: bool | None = None) -> tuple[Newsletter, DraftResult]:
        """Make the Mailchimp campaign draft of the newsletter (never sent), under the lock;
        none is made again if the content has not changed since the last draft.

        ``since``: the period's start (default: the last newsletter, else the start date).
        """
        from sync.audience.newsletter import build, create_draft

        alliance = self.alliance
        with alliance.writing() as store:
            letter = build(alliance.config, alliance.playbook, store, since=since,
                           rows=alliance.rows)
            audience = audience_id(alliance, store)
            with alliance.connect(("mailchimp",), sandbox=sandbox) as connected:
                return letter, create_draft(alliance.config, store,
                                            connected.need_audience(),
                                            audience, letter)
