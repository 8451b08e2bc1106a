"""The doctor's checks, one function per service, over the connectors (read-only calls only).

Each function adds its lines to a :class:`~sync.doctor.report.DoctorReport`. A refusal of the
credentials stops that service's checks (nothing else can be seen) and never the others. The
texts name settings and what to do, never a secret: the connectors' errors are already free
of keys and tokens, and nothing here prints a credential.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

from connectors.rate_limits import MAILCHIMP_CONNECTIONS, SLACK_DISTRIBUTED_PAGE, TRELLO_PER_TOKEN
from connectors.roles import AudienceService, BoardService, ChatService
from connectors.slack.scopes import REQUIRED_BOT_SCOPES, SCOPE_PURPOSE, missing_scopes
from sync.core.config import Config
from sync.core.errors import AuthError, NotFoundError, RemoteError
from sync.doctor.report import DoctorReport
from sync.state.store import StateStore

GUIDE = "docs/going-live.md"
EXPIRY_WARNING = dt.timedelta(days=30)


@runtime_checkable
class TrelloDoctor(BoardService, Protocol):
    """The Trello connector with its token record (``GET /tokens/{token}``)."""

    calls: int

    def token_info(self) -> dict[str, Any]:
        """The token's permissions and expiry."""
        ...

    def rate_limit_headroom(self) -> dict[str, tuple[int, int]]:
        """``{"token"|"key": (remaining, max)}`` from Trello's last answer."""
        ...


@runtime_checkable
class SlackDoctor(ChatService, Protocol):
    """The Slack connector with the token's scopes (``x-oauth-scopes``)."""

    calls: int

    def granted_scopes(self) -> list[str] | None:
        """The token's OAuth scopes, None if Slack sent none."""
        ...


@runtime_checkable
class MailchimpDoctor(AudienceService, Protocol):
    """The Mailchimp connector with ping and account."""

    calls: int

    def account(self) -> dict[str, Any]:
        """Ping, then the account the key belongs to."""
        ...


def _refused(report: DoctorReport, service: str, error: RemoteError, fix: str) -> None:
    if isinstance(error, AuthError):
        report.add(service, "credentials", "fail", f"refused: {error}", fix)
    else:
        report.add(service, "credentials", "fail", f"could not check: {error}",
                   "check the network and base_url, then run doctor again")


def _guarded(report: DoctorReport, service: str, name: str, fix: str,
             check: Callable[[], None]) -> None:
    """Run one check; a remote failure becomes its own failed line (the others still run)."""
    try:
        check()
    except RemoteError as error:
        report.add(service, name, "fail", str(error), fix)


# ---------------------------------------------------------------------- Trello


def check_trello(config: Config, trello: TrelloDoctor, store: StateStore | None,
                 report: DoctorReport) -> None:
    """Credentials, token permissions and expiry, the board, the people, rate limits."""
    fix_auth = ("create a new token (Trello key and token in " + GUIDE + ") and set "
                "TRELLO_API_KEY and TRELLO_TOKEN where mcm-sync reads them")
    try:
        me = trello.me()
    except RemoteError as error:
        _refused(report, "trello", error, fix_auth)
        return
    report.add("trello", "credentials", "ok", f"token of Trello member @{me.username}")
    _guarded(report, "trello", "token", fix_auth, lambda: _trello_token(trello, report))
    board_fix = "run `mcm-sync plan`, then `mcm-sync bootstrap`"
    _guarded(report, "trello", "board", board_fix,
             lambda: _trello_board(config, trello, store, report))
    if store is not None and store.get_resource("trello", "webhook", "board") is not None:
        _guarded(report, "trello", "webhook", "restart `mcm-sync serve`",
                 lambda: _trello_webhook(trello, store, report))
    _trello_headroom(trello, report)


