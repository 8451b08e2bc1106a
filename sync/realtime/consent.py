"""Mailchimp's list webhook posts in the stakeholder database and its consent ledger.

An unsubscribe or a cleaned address is recorded at once, so no later push subscribes the
person again; an address change moves the person's row; a profile update changes their name,
organisation or role.
"""

from __future__ import annotations

import logging

from sync.audience.plan import profile_changes
from sync.audience.store import StakeholderStore
from sync.state.events import QueuedEvent
from sync.state.store import StateStore

log = logging.getLogger("mcm_sync.serve")


def file_consent(store: StateStore, event: QueuedEvent) -> bool:
    """A Mailchimp post in the stakeholder database and its consent ledger; False if the
    person is not in the database.

    - ``unsubscribe`` / ``cleaned``: the person left (or bounced); noted at once, so no
      later push subscribes them again;
    - ``subscribe``: they signed up again themselves;
    - ``upemail``: they changed their address; their row (and its bookkeeping) moves to the
      new address, so the next push updates the member Mailchimp now files under it and
      never makes one for the old address;
    - ``profile``: their own edit of name, organisation or role reaches their row.
    """
    people = StakeholderStore(store)
    payload = event.payload
    email = str(payload.get("email") or "")
    person = people.find_email(email)
    if person is None:
        log.info("mailchimp %s for someone not in the stakeholder database: ignored",
                 event.kind)
        return False
    fired = str(payload.get("fired_at") or event.received_at)
    if event.kind in ("unsubscribe", "cleaned"):
        people.mark_remote(person.key, "unsubscribed" if event.kind == "unsubscribe"
                           else "cleaned", fired)
    elif event.kind == "subscribe":
        people.mark_remote(person.key, "subscribed", fired)
    elif event.kind == "upemail":
        new_email = str(payload.get("new_email") or "")
        if not new_email or people.move_address(person.key, new_email) is None:
            log.warning("mailchimp upemail to an address that is invalid or already another "
                        "stakeholder's: the stakeholder database was not changed")
        else:
            log.info("mailchimp upemail: a stakeholder's address changed")
    elif event.kind == "profile":
        given = payload.get("merges")
        merges = given if isinstance(given, dict) else {}
        changes = profile_changes(person.person, {str(k): str(v) for k, v in merges.items()})
        try:
            changed = people.update_person(person.key, changes) if changes else False
        except ValueError as exc:  # a value our database refuses (too long, ...)
            log.warning("mailchimp profile update not taken: %s", exc)
            changed = False
        if changed:
            log.info("mailchimp profile: a stakeholder's %s changed", ", ".join(sorted(changes)))
    return True
