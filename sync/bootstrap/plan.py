"""Bootstrap planning: compare what should exist with what does, as a pure function.

``plan_bootstrap(desired, observed)`` returns one :class:`Change` per object (create / adopt /
complete / nothing), in the order they must be applied. Existing objects are found by their
identity token (board, cards, messages) or by their name (lists, labels, channels, audience),
so a crashed run is simply planned again: what was made is adopted, the rest is created.

Existing cards are never *updated* by bootstrap: once a card exists it belongs to the members
and to ``mcm-sync sync``. Bootstrap only completes what a crash left half-made (a missing
checklist or checklist items).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from connectors.base import (
    Audience,
    Board,
    BoardCard,
    BoardSnapshot,
    ChatChannel,
    Checklist,
)
from connectors.identity import token_in
from sync.bootstrap.desired import DesiredState

Action = Literal["create", "adopt", "complete", "update", "nothing"]
SERVICES = ("trello", "slack", "mailchimp")


@dataclass(frozen=True)
class Change:
    """One planned change: which object, what to do, and why."""

    service: str
    kind: str
    key: str
    action: Action
    detail: str = ""
    remote_id: str = ""

    def as_dict(self) -> dict[str, str]:
        """JSON-ready form for ``mcm-sync plan --json``."""
        return {
            "service": self.service,
            "kind": self.kind,
            "key": self.key,
            "action": self.action,
            "detail": self.detail,
            "remote_id": self.remote_id,
        }


@dataclass(frozen=True)
class Observed:
    """What exists remotely (read-only), per service; ``None`` where a service is not read."""

    boards: tuple[Board, ...] | None = None
    board: BoardSnapshot | None = None
    channels: tuple[ChatChannel, ...] | None = None
    welcome_posted: bool = False
    welcome_unpinned: str = ""  # ts of a posted welcome message not recorded as pinned
    uninvited: tuple[str, ...] = ()
    audiences: tuple[Audience, ...] | None = None
    merge_fields: frozenset[str] = frozenset()
    tags: frozenset[str] = frozenset()


@dataclass
class Plan:
    """The ordered changes of a bootstrap, with per-service counts."""

    changes: list[Change] = field(default_factory=list)

    def counts(self) -> dict[str, dict[str, int]]:
        """``{service: {action: n}}`` for the summary line."""
        result: dict[str, dict[str, int]] = {}
        for change in self.changes:
            per = result.setdefault(change.service, {})
            per[change.action] = per.get(change.action, 0) + 1
        return result

    def writes(self) -> list[Change]:
        """The changes that write something remotely."""
        return [c for c in self.changes if c.action in ("create", "complete", "update")]


def find_board(boards: Sequence[Board], token: str) -> Board | None:
    """Our board among the member's boards, by the token in its description."""
    return next((b for b in boards if token_in(b.desc) == token and not b.closed), None)


def cards_by_token(snapshot: BoardSnapshot) -> dict[str, BoardCard]:
    """Cards carrying one of our tokens; the oldest wins if a duplicate ever slipped in."""
    found: dict[str, BoardCard] = {}
    for card in snapshot.cards:
        token = token_in(card.desc)
        if token and token not in found:
            found[token] = card
    return found


def missing_checklist_items(
    card: BoardCard, snapshot: BoardSnapshot, name: str, items: Sequence[str]
) -> tuple[Checklist | None, list[str]]:
    """The card's checklist called ``name`` (if any) and the items it still lacks."""
    checklist = next(
        (c for c in snapshot.checklists if c.card_id == card.id and c.name == name), None
    )
    have = {item.name for item in checklist.items} if checklist else set()
    return checklist, [item for item in items if item not in have]