def _trello_webhook(trello: Any, store: StateStore, report: DoctorReport) -> None:
    """The board webhook serve registered: still there, active, delivering."""
    recorded = store.get_resource("trello", "webhook", "board")
    assert recorded is not None
    hook = next((h for h in trello.webhooks() if h.id == recorded.remote_id), None)
    remake = ("make sure serve's public URL answers, then restart `mcm-sync serve` (or wait "
              "for its scheduled sync): it makes the webhook again")
    if hook is None:
        report.add("trello", "webhook", "warn", "the board webhook serve registered is gone "
                   "(Trello deletes one whose delivery was answered 410)", remake)
    elif not hook.active:
        since = f" since {hook.first_failure}" if hook.first_failure else ""
        report.add("trello", "webhook", "fail", f"Trello disabled the board webhook after "
                   f"{hook.consecutive_failures} failed deliveries{since}: no Trello change "
                   "reaches serve", remake)
    elif hook.consecutive_failures:
        report.add("trello", "webhook", "warn", f"{hook.consecutive_failures} deliveries in a "
                   f"row failed (since {hook.first_failure or '?'}); Trello disables a webhook "
                   "that keeps failing", "check that serve is running and its public URL "
                   "answers")
    else:
        report.add("trello", "webhook", "ok", "the board webhook is active")


def _trello_headroom(trello: TrelloDoctor, report: DoctorReport) -> None:
    """What is left of the token's and the key's 10-second windows (Trello's headers)."""
    headroom = trello.rate_limit_headroom()
    if not headroom:
        _rate_line(report, "trello", trello.calls,
                   f"{TRELLO_PER_TOKEN.calls} requests per {TRELLO_PER_TOKEN.seconds:.0f} s "
                   "per token; mcm-sync paces itself under it")
        return
    left = ", ".join(f"{name} {remaining}/{most}" for name, (remaining, most) in headroom.items())
    low = [name for name, (remaining, most) in headroom.items() if remaining < most / 5]
    if low:
        report.add("trello", "rate limits", "warn", f"little left in this window: {left}",
                   "another program (or a running sync) uses the same "
                   + " and ".join(low) + "; mcm-sync will wait for its turn")
    else:
        report.add("trello", "rate limits", "ok",
                   f"left in this 10 s window: {left} ({trello.calls} calls for these checks)")


def _trello_token(trello: TrelloDoctor, report: DoctorReport) -> None:
    info = trello.token_info()
    grants = {(p.get("modelType"), bool(p.get("read")), bool(p.get("write")))
              for p in info.get("permissions") or []}
    can_write = any(kind == "Board" and write for kind, _, write in grants)
    if not can_write:
        report.add("trello", "token permissions", "fail", "the token cannot change boards",
                   "authorize a token with scope=read,write (see " + GUIDE + ")")
    else:
        report.add("trello", "token permissions", "ok", "read and write on boards")
    expires = info.get("dateExpires")
    if not expires:
        report.add("trello", "token expiry", "ok", "never expires")
        return
    when = dt.datetime.fromisoformat(str(expires).replace("Z", "+00:00"))
    left = when - dt.datetime.now(dt.UTC)
    fix = "authorize a new token with expiration=never (see " + GUIDE + ")"
    if left.total_seconds() <= 0:
        report.add("trello", "token expiry", "fail", f"expired on {when.date()}", fix)
    elif left < EXPIRY_WARNING:
        report.add("trello", "token expiry", "warn", f"expires on {when.date()}", fix)
    else:
        report.add("trello", "token expiry", "ok", f"expires on {when.date()}")


def _trello_board(config: Config, trello: TrelloDoctor, store: StateStore | None,
                  report: DoctorReport) -> None:
    name = config.trello.board_name or config.alliance.name
    recorded = store.get_resource("trello", "board", "board") if store else None
    boards = trello.find_boards()
    board = next((b for b in boards if recorded and b.id == recorded.remote_id), None)
    board = board or next((b for b in boards if b.name == name), None)
    if board is None and recorded is not None:
        report.add("trello", "board", "fail", f"the board {name!r} made by bootstrap is not "
                   "visible to this token", "add the token's Trello member to the board, or "
                   "use the token of the member who made it")
        return
    if board is None:
        report.add("trello", "board", "warn", f"no board {name!r} yet",
                   "run `mcm-sync plan`, then `mcm-sync bootstrap`")
        _trello_people(config, None, store, report)
        return
    report.add("trello", "board", "ok", f"{board.name!r} is visible")
    _trello_people(config, trello.snapshot(board.id, include_closed_cards=False).members,
                   store, report)


