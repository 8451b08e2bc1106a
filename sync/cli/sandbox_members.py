"""``mcm-sync sandbox move|react|reply|comment|add-card|archive``: play a member on the sandbox;
``mcm-sync sandbox unsubscribe|bounce|change-email|update-profile|signup``: play a newsletter
reader.

For trying mcm-sync without accounts: each command does, as one person, what that person
would do in Trello, Slack or a newsletter, on the running sandbox (``mcm-sync sandbox serve``)
or an embedded one; then ``mcm-sync sync`` (or a running ``serve``) carries it to the others.
Anyone may be played: someone who is not one of the alliance's people gets the answers the
service gives a stranger (Trello refuses a non-member of the board; a reaction in the public
actions channel is taken by Slack, and mcm-sync ignores it). A newsletter reader's act is whole,
as in Mailchimp: an unsubscribe fires the audience's webhook and puts the address in
compliance state.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import click

import playbooks
from sync.api.services import sandbox_url
from sync.cli.app import AppContext, pass_app
from sync.cli.support.helptext import HelpCommand
from sync.cli.support.i18n import N_
from sync.core.errors import UserError

if TYPE_CHECKING:
    from sync.api.config import Config
    from sync.api.services import StateStore


def _default_member(config: Config) -> str:
    members = [p for p in config.people if p.role == "member"] or list(config.people)
    return str(members[0].email)


@contextmanager
def _member(app: AppContext, email: str | None) -> Iterator[tuple[Any, StateStore, Config]]:
    """The acting member on the alliance's sandbox, and the state store to find items in."""
    from connectors.sandbox.clients.members import SandboxMember

    config = app.config
    if not config.sandbox:
        raise UserError("members can only be played on the sandbox",
                        hint="set sandbox: true in the config; on the real services, act in "
                        "Trello or Slack yourself")
    who = (email or _default_member(config)).strip()
    if "@" not in who:
        raise UserError(f"--as {who!r} is not an e-mail address",
                        hint="e.g. --as someone@example.org (anyone may be played)")
    with app.alliance.store() as store, sandbox_url(app.alliance) as url:
        yield SandboxMember(url, who), store, config


def _side(store: StateStore, number: str, side: str) -> str:
    item = store.get_item_by_number(number)
    if item is None:
        raise UserError(f"no item {number}", hint="see `mcm-sync status` for the numbers")
    found = store.get_side(item.id, side)
    if found is None:
        raise UserError(f"{number} has no {side} side yet", hint="run `mcm-sync sync` first")
    return str(found.remote_id)


def _resource(store: StateStore, service: str, kind: str, key: str) -> str:
    found = store.get_resource(service, kind, key)
    if found is None:
        raise UserError(f"no {service} {kind} {key} yet", hint="run `mcm-sync bootstrap` first")
    return str(found.remote_id)


_AS = click.option("--as", "email",
                   help="The person's e-mail (default: the first member); someone who is not "
                   "one of the alliance's people is answered as the service answers a "
                   "stranger.")
STATUSES = click.Choice(list(playbooks.STATUSES))


@click.command("move", cls=HelpCommand)
@click.argument("number")
@click.argument("status", type=STATUSES)
@_AS
@pass_app
def move(app: AppContext, number: str, status: str, email: str | None) -> None:
    """Drag item NUMBER's card to the STATUS list in Trello."""
    with _member(app, email) as (member, store, _config):
        member.move_card(_side(store, number, "trello"),
                         _resource(store, "trello", "list", status))
    click.echo(app.texts.gettext("%(who)s moved %(number)s to %(status)s in Trello")
               % {"who": member.email, "number": number, "status": status})


@click.command("react", cls=HelpCommand)
@click.argument("number")
@click.argument("emoji")
@_AS
@pass_app
def react(app: AppContext, number: str, emoji: str, email: str | None) -> None:
    """React with EMOJI (e.g. white_check_mark) to item NUMBER's Slack message."""
    with _member(app, email) as (member, store, _config):
        member.react(_resource(store, "slack", "channel", "actions"),
                     _side(store, number, "slack"), emoji.strip(":"))
    click.echo(app.texts.gettext("%(who)s reacted %(emoji)s to %(number)s in Slack")
               % {"who": member.email, "emoji": f":{emoji.strip(':')}:", "number": number})


@click.command("reply", cls=HelpCommand)
@click.argument("number")
@click.argument("text")
@_AS
@pass_app
def reply(app: AppContext, number: str, text: str, email: str | None) -> None:
    """Reply TEXT in item NUMBER's Slack thread."""
    with _member(app, email) as (member, store, _config):
        member.reply(_resource(store, "slack", "channel", "actions"),
                     _side(store, number, "slack"), text)
    click.echo(app.texts.gettext("%(who)s replied in %(number)s's thread in Slack")
               % {"who": member.email, "number": number})


