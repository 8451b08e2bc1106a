"""The vendors' published rate limits, as data: one table for the client and the sandbox.

Client-side pacing (``connectors.pacing``) paces under these figures with some headroom; the
sandbox's emulators (``connectors.sandbox``) enforce them as they are. Figures from
``contracts/API-NOTES.md`` and the vendors' pages named there:

- **Trello** (developer.atlassian.com/cloud/trello/guides/rest-api/rate-limits): 100 requests
  per 10 s per token, 300 per 10 s per API key, and routes under ``/1/members/`` 100 per 900 s.
- **Slack** (docs.slack.dev/apis/web-api/rate-limits): per method, per workspace, per app, by
  the tier on each method's page: Tier 1 = 1+ per minute, Tier 2 = 20+, Tier 3 = 50+,
  Tier 4 = 100+ (floors, so pacing at them is safe). ``chat.postMessage`` is special: "about
  one message per second per channel", short bursts allowed.
- **Mailchimp** (mailchimp.com/developer/marketing/docs/fundamentals/): at most 10
  simultaneous connections per user; no per-minute quota is published.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Limit:
    """At most ``calls`` calls in any window of ``seconds`` seconds."""

    calls: int
    seconds: float


# -- Trello ---------------------------------------------------------------------------------

TRELLO_PER_TOKEN = Limit(100, 10.0)
TRELLO_PER_KEY = Limit(300, 10.0)
TRELLO_MEMBERS_ROUTES = Limit(100, 900.0)  # routes under /1/members/, per token

# -- Slack ----------------------------------------------------------------------------------

SLACK_TIERS: dict[int, Limit] = {
    1: Limit(1, 60.0),
    2: Limit(20, 60.0),
    3: Limit(50, 60.0),
    4: Limit(100, 60.0),
}
# The tier of each method the connector calls or the sandbox emulates, from the method pages
# (docs.slack.dev/reference/methods/<method>). Since 2025-05-29, commercially distributed
# non-Marketplace apps get far lower limits on conversations.history/replies; an alliance's
# own (internal) app keeps Tier 3.
SLACK_METHOD_TIERS: dict[str, int] = {
    "auth.test": 4,
    "chat.delete": 3,
    # "Special": "hundreds of requests per minute"; Tier 4's floor is safely under it.
    "chat.getPermalink": 4,
    "chat.update": 3,
    "conversations.archive": 2,
    "conversations.create": 2,
    "conversations.history": 3,
    "conversations.info": 3,
    "conversations.invite": 3,
    "conversations.join": 3,
    "conversations.list": 2,
    "conversations.replies": 3,
    "conversations.setPurpose": 2,
    "conversations.setTopic": 2,
    "conversations.unarchive": 2,
    "pins.add": 2,
    "pins.list": 2,
    "reactions.add": 3,
    "reactions.get": 3,
    "reactions.remove": 2,
    "users.info": 4,
    "users.list": 2,
    "users.lookupByEmail": 3,
}
# Slack apps commercially distributed outside the Marketplace (changelog of 29 May 2025, in
# force for existing installations since 2 September 2025): conversations.history and
# conversations.replies at Tier 1 ("1 request per minute") per app, workspace and method, and
# "the maximum and default for the limit parameter has been reduced to 15 objects" (a larger
# limit is answered with 15 and a cursor, not refused).
SLACK_DISTRIBUTED_METHODS = ("conversations.history", "conversations.replies")
SLACK_DISTRIBUTED_LIMIT = Limit(1, 60.0)
SLACK_DISTRIBUTED_PAGE = 15
SLACK_DEFAULT_TIER = 2  # an unlisted method: the tier "most methods" have
SLACK_POST_METHOD = "chat.postMessage"
SLACK_POST_PER_CHANNEL = Limit(1, 1.0)  # "about one message per second per channel"
# "Short bursts >1 allowed": what the sandbox tolerates per channel on top of the 1 per second.
SLACK_POST_BURST = Limit(5, 5.0)

# -- Mailchimp ------------------------------------------------------------------------------

MAILCHIMP_CONNECTIONS = 10  # simultaneous connections per user; the 11th gets 429


def slack_tier(method: str) -> int:
    """The tier of a Slack method (``SLACK_DEFAULT_TIER`` when it is not listed)."""
    return SLACK_METHOD_TIERS.get(method, SLACK_DEFAULT_TIER)