def _plan_trello(desired: DesiredState, observed: Observed) -> list[Change]:
    wanted = desired.board
    board = find_board(observed.boards or (), wanted.token)
    snapshot = (
        observed.board if board and observed.board and observed.board.board.id == board.id else None
    )
    changes = [
        Change(
            "trello",
            "board",
            "board",
            "adopt" if board else "create",
            wanted.name,
            board.id if board else "",
        )
    ]
    lists = {lst.name: lst for lst in snapshot.lists if not lst.closed} if snapshot else {}
    for item in wanted.lists:
        found = lists.get(item.name)
        changes.append(
            Change(
                "trello",
                "list",
                item.status,
                "adopt" if found else "create",
                item.name,
                found.id if found else "",
            )
        )
    labels = {lab.name: lab for lab in snapshot.labels} if snapshot else {}
    for label in wanted.labels:
        found_label = labels.get(label.name)
        changes.append(
            Change(
                "trello",
                "label",
                label.key,
                "adopt" if found_label else "create",
                label.name,
                found_label.id if found_label else "",
            )
        )
    existing = cards_by_token(snapshot) if snapshot else {}
    for card in wanted.cards:
        found_card = existing.get(card.token)
        if found_card is None:
            changes.append(Change("trello", "card", card.key, "create", card.name))
            continue
        assert snapshot is not None
        action: Action = "adopt"
        detail = card.name
        if card.checklist:
            checklist, missing = missing_checklist_items(
                found_card, snapshot, card.checklist_name, card.checklist
            )
            if checklist is None or missing:
                action = "complete"
                detail = f"{card.name}: add {len(missing)} checklist item(s)"
        changes.append(Change("trello", "card", card.key, action, detail, found_card.id))
    return changes


def _plan_slack(desired: DesiredState, observed: Observed) -> list[Change]:
    by_name = {channel.name: channel for channel in observed.channels or ()}
    changes = []
    for channel in desired.channels:
        found = by_name.get(channel.name)
        if found is None:
            changes.append(Change("slack", "channel", channel.key, "create", f"#{channel.name}"))
        elif found.is_archived:
            changes.append(
                Change(
                    "slack",
                    "channel",
                    channel.key,
                    "update",
                    f"#{channel.name}: archived: unarchive (a bot cannot: else an admin must)",
                    found.id,
                )
            )
        elif not found.is_member:
            changes.append(
                Change("slack", "channel", channel.key, "update", f"#{channel.name}: join",
                       found.id)
            )
        elif found.topic != channel.topic or found.purpose != channel.purpose:
            changes.append(
                Change(
                    "slack",
                    "channel",
                    channel.key,
                    "update",
                    f"#{channel.name}: set topic and purpose",
                    found.id,
                )
            )
        else:
            changes.append(
                Change("slack", "channel", channel.key, "adopt", f"#{channel.name}", found.id)
            )
    # People already invited (recorded in the state) are not asked again.
    uninvited = len(observed.uninvited)
    changes.append(
        Change(
            "slack",
            "invites",
            "people",
            "update" if uninvited else "nothing",
            f"invite {uninvited} people by e-mail" if uninvited else "everyone invited",
        )
    )
    if observed.welcome_unpinned:
        welcome: Action = "complete"
        detail = "pin the welcome message in the general channel"
    else:
        welcome = "nothing" if observed.welcome_posted else "create"
        detail = "pinned welcome message in the general channel"
    changes.append(Change("slack", "message", "welcome", welcome, detail))
    return changes


def _plan_mailchimp(desired: DesiredState, observed: Observed) -> list[Change]:
    wanted = desired.audience
    audiences = observed.audiences or ()
    if wanted.adopt_id:
        found = next((a for a in audiences if a.id == wanted.adopt_id), None)
    else:
        found = next((a for a in audiences if a.name == wanted.name), None)
    changes = [
        Change(
            "mailchimp",
            "audience",
            "audience",
            "adopt" if found else "create",
            found.name if found else wanted.name,
            found.id if found else "",
        )
    ]
    for tag, name, _kind in wanted.merge_fields:
        have = found is not None and tag in observed.merge_fields
        changes.append(
            Change("mailchimp", "merge_field", tag, "nothing" if have else "create", name)
        )
    for tag in wanted.tags:
        have = found is not None and tag in observed.tags
        changes.append(Change("mailchimp", "tag", tag, "nothing" if have else "create", tag))
    return changes


def plan_bootstrap(
    desired: DesiredState, observed: Observed, services: Sequence[str] = SERVICES
) -> Plan:
    """The ordered changes that make ``observed`` match ``desired`` for ``services``."""
    plan = Plan()
    if "trello" in services:
        plan.changes += _plan_trello(desired, observed)
    if "slack" in services:
        plan.changes += _plan_slack(desired, observed)
    if "mailchimp" in services:
        plan.changes += _plan_mailchimp(desired, observed)
    return plan
