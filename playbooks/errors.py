"""The playbook package's own errors: a problem in an input file, named by file and key path.

Kept on the ground floor so that ``playbooks`` imports nothing of ``sync``. The app's exception
tree (:mod:`sync.core.errors`) takes these in as its input branch: an :class:`InputError`
is a user's error (exit 2) wherever it is raised.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an input: where (file, key path or row) and what, with a hint."""

    source: str
    location: str
    message: str
    hint: str = ""

    def __str__(self) -> str:
        where = f"{self.source}: {self.location}" if self.location else self.source
        text = f"{where}: {self.message}"
        return f"{text} (hint: {self.hint})" if self.hint else text


class InputError(Exception):
    """One or more problems in an input file; every problem names its file and location."""

    hint: str = ""

    def __init__(self, problems: list[Problem], *, summary: str = "") -> None:
        self.problems = list(problems)
        first = str(self.problems[0]) if self.problems else "invalid input"
        super().__init__(summary or first)

    def lines(self) -> list[str]:
        """One line per problem, so a user can fix them all in one go."""
        return [str(p) for p in self.problems] or [str(self)]


class PlaybookError(InputError):
    """A playbook or its translations are invalid."""


def key_path(loc: Sequence[Any]) -> str:
    """A validation location as a key path people read: ``steps[2].tasks[0].title``."""
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path
