"""The engine's own texts (card footers, Slack topics, item messages) in each language."""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Any

import yaml

from playbooks.errors import PlaybookError, Problem

_FOLDER = "data/messages"


@cache
def messages(language: str) -> dict[str, str]:
    """The message catalogue of ``language``: every key of the English one, as text."""
    english = _read("en")
    if language == "en":
        return english
    catalogue = _read(language)
    source = f"playbooks/{_FOLDER}/{language}.yaml"
    problems = [
        Problem(source, key, "missing translation", "copy it from en.yaml and translate")
        for key in english
        if key not in catalogue
    ]
    problems += [
        Problem(source, key, "unknown key", "remove it or add it to en.yaml first")
        for key in catalogue
        if key not in english
    ]
    if problems:
        raise PlaybookError(problems)
    return catalogue


def _read(language: str) -> dict[str, str]:
    source = f"playbooks/{_FOLDER}/{language}.yaml"
    try:
        text = (
            resources.files("playbooks").joinpath(f"{_FOLDER}/{language}.yaml").read_text("utf-8")
        )
    except FileNotFoundError:
        raise PlaybookError(
            [Problem(source, "", f"no messages for language '{language}'")]
        ) from None
    data: Any = yaml.safe_load(text)
    if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
        raise PlaybookError([Problem(source, "", "must map each key to a text")])
    return data
