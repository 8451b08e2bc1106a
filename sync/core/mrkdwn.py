"""Member text made safe for where it goes: Slack's mrkdwn, and Trello comments.

Slack parses ``&``, ``<`` and ``>`` as control characters in message text and mrkdwn blocks:
``<!channel>``, ``<!here>``, ``<!everyone>`` ping people, ``<@U123>`` mentions one,
``<https://evil.example|trello.com/...>`` shows a trusted label on another address. Slack's
formatting guide says to replace exactly those three characters by ``&amp;``, ``&lt;`` and
``&gt;`` in any text not meant to be parsed, and nothing else. :func:`escape` does that for
every text we post that holds what someone wrote (titles, descriptions, comments, names);
our templates carry no control characters, so a whole composed text is escaped at once.
A link we show is built by :func:`link`, from an address we checked, never passed through.

The other way, a Slack reply copied to a Trello card (:func:`slack_to_trello`): Slack's
escapes and control sequences become plain text, and Trello's ``@board`` / ``@card``
(which notify every member of the board or card) are broken with a zero-width space.
"""

from __future__ import annotations

import re
from urllib.parse import quote, urlsplit

_ESCAPES = (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;"))
ZERO_WIDTH_SPACE = "\u200b"


def escape(text: str) -> str:
    """``text`` shown as written in Slack: ``&``, ``<``, ``>`` as HTML entities, nothing else."""
    for char, entity in _ESCAPES:
        text = text.replace(char, entity)
    return text


def link(url: str, label: str) -> str:
    """A Slack link we build: ``<url|label>`` for an http(s) address, else the label alone.

    The address is percent-encoded where mrkdwn would read it (``|``, ``<``, ``>``, spaces);
    the label is escaped, so it can neither close the link nor open another one.
    """
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return escape(label)
    safe = quote(url.strip(), safe="/:?#[]@!$&'()*+,;=%~-._")
    return f"<{safe.replace('&', '&amp;')}|{escape(label)}>"


# <url|label>, <url>, <@U123|name>, <#C123|name>, <!here>, <!subteam^S1|@team>
_CONTROL = re.compile(r"<([^<>|]*)(?:\|([^<>]*))?>")
_TRELLO_MENTIONS = re.compile(r"@(board|card)\b", re.IGNORECASE)


def _plain(match: re.Match[str]) -> str:
    target, label = match.group(1), match.group(2)
    if target.startswith(("@", "#")):
        return f"{target[0]}{label.lstrip('@#')}" if label else target
    if target.startswith("!"):
        return label or "@" + target[1:].split("^", 1)[0]
    return f"{label} ({target})" if label and label != target else target


def unescape(text: str) -> str:
    """Slack message text as plain text: control sequences spelt out, entities decoded."""
    text = _CONTROL.sub(_plain, text)
    for char, entity in reversed(_ESCAPES):
        text = text.replace(entity, char)
    return text


def no_trello_mentions(text: str) -> str:
    """``@board`` and ``@card`` kept readable but no longer notifying everyone on Trello."""
    return _TRELLO_MENTIONS.sub(lambda m: f"@{ZERO_WIDTH_SPACE}{m.group(1)}", text)


def slack_to_trello(text: str) -> str:
    """A member's Slack text as a Trello comment's: plain, without mass mentions."""
    return no_trello_mentions(unescape(text))


__all__ = ["escape", "link", "no_trello_mentions", "slack_to_trello", "unescape"]
