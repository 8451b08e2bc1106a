"""The Slack OAuth scopes: which scope each Web API method needs, and which mcm-sync asks for.

One source for three readers: the sandbox (a bot token without a method's scope gets
``missing_scope``), ``mcm-sync doctor`` (the token's ``x-oauth-scopes`` against
:data:`REQUIRED_BOT_SCOPES`) and ``slack-app-manifest.yaml`` (a test checks that the manifest
lists exactly these scopes). Scope names per method from docs.slack.dev/reference/methods
(bot token column). A method on one channel needs the scope of that channel's type:
``channels:*`` for a public channel, ``groups:*`` for a private one (Slack answers
``missing_scope`` otherwise, see :func:`channel_scope`); other methods are allowed with any one
of their scopes.
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

# The bot scopes mcm-sync needs: the manifest, the doctor and the sandbox read this. The
# groups:* ones are for an alliance channel that exists already as a private channel (the
# bot, once invited, reads and updates it as it does a public one).
REQUIRED_BOT_SCOPES: tuple[str, ...] = (
    "channels:history",
    "channels:join",
    "channels:manage",
    "channels:read",
    "chat:write",
    "commands",
    "groups:history",
    "groups:read",
    "groups:write",
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
    "groups:history": "read an alliance channel that is private (reactions, thread replies)",
    "groups:read": "find an alliance channel that is private",
    "groups:write": "set topic and purpose of a private alliance channel, invite people",
    "pins:write": "pin the welcome message",
    "reactions:read": "receive members' reactions as they happen (mcm-sync serve)",
    "reactions:write": "mark messages with reactions",
    "users:read": "read members' names (users:read.email needs it too)",
    "users:read.email": "find members by e-mail",
}


def missing_scopes(granted: set[str] | frozenset[str]) -> list[str]:
    """The required bot scopes not in ``granted``, in order."""
    return [scope for scope in REQUIRED_BOT_SCOPES if scope not in granted]


def channel_scope(method: str, is_private: bool) -> str | None:
    """The scope ``method`` needs on a public or private channel (None: not per channel type).

    The methods on one channel list the public channel's scope first and the private
    channel's second (``("channels:history", "groups:history")``).
    """
    needed = METHOD_SCOPES.get(method, ())
    if len(needed) != 2 or not (needed[0].startswith("channels:")
                                and needed[1].startswith("groups:")):
        return None
    return needed[1] if is_private else needed[0]
