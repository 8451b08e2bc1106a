"""Property tests of the push decisions: consent and unsubscribes are never overridden."""

from __future__ import annotations

import datetime as dt

from hypothesis import given, settings
from hypothesis import strategies as st

from sync.audience.model import Stakeholder
from sync.audience.plan import plan_push
from sync.audience.store import StakeholderRecord

STATUSES = st.sampled_from(["", "subscribed", "unsubscribed", "cleaned", "pending"])


@st.composite
def records(draw: st.DrawFn) -> StakeholderRecord:
    index = draw(st.integers(0, 10_000))
    consent = draw(st.booleans())
    withdrawn = consent and draw(st.booleans())
    person = Stakeholder(
        organisation=f"Org {index}",
        contact_person=draw(st.sampled_from(["", "Ann Example", "Bo"])),
        email=draw(st.sampled_from([f"p{index}@example.org", ""])),
        sector=draw(st.sampled_from(["", "social_action", "faith groups"])),
        influence=draw(st.sampled_from(["", "low", "high"])),
        alliance_member=draw(st.booleans()),
        consent_date=dt.date(2025, 1, 1) if consent else None,
        consent_method="form" if consent else "",
        consent_withdrawn=dt.date(2025, 2, 1) if withdrawn else None,
    )
    return StakeholderRecord(
        key=person.key,
        person=person,
        pushed_fingerprint=draw(st.sampled_from(["", "stale"])),
        pushed_status=draw(st.sampled_from(["", "subscribed", "unsubscribed"])),
        remote_status=draw(STATUSES),
    )


@settings(max_examples=300, deadline=None)
@given(st.lists(records(), max_size=12, unique_by=lambda r: r.key))
def test_no_write_ever_overrides_consent_or_an_unsubscribe(people: list[StakeholderRecord]) -> None:
    plan = plan_push(people, alliance_slug="frl", sector_titles={})
    by_key = {r.key: r for r in people}
    for write in plan.writes:
        record = by_key[write.key]
        assert not record.blocked
        assert record.person.email
        if write.status == "subscribed":
            assert record.person.has_consent
        else:
            assert not record.person.has_consent and record.pushed_status == "subscribed"
        if write.body.get("status") == "subscribed":
            # Forcing "subscribed" only undoes our own withdrawal-unsubscribe.
            assert record.pushed_status == "unsubscribed" and record.person.has_consent
        if not record.person.has_consent:
            assert write.body["status"] == write.body["status_if_new"] == "unsubscribed"
    written = {w.key for w in plan.writes}
    skipped = {k for keys in plan.skipped.values() for k in keys}
    assert written | skipped == set(by_key) and not written & skipped
    # Pushing what was planned makes the next plan empty for those people.
    after = [
        StakeholderRecord(r.key, r.person, w.fingerprint, w.status, r.remote_status)
        if (w := next((w for w in plan.writes if w.key == r.key), None))
        else r
        for r in people
    ]
    assert plan_push(after, alliance_slug="frl", sector_titles={}).writes == []
