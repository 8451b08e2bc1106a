"""The doctor's table in the coordinator's language: its services, checks, findings and fixes.

``sync/doctor`` writes its report in English and knows nothing of the command line
(``--json`` keeps that English). The table printed by ``mcm-sync doctor`` translates here,
as :mod:`sync.cli.support.messages` does for errors: each text below is the English template
``sync/doctor`` formats (``%(name)s`` where it puts a value). The values are put back as they
were (names, ids, dates, the vendors' words), except a value that is itself one of these
texts (a rate limit, a reason a secret is needed), which is translated too. A text that
matches none stays English; ``tests/cli/test_cli_language_doctor.py`` runs the doctor's checks
and checks their Dutch, so a template that drifts from the doctor's wording is caught.
"""

from __future__ import annotations

import gettext
from dataclasses import replace
from typing import TYPE_CHECKING

from sync.cli.support.i18n import N_
from sync.cli.support.messages import translate_nested, translate_text

if TYPE_CHECKING:
    from sync.api.services import Check

# The service column and the check names (sync/doctor/checks.py, live.py).
NAMES: tuple[str, ...] = (
    N_("config"),
    N_("real time"),
    N_("credentials"),
    N_("token"),
    N_("board"),
    N_("webhook"),
    N_("rate limits"),
    N_("token permissions"),
    N_("token expiry"),
    N_("person %(name)s"),
    N_("scopes"),
    N_("channel #%(name)s"),
    N_("people"),
    N_("audience"),
    N_("postal address"),
    N_("mode"),
    N_("serve's secrets"),
    N_("app class"),
)

