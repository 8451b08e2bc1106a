"""The audience sync against the sandbox (the ground truth): writes counted, faults injected.

Skipped, with the reason, while ``connectors.sandbox.core.server`` or
``connectors.mailchimp.connector`` is not importable.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sync.audience.apply import push
from sync.audience.forget import forget, plan_forget
from sync.audience.plan import subscriber_hash
from sync.audience.stakeholders import import_file
from sync.audience.store import StakeholderStore
from sync.core.errors import RemoteError
from sync.state.store import StateStore

server_module = pytest.importorskip(
    "connectors.sandbox.core.server", reason="sandbox not built yet"
)
mailchimp_module = pytest.importorskip("connectors.mailchimp.connector",
                                       reason="connector not built yet")
testing = pytest.importorskip("connectors.sandbox.clients.testing")

SECTORS = {"social_action": "Social action"}
HEADER = (
    "organisation,contact_person,email,sector,influence,alliance_member,consent_date,consent_method"
)
AUDIENCE = {
    "name": "Test alliance newsletter",
    "contact": {"company": "Test", "address1": "Street 1", "city": "Leeuwarden", "country": "NL"},
    "permission_reminder": "You follow the test alliance.",
    "campaign_defaults": {
        "from_name": "Test",
        "from_email": "test@example.org",
        "subject": "News",
        "language": "en",
    },
    "email_type_option": False,
}


class Sandbox:
    """A running sandbox, its Mailchimp connector and audience, and the admin calls."""

    def __init__(self, data_dir: Path) -> None:
        self.server = server_module.SandboxServer(port=0, rate_limits=False, data_dir=data_dir)
        self.server.start()
        self.mailchimp = mailchimp_module.MailchimpConnector(
            self.server.app.people.credentials.coordinator()["mailchimp"]["api_key"],
            server="us1", base_url=f"{self.server.url}/mailchimp/3.0",
        )
        self.audience = self.mailchimp.create_audience(AUDIENCE).id

    def admin(self, method: str, path: str, body: Any = None) -> Any:
        return testing.admin(self.server, method, path, body)

    def writes(self) -> int:
        stats = self.admin("GET", "/_sandbox/stats")
        return sum(
            sum(int(n) for n in codes.values())
            for key, codes in stats.get("mailchimp", {}).items()
            if key.split(" ", 1)[0] != "GET"
        )

    def fault(self, **spec: Any) -> None:
        self.admin("POST", "/_sandbox/faults", {"service": "mailchimp", **spec})

    def members(self) -> dict[str, Any]:
        return {m.email.lower(): m for m in self.mailchimp.members(self.audience)}


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[Sandbox]:
    running = Sandbox(tmp_path / "sandbox")
    yield running
    running.server.stop()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[StateStore]:
    opened = StateStore.open(tmp_path / "state.db")
    yield opened
    opened.close()


def load(store: StateStore, tmp_path: Path, count: int, *, extra: tuple[str, ...] = ()) -> None:
    lines = [
        f"Org {i},Person {i},p{i}@example.org,social_action,medium,no,2025-01-14,form"
        for i in range(count)
    ]
    path = tmp_path / "people.csv"
    path.write_text("\n".join([HEADER, *lines, *extra]) + "\n", encoding="utf-8")
    import_file(StakeholderStore(store), path)


def do_push(store: StateStore, sandbox: Sandbox) -> Any:
    return push(
        store, sandbox.mailchimp, sandbox.audience, alliance_slug="tst", sector_titles=SECTORS
    )


@pytest.mark.parametrize("count", [3, 30])
def test_push_then_zero_writes(
    store: StateStore, sandbox: Sandbox, tmp_path: Path, count: int
) -> None:
    load(store, tmp_path, count, extra=("No consent,Nina X,nina@example.org,,,no,,",))
    first = do_push(store, sandbox)
    assert first.sent == count and first.failed == []
    members = sandbox.members()
    assert len(members) == count and "nina@example.org" not in members
    member = members["p0@example.org"]
    assert member.status == "subscribed"
    assert member.merge_fields["ORG"] == "Org 0"
    assert {"alliance-tst", "sector-social_action", "influence-medium"} <= set(member.tags)
    before = sandbox.writes()
    second = do_push(store, sandbox)
    assert second.write_calls == 0 and sandbox.writes() == before


def test_unsubscribed_in_mailchimp_is_never_resubscribed(
    store: StateStore, sandbox: Sandbox, tmp_path: Path
) -> None:
    load(store, tmp_path, 2)
    do_push(store, sandbox)
    # The person unsubscribes in Mailchimp (here through the API, as the form would).
    sandbox.mailchimp.upsert_member(
        sandbox.audience,
        "p0@example.org",
        {
            "email_address": "p0@example.org",
            "status_if_new": "unsubscribed",
            "status": "unsubscribed",
        },
    )
    load(store, tmp_path, 2)  # unchanged data; then a change to p0:
    people = StakeholderStore(store)
    person = people.get("p0@example.org").person.model_copy(update={"organisation": "Renamed"})
    people.upsert([person])
    result = do_push(store, sandbox)
    assert result.write_calls == 0
    assert sandbox.members()["p0@example.org"].status == "unsubscribed"
    assert people.get("p0@example.org").blocked


def test_archived_in_mailchimp_is_left_archived(
    store: StateStore, sandbox: Sandbox, tmp_path: Path
) -> None:
    """Issue 11: a PUT would bring an archived member back subscribed; archived is not consent."""
    from connectors.sandbox.clients.testing import mailchimp_client

    load(store, tmp_path, 2)
    do_push(store, sandbox)
    # The coordinator archives p0 in Mailchimp.
    client = mailchimp_client(sandbox.server)
    client.lists.delete_list_member(sandbox.audience, subscriber_hash("p0@example.org"))
    assert sandbox.members()["p0@example.org"].status == "archived"
    people = StakeholderStore(store)
    person = people.get("p0@example.org").person.model_copy(update={"organisation": "Renamed"})
    people.upsert([person])  # the row changes
    result = do_push(store, sandbox)
    assert result.write_calls == 0
    assert ("p0@example.org", "archived") in [(p.key, p.status) for p in result.pulled]
    assert sandbox.members()["p0@example.org"].status == "archived"
    assert people.get("p0@example.org").blocked
    assert "p0@example.org" in result.plan.skipped["blocked"]


def test_compliance_state_is_reported_once_and_never_retried(
    store: StateStore, sandbox: Sandbox, tmp_path: Path
) -> None:
    """We unsubscribed p0 (consent withdrawn); Mailchimp then put the address in compliance
    state (the person's own unsubscribe, a bounce, a review). New consent in our data must
    not make every push ask again: Mailchimp's refusal is reported once, then p0 is blocked."""
    load(store, tmp_path, 2)
    do_push(store, sandbox)
    people = StakeholderStore(store)
    person = people.get("p0@example.org").person.model_copy(
        update={"consent_withdrawn": dt.date.today()})
    people.upsert([person])
    do_push(store, sandbox)
    assert sandbox.members()["p0@example.org"].status == "unsubscribed"
    sandbox.admin("POST", "/_sandbox/mailchimp/unsubscribe",
                  {"list_id": sandbox.audience, "email": "p0@example.org"})
    # Consent again in our data (a new consent date; re-importing the old sheet would not
    # renew it: an import never overrides a later withdrawal).
    renewed = people.get("p0@example.org").person.model_copy(
        update={"consent_withdrawn": None, "consent_date": dt.date.today()})
    people.upsert([renewed])
    first = do_push(store, sandbox)
    assert [email for email, _ in first.failed] == ["p0@example.org"]
    assert "Member In Compliance State" in first.failed[0][1]
    assert sandbox.members()["p0@example.org"].status == "unsubscribed"
    assert people.get("p0@example.org").blocked
    second = do_push(store, sandbox)
    assert second.failed == [] and second.write_calls == 0


def test_forget_deletes_permanently(store: StateStore, sandbox: Sandbox, tmp_path: Path) -> None:
    load(store, tmp_path, 2)
    do_push(store, sandbox)
    result = forget(
        store, plan_forget(store, "p1@example.org"), sandbox.mailchimp, sandbox.audience
    )
    assert result.remote == "erased"
    assert "p1@example.org" not in sandbox.members()
    # Mailchimp refuses the address from now on; our tombstone means we never try.
    before = sandbox.writes()
    load(store, tmp_path, 2)
    assert do_push(store, sandbox).write_calls == 0 and sandbox.writes() == before


def test_faults_make_no_duplicate_and_lose_no_consent(
    store: StateStore, sandbox: Sandbox, tmp_path: Path
) -> None:
    load(store, tmp_path, 30)
    sandbox.fault(method="POST", path="/3.0/batches", mode="drop_after_apply", count=1)
    sandbox.fault(method="PUT", path="/3.0/lists/*", mode="error", status=503, count=2)
    sandbox.fault(method="POST", path="/3.0/batches", mode="ratelimit", count=1)
    # Retries may give up on an unknown outcome; the next push finishes the job.
    with contextlib.suppress(RemoteError):
        do_push(store, sandbox)
    sandbox.admin("DELETE", "/_sandbox/faults")
    do_push(store, sandbox)
    members = sandbox.members()
    assert len(members) == 30
    assert {m.status for m in members.values()} == {"subscribed"}
    people = StakeholderStore(store).people()
    assert {r.pushed_status for r in people} == {"subscribed"}
    # Withdraw one person's consent under faults: the unsubscribe is not lost.
    path = tmp_path / "w.csv"
    path.write_text(
        HEADER + ",consent_withdrawn\nOrg 0,Person 0,p0@example.org,social_action,"
        "medium,no,2025-01-14,form,2025-03-01\n",
        encoding="utf-8",
    )
    import_file(StakeholderStore(store), path, allow_consent_changes=True)
    sandbox.fault(method="PUT", path="/3.0/lists/*", mode="drop_after_apply", count=1)
    with contextlib.suppress(RemoteError):
        do_push(store, sandbox)
    sandbox.admin("DELETE", "/_sandbox/faults")
    do_push(store, sandbox)
    assert sandbox.members()["p0@example.org"].status == "unsubscribed"
    assert StakeholderStore(store).get("p0@example.org").pushed_status == "unsubscribed"
    assert subscriber_hash("p0@example.org") == sandbox.members()["p0@example.org"].subscriber_hash
