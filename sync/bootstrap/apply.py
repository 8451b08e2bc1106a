"""The effect layer of bootstrap: one function per service that carries out its part of a plan.

Kept apart from the decisions (``sync.bootstrap.plan``) so that this module only does what the
plan says, in dependency order, journalling each create (``Journal.create``) and recording
every remote id in the state store as soon as it is known.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from connectors.base import BoardCard, BoardMember
from connectors.identity import item_metadata, with_marker
from connectors.roles import AudienceService, BoardService, ChatService
from playbooks.model import Playbook
from sync.bootstrap.desired import DesiredCard, DesiredState, welcome_text
from sync.bootstrap.plan import Change, Observed, Plan, cards_by_token, missing_checklist_items
from sync.bootstrap.results import ApplyContext, BootstrapResult
from sync.core.config import Config
from sync.core.mrkdwn import escape
from sync.state.journal import Journal
from sync.state.store import StateStore

Tick = Callable[[Change], None]


def _changes(plan: Plan, service: str, kind: str) -> dict[str, Change]:
    return {c.key: c for c in plan.changes if c.service == service and c.kind == kind}


def _count(result: BootstrapResult, change: Change, tick: Tick) -> None:
    result.applied[change.action] = result.applied.get(change.action, 0) + 1
    tick(change)


def _record_item(store: StateStore, card: DesiredCard, remote: BoardCard, status: str) -> None:
    """Record the item and its Trello side; the agreed base is what the card was made with."""
    item = store.ensure_item(
        key=card.key, number=card.number, kind=card.kind, title=card.title, step=card.step,
        owner=",".join(sorted(card.owner_emails)), due=card.due.isoformat() if card.due else None,
        status=status, source="playbook" if card.kind != "action" else "file",
    )
    if store.get_side(item.id, "trello") is None:
        base = {"status": status, "due": item.due, "title": card.title, "closed": False}
        store.put_side(item.id, "trello", remote.id, base, fingerprint="")


def apply_trello(config: Config, desired: DesiredState, observed: Observed, plan: Plan,
                 trello: BoardService, store: StateStore, journal: Journal, ctx: ApplyContext,
                 result: BootstrapResult, tick: Tick) -> None:
    """Board, lists, labels, people, then cards with their checklists."""
    wanted = desired.board
    board_change = _changes(plan, "trello", "board")["board"]
    if board_change.action == "create":
        board = journal.create("trello", "create_board", wanted.token,
                               lambda: trello.create_board(
                                   wanted.name, with_marker(wanted.description, wanted.token,
                                                            "board"),
                                   config.trello.workspace_id),
                               lambda b: b.id)
    else:
        board = observed.board.board if observed.board else next(
            b for b in observed.boards or () if b.id == board_change.remote_id)
    ctx.board_id, ctx.board_url = board.id, board.url
    store.put_resource("trello", "board", "board", board.id, url=board.url,
                       identity_token=wanted.token)
    result.links["trello_board"] = board.url
    _count(result, board_change, tick)

    list_changes = _changes(plan, "trello", "list")
    for item in wanted.lists:
        change = list_changes[item.status]
        remote_id = change.remote_id or journal.create(
            "trello", "create_list", f"list:{item.status}",
            partial(trello.create_list, board.id, item.name), lambda lst: lst.id).id
        ctx.lists[item.status] = remote_id
        store.put_resource("trello", "list", item.status, remote_id)
        _count(result, change, tick)

    label_changes = _changes(plan, "trello", "label")
    for label in wanted.labels:
        change = label_changes[label.key]
        remote_id = change.remote_id or journal.create(
            "trello", "create_label", f"label:{label.key}",
            partial(trello.create_label, board.id, label.name, label.color),
            lambda lab: lab.id).id
        ctx.labels[label.key] = remote_id
        store.put_resource("trello", "label", label.key, remote_id)
        _count(result, change, tick)

    _map_trello_people(config, trello, store, ctx, result)

    existing = cards_by_token(observed.board) if observed.board else {}
    card_changes = _changes(plan, "trello", "card")
    for card in wanted.cards:
        change = card_changes[card.key]
        remote = existing.get(card.token)
        if change.action == "create" or remote is None:
            # An item the store already has (a trial taken live, a card lost) keeps its state:
            # its card goes into the list of its status, not the playbook's first one.
            kept = store.get_item_by_key(card.key)
            status = kept.status if kept is not None and kept.status in ctx.lists else card.status
            remote = _create_card(card, trello, journal, ctx, status)
            _record_item(store, card, remote, status)
        else:
            status = next((s for s, lid in ctx.lists.items() if lid == remote.list_id), card.status)
            _record_item(store, card, remote, "cancelled" if remote.closed else status)
            if change.action == "complete" and observed.board is not None:
                _complete_checklist(card, remote, observed, trello, journal)
        ctx.card_urls[card.key] = remote.url
        _count(result, change, tick)


def _create_card(card: DesiredCard, trello: BoardService, journal: Journal,
                 ctx: ApplyContext, status: str) -> BoardCard:
    import datetime as dt

    due = dt.datetime.combine(card.due, dt.time(12, 0), tzinfo=dt.UTC) if card.due else None
    members = [ctx.trello_members[e] for e in card.owner_emails if e in ctx.trello_members]
    labels = [ctx.labels[card.label_key]] if card.label_key in ctx.labels else []
    desc = with_marker(card.body, card.token, card.number)
    remote = journal.create(
        "trello", "create_card", card.token,
        lambda: trello.create_card(ctx.lists[status], card.name, desc, due=due,
                                   label_ids=labels, member_ids=members),
        lambda c: c.id)
    if card.checklist:
        journal.create("trello", "create_checklist", f"{card.token}:checklist",
                       lambda: trello.create_checklist(remote.id, card.checklist_name,
                                                       card.checklist),
                       lambda c: c.id)
    return remote


def _complete_checklist(card: DesiredCard, remote: BoardCard, observed: Observed,
                        trello: BoardService, journal: Journal) -> None:
    assert observed.board is not None
    checklist, missing = missing_checklist_items(remote, observed.board, card.checklist_name,
                                                 card.checklist)
    if checklist is None:
        journal.create("trello", "create_checklist", f"{card.token}:checklist",
                       lambda: trello.create_checklist(remote.id, card.checklist_name,
                                                       card.checklist),
                       lambda c: c.id)
        return
    for name in missing:
        journal.create("trello", "add_checkitem", f"{card.token}:item",
                       partial(trello.add_checkitem, checklist.id, name), lambda i: i.id)


def _map_trello_people(config: Config, trello: BoardService, store: StateStore, ctx: ApplyContext,
                       result: BootstrapResult) -> None:
    """Trello hides other members' e-mails: map people by recorded id, username, or invite."""
    snapshot_members: dict[str, BoardMember] = {}
    for person in config.people:
        email = str(person.email)
        known = store.get_resource("trello", "member", email)
        if known is not None:
            ctx.trello_members[email] = known.remote_id
            continue
        if person.trello_username:
            snapshot_members = snapshot_members or {m.username: m for m in trello.snapshot(
                ctx.board_id).members}
            member = snapshot_members.get(person.trello_username)
        else:
            member = trello.invite_member(ctx.board_id, email, person.name)
        if member is None:
            result.unresolved.append(
                f"trello: {person.name} <{email}>: not found on the board; "
                "set trello_username in the config or ask them to accept the invitation")
            continue
        ctx.trello_members[email] = member.id
        store.put_resource("trello", "member", email, member.id)
        if not member.confirmed:
            result.pending.append(
                f"trello: {person.name} <{email}>: invited; has no Trello account yet (the "
                "invitation e-mail asks them to sign up; nothing to do for you)")


