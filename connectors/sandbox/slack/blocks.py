"""Block Kit validation in the Slack emulator, and the emoji names ``reactions.add`` takes.

Slack checks a message's ``blocks`` when it is posted or updated and answers
``{"ok": false, "error": "invalid_blocks", "errors": [...], "response_metadata":
{"messages": ["[ERROR] ... [json-pointer:/blocks/0/text/text]"]}}`` for a layout it does not
take. The limits kept here are the ones the Block Kit reference states (docs.slack.dev,
reference/block-kit/blocks: section, header, context, actions, divider, image, rich_text):

- at most 50 blocks in a message;
- a block type Slack does not know is refused;
- a section needs ``text`` or ``fields``; its text is at most 3,000 characters, at most 10
  fields of at most 2,000 characters each;
- a header's text is a ``plain_text`` object of at most 150 characters;
- a context block has 1 to 10 elements (``plain_text``/``mrkdwn`` texts or images);
- an actions block has 1 to 25 elements; a button's text is ``plain_text``, at most 75
  characters, its ``action_id`` and ``value`` at most 255 and 2,000 characters;
- a ``block_id`` is at most 255 characters and unique within the message;
- a text object is ``plain_text`` or ``mrkdwn`` with a non-empty ``text``.

Emoji: ``reactions.add`` answers ``invalid_name`` for a name Slack has no emoji for. The
standard set is the Unicode emoji with their common short names (the ``emoji`` package's
English names and aliases, which include Slack's ``+1``, ``white_check_mark``, ...), with an
optional skin tone (``thumbsup::skin-tone-2``). The sandbox workspace has no custom emoji.
"""

from __future__ import annotations

import functools
from typing import Any

from connectors.sandbox.slack.model import SlackError

MAX_BLOCKS = 50
MAX_SECTION_TEXT = 3000
MAX_FIELDS = 10
MAX_FIELD_TEXT = 2000
MAX_HEADER_TEXT = 150
MAX_CONTEXT_ELEMENTS = 10
MAX_ACTIONS_ELEMENTS = 25
MAX_BUTTON_TEXT = 75
MAX_ID = 255
MAX_VALUE = 2000
KNOWN_TYPES = frozenset({
    "actions", "context", "divider", "file", "header", "image", "input", "rich_text",
    "section", "video", "markdown", "call", "table",
})
TEXT_TYPES = ("plain_text", "mrkdwn")
SKIN_TONES = frozenset(f"skin-tone-{n}" for n in range(2, 7))


