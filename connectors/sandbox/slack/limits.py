"""Slack's rate limits for the emulator: per-method tiers and posts per channel.

Figures (``contracts/API-NOTES.md``, docs.slack.dev/apis/web-api/rate-limits): Tier 1 = 1+
per minute, Tier 2 = 20+, Tier 3 = 50+, Tier 4 = 100+; limits apply per method, per
workspace, per app (here: per method and per token, a token being one app installation or one
member). ``chat.postMessage`` is "about one message per second per channel", with short bursts
allowed: we allow 5 in any 5 seconds per channel. An exceeded limit is answered with HTTP 429,
``Retry-After`` in whole seconds (rounded up, so a client that waits that long gets through)
and ``{"ok": false, "error": "ratelimited"}``.

The clock is injected (the emulator's); tests build a :class:`SlackLimits` with a short
window to see a 429 quickly.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from connectors.sandbox.core.ratelimit import WindowLimiter


@dataclass(frozen=True)
class Window:
    """At most ``calls`` calls in any ``seconds``-long sliding window."""

    calls: int
    seconds: float


TIERS: dict[int, Window] = {
    1: Window(1, 60.0),
    2: Window(20, 60.0),
    3: Window(50, 60.0),
    4: Window(100, 60.0),
}

# Tier labels from docs.slack.dev/reference/methods/<method>.
METHOD_TIERS: dict[str, int] = {
    "auth.test": 4,
    "conversations.archive": 2,
    "conversations.create": 2,
    "conversations.history": 3,
    "conversations.info": 3,
    "conversations.invite": 3,
    "conversations.list": 2,
    "conversations.replies": 3,
    "conversations.setPurpose": 2,
    "conversations.setTopic": 2,
    "conversations.unarchive": 2,
    "chat.update": 3,
    "chat.delete": 3,
    "pins.add": 2,
    "reactions.add": 3,
    "reactions.get": 3,
    "reactions.remove": 2,
    "users.info": 4,
    "users.list": 2,
    "users.lookupByEmail": 3,
}
DEFAULT_TIER = 2
POST_METHOD = "chat.postMessage"
POST_PER_CHANNEL = Window(5, 5.0)


class SlackLimits:
    """Slack's limits on top of the sandbox's sliding windows (``core.ratelimit.WindowLimiter``).

    ``tiers``: calls per ``window`` seconds per (token, method); ``posts``: chat.postMessage
    per (token, channel). Tests pass a short ``window``/``posts`` and their own allowances.
    """

    def __init__(
        self,
        clock: Callable[[], float],
        *,
        per_window: dict[str, int] | None = None,
        window: float = 60.0,
        posts: Window = POST_PER_CHANNEL,
    ) -> None:
        self.per_window = (
            dict(per_window)
            if per_window is not None
            else {method: TIERS[tier].calls for method, tier in METHOD_TIERS.items()}
        )
        self._tiers = WindowLimiter(TIERS[DEFAULT_TIER].calls, window, clock)
        self._posts = WindowLimiter(posts.calls, posts.seconds, clock)

    def hit(self, method: str, token: str, channel: str = "") -> int | None:
        """Count one call; None if allowed, else the ``Retry-After`` seconds (at least 1).

        A refused call is not counted, so a client that waits ``Retry-After`` gets through.
        """
        if method == POST_METHOD:
            wait = self._posts.hit((token, channel))
        else:
            limit = self.per_window.get(method, TIERS[DEFAULT_TIER].calls)
            wait = self._tiers.hit((token, method), limit)
        return None if wait is None else max(1, math.ceil(wait))

    def reset(self) -> None:
        """Forget every counted call."""
        self._tiers.reset()
        self._posts.reset()