def apply_slack(config: Config, book: Playbook, desired: DesiredState, observed: Observed,
                plan: Plan, slack: ChatService, store: StateStore, journal: Journal,
                ctx: ApplyContext, result: BootstrapResult, tick: Tick) -> None:
    """Channels (created, adopted or unarchived), topic and purpose, invites, welcome."""

    channel_changes = _changes(plan, "slack", "channel")
    known = {c.name: c for c in observed.channels or ()}
    for channel in desired.channels:
        change = channel_changes[channel.key]
        if change.action == "create":
            remote = journal.create("slack", "create_channel", f"channel:{channel.name}",
                                    partial(slack.create_channel, channel.name),
                                    lambda c: c.id)
        else:
            remote = known[channel.name]
            if remote.is_archived and not slack.unarchive(remote.id):
                # Slack bots cannot unarchive; a second channel would split the alliance.
                result.unresolved.append(archived_channel_hint(channel.name))
                _count(result, change, tick)
                continue
            if not remote.is_member:  # made by someone else: we must be in it to post
                slack.join(remote.id)
        if change.action in ("create", "update"):
            slack.set_topic(remote.id, channel.topic)
            slack.set_purpose(remote.id, channel.purpose)
        ctx.channels[channel.key] = remote.id
        store.put_resource("slack", "channel", channel.key, remote.id)
        result.links[f"slack_{channel.key}_channel"] = f"#{channel.name}"
        _count(result, change, tick)

    invites = _changes(plan, "slack", "invites")["people"]
    user_ids = []
    for person in config.people:
        email = str(person.email)
        recorded = store.get_resource("slack", "user", email)
        user_id = person.slack_id or (recorded.remote_id if recorded else slack.lookup_user(email))
        if not user_id:
            result.unresolved.append(
                f"slack: {person.name} <{email}>: no Slack user with this e-mail; invite them "
                "to the workspace or set slack_id in the config")
            continue
        store.put_resource("slack", "user", email, user_id)
        if store.get_resource("slack", "invited", email) is None:
            user_ids.append((email, user_id))
    if user_ids:
        for channel_id in ctx.channels.values():
            slack.invite(channel_id, [uid for _, uid in user_ids])
        for email, user_id in user_ids:
            store.put_resource("slack", "invited", email, user_id)
    _count(result, invites, tick)

    welcome = _changes(plan, "slack", "message")["welcome"]
    if "general" not in ctx.channels:  # archived, waiting for an admin: welcome next time
        pass
    elif welcome.action == "create":
        charter = next((url for key, url in ctx.card_urls.items() if key.endswith("charter")), "")
        text = escape(welcome_text(config, book, desired, ctx.board_url
                                   or _recorded_url(store, "trello", "board", "board"), charter))
        general = ctx.channels["general"]
        message = journal.create(
            "slack", "post_welcome", desired.welcome_token,
            lambda: slack.post_message(general, text,
                                       metadata=item_metadata(desired.welcome_token, "welcome")),
            lambda m: m.ts)
        slack.pin(general, message.ts)
        store.put_resource("slack", "message", "welcome", message.ts)
    elif welcome.action == "complete":  # posted by a run that died before pinning it
        slack.pin(ctx.channels["general"], observed.welcome_unpinned)
        store.put_resource("slack", "message", "welcome", observed.welcome_unpinned)
    _count(result, welcome, tick)


