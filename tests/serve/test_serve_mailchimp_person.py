"""A person's acts in Mailchimp reach the stakeholder database through serve, and a later
push never subscribes them again (issue 22).

On the sandbox each act is whole, as in Mailchimp: an unsubscribe fires the webhook and puts
the address in compliance state; an address change files the member under the new address's
hash and fires ``upemail`` then ``profile``.
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
CARLA = "carla.voorbeeld@example.org"


def md5(email: str) -> str:
    return hashlib.md5(email.lower().encode()).hexdigest()


@pytest.fixture
def alliance(tmp_path: Any, synced_template: Any) -> Iterator[Synced]:
    made = Synced(tmp_path, copy_of=synced_template)
    made.cli("stakeholders", "import", str(ROOT / "playbooks/examples/stakeholders-friesland.csv"))
    made.cli("stakeholders", "push")
    yield made
    made.close()


def _person(alliance: Synced, email: str) -> Any:
    with alliance.store() as store:
        return StakeholderStore(store).find_email(email)


def _act(alliance: Synced, audience: str, **body: Any) -> None:
    answer = alliance.admin("POST", "/_sandbox/mailchimp/member", {"list_id": audience, **body})
    assert answer["webhooks"] >= 1, answer  # upemail: upemail and profile


def test_unsubscribe_address_change_and_profile_reach_the_database(alliance: Synced) -> None:
    audience = alliance.resource("mailchimp", "audience", "audience")
    mc = mailchimp_client(alliance.server)
    service = start(alliance)
    try:
        _act(alliance, audience, email=ANNA, action="unsubscribe")
        _act(alliance, audience, email=CARLA, action="upemail",
             new_email="Carla.Nieuw@Example.org")
        wait_for(lambda: (_person(alliance, ANNA).remote_status == "unsubscribed"
                          and _person(alliance, "carla.nieuw@example.org") is not None))
        _act(alliance, audience, email="carla.nieuw@example.org", action="profile",
             merge_fields={"FNAME": "Carla", "LNAME": "Nieuwenhuis"})
        wait_for(lambda: _person(alliance, "carla.nieuw@example.org").person.contact_person
                 == "Carla Nieuwenhuis")
    finally:
        service.stop()
    assert _person(alliance, CARLA) is None  # filed under the new address only
    moved = _person(alliance, "carla.nieuw@example.org")
    assert moved.person.email.lower() == "carla.nieuw@example.org" and moved.pushed_status
    # A later push: Anna stays unsubscribed, Carla's member is updated, not made again.
    pushed = alliance.json("stakeholders", "push")
    assert pushed["planned"].get("blocked", 0) >= 1 and pushed["failed"] == [], pushed
    assert mc.lists.get_list_member(audience, md5(ANNA))["status"] == "unsubscribed"
    member = mc.lists.get_list_member(audience, md5("carla.nieuw@example.org"))
    assert member["status"] == "subscribed"
    assert member["merge_fields"]["LNAME"] == "Nieuwenhuis"
    emails = {m["email_address"].lower()
              for m in mc.lists.get_list_members_info(audience, count=1000)["members"]}
    assert CARLA not in emails


def test_profile_changes_take_name_organisation_and_role_only() -> None:
    from sync.audience.model import Stakeholder
    from sync.audience.plan import profile_changes

    person = Stakeholder(organisation="Kruispunt", contact_person="Carla Voorbeeld",
                         email="carla@example.org")
    assert profile_changes(person, {"FNAME": "Carla", "LNAME": "Voorbeeld"}) == {}
    assert profile_changes(person, {"FNAME": "Carla", "LNAME": "de Vries", "ORG": "",
                                    "ROLE": "mentor", "SECTOR": "x"}) == {
        "contact_person": "Carla de Vries", "role": "mentor"}


def test_playing_newsletter_readers_from_the_cli(alliance: Synced) -> None:
    from mailchimp_marketing.api_client import ApiClientError

    audience = alliance.resource("mailchimp", "audience", "audience")
    mc = mailchimp_client(alliance.server)
    said = alliance.cli("sandbox", "unsubscribe", ANNA).output
    assert "unsubscribed from the newsletter" in said
    with pytest.raises(ApiClientError) as refused:  # one act: compliance state too
        mc.lists.update_list_member(audience, md5(ANNA), {"status": "subscribed"})
    assert "Compliance State" in refused.value.text
    alliance.cli("sandbox", "change-email", CARLA, "carla.new@example.org")
    assert mc.lists.get_list_member(audience, md5("carla.new@example.org"))["status"]
    alliance.cli("sandbox", "update-profile", "carla.new@example.org", "--name", "Carla Nieuw")
    alliance.cli("sandbox", "signup", "someone.new@example.org", "--name", "Some One")
    assert mc.lists.get_list_member(audience, md5("someone.new@example.org"))[
        "merge_fields"]["FNAME"] == "Some"
    missing = alliance.cli("sandbox", "bounce", "nobody@example.org", expect=4)
    assert "no such member" in missing.stderr
    # Without serve, the next push pulls the unsubscribe first and never re-subscribes.
    pushed = alliance.json("stakeholders", "push")
    assert {"key": ANNA, "status": "unsubscribed"} in pushed["pulled"]
    assert mc.lists.get_list_member(audience, md5(ANNA))["status"] == "unsubscribed"


def test_a_sheet_with_an_address_the_person_left_is_never_subscribed_again(
        alliance: Synced) -> None:
    """The coordinator re-imports the sheet that still has Carla's old address after she
    changed it in Mailchimp: the row updates Carla at her new address (the import says so),
    and the push makes no member of the old address."""
    from mailchimp_marketing.api_client import ApiClientError

    audience = alliance.resource("mailchimp", "audience", "audience")
    mc = mailchimp_client(alliance.server)
    service = start(alliance)
    try:
        _act(alliance, audience, email=CARLA, action="upemail", new_email="carla.nieuw@example.org")
        wait_for(lambda: _person(alliance, "carla.nieuw@example.org") is not None)
    finally:
        service.stop()
    sheet = ROOT / "playbooks/examples/stakeholders-friesland.csv"
    imported = alliance.cli("stakeholders", "import", str(sheet))
    assert (f"moved: {sheet}: row 4: the person at {CARLA} changed their address to "
            "carla.nieuw@example.org in Mailchimp") in imported.stderr
    assert "0 new" in imported.stdout and _person(alliance, CARLA) is None
    pushed = alliance.json("stakeholders", "push")
    assert pushed["failed"] == [], pushed
    with pytest.raises(ApiClientError) as missing:  # Mailchimp has no member there
        mc.lists.get_list_member(audience, md5(CARLA))
    assert missing.value.status_code == 404
    emails = {m["email_address"].lower()
              for m in mc.lists.get_list_members_info(audience, count=1000)["members"]}
    assert CARLA not in emails and "carla.nieuw@example.org" in emails