class _Problems:
    """The ``[ERROR] ...`` lines of one validation, each with its JSON pointer."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def add(self, pointer: str, message: str) -> None:
        self.lines.append(f"[ERROR] {message} [json-pointer:{pointer}]")


def _text(problems: _Problems, obj: Any, pointer: str, *, most: int,
          plain_only: bool = False) -> None:
    if not isinstance(obj, dict):
        problems.add(pointer, "must be an object")
        return
    kind = obj.get("type")
    allowed = ("plain_text",) if plain_only else TEXT_TYPES
    if kind not in allowed:
        problems.add(f"{pointer}/type", f"must be one of {', '.join(allowed)}")
    text = obj.get("text")
    if not isinstance(text, str) or not text:
        problems.add(f"{pointer}/text", "must be more than 0 characters")
    elif len(text) > most:
        problems.add(f"{pointer}/text", f"must be less than {most + 1} characters")


def _section(problems: _Problems, block: dict[str, Any], at: str) -> None:
    fields = block.get("fields")
    if "text" not in block and not fields:
        problems.add(at, "must provide either text or fields")
    if "text" in block:
        _text(problems, block["text"], f"{at}/text", most=MAX_SECTION_TEXT)
    if fields is not None:
        if not isinstance(fields, list) or not fields:
            problems.add(f"{at}/fields", "must be a non-empty array")
        else:
            if len(fields) > MAX_FIELDS:
                problems.add(f"{at}/fields", f"must contain at most {MAX_FIELDS} items")
            for n, field in enumerate(fields):
                _text(problems, field, f"{at}/fields/{n}", most=MAX_FIELD_TEXT)


def _elements(problems: _Problems, block: dict[str, Any], at: str,
              most: int) -> list[Any]:
    """A block's ``elements``: a non-empty array of at most ``most`` (else a problem, and
    nothing to check further when it is not an array at all)."""
    elements = block.get("elements")
    if not isinstance(elements, list) or not elements:
        problems.add(f"{at}/elements", "must be a non-empty array")
        return []
    if len(elements) > most:
        problems.add(f"{at}/elements", f"must contain at most {most} items")
    return elements


def _context(problems: _Problems, block: dict[str, Any], at: str) -> None:
    for n, element in enumerate(_elements(problems, block, at, MAX_CONTEXT_ELEMENTS)):
        if isinstance(element, dict) and element.get("type") == "image":
            continue
        _text(problems, element, f"{at}/elements/{n}", most=MAX_SECTION_TEXT)


def _actions(problems: _Problems, block: dict[str, Any], at: str) -> None:
    for n, element in enumerate(_elements(problems, block, at, MAX_ACTIONS_ELEMENTS)):
        where = f"{at}/elements/{n}"
        if not isinstance(element, dict) or element.get("type") != "button":
            continue  # other interactive elements: not checked further
        _text(problems, element.get("text"), f"{where}/text", most=MAX_BUTTON_TEXT,
              plain_only=True)
        if len(str(element.get("action_id") or "")) > MAX_ID:
            problems.add(f"{where}/action_id", f"must be less than {MAX_ID + 1} characters")
        if len(str(element.get("value") or "")) > MAX_VALUE:
            problems.add(f"{where}/value", f"must be less than {MAX_VALUE + 1} characters")


def check_blocks(blocks: Any) -> None:
    """Refuse ``blocks`` Slack would refuse: ``invalid_blocks`` with Slack's error lines."""
    problems = _Problems()
    if not isinstance(blocks, list):
        problems.add("/blocks", "must be an array")
        _raise(problems)
    if len(blocks) > MAX_BLOCKS:
        problems.add("/blocks", f"must contain at most {MAX_BLOCKS} items")
    seen: set[str] = set()
    for n, block in enumerate(blocks):
        at = f"/blocks/{n}"
        if not isinstance(block, dict) or not isinstance(block.get("type"), str):
            problems.add(at, "must be an object with a type")
            continue
        kind = block["type"]
        block_id = block.get("block_id")
        if block_id is not None:
            if len(str(block_id)) > MAX_ID:
                problems.add(f"{at}/block_id", f"must be less than {MAX_ID + 1} characters")
            if str(block_id) in seen:
                problems.add(f"{at}/block_id", "must be unique within the message")
            seen.add(str(block_id))
        if kind not in KNOWN_TYPES:
            problems.add(f"{at}/type", f"unsupported type: {kind}")
        elif kind == "section":
            _section(problems, block, at)
        elif kind == "header":
            _text(problems, block.get("text"), f"{at}/text", most=MAX_HEADER_TEXT,
                  plain_only=True)
        elif kind == "context":
            _context(problems, block, at)
        elif kind == "actions":
            _actions(problems, block, at)
    if problems.lines:
        _raise(problems)


def _raise(problems: _Problems) -> None:
    raise SlackError("invalid_blocks", errors=[line.split("] ", 1)[1] for line in problems.lines],
                     response_metadata={"messages": problems.lines})


@functools.cache
def _standard_emoji() -> frozenset[str]:
    import emoji

    names: set[str] = set()
    for data in emoji.EMOJI_DATA.values():
        for name in [data.get("en", ""), *data.get("alias", [])]:
            if name:
                names.add(name.strip(":"))
    return frozenset(names)


def check_emoji(name: str) -> None:
    """``invalid_name`` unless ``name`` is an emoji Slack has (skin tone allowed)."""
    base, _, tone = name.partition("::")
    if base not in _standard_emoji() or (tone and tone not in SKIN_TONES):
        raise SlackError("invalid_name")
