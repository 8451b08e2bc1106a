"""One round of members' and the coordinator's changes on a bootstrapped, synced alliance.

Shared by the crash-point enumeration and the state machine's seed: every kind of change the
sync handles, plus one conflict (a card moved to Done while someone reacts "blocked").
"""

from __future__ import annotations

import datetime as dt
import uuid

from playbooks.model import STATUSES
from sync.state.events import EventQueue
from tests.support.fake_alliance import FakeAlliance

BRAM = "bram.visser@example.org"


def item_ids(alliance: FakeAlliance) -> dict[str, tuple[str, str]]:
    """Item number -> (card id, message ts) as the state store records them."""
    found = {}
    with alliance.store() as store:
        for item in store.list_items():
            trello = store.get_side(item.id, "trello")
            slack = store.get_side(item.id, "slack")
            found[item.number] = (trello.remote_id if trello else "",
                                  slack.remote_id if slack else "")
    return found


def member_changes(alliance: FakeAlliance) -> None:
    """Members move, archive, re-date, rename and add cards, react, reply and comment; the
    coordinator edits two action-plan rows."""
    ids = item_ids(alliance)
    lists = {s: alliance.resource("trello", "list", s) for s in STATUSES}
    actions = alliance.resource("slack", "channel", "actions")
    world = alliance.world
    world.as_member("bram.visser@example.org").move_card(ids["FRL-1"][0], lists["doing"])
    world.as_member("carla.mulder@example.org").archive_card(ids["FRL-2"][0])
    world.as_member("daan.bakker@example.org").set_due(ids["FRL-3"][0], dt.date(2027, 5, 1))
    world.as_member("esra.yilmaz@example.org").rename_card(ids["FRL-4"][0],
                                                           "FRL-4 · A better title")
    world.as_member("farah.haddad@example.org").add_card(lists["todo"], "Invite the library")
    world.as_member("gerrit.hoekstra@example.org").react(actions, ids["FRL-5"][1],
                                                         "white_check_mark")
    world.as_member("hana.tesfaye@example.org").reply(actions, ids["FRL-6"][1],
                                                      "I can help with this")
    world.as_member("ivo.postma@example.org").comment(ids["FRL-7"][0], "Booked the room")
    world.as_member("bram.visser@example.org").move_card(ids["FRL-8"][0], lists["done"])
    world.as_member("jamila.osman@example.org").react(actions, ids["FRL-8"][1], "no_entry")
    alliance.edit_row("2", status="blocked")
    alliance.edit_row("3", due="2027-09-30")


def queue_card_move(alliance: FakeAlliance, queue: EventQueue, number: str, status: str) -> None:
    """Bram drags the item's card to ``status``'s list; Trello's delivery is queued (as
    ``serve``'s webhook would store it)."""
    card, _ = item_ids(alliance)[number]
    alliance.world.as_member(BRAM).move_card(card, alliance.resource("trello", "list", status))
    action = uuid.uuid4().hex
    queue.put("trello", action, "updateCard", card,
              {"action_id": action, "type": "updateCard", "card_id": card,
               "member_id": "bram", "member": "Bram Visser", "date": "", "text": ""})
