"""Counted nouns in the coordinator's messages: ``1 warning``, ``2 warnings``."""

from __future__ import annotations


def plural(count: int, singular: str, plural_form: str | None = None) -> str:
    """``count`` and the noun in the form the count takes (English: one is singular)."""
    word = singular if count == 1 else (plural_form or f"{singular}s")
    return f"{count} {word}"