@click.command("comment", cls=HelpCommand)
@click.argument("number")
@click.argument("text")
@_AS
@pass_app
def comment(app: AppContext, number: str, text: str, email: str | None) -> None:
    """Comment TEXT on item NUMBER's Trello card."""
    with _member(app, email) as (member, store, _config):
        member.comment(_side(store, number, "trello"), text)
    click.echo(app.texts.gettext("%(who)s commented on %(number)s in Trello")
               % {"who": member.email, "number": number})


@click.command("add-card", cls=HelpCommand)
@click.argument("title")
@click.option("--status", type=STATUSES, default="todo", show_default=True,
              help="The list the card is added to.")
@_AS
@pass_app
def add_card(app: AppContext, title: str, status: str, email: str | None) -> None:
    """Add a new card TITLE to the board (it becomes an action item at the next sync)."""
    with _member(app, email) as (member, store, _config):
        member.add_card(_resource(store, "trello", "list", status), title)
    click.echo(app.texts.gettext("%(who)s added the card %(title)s in Trello")
               % {"who": member.email, "title": repr(title)})


@click.command("archive", cls=HelpCommand)
@click.argument("number")
@_AS
@pass_app
def archive(app: AppContext, number: str, email: str | None) -> None:
    """Archive item NUMBER's card in Trello (the sync reads it as cancelled)."""
    with _member(app, email) as (member, store, _config):
        member.archive_card(_side(store, number, "trello"))
    click.echo(app.texts.gettext("%(who)s archived %(number)s's card in Trello")
               % {"who": member.email, "number": number})


# ---------------------------------------------------------------------- newsletter readers


@contextmanager
def _audience(app: AppContext) -> Iterator[tuple[str, str]]:
    """The sandbox's URL and the alliance's audience id."""
    config = app.config
    if not config.sandbox:
        raise UserError("newsletter readers can only be played on the sandbox",
                        hint="set sandbox: true in the config")
    with app.alliance.store() as store, sandbox_url(app.alliance) as url:
        yield url, _resource(store, "mailchimp", "audience", "audience")


def _read(app: AppContext, email: str, action: str, done: str, values: dict[str, str],
          **extra: object) -> None:
    """Play a newsletter reader's ``action``; ``done`` (marked for the catalogue, with
    ``values``) says what they did."""
    from connectors.sandbox.clients.members import newsletter

    with _audience(app) as (url, audience):
        answer = newsletter(url, audience, email, action, **extra)
    sent = int(answer.get("webhooks") or 0)
    t = app.texts
    click.echo(t.gettext("%(email)s %(done)s (audience webhooks notified: %(n)d)")
               % {"email": email, "done": t.gettext(done) % values, "n": sent})


@click.command("unsubscribe", cls=HelpCommand)
@click.argument("email")
@pass_app
def unsubscribe(app: AppContext, email: str) -> None:
    """A newsletter reader EMAIL clicks "unsubscribe": the audience's webhook fires and the
    address is in compliance state (no API call may subscribe it again)."""
    _read(app, email, "unsubscribe", N_("unsubscribed from the newsletter"), {})


@click.command("bounce", cls=HelpCommand)
@click.argument("email")
@pass_app
def bounce(app: AppContext, email: str) -> None:
    """EMAIL bounces hard: Mailchimp cleans it (webhook ``cleaned``, compliance state)."""
    _read(app, email, "cleaned", N_("bounced: cleaned from the audience"), {})


@click.command("change-email", cls=HelpCommand)
@click.argument("email")
@click.argument("new_email")
@pass_app
def change_email(app: AppContext, email: str, new_email: str) -> None:
    """A reader changes their address from EMAIL to NEW_EMAIL in their newsletter profile
    (webhooks ``upemail`` and ``profile``; Mailchimp files them under the new address)."""
    _read(app, email, "upemail", N_("is now %(new)s"), {"new": new_email}, new_email=new_email)


@click.command("update-profile", cls=HelpCommand)
@click.argument("email")
@click.option("--name", required=True, help='The reader\'s new name ("First Last").')
@pass_app
def update_profile(app: AppContext, email: str, name: str) -> None:
    """A reader updates their name in their newsletter profile (webhook ``profile``)."""
    first, _, last = name.strip().partition(" ")
    _read(app, email, "profile", N_("renamed to %(name)s"), {"name": name},
          merge_fields={"FNAME": first, "LNAME": last})


@click.command("signup", cls=HelpCommand)
@click.argument("email")
@click.option("--name", default="", help='The reader\'s name ("First Last").')
@pass_app
def signup(app: AppContext, email: str, name: str) -> None:
    """EMAIL signs up through the audience's signup form (webhook ``subscribe``; someone who
    unsubscribed may opt in again themselves)."""
    first, _, last = name.strip().partition(" ")
    _read(app, email, "subscribe", N_("signed up for the newsletter"), {},
          merge_fields={"FNAME": first, "LNAME": last} if name else {})
