"""The stakeholder database in the Mailchimp audience: pure decisions, then a thin effect layer.

Rules (issue 6, and the GDPR):

* Only a person with consent is ever subscribed, and only through ``status_if_new``: an
  existing member's status is never forced to ``subscribed``, so someone who unsubscribed in
  Mailchimp is not signed up again. The one exception is a person *we* unsubscribed because
  consent was withdrawn, who later gave consent again (a new consent date, no withdrawal).
* Consent withdrawn: the member is set to ``unsubscribed`` (status and status_if_new).
* No consent and never sent: nothing is sent at all.
* Unsubscribed, cleaned or archived in Mailchimp (learned by the pull): never re-subscribed,
  never sent (a PUT to an archived member would bring it back subscribed; archived is not
  consent).
* Only people whose content fingerprint changed since the last successful push are sent.
* An address a person left for another in Mailchimp (``upemail``) is never sent: Mailchimp
  no longer holds it, so a PUT would make a new subscribed member of it. Their row lives at
  the new address; a row for the old one (made by an import before the move was known) is
  left alone.

:func:`plan_push` and :func:`pull_updates` are pure; :mod:`sync.audience.apply` performs the
calls (one by one for a few people, batch operations for many).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from connectors.base import AudienceMember
from sync.audience.model import Stakeholder
from sync.audience.store import StakeholderRecord
from sync.bootstrap.desired import INFLUENCE_TAGS
from sync.state.base import dumps

MEMBER_TAG = "alliance-member"
SKIP_REASONS = ("unchanged", "no-email", "no-consent", "blocked", "erased", "left")


def subscriber_hash(email: str) -> str:
    """Mailchimp's member id: the MD5 of the lowercased address (not a secret, not a salt)."""
    return hashlib.md5(email.strip().lower().encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class MemberWrite:
    """One person to send: the member PUT body and the tags to set active or inactive."""

    key: str
    email: str
    status: str  # the status this write leaves the member in: subscribed or unsubscribed
    body: Mapping[str, Any]
    tags: Mapping[str, bool]
    fingerprint: str
    reason: str  # new, changed, withdrawn, re-consented

    @property
    def subscriber_hash(self) -> str:
        """The member's id in the API path."""
        return subscriber_hash(self.email)


@dataclass
class PushPlan:
    """What a push would send, and why everyone else is left alone."""

    writes: list[MemberWrite] = field(default_factory=list)
    skipped: dict[str, list[str]] = field(default_factory=lambda: {r: [] for r in SKIP_REASONS})

    def counts(self) -> dict[str, int]:
        """People per outcome, for the summary line."""
        reasons: dict[str, int] = {}
        for write in self.writes:
            reasons[write.reason] = reasons.get(write.reason, 0) + 1
        return {**reasons, **{k: len(v) for k, v in self.skipped.items() if v}}


def merge_fields(person: Stakeholder, sector_titles: Mapping[str, str]) -> dict[str, str]:
    """Name, organisation, role, sector and influence as the audience's merge fields."""
    first, _, last = person.contact_person.partition(" ")
    return {
        "FNAME": first,
        "LNAME": last,
        "ORG": person.organisation,
        "ROLE": person.role,
        "SECTOR": sector_titles.get(person.sector, person.sector.replace("_", " ")),
        "INFLUENCE": person.influence,
    }


def profile_changes(person: Stakeholder, merges: Mapping[str, str]) -> dict[str, str]:
    """What a person's own profile update in Mailchimp changes in their row.

    The inverse of :func:`merge_fields` for the fields a profile form shows and people edit:
    their name (``FNAME`` + ``LNAME``), organisation and role. Blank values change nothing
    (a form that does not show a field posts it empty).
    """
    changes: dict[str, str] = {}
    first, last = (merges.get(tag, "").strip() for tag in ("FNAME", "LNAME"))
    name = " ".join(part for part in (first, last) if part)
    if name and name != person.contact_person:
        changes["contact_person"] = name
    for tag, field_name in (("ORG", "organisation"), ("ROLE", "role")):
        value = merges.get(tag, "").strip()
        if value and value != getattr(person, field_name):
            changes[field_name] = value
    return changes


def active_tags(person: Stakeholder, alliance_slug: str) -> set[str]:
    """The tags this person should carry: alliance, member, sector, influence."""
    tags = {f"alliance-{alliance_slug}"}
    if person.alliance_member:
        tags.add(MEMBER_TAG)
    if person.sector:
        tags.add(f"sector-{person.sector}")
    if person.influence:
        tags.add(f"influence-{person.influence}")
    return tags


def managed_tags(people: Iterable[Stakeholder], sectors: Iterable[str]) -> set[str]:
    """Every tag mcm-sync manages, so a tag a person no longer has is set inactive."""
    tags = {MEMBER_TAG, *INFLUENCE_TAGS, *(f"sector-{key}" for key in sectors)}
    tags |= {f"sector-{p.sector}" for p in people if p.sector}
    return tags


def fingerprint(body: Mapping[str, Any], status: str, tags: Iterable[str]) -> str:
    """The content hash of one person's member: fields, resulting status and active tags.

    The forced ``status`` of a one-off write (re-consent) is left out: what counts is the
    state the member ends in, so the write after it is not taken for a change.
    """
    fields = {k: v for k, v in body.items() if k != "status"}
    text = dumps({"body": fields, "status": status, "tags": sorted(tags)})
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def _write(
    record: StakeholderRecord,
    *,
    alliance_slug: str,
    sector_titles: Mapping[str, str],
    managed: set[str],
) -> MemberWrite | str:
    """The write for one person, or the reason there is none."""
    person = record.person
    if not person.email:
        return "no-email"
    if record.blocked:
        return "blocked"
    body: dict[str, Any] = {
        "email_address": str(person.email),
        "merge_fields": merge_fields(person, sector_titles),
    }
    if person.has_consent:
        status, reason = "subscribed", "new" if not record.pushed_status else "changed"
        body["status_if_new"] = "subscribed"
        if record.pushed_status == "unsubscribed":
            # We unsubscribed them when consent was withdrawn; consent was given again.
            body["status"] = "subscribed"
            reason = "re-consented"
    elif record.pushed_status == "subscribed":
        status, reason = "unsubscribed", "withdrawn"
        body["status_if_new"] = "unsubscribed"
        body["status"] = "unsubscribed"
    else:
        # Never subscribed (no consent), or already unsubscribed by us: send nothing more.
        return "no-consent"
    tags = active_tags(person, alliance_slug)
    print_ = fingerprint(body, status, tags)
    if print_ == record.pushed_fingerprint:
        return "unchanged"
    wanted = {name: True for name in sorted(tags)}
    wanted.update({name: False for name in sorted(managed - tags)})
    return MemberWrite(record.key, str(person.email), status, body, wanted, print_, reason)


def plan_push(
    records: Sequence[StakeholderRecord],
    *,
    alliance_slug: str,
    sector_titles: Mapping[str, str],
    erased: Iterable[str] = (),
    left: Iterable[str] = (),
) -> PushPlan:
    """Who to send and what, for the people in the store (``erased``: keys to keep out;
    ``left``: addresses their people changed in Mailchimp, never sent again)."""
    gone, moved = set(erased), set(left)
    managed = managed_tags((r.person for r in records), sector_titles)
    plan = PushPlan()
    for record in records:
        if record.key in gone:
            plan.skipped["erased"].append(record.key)
            continue
        if record.key in moved:
            plan.skipped["left"].append(record.key)
            continue
        outcome = _write(
            record, alliance_slug=alliance_slug, sector_titles=sector_titles, managed=managed
        )
        if isinstance(outcome, str):
            plan.skipped[outcome].append(record.key)
        else:
            plan.writes.append(outcome)
    return plan


@dataclass(frozen=True)
class RemoteStatus:
    """What the pull learned about one person: the status Mailchimp reports, and when."""

    key: str
    status: str
    changed_at: str


def pull_updates(
    records: Sequence[StakeholderRecord], members: Iterable[AudienceMember]
) -> list[RemoteStatus]:
    """The people whose Mailchimp status differs from what the store last noted."""
    by_key = {r.key: r for r in records}
    updates = []
    for member in members:
        record = by_key.get(member.email.strip().lower())
        if record is None or record.remote_status == member.status:
            continue
        updates.append(RemoteStatus(record.key, member.status, member.last_changed))
    return updates