def _trello_people(config: Config, members: Any, store: StateStore | None,
                   report: DoctorReport) -> None:
    by_id = {m.id: m for m in members or ()}
    by_username = {m.username: m for m in members or ()}
    for person in config.people:
        email = str(person.email)
        recorded = store.get_resource("trello", "member", email) if store else None
        member = by_username.get(person.trello_username or "") or (
            by_id.get(recorded.remote_id) if recorded else None)
        label = f"person {person.name}"
        if member is None:
            report.add("trello", label, "warn", "not a member of the board yet",
                       "bootstrap invites them by e-mail (Trello shows no one's e-mail, so set "
                       "trello_username in the config if they already have an account)")
        elif not member.confirmed:
            # Pending, not a problem: the invitation e-mail asks them to sign up.
            report.add("trello", label, "ok",
                       f"invited, pending: no Trello account yet (@{member.username})")
        else:
            report.add("trello", label, "ok", f"board member @{member.username}")


# ---------------------------------------------------------------------- Slack


def check_slack(config: Config, slack: SlackDoctor, report: DoctorReport) -> None:
    """Credentials, the token's scopes, the channels and the bot in them, people, limits."""
    fix_auth = ("install the Slack app from slack-app-manifest.yaml and set SLACK_BOT_TOKEN to "
                "its Bot User OAuth Token (xoxb-...) (see " + GUIDE + ")")
    try:
        user_id, bot_id = slack.identity()
    except RemoteError as error:
        _refused(report, "slack", error, fix_auth)
        return
    kind = "bot token" if bot_id else "user token (mcm-sync expects the app's bot token)"
    report.add("slack", "credentials", "ok" if bot_id else "warn", f"a {kind}",
               "" if bot_id else fix_auth)
    _guarded(report, "slack", "scopes", fix_auth, lambda: _slack_scopes(slack, report))
    actions: list[str] = []
    _guarded(report, "slack", "channels", "run `mcm-sync bootstrap`",
             lambda: actions.extend(_slack_channels(config, slack, report)))
    _guarded(report, "slack", "app class", "",
             lambda: _slack_app_class(config, slack, actions, report))
    _guarded(report, "slack", "people", "", lambda: _slack_people(config, slack, report))
    _rate_line(report, "slack", slack.calls,
               "per-method tiers and about one message per second per channel; mcm-sync paces "
               "itself under them")


def _slack_scopes(slack: SlackDoctor, report: DoctorReport) -> None:
    granted = slack.granted_scopes()
    if granted is None:
        report.add("slack", "scopes", "warn", "Slack did not list the token's scopes",
                   "use the bot token of an app made from slack-app-manifest.yaml")
        return
    missing = missing_scopes(set(granted))
    if missing:
        why = "; ".join(f"{scope} ({SCOPE_PURPOSE.get(scope, 'needed')})" for scope in missing)
        report.add("slack", "scopes", "fail", f"missing {why}",
                   "add the scopes in the app's OAuth & Permissions page (or recreate it from "
                   "slack-app-manifest.yaml), reinstall it, and use the new bot token")
        return
    report.add("slack", "scopes", "ok", f"all {len(REQUIRED_BOT_SCOPES)} scopes mcm-sync uses")


def _slack_channels(config: Config, slack: SlackDoctor, report: DoctorReport) -> list[str]:
    """One line per channel; the actions channel's id when the bot can read it."""
    slug = config.alliance.slug
    wanted = (config.slack.general_channel or f"{slug}-alliance",
              config.slack.actions_channel or f"{slug}-actions")
    found = {c.name: c for c in slack.list_channels()}
    for name in wanted:
        channel = found.get(name)
        label = f"channel #{name}"
        if channel is None:
            report.add("slack", label, "warn", "does not exist yet",
                       "run `mcm-sync plan`, then `mcm-sync bootstrap`")
        elif channel.is_archived:
            report.add("slack", label, "fail", "archived (an app cannot unarchive it)",
                       "ask a workspace admin to unarchive it in Slack")
        elif not channel.is_member and name == wanted[1]:
            # Slack sends a bot the events of the channels it is in only: no reaction, reply
            # or press in this channel would reach mcm-sync serve.
            report.add("slack", label, "fail", "the bot is not in the actions channel: Slack "
                       "sends it no reactions, replies or button presses from there",
                       f"run `mcm-sync bootstrap` (it joins public channels) or type "
                       f"/invite @mcm-sync in #{name}")
        elif not channel.is_member:
            report.add("slack", label, "warn", "the bot is not in the channel",
                       f"type /invite @mcm-sync in #{name} (bootstrap joins public channels)")
        else:
            report.add("slack", label, "ok", "exists, the bot is in it")
    actions = found.get(wanted[1])
    return [actions.id] if actions is not None and actions.is_member else []