def archived_channel_hint(name: str) -> str:
    """What to do about an archived channel the bot token cannot unarchive."""
    return (f"slack: #{name} exists but is archived, and a Slack app (bot token) cannot "
            "unarchive it: ask a workspace admin or member to unarchive it in Slack (open the "
            "channel, then Unarchive), then run bootstrap again; or choose another name in "
            "slack.general_channel / slack.actions_channel")


def _recorded_url(store: StateStore, service: str, kind: str, key: str) -> str:
    resource = store.get_resource(service, kind, key)
    return resource.url if resource else ""


def apply_mailchimp(desired: DesiredState, observed: Observed, plan: Plan,
                    mailchimp: AudienceService, store: StateStore, journal: Journal,
                    ctx: ApplyContext, result: BootstrapResult, tick: Tick) -> None:
    """The audience (created or adopted), its merge fields and tags."""
    wanted = desired.audience
    change = _changes(plan, "mailchimp", "audience")["audience"]
    spec: dict[str, Any] = dict(wanted.spec)
    audience_id = change.remote_id or journal.create(
        "mailchimp", "create_audience", f"audience:{wanted.name}",
        lambda: mailchimp.create_audience(spec), lambda a: a.id).id
    ctx.audience_id = audience_id
    store.put_resource("mailchimp", "audience", "audience", audience_id)
    result.links["mailchimp_audience"] = audience_id
    _count(result, change, tick)
    for tag, name, kind in wanted.merge_fields:
        field_change = _changes(plan, "mailchimp", "merge_field")[tag]
        if field_change.action == "create":
            journal.create("mailchimp", "create_merge_field", f"merge:{tag}",
                           partial(mailchimp.create_merge_field, audience_id, tag, name, kind),
                           partial(_the_key, tag))
        _count(result, field_change, tick)
    for tag in wanted.tags:
        tag_change = _changes(plan, "mailchimp", "tag")[tag]
        if tag_change.action == "create":
            journal.create("mailchimp", "create_tag", f"tag:{tag}",
                           partial(mailchimp.create_tag, audience_id, tag),
                           partial(_the_key, tag))
        _count(result, tag_change, tick)


def _the_key(key: str, _created: object) -> str:
    """The remote id of a merge field or tag: its key (bound per loop turn with ``partial``)."""
    return key
