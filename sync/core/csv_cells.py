"""CSV we write is safe to open in a spreadsheet: no cell can run as a formula.

OWASP's rule against CSV (formula) injection: a cell that starts with ``=``, ``+``, ``-``, ``@``,
a tab or a carriage return is prefixed with a single quote, which spreadsheets show as text.
A member's card titled ``=HYPERLINK("http://evil.example/x","click")`` comes out as
``'=HYPERLINK(...)``: readable, and inert. Plain numbers and phone numbers (``-5``,
``+31 58 123 4567``) are left as they are: without a letter there is no function, reference
or command in them, only arithmetic.

Every CSV writer of the project goes through :func:`writer` / :func:`dict_writer` (or
:func:`safe_cell`); importing our own export back goes through :func:`unquote_cell`, so that
the added quote never sticks.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import IO, Any

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# A number, a phone number or a date-like run of digits: nothing a spreadsheet could execute.
_INERT = re.compile(r"^[+-]?[\d\s().,/+-]*$")


def safe_cell(value: Any) -> Any:
    """``value`` with a leading ``'`` if a spreadsheet would take it for a formula."""
    if isinstance(value, str) and value.startswith(FORMULA_START) and not _INERT.match(value):
        return "'" + value
    return value


def unquote_cell(value: str) -> str:
    """Undo :func:`safe_cell` on a cell read back: ``'=SUM(A1)`` -> ``=SUM(A1)``."""
    if value.startswith("'") and value[1:].startswith(FORMULA_START):
        return value[1:]
    return value


class SafeWriter:
    """``csv.writer`` with every cell passed through :func:`safe_cell`."""

    def __init__(self, stream: IO[str], **options: Any) -> None:
        self._writer = csv.writer(stream, **options)

    def writerow(self, row: Iterable[Any]) -> Any:
        """Write one row, neutralised."""
        return self._writer.writerow([safe_cell(cell) for cell in row])

    def writerows(self, rows: Iterable[Iterable[Any]]) -> None:
        """Write rows, neutralised."""
        for row in rows:
            self.writerow(row)


class SafeDictWriter(csv.DictWriter):  # type: ignore[type-arg]  # generic only in typeshed
    """``csv.DictWriter`` with every value passed through :func:`safe_cell`."""

    def writerow(self, rowdict: Mapping[str, Any]) -> Any:
        """Write one row, neutralised."""
        return super().writerow({key: safe_cell(value) for key, value in rowdict.items()})

    def writerows(self, rowdicts: Iterable[Mapping[str, Any]]) -> None:
        """Write rows, neutralised."""
        for row in rowdicts:
            self.writerow(row)


def writer(stream: IO[str], **options: Any) -> SafeWriter:
    """A CSV writer on ``stream`` that neutralises formulas (options as for ``csv.writer``)."""
    return SafeWriter(stream, **options)


def dict_writer(stream: IO[str], fieldnames: Sequence[str], **options: Any) -> SafeDictWriter:
    """A ``DictWriter`` on ``stream`` that neutralises formulas."""
    return SafeDictWriter(stream, fieldnames=list(fieldnames), **options)