def _slack_app_class(config: Config, slack: SlackDoctor, actions: list[str],
                     report: DoctorReport) -> None:
    """Which class the Slack app is in (``slack.app_distribution``) and what it means; one
    page of the actions channel read shows whether Slack caps its pages at 15 (an app
    distributed outside the Marketplace) when the config says internal."""
    if config.slack.app_distribution == "distributed":
        report.add("slack", "app class", "ok",
                   # Slack's figures (connectors.rate_limits.SLACK_DISTRIBUTED_*).
                   "distributed outside the Slack Marketplace (slack.app_distribution): Slack "
                   "allows history and replies 1 call a minute, 15 messages a page; each sync "
                   "reads one page, so a reaction on an old message reaches its card after a "
                   "pass over the channel (at once with `mcm-sync serve`)")
        return
    page = slack.history_page(actions[0]) if actions else None
    if page is not None and page.has_more and len(page.messages) <= SLACK_DISTRIBUTED_PAGE:
        report.add("slack", "app class", "warn",
                   f"Slack answered {len(page.messages)} messages a page where more were "
                   "asked: the app looks distributed outside the Slack Marketplace",
                   "set slack.app_distribution: distributed (see docs/hosting.md)")
        return
    report.add("slack", "app class", "ok",
               "internal (slack.app_distribution): history and replies at their tiers, the "
               "actions channel read whole at each sync")


def _slack_people(config: Config, slack: SlackDoctor, report: DoctorReport) -> None:
    for person in config.people:
        label = f"person {person.name}"
        if person.slack_id:
            report.add("slack", label, "ok", f"slack_id {person.slack_id} from the config")
            continue
        if slack.lookup_user(str(person.email)):
            report.add("slack", label, "ok", "Slack user found by e-mail")
        else:
            report.add("slack", label, "warn", "no Slack user with this e-mail",
                       "invite them to the workspace, or set slack_id in the config")


# ---------------------------------------------------------------------- Mailchimp


def check_mailchimp(config: Config, mailchimp: MailchimpDoctor, report: DoctorReport) -> None:
    """Ping and account, the audience, rate limits."""
    fix_auth = ("create an API key in Mailchimp (Profile > Extras > API keys), set "
                "MAILCHIMP_API_KEY, and mailchimp.server to the part after the dash (see "
                + GUIDE + ")")
    try:
        account = mailchimp.account()
    except RemoteError as error:
        _refused(report, "mailchimp", error, fix_auth)
        return
    report.add("mailchimp", "credentials", "ok",
               f"account {account.get('account_name') or '?'} ({account.get('role') or 'user'})")
    _guarded(report, "mailchimp", "audience", "check mailchimp.audience_id",
             lambda: _mailchimp_audience(config, mailchimp, report))
    _rate_line(report, "mailchimp", mailchimp.calls,
               f"at most {MAILCHIMP_CONNECTIONS} simultaneous connections; mcm-sync uses one")


def _mailchimp_audience(config: Config, mailchimp: MailchimpDoctor,
                        report: DoctorReport) -> None:
    settings = config.mailchimp
    if settings.audience_id:
        try:
            audience = mailchimp.get_audience(settings.audience_id)
        except NotFoundError:
            report.add("mailchimp", "audience", "fail", "mailchimp.audience_id is not an "
                       "audience of this account", "copy the id from Audience > Settings > "
                       "Audience name and defaults")
            return
        report.add("mailchimp", "audience", "ok", f"{audience.name!r} (adopted by id)")
        return
    name = settings.audience_name or f"{config.alliance.name} newsletter"
    found = [a for a in mailchimp.list_audiences() if a.name == name]
    if found:
        report.add("mailchimp", "audience", "ok", f"{name!r} is visible")
    else:
        report.add("mailchimp", "audience", "warn", f"no audience {name!r} yet",
                   "run `mcm-sync bootstrap` (the free plan has one audience: set "
                   "mailchimp.audience_id to adopt it)")


def _rate_line(report: DoctorReport, service: str, calls: int, limit: str) -> None:
    report.add(service, "rate limits", "ok", f"{calls} calls for these checks; {limit}")
