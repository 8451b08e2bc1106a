"""Normalised values: what a card or a message *means* for an item, as plain comparable data.

The sync compares values, not activity: these pure functions turn a Trello card and a Slack
message into the fields the three-way decision (``sync.engine.decide``) works on, and render the
item message that the bot keeps in the actions channel.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence

from connectors.base import BoardCard, ChatMessage
from playbooks.model import CLOSED_STATUSES, OPEN_STATUSES, STATUSES

_NUMBER_PREFIX = re.compile(r"^\s*[A-Z0-9]+-\d+\s*·\s*")
# When several new reactions arrive at once, the most decisive one wins: a closing status
# first, then the open ones from the furthest along (done, cancelled, blocked, doing, todo).
_REACTION_PRIORITY = (*CLOSED_STATUSES, *reversed(OPEN_STATUSES))


def card_title(name: str) -> str:
    """The item title in a card name (our ``FRL-12 ·`` prefix removed)."""
    return _NUMBER_PREFIX.sub("", name).strip()


def card_status(card: BoardCard, list_status: Mapping[str, str], previous: str) -> str:
    """The status a card shows: archived is cancelled; else its list's status.

    ``previous`` is the status last agreed for the card. A card in a list that is not one of
    our status lists (a member made a new list) keeps it, so an unknown list never loses
    information. "Mark complete" means done, unless the member has just dragged the card to
    another list (moving a card back out of Done reopens it; we clear the mark then).
    """
    if card.closed:
        return "cancelled"
    status = list_status.get(card.list_id)
    if status is None:
        return previous
    moved = status != previous
    if card.due_complete and status != "cancelled" and not (moved and previous == "done"):
        return "done"
    return status


def card_values(card: BoardCard, list_status: Mapping[str, str], member_emails: Mapping[str, str],
                previous_status: str) -> dict[str, object]:
    """The fields a card carries: status, due (ISO date), title, owners (sorted e-mails)."""
    owners = sorted(member_emails.get(member_id, f"trello:{member_id}")
                    for member_id in card.member_ids)
    return {
        "status": card_status(card, list_status, previous_status),
        "due": card.due.date().isoformat() if card.due else None,
        "title": card_title(card.name),
        "owners": ",".join(owners),
    }


def reaction_set(message: ChatMessage, ignore_users: Sequence[str] = ()) -> dict[str, list[str]]:
    """The message's reactions by people (our own bot's left out), sorted for comparing."""
    return {name: sorted(u for u in users if u not in ignore_users)
            for name, users in sorted(message.reactions.items())
            if any(u not in ignore_users for u in users)}


def split_reactions(current: Mapping[str, Sequence[str]], seen: Mapping[str, Sequence[str]],
                    emoji_map: Mapping[str, str], allowed: Collection[str] | None
                    ) -> tuple[dict[str, list[str]], list[tuple[str, str]]]:
    """The reactions that may change the item, and the new status reactions of anyone else.

    ``allowed``: the Slack user ids of the alliance's people (``None``: anyone may). The second
    value lists (emoji, user) pairs added since the last sync by someone not allowed: they
    change nothing and are reported instead.
    """
    if allowed is None:
        return {name: list(users) for name, users in current.items()}, []
    counted = {name: [u for u in users if u in allowed] for name, users in current.items()}
    strangers = [(name, user) for name, users in current.items() if name in emoji_map
                 for user in users if user not in allowed and user not in seen.get(name, ())]
    return {name: users for name, users in counted.items() if users}, strangers


def status_requests(current: Mapping[str, Sequence[str]], seen: Mapping[str, Sequence[str]],
                    emoji_map: Mapping[str, str], base_status: str,
                    presses: Sequence[tuple[str, str]] = ()) -> list[tuple[str, str]]:
    """Every status the message's people asked for since the last sync, as (status, user id),
    the one that counts first.

    A request is a status reaction added since the last sync (one left in place from earlier
    does not keep overriding later changes made in Trello; removing one asks for nothing) or
    a button press (``presses``: (status, user) in the order delivered). Neither asks for the
    status the message already shows (``base_status``): among several it must not outrank
    one that asks for a change. The last press counts first (the freshest act, and the one
    its presser sees answered), then earlier presses, then the reactions, the most decisive
    first (reactions carry no time to order them by). A member's press followed by a later
    press of theirs is history, not a request: they changed their mind. Every request after
    the first is an outranked one: a conflict's loser unless it asks for the agreed status
    (:func:`sync.engine.decide.decide`), never dropped.
    """
    wanted: list[tuple[str, str]] = []
    pressed_later: set[str] = set()
    for status, user in reversed(presses):
        if user not in pressed_later and status != base_status:
            wanted.append((status, user))
        pressed_later.add(user)
    reacted = [(emoji_map[name], user) for name, users in current.items() if name in emoji_map
               for user in users if user not in seen.get(name, ())
               and emoji_map[name] != base_status]
    reacted.sort(key=lambda pair: _REACTION_PRIORITY.index(pair[0]))
    for pair in reacted:  # one request per person and status (two emoji may mean one)
        if pair not in wanted:
            wanted.append(pair)
    return wanted


def render_item_message(template: str, labels: Mapping[str, str], *, number: str, title: str,
                        step: str, owner: str, due: str | None, status: str) -> str:
    """The text of an item's message in the actions channel."""
    return template.format(
        number=number, title=title, step=step, owner=owner or labels["nobody"],
        due=due or labels["no_date"], status=labels.get(f"status:{status}", status),
        step_label=labels["step"], owner_label=labels["owner"], due_label=labels["due"],
        status_label=labels["status"],
    )


def valid_status(value: str) -> bool:
    """True for one of the statuses (playbooks.model.STATUSES)."""
    return value in STATUSES
