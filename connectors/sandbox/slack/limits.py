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

The clock is injected (the emulator's); tests build a :class:`SlackLimits` with a short
window to see a 429 quickly.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from connectors.rate_limits import (
    SLACK_DEFAULT_TIER,
    SLACK_METHOD_TIERS,
    SLACK_POST_BURST,
    SLACK_POST_METHOD,
    SLACK_TIERS,
    Limit,
)
from connectors.sandbox.core.ratelimit import WindowLimiter

POST_METHOD = SLACK_POST_METHOD
DEFAULT_LIMIT = SLACK_TIERS[SLACK_DEFAULT_TIER].calls


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

    def hit(self, method: str, bucket: str, channel: str = "") -> int | None:
        """Count one call; None if allowed, else the ``Retry-After`` seconds (at least 1).

        A refused call is not counted, so a client that waits ``Retry-After`` gets through.
        """
        if method == POST_METHOD:
            wait = self._posts.hit((bucket, channel))
        else:
            limit = self.per_window.get(method, DEFAULT_LIMIT)
            wait = self._tiers.hit((bucket, method), limit)
        return None if wait is None else max(1, math.ceil(wait))

    def reset(self) -> None:
        """Forget every counted call."""
        self._tiers.reset()
        self._posts.reset()
