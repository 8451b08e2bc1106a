"""Slack's rate limits in the emulator: per-method tiers and posts per channel.

The figures are the vendor's, from ``connectors.rate_limits`` (the table client pacing reads
too): Tier 1 = 1+ per minute, Tier 2 = 20+, Tier 3 = 50+, Tier 4 = 100+; limits apply per
method, per workspace, per app (here: per method and per bucket, the bucket being the app in
the workspace for bot tokens, see ``emulator.rate_bucket``). ``chat.postMessage`` is "about
one message per second per channel", with short bursts allowed: we allow
``SLACK_POST_BURST`` (5 in any 5 seconds) per channel. An exceeded limit is answered with
HTTP 429, ``Retry-After`` in whole seconds (rounded up, so a client that waits that long
gets through) and
``{"ok": false, "error": "ratelimited"}``.

The app can be *internal* (the tiers above) or *distributed*: a commercially distributed app
not approved for the Slack Marketplace, whose ``conversations.history`` and
``conversations.replies`` are held to ``SLACK_DISTRIBUTED_LIMIT`` (1 per minute) per app,
workspace and method (:meth:`SlackLimits.set_app_class`; the window can be shortened for
tests, Slack's 60 s by default). Their ``limit`` cap of 15 is the emulator's
(``emulator.capped_page``): it is a method's answer, not a rate limit.

The clock is injected (the emulator's); tests build a :class:`SlackLimits` with a short
window to see a 429 quickly.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from connectors.rate_limits import (
    SLACK_DEFAULT_TIER,
    SLACK_DISTRIBUTED_LIMIT,
    SLACK_DISTRIBUTED_METHODS,
    SLACK_METHOD_TIERS,
    SLACK_POST_BURST,
    SLACK_POST_METHOD,
    SLACK_TIERS,
    Limit,
)
from connectors.sandbox.core.ratelimit import WindowLimiter

POST_METHOD = SLACK_POST_METHOD
DEFAULT_LIMIT = SLACK_TIERS[SLACK_DEFAULT_TIER].calls
APP_CLASSES = ("internal", "distributed")


class SlackLimits:
    """Slack's limits on top of the sandbox's sliding windows (``core.ratelimit.WindowLimiter``).

    ``tiers``: calls per ``window`` seconds per (bucket, method); ``posts``: chat.postMessage
    per (bucket, channel). Tests pass a short ``window``/``posts`` and their own allowances.
    """

    def __init__(
        self,
        clock: Callable[[], float],
        *,
        per_window: dict[str, int] | None = None,
        window: float = 60.0,
        posts: Limit = SLACK_POST_BURST,
    ) -> None:
        self.per_window = (
            dict(per_window)
            if per_window is not None
            else {method: SLACK_TIERS[tier].calls for method, tier in SLACK_METHOD_TIERS.items()}
        )
        self._tiers = WindowLimiter(DEFAULT_LIMIT, window, clock)
        self._posts = WindowLimiter(posts.calls, posts.seconds, clock)
        self._clock = clock
        self.app_class = "internal"
        self.distributed_window = SLACK_DISTRIBUTED_LIMIT.seconds
        self._distributed = WindowLimiter(SLACK_DISTRIBUTED_LIMIT.calls,
                                          self.distributed_window, clock)

    @property
    def distributed(self) -> bool:
        """Whether the app is a distributed, non-Marketplace one (history and replies held)."""
        return self.app_class == "distributed"

    def set_app_class(self, app_class: str, window: float | None = None) -> None:
        """Make the app ``internal`` or ``distributed``; ``window``: the seconds in which a
        distributed app gets its one history (and one replies) call (default: Slack's 60)."""
        if app_class not in APP_CLASSES:
            raise ValueError(f"unknown Slack app class {app_class!r}")
        self.app_class = app_class
        if window is not None:
            if window <= 0:
                raise ValueError("the window must be positive")
            self.distributed_window = window
            self._distributed = WindowLimiter(SLACK_DISTRIBUTED_LIMIT.calls, window,
                                              self._clock)

    def hit(self, method: str, bucket: str, channel: str = "") -> int | None:
        """Count one call; None if allowed, else the ``Retry-After`` seconds (at least 1).

        A refused call is not counted, so a client that waits ``Retry-After`` gets through.
        """
        if method == POST_METHOD:
            wait = self._posts.hit((bucket, channel))
        elif self.distributed and method in SLACK_DISTRIBUTED_METHODS:
            wait = self._distributed.hit((bucket, method))
        else:
            limit = self.per_window.get(method, DEFAULT_LIMIT)
            wait = self._tiers.hit((bucket, method), limit)
        return None if wait is None else max(1, math.ceil(wait))

    def reset(self) -> None:
        """Forget every counted call."""
        self._tiers.reset()
        self._posts.reset()
        self._distributed.reset()