# What was found and what to do about it, as the checks format them.
DETAILS: tuple[str, ...] = (
    # every service's credentials
    N_("refused: %(error)s"),
    N_("could not check: %(error)s"),
    N_("check the network and base_url, then run doctor again"),
    N_("%(calls)s calls for these checks; %(limit)s"),
    # the Slack app's class
    N_("distributed outside the Slack Marketplace (slack.app_distribution): Slack allows "
       "history and replies 1 call a minute, 15 messages a page; each sync reads one page, so "
       "a reaction on an old message reaches its card after a pass over the channel (at once "
       "with `mcm-sync serve`)"),
    N_("Slack answered %(n)s messages a page where more were asked: the app looks distributed "
       "outside the Slack Marketplace"),
    N_("set slack.app_distribution: distributed (see docs/hosting.md)"),
    N_("internal (slack.app_distribution): history and replies at their tiers, the actions "
       "channel read whole at each sync"),
    # Trello
    N_("create a new token (Trello key and token in %(guide)s) and set TRELLO_API_KEY and "
       "TRELLO_TOKEN where mcm-sync reads them"),
    N_("token of Trello member @%(username)s"),
    N_("run `mcm-sync plan`, then `mcm-sync bootstrap`"),
    N_("restart `mcm-sync serve`"),
    N_("make sure serve's public URL answers, then restart `mcm-sync serve` (or wait for its "
       "scheduled sync): it makes the webhook again"),
    N_("the board webhook serve registered is gone (Trello deletes one whose delivery was "
       "answered 410)"),
    N_("Trello disabled the board webhook after %(n)s failed deliveries since %(since)s: no "
       "Trello change reaches serve"),
    N_("Trello disabled the board webhook after %(n)s failed deliveries: no Trello change "
       "reaches serve"),
    N_("%(n)s deliveries in a row failed (since %(since)s); Trello disables a webhook that "
       "keeps failing"),
    N_("check that serve is running and its public URL answers"),
    N_("the board webhook is active"),
    N_("%(calls)s requests per %(seconds)s s per token; mcm-sync paces itself under it"),
    N_("little left in this window: %(left)s"),
    N_("another program (or a running sync) uses the same %(which)s; mcm-sync will wait for "
       "its turn"),
    N_("left in this 10 s window: %(left)s (%(calls)s calls for these checks)"),
    N_("the token cannot change boards"),
    N_("authorize a token with scope=read,write (see %(guide)s)"),
    N_("read and write on boards"),
    N_("never expires"),
    N_("authorize a new token with expiration=never (see %(guide)s)"),
    N_("expired on %(date)s"),
    N_("expires on %(date)s"),
    N_("the board %(name)s made by bootstrap is not visible to this token"),
    N_("add the token's Trello member to the board, or use the token of the member who made "
       "it"),
    N_("no board %(name)s yet"),
    N_("not a member of the board yet"),
    N_("bootstrap invites them by e-mail (Trello shows no one's e-mail, so set "
       "trello_username in the config if they already have an account)"),
    N_("invited, pending: no Trello account yet (@%(username)s)"),
    N_("board member @%(username)s"),
    # Slack
    N_("install the Slack app from slack-app-manifest.yaml and set SLACK_BOT_TOKEN to its Bot "
       "User OAuth Token (xoxb-...) (see %(guide)s)"),
    N_("a bot token"),
    N_("a user token (mcm-sync expects the app's bot token)"),
    N_("run `mcm-sync bootstrap`"),
    N_("per-method tiers and about one message per second per channel; mcm-sync paces itself "
       "under them"),
    N_("Slack did not list the token's scopes"),
    N_("use the bot token of an app made from slack-app-manifest.yaml"),
    N_("missing %(scopes)s"),
    N_("add the scopes in the app's OAuth & Permissions page (or recreate it from "
       "slack-app-manifest.yaml), reinstall it, and use the new bot token"),
    N_("all %(n)s scopes mcm-sync uses"),
    N_("does not exist yet"),
    N_("archived (an app cannot unarchive it)"),
    N_("ask a workspace admin to unarchive it in Slack"),
    N_("the bot is not in the actions channel: Slack sends it no reactions, replies or button "
       "presses from there"),
    N_("run `mcm-sync bootstrap` (it joins public channels) or type /invite @mcm-sync in "
       "#%(channel)s"),
    N_("the bot is not in the channel"),
    N_("type /invite @mcm-sync in #%(channel)s (bootstrap joins public channels)"),
    N_("exists, the bot is in it"),
    N_("slack_id %(id)s from the config"),
    N_("Slack user found by e-mail"),
    N_("no Slack user with this e-mail"),
    N_("invite them to the workspace, or set slack_id in the config"),
    # Mailchimp
    N_("create an API key in Mailchimp (Profile > Extras > API keys), set MAILCHIMP_API_KEY, "
       "and mailchimp.server to the part after the dash (see %(guide)s)"),
    N_("account %(name)s (%(role)s)"),
    N_("check mailchimp.audience_id"),
    N_("at most %(n)s simultaneous connections; mcm-sync uses one"),
    N_("mailchimp.audience_id is not an audience of this account"),
    N_("copy the id from Audience > Settings > Audience name and defaults"),
    N_("%(name)s (adopted by id)"),
    N_("no audience %(name)s yet"),
    N_("run `mcm-sync bootstrap` (the free plan has one audience: set mailchimp.audience_id "
       "to adopt it)"),
    N_("%(name)s is visible"),
    # the config: postal address, real time and serve's secrets (sync/doctor/live.py)
    N_("placeholder in %(fields)s (Mailchimp requires a real postal address)"),
    N_("write the real street and number, postcode and city under mailchimp.contact (see "
       "%(guide)s)"),
    N_("none: changes arrive at the next scheduled sync; item messages carry no buttons (a "
       "press could not be received)"),
    N_("%(mode)s: %(how)s; item messages carry status buttons"),
    N_("mcm-sync serve behind a public URL"),
    N_("mcm-sync serve --socket-mode (Slack without a public URL)"),
    N_("issued by the sandbox"),
    N_("set (%(setting)s or $%(variable)s)"),
    N_("not set: %(reason)s"),
    N_("serve refuses to start without Trello's app secret (it verifies Trello's webhooks)"),
    N_("serve refuses to start without Slack's signing secret (it verifies Slack's events, "
       "button presses and /alliance)"),
    N_("serve refuses Mailchimp's webhooks: unsubscribes arrive at the next sync instead"),
    N_("serve --socket-mode needs the app-level token (xapp-...)"),
    N_("set %(variable)s (or %(setting)s: ${VAR}) from %(where)s"),
    N_("the Power-Up's API key page (Secret)"),
    N_("the Slack app's Basic Information page (Signing Secret)"),
    N_("a long random text you choose (it goes in the webhook's URL)"),
    N_("set"),
    N_("create it on the Slack app's Basic Information page (scope connections:write) and "
       "set %(variable)s"),
)


def translate_detail(text: str, t: gettext.NullTranslations) -> str:
    """A finding or a fix in the language of ``t``; a value that is one of the texts too."""
    return translate_nested(text, t, DETAILS)


def translate_check(check: Check, t: gettext.NullTranslations) -> Check:
    """One line of the doctor's table in the language of ``t`` (its status stays as it is)."""
    return replace(check, service=translate_text(check.service, t, NAMES),
                   name=translate_text(check.name, t, NAMES),
                   detail=translate_detail(check.detail, t),
                   fix=translate_detail(check.fix, t))
