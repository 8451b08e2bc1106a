"""The Slack OAuth scopes: which scope each Web API method needs, and which mcm-sync asks for.

One source for three readers: the sandbox (a bot token without a method's scope gets
``missing_scope``), ``mcm-sync doctor`` (the token's ``x-oauth-scopes`` against
:data:`REQUIRED_BOT_SCOPES`) and ``slack-app-manifest.yaml`` (a test checks that the manifest
lists exactly these scopes). Scope names per method from docs.slack.dev/reference/methods
(bot token column); a method is allowed with any one of its scopes.
"""

from __future__ import annotations

# method -> the bot scopes any one of which allows it (an empty tuple: no scope needed).
METHOD_SCOPES: dict[str, tuple[str, ...]] = {
    "auth.test": (),
    "conversations.create": ("channels:manage", "groups:write"),
    "conversations.list": ("channels:read", "groups:read"),
    "conversations.info": ("channels:read", "groups:read"),
    "conversations.archive": ("channels:manage", "groups:write"),
    "conversations.unarchive": ("channels:manage", "groups:write"),
    "conversations.join": ("channels:join",),
    "conversations.invite": ("channels:manage", "groups:write"),
    "conversations.setTopic": ("channels:manage", "groups:write"),
    "conversations.setPurpose": ("channels:manage", "groups:write"),
    "conversations.history": ("channels:history", "groups:history"),
    "conversations.replies": ("channels:history", "groups:history"),
    "chat.postMessage": ("chat:write",),
    "chat.update": ("chat:write",),
    "chat.delete": ("chat:write",),
    "reactions.add": ("reactions:write",),
    "reactions.remove": ("reactions:write",),
    "reactions.get": ("reactions:read",),
    "pins.add": ("pins:write",),
    "pins.list": ("pins:read",),
    "users.lookupByEmail": ("users:read.email",),
    "users.info": ("users:read",),
    "users.list": ("users:read",),
}

# The bot scopes mcm-sync needs (public channels): the manifest and the doctor read this.
REQUIRED_BOT_SCOPES: tuple[str, ...] = (
    "channels:history",
    "channels:join",
    "channels:manage",
    "channels:read",
    "chat:write",
    "commands",
    "pins:write",
    "reactions:read",
    "reactions:write",
    "users:read",
    "users:read.email",
)

# What each required scope is for, in plain words (the doctor's fix lines).
SCOPE_PURPOSE: dict[str, str] = {
    "channels:history": "read the actions channel (reactions, thread replies)",
    "channels:join": "join the alliance's channels",
    "channels:manage": "create the channels, set topic and purpose, invite people",
    "channels:read": "find the channels by name",
    "chat:write": "post and update the item messages",
    "commands": "answer the /alliance slash command (mcm-sync serve)",
    "pins:write": "pin the welcome message",
    "reactions:read": "receive members' reactions as they happen (mcm-sync serve)",
    "reactions:write": "mark messages with reactions",
    "users:read": "read members' names (users:read.email needs it too)",
    "users:read.email": "find members by e-mail",
}


def missing_scopes(granted: set[str] | frozenset[str]) -> list[str]:
    """The required bot scopes not in ``granted``, in order."""
    return [scope for scope in REQUIRED_BOT_SCOPES if scope not in granted]
