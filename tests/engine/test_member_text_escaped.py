"""Member text cannot ping a channel or disguise a link (issue 25, item 5).

On a sandbox: members create cards whose titles are Slack control sequences, comment one on
a card, reply ``@board`` in Slack; after a sync, the item messages (text and blocks) and the
thread notes show the characters as written (``&lt;!channel&gt;``), never the sequence, and
the reply reaches Trello with its mass mention broken. Then the pure functions, one by one.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from sync.core.mrkdwn import ZERO_WIDTH_SPACE, escape, link, slack_to_trello, unescape
from tests.support.synced import ESRA, FARAH, Synced

INJECTIONS = {
    "channel": "<!channel> meeting moved",
    "here": "<!here> urgent",
    "everyone": "<!everyone> read this",
    "user": "<@U0123ABCD> owes us",
    "disguised-link": "<https://evil.example/login|trello.com/b/FRL/board>",
    "ampersand": "Tea & coffee &lt;ok&gt;",
}
# Anything Slack would parse: <!...>, <@...>, <#...>, <http...>.
CONTROL = re.compile(r"<[!@#]|<https?:")


@pytest.fixture(scope="module")
def synced(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Synced, dict[str, str]]]:
    alliance = Synced(tmp_path_factory.mktemp("escaped"))
    alliance.cli("bootstrap", "--only", "trello,slack")
    alliance.cli("sync")
    numbers: dict[str, str] = {}
    with alliance.store() as store:
        before = len(store.list_items())
    todo = alliance.resource("trello", "list", "todo")
    for i, (name, title) in enumerate(INJECTIONS.items()):
        alliance.trello_member(ESRA).fetch_json("/cards", http_method="POST",
                                                query_params={"idList": todo, "name": title})
        numbers[name] = f"FRL-{before + i + 1}"
    alliance.trello_member(ESRA).fetch_json(
        f"/cards/{alliance.side('FRL-9', 'trello')}/actions/comments", http_method="POST",
        query_params={"text": "<!channel> see <https://evil.example|trello.com>"})
    alliance.slack_member(FARAH).chat_postMessage(
        channel=alliance.resource("slack", "channel", "actions"),
        thread_ts=alliance.side("FRL-8", "slack"), text="@board please look &amp; @card too")
    alliance.cli("sync")
    yield alliance, numbers
    alliance.close()


def _texts(message: dict[str, Any]) -> list[str]:
    """The message's text, every text of its blocks, and its thread's lines."""
    found = [message["text"], *message["thread"]]
    for block in message.get("blocks") or []:
        text = block.get("text")
        if isinstance(text, dict):
            found.append(text.get("text", ""))
    return found


@pytest.mark.parametrize("name", sorted(INJECTIONS))
def test_a_card_title_is_shown_not_parsed(synced: tuple[Synced, dict[str, str]],
                                          name: str) -> None:
    alliance, numbers = synced
    message = alliance.message(numbers[name])
    texts = _texts(message)
    assert len(texts) >= 3  # text, a mrkdwn block, the new-item note
    assert [t for t in texts if CONTROL.search(t)] == []
    assert escape(INJECTIONS[name]) in message["text"]
    assert any(escape(INJECTIONS[name]) in line for line in message["thread"])  # the note


def test_a_trello_comment_reaches_the_thread_escaped(
        synced: tuple[Synced, dict[str, str]]) -> None:
    alliance, _ = synced
    thread = alliance.message("FRL-9")["thread"]
    copied = [line for line in thread if "see" in line]
    assert copied and [line for line in copied if CONTROL.search(line)] == []
    assert "&lt;!channel&gt;" in copied[0]


def test_a_slack_reply_reaches_trello_without_mass_mentions(
        synced: tuple[Synced, dict[str, str]]) -> None:
    alliance, _ = synced
    actions = alliance.trello_member(ESRA).fetch_json(
        f"/cards/{alliance.side('FRL-8', 'trello')}/actions",
        query_params={"filter": "commentCard"})
    copied = [a["data"]["text"] for a in actions if "please look" in a["data"]["text"]]
    assert len(copied) == 1
    assert "@board" not in copied[0] and "@card" not in copied[0]
    assert f"@{ZERO_WIDTH_SPACE}board please look & @{ZERO_WIDTH_SPACE}card" in copied[0]


def test_the_next_sync_writes_nothing(synced: tuple[Synced, dict[str, str]]) -> None:
    """Escaped texts compare equal to what Slack keeps: no update at every run."""
    alliance, _ = synced
    assert alliance.json("sync")["writes"] == {}


@pytest.mark.parametrize(("raw", "shown"), [
    ("<!channel>", "&lt;!channel&gt;"),
    ("<!here|here>", "&lt;!here|here&gt;"),
    ("<@U123>", "&lt;@U123&gt;"),
    ("a & b", "a &amp; b"),
    ("&lt;", "&amp;lt;"),  # shown as typed, not decoded
    ("*bold* _it_", "*bold* _it_"),  # only the three control characters
])
def test_escape_replaces_exactly_the_three_control_characters(raw: str, shown: str) -> None:
    assert escape(raw) == shown
    assert unescape(escape(raw)) == raw


@pytest.mark.parametrize(("url", "label", "expected"), [
    ("https://trello.com/c/abc", "FRL-3", "<https://trello.com/c/abc|FRL-3>"),
    ("https://x.example/?a=1&b=2", "x", "<https://x.example/?a=1&amp;b=2|x>"),
    ("https://x.example/a|b>c", "x", "<https://x.example/a%7Cb%3Ec|x>"),
    ("https://trello.com/c/abc", "<!channel>|evil", "<https://trello.com/c/abc|&lt;!channel&gt;|evil>"),
    ("javascript:alert(1)", "click", "click"),
    ("ftp://files.example/x", "<b>", "&lt;b&gt;"),
])
def test_links_are_built_never_passed_through(url: str, label: str, expected: str) -> None:
    assert link(url, label) == expected


@pytest.mark.parametrize(("slack", "trello"), [
    ("<https://evil.example|trello.com>", "trello.com (https://evil.example)"),
    ("<https://a.example>", "https://a.example"),
    ("<!channel> hi", "@channel hi"),
    ("ask <@U123|farah>", "ask @farah"),
    ("in <#C1|actions>", "in #actions"),
    ("1 &lt; 2 &amp;&amp; 3 &gt; 2", "1 < 2 && 3 > 2"),
    ("@board and @Card, not @boardroom", f"@{ZERO_WIDTH_SPACE}board and @{ZERO_WIDTH_SPACE}Card, "
                                         "not @boardroom"),
])
def test_a_slack_text_as_a_trello_comment(slack: str, trello: str) -> None:
    assert slack_to_trello(slack) == trello
