"""``serve`` and the workers share one real-time path (issue 20): the queue and the backstop
of ``serve -c`` run through :meth:`sync.api.Alliance.work`, so the backstop is the very sync
``mcm-sync sync`` runs, the stakeholder push to Mailchimp included.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any

import pytest

from connectors.sandbox.clients.testing import mailchimp_client
from sync.audience.store import StakeholderStore
from tests.support.paths import ROOT
from tests.support.serving import start, wait_for
from tests.support.synced import Synced

ANNA = "anna.voorbeeld@example.org"


@pytest.fixture
def alliance(tmp_path: Any, synced_template: Any) -> Iterator[Synced]:
    made = Synced(tmp_path, copy_of=synced_template)
    made.cli("stakeholders", "import", str(ROOT / "playbooks/examples/stakeholders-friesland.csv"))
    made.cli("stakeholders", "push")
    yield made
    made.close()


def test_the_backstop_of_serve_pushes_a_stakeholder_change_to_mailchimp(
        alliance: Synced) -> None:
    audience = alliance.resource("mailchimp", "audience", "audience")
    members = mailchimp_client(alliance.server).lists
    anna = hashlib.md5(ANNA.encode()).hexdigest()
    with alliance.store() as store:
        people = StakeholderStore(store)
        record = people.find_email(ANNA)
        assert record is not None
        assert people.update_person(record.key, {"contact_person": "Anna Nieuwenhuis"})
    assert members.get_list_member(audience, anna)["merge_fields"]["LNAME"] != "Nieuwenhuis"
    service = start(alliance, reconcile_every=0.3, register=False)
    try:
        wait_for(lambda: members.get_list_member(audience, anna)["merge_fields"]["LNAME"]
                 == "Nieuwenhuis")
    finally:
        service.stop()
    assert not service.errors
