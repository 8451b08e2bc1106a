"""Audience sync: the pure push/pull decisions, and the effect layer on an in-memory audience.

The in-memory audience below follows Mailchimp's documented member semantics (PUT upsert with
status_if_new, tags POST, delete-permanent and "Forgotten Email Not Subscribed"); the same
scenarios run against the sandbox in ``tests/audience/test_stakeholders_sandbox.py``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from connectors.base import AudienceMember
from sync.audience.apply import push
from sync.audience.forget import AUDIT_FIELD, forget, plan_forget
from sync.audience.model import Stakeholder
from sync.audience.plan import plan_push, pull_updates, subscriber_hash
from sync.audience.stakeholders import export_file, import_file
from sync.audience.store import StakeholderRecord, StakeholderStore
from sync.core.errors import FatalRemoteError, NotFoundError
from sync.state.store import StateStore
from tests.support.stores import StoreTarget

SECTORS = {"social_action": "Social action", "professional_economic": "Professional"}
HEADER = (
    "organisation,contact_person,email,sector,influence,alliance_member,consent_date,consent_method"
)


class MemoryAudience:
    """A Mailchimp audience in memory, counting write calls."""

    def __init__(self) -> None:
        self.stored: dict[str, dict[str, Any]] = {}
        self.forgotten: set[str] = set()
        self.writes = 0
        self.clock = 0

    def _tick(self) -> str:
        self.clock += 1
        return f"2025-05-01T00:00:{self.clock:02d}+00:00"

    def upsert_member(self, audience_id: str, email: str, body: Mapping[str, Any]) -> None:
        self.writes += 1
        key = subscriber_hash(email)
        if key in self.forgotten:
            raise FatalRemoteError("mailchimp", "Forgotten Email Not Subscribed")
        if email.startswith("fay@fake"):
            raise FatalRemoteError("mailchimp", "Invalid Resource - looks fake or invalid")
        found = self.stored.get(key)
        if found is None:
            found = self.stored[key] = {
                "email": email,
                "status": body["status_if_new"],
                "tags": set(),
            }
        elif "status" in body:
            found["status"] = body["status"]
        found["merge_fields"] = dict(body["merge_fields"])
        found["last_changed"] = self._tick()

    def set_tags(self, audience_id: str, email: str, tags: Mapping[str, bool]) -> None:
        self.writes += 1
        member = self.stored[subscriber_hash(email)]
        member["tags"] |= {name for name, on in tags.items() if on}
        member["tags"] -= {name for name, on in tags.items() if not on}

    def members(self, audience_id: str, *, since: str | None = None) -> list[AudienceMember]:
        return [
            AudienceMember(
                m["email"],
                key,
                m["status"],
                m["merge_fields"],
                tuple(sorted(m["tags"])),
                m["last_changed"],
            )
            for key, m in self.stored.items()
            if since is None or m["last_changed"] >= since
        ]

    def delete_permanent(self, audience_id: str, email: str) -> None:
        self.writes += 1
        key = subscriber_hash(email)
        if self.stored.pop(key, None) is None:
            raise NotFoundError("mailchimp", "The requested resource could not be found.")
        self.forgotten.add(key)

    def run_batch(self, operations: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        import json

        self.writes += 1
        results = []
        for op in operations:
            parts = op["path"].strip("/").split("/")
            body = json.loads(op["body"])
            key = parts[3]
            email = body.get("email_address") or self.stored.get(key, {}).get("email", "")
            before = self.writes
            try:
                if op["method"] == "PUT":
                    self.upsert_member(parts[1], email, body)
                else:
                    self.set_tags(
                        parts[1], email, {t["name"]: t["status"] == "active" for t in body["tags"]}
                    )
                results.append(
                    {"operation_id": op["operation_id"], "status_code": 200, "response": "{}"}
                )
            except FatalRemoteError as exc:
                results.append(
                    {
                        "operation_id": op["operation_id"],
                        "status_code": 400,
                        "response": {"title": "Invalid Resource", "detail": str(exc)},
                    }
                )
            self.writes = before  # one batch request is one write call
        return results


@pytest.fixture
def store(target: StoreTarget) -> StateStore:
    """A fresh store, on SQLite and on PostgreSQL."""
    opened = target.open()
    yield opened
    opened.close()


def record(**changes: Any) -> StakeholderRecord:
    person = Stakeholder(
        organisation="Kruispunt",
        contact_person="Carla Voorbeeld",
        email="carla@example.org",
        sector="social_action",
        influence="high",
        alliance_member=True,
        consent_date=dt.date(2025, 1, 14),
        consent_method="form",
    )
    fields = {k: v for k, v in changes.items() if k in Stakeholder.model_fields}
    person = person.model_copy(update=fields)
    rest = {k: v for k, v in changes.items() if k not in fields}
    return StakeholderRecord(key=person.key, person=person, **rest)


def plan(*records: StakeholderRecord) -> Any:
    return plan_push(list(records), alliance_slug="frl", sector_titles=SECTORS)


# ---------------------------------------------------------------- pure decisions


def test_consenting_person_is_upserted_with_status_if_new_only() -> None:
    (write,) = plan(record()).writes
    assert write.body == {
        "email_address": "carla@example.org",
        "status_if_new": "subscribed",
        "merge_fields": {
            "FNAME": "Carla",
            "LNAME": "Voorbeeld",
            "ORG": "Kruispunt",
            "ROLE": "",
            "SECTOR": "Social action",
            "INFLUENCE": "high",
        },
    }
    assert "status" not in write.body  # never force an existing member back to subscribed
    active = {name for name, on in write.tags.items() if on}
    assert active == {"alliance-frl", "alliance-member", "sector-social_action", "influence-high"}
    assert (
        write.tags["influence-low"] is False and write.tags["sector-professional_economic"] is False
    )
    assert (write.status, write.reason) == ("subscribed", "new")


def test_no_consent_no_email_and_unchanged_are_not_sent() -> None:
    first = plan(record()).writes[0]
    result = plan(
        record(consent_date=None, consent_method="", email="nina@example.org"),
        record(email="", contact_person="No Mail"),
        record(
            pushed_fingerprint=first.fingerprint,
            pushed_status="subscribed",
            email="carla@example.org",
        ),
    )
    assert result.writes == []
    assert result.skipped["no-consent"] == ["nina@example.org"]
    assert result.skipped["no-email"] == ["org:kruispunt|no mail"]
    assert result.skipped["unchanged"] == ["carla@example.org"]


def test_withdrawn_consent_unsubscribes_and_new_consent_resubscribes() -> None:
    withdrawn = record(
        consent_withdrawn=dt.date(2025, 3, 1), pushed_status="subscribed", pushed_fingerprint="old"
    )
    (write,) = plan(withdrawn).writes
    assert (write.body["status"], write.body["status_if_new"]) == ("unsubscribed", "unsubscribed")
    assert write.reason == "withdrawn"
    # We unsubscribed them ourselves; Mailchimp echoes that back: not a block.
    again = record(
        consent_date=dt.date(2025, 4, 1),
        pushed_status="unsubscribed",
        remote_status="unsubscribed",
        pushed_fingerprint=write.fingerprint,
    )
    (write,) = plan(again).writes
    assert (write.body["status"], write.reason) == ("subscribed", "re-consented")
    # Withdrawn and already unsubscribed by us: nothing more to send.
    assert (
        plan(record(consent_withdrawn=dt.date(2025, 3, 1), pushed_status="unsubscribed")).writes
        == []
    )


def test_unsubscribed_or_cleaned_in_mailchimp_is_never_sent_again() -> None:
    for status in ("unsubscribed", "cleaned"):
        result = plan(
            record(remote_status=status, pushed_status="subscribed", organisation="Renamed")
        )
        assert result.writes == [] and result.skipped["blocked"] == ["carla@example.org"]


def test_erased_people_are_never_sent() -> None:
    result = plan_push(
        [record()], alliance_slug="frl", sector_titles=SECTORS, erased=["carla@example.org"]
    )
    assert result.writes == [] and result.skipped["erased"] == ["carla@example.org"]


def test_a_field_change_changes_the_fingerprint() -> None:
    first = plan(record()).writes[0]
    pushed = {"pushed_fingerprint": first.fingerprint, "pushed_status": "subscribed"}
    assert plan(record(**pushed)).writes == []
    (write,) = plan(record(influence="low", **pushed)).writes
    assert write.reason == "changed" and write.tags["influence-high"] is False


def test_pull_notes_only_status_changes_of_known_people() -> None:
    members = [
        AudienceMember("Carla@example.org", "h", "unsubscribed", last_changed="t1"),
        AudienceMember("stranger@example.org", "h2", "unsubscribed", last_changed="t2"),
        AudienceMember("bob@example.org", "h3", "subscribed", last_changed="t3"),
    ]
    updates = pull_updates(
        [record(), record(email="bob@example.org", remote_status="subscribed")], members
    )
    assert [(u.key, u.status, u.changed_at) for u in updates] == [
        ("carla@example.org", "unsubscribed", "t1")
    ]


# ---------------------------------------------------------------- effect layer


def import_people(store: StateStore, tmp_path: Path, rows: list[str]) -> None:
    path = tmp_path / "people.csv"
    path.write_text("\n".join([HEADER, *rows]) + "\n", encoding="utf-8")
    import_file(StakeholderStore(store), path)


def rows(count: int, *, consent: bool = True) -> list[str]:
    date = "2025-01-14,form" if consent else ","
    return [
        f"Org {i},Person {i},p{i}@example.org,social_action,medium,no,{date}" for i in range(count)
    ]


def do_push(store: StateStore, audience: MemoryAudience, **kwargs: Any) -> Any:
    return push(store, audience, "L1", alliance_slug="frl", sector_titles=SECTORS, **kwargs)


def test_push_one_by_one_then_nothing(store: StateStore, tmp_path: Path) -> None:
    import_people(store, tmp_path, [*rows(3), "No consent,Nina X,nina@example.org,,,no,,"])
    audience = MemoryAudience()
    first = do_push(store, audience)
    assert (first.sent, first.write_calls, first.batches) == (3, 6, 0)
    assert "nina@example.org" not in {m["email"] for m in audience.stored.values()}
    assert {m["status"] for m in audience.stored.values()} == {"subscribed"}
    before = audience.writes
    second = do_push(store, audience)
    assert (second.sent, second.write_calls, audience.writes - before) == (0, 0, 0)
    assert second.plan.counts() == {"unchanged": 3, "no-consent": 1}


def test_large_push_goes_through_batches(store: StateStore, tmp_path: Path) -> None:
    import_people(store, tmp_path, rows(45))
    audience = MemoryAudience()
    result = do_push(store, audience)
    assert (result.sent, result.batches, result.write_calls) == (45, 2, 2)
    assert len(audience.stored) == 45
    assert all("sector-social_action" in m["tags"] for m in audience.stored.values())
    assert do_push(store, audience).write_calls == 0


def test_refused_people_are_reported_and_do_not_stop_the_others(
    store: StateStore, tmp_path: Path
) -> None:
    import_people(store, tmp_path, [*rows(2), "Fake,Fay Ke,fay@fake.example.net,,,no,2025-01-01,x"])
    audience = MemoryAudience()
    result = do_push(store, audience)
    assert result.sent == 2
    assert result.failed == [
        ("fay@fake.example.net", "mailchimp: Invalid Resource - looks fake or invalid")
    ]
    people = StakeholderStore(store)
    assert people.get("fay@fake.example.net").last_error.startswith("mailchimp: Invalid Resource")
    # The refused person is tried again next time; the others are not re-sent.
    assert do_push(store, audience).write_calls == 1


def test_batch_errors_are_per_person(store: StateStore, tmp_path: Path) -> None:
    import_people(
        store, tmp_path, [*rows(25), "Fake,Fay Ke,fay@fake.example.net,,,no,2025-01-01,x"]
    )
    result = do_push(store, MemoryAudience())
    assert result.sent == 25
    assert result.failed == [
        (
            "fay@fake.example.net",
            "Invalid Resource - mailchimp: Invalid Resource - looks fake or invalid",
        )
    ]


def test_unsubscribed_in_mailchimp_is_pulled_and_never_resubscribed(
    store: StateStore, tmp_path: Path
) -> None:
    import_people(store, tmp_path, rows(2))
    audience = MemoryAudience()
    do_push(store, audience)
    member = audience.stored[subscriber_hash("p0@example.org")]
    member["status"], member["last_changed"] = "unsubscribed", "2025-06-01T00:00:00+00:00"
    # The coordinator edits the person; the push must still leave them unsubscribed.
    import_people(store, tmp_path, [rows(2)[0].replace("Org 0", "Org zero"), rows(2)[1]])
    result = do_push(store, audience)
    assert sorted((p.key, p.status) for p in result.pulled) == [
        ("p0@example.org", "unsubscribed"),
        ("p1@example.org", "subscribed"),
    ]
    assert result.write_calls == 0 and member["status"] == "unsubscribed"
    assert StakeholderStore(store).get("p0@example.org").blocked


def test_withdrawn_consent_is_sent_as_unsubscribed(store: StateStore, tmp_path: Path) -> None:
    import_people(store, tmp_path, rows(1))
    audience = MemoryAudience()
    do_push(store, audience)
    path = tmp_path / "w.csv"
    path.write_text(
        HEADER + ",consent_withdrawn\n"
        "Org 0,Person 0,p0@example.org,social_action,medium,no,2025-01-14,form,"
        "2025-03-01\n",
        encoding="utf-8",
    )
    import_file(StakeholderStore(store), path, allow_consent_changes=True)
    result = do_push(store, audience)
    assert result.plan.counts() == {"withdrawn": 1}
    assert audience.stored[subscriber_hash("p0@example.org")]["status"] == "unsubscribed"
    # Our own unsubscribe comes back in the pull: not a block, and nothing more is sent.
    again = do_push(store, audience)
    assert again.write_calls == 0
    assert not StakeholderStore(store).get("p0@example.org").blocked


def test_forget_erases_everywhere_and_keeps_a_tombstone(store: StateStore, tmp_path: Path) -> None:
    import_people(store, tmp_path, rows(2))
    audience = MemoryAudience()
    do_push(store, audience)
    export = tmp_path / "out" / "people.csv"
    export_file(StakeholderStore(store), export)
    plan_ = plan_forget(store, "P0@example.org")
    assert plan_.in_store and plan_.exports == [str(export.resolve())]
    result = forget(store, plan_, audience, "L1", actor="coordinator")
    assert result.remote == "erased" and result.exports_cleaned == [str(export.resolve())]
    assert subscriber_hash("p0@example.org") not in audience.stored
    assert "p0@example.org" not in export.read_text(encoding="utf-8")
    assert "p1@example.org" in export.read_text(encoding="utf-8")
    people = StakeholderStore(store)
    assert people.get("p0@example.org") is None
    (line,) = [a for a in store.list_audit() if a.field == AUDIT_FIELD]
    assert line.new == {"hash": plan_.digest, "date": result.erased_at[:10], "mailchimp": "erased"}
    assert "p0" not in str(line)
    intents = store.intents(identity_token=plan_.digest[:16])
    assert [i.state for i in intents] == ["done"] and "p0" not in str(intents)
    # A later import reports the row as erased; a later push sends nothing for them.
    path = tmp_path / "again.csv"
    path.write_text("\n".join([HEADER, *rows(2)]) + "\n", encoding="utf-8")
    report = import_file(people, path)
    assert report.erased_rows == [2]
    before = audience.writes
    assert do_push(store, audience).write_calls == 0 and audience.writes == before
    # Forgetting again makes no call at all.
    again = plan_forget(store, "p0@example.org")
    assert again.nothing_to_do
    assert forget(store, again, audience, "L1").remote == "skipped"
    assert audience.writes == before


def test_forget_of_someone_mailchimp_does_not_know(store: StateStore) -> None:
    result = forget(store, plan_forget(store, "ghost@example.org"), MemoryAudience(), "L1")
    assert result.remote == "not-found"
    assert StakeholderStore(store).is_erased("ghost@example.org")
