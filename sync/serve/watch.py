"""What serve's backstop watches besides the sync: Slack's events, Trello's webhook.

- **Slack events.** Slack sends a bot the events of the channels it is in only. When the bot
  is not in the actions channel (never invited, or removed), or the backstop sync finds
  members' Slack changes that no event brought (the queue is drained just before it), events
  have stopped arriving: :class:`EventWatch` says so once, with the likely cause, and again
  only after they came back and stopped again.
- **Trello's webhook.** Trello disables a webhook after its deliveries failed for a while
  (``active: false``); the backstop looks it up and makes it again
  (:func:`sync.serve.register.ensure_trello_webhook`), which serve reports.

Decisions here are pure (:meth:`EventWatch.after_backstop`); serve does the calls and logs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


def missed_slack_changes(changes: Sequence[dict[str, Any]]) -> list[str]:
    """The items whose Slack-side changes a backstop sync found (events should have)."""
    return sorted({str(c.get("item")) for c in changes if c.get("side") == "slack"})


@dataclass
class EventWatch:
    """Whether serve already said that Slack's events stopped for the actions channel."""

    channel: str  # its name, for the message
    warned: bool = False

    def after_backstop(self, bot_in_channel: bool | None,
                       changes: Sequence[dict[str, Any]]) -> str | None:
        """The warning to log after one backstop (None: nothing new to say).

        ``bot_in_channel``: None when it could not be checked.
        """
        missed = missed_slack_changes(changes)
        if bot_in_channel is False:
            why = (f"the bot is not in #{self.channel}, and Slack sends a bot the events of its "
                   f"channels only: invite it (/invite @mcm-sync) or run `mcm-sync bootstrap`")
        elif missed:
            why = (f"the scheduled sync found Slack changes no event brought "
                   f"({', '.join(missed)}): check the app's Event Subscriptions (Request URL "
                   f"verified, reaction_added and message.channels subscribed)")
        else:
            self.warned = False  # arriving again: say it again if they stop again
            return None
        if self.warned:
            return None
        self.warned = True
        return f"Slack events are not arriving for #{self.channel}: {why}"
