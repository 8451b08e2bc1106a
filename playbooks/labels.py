"""Label catalogues of the templates, and dates and amounts written the way each language does.

``playbooks/data/labels/<lang>.yaml`` holds every word the Markdown templates print. English
is the reference: every other catalogue must have exactly its key paths (lists of the same
length) and only non-empty texts, so no template can meet a hole in one language only. Dates
("11 januari 2027", "1er mars 2027") and euro amounts ("€ 8.500") use the catalogue's month
names and separators; no locale database is needed for four languages.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal
from functools import cache
from importlib import resources
from typing import Any

import yaml

from playbooks.errors import PlaybookError, Problem

LABELS_FOLDER = "data/labels"
REFERENCE_LANGUAGE = "en"
# The locale Babel writes each alliance language in (dates, numbers, amounts).
LOCALES = {"en": "en_GB", "nl": "nl_NL", "fr": "fr_FR", "sv": "sv_SE"}


def _label_source(language: str) -> str:
    return f"playbooks/{LABELS_FOLDER}/{language}.yaml"


def _leaves(data: Any, prefix: str = "") -> list[tuple[str, Any]]:
    """Every (key path, value) of a label catalogue, e.g. ``("date.months[11]", "December")``.

    Mappings are followed; list items are leaves (a list item must be a text).
    """
    if isinstance(data, Mapping):
        found: list[tuple[str, Any]] = []
        for key, value in data.items():
            found += _leaves(value, f"{prefix}.{key}" if prefix else str(key))
        return found
    if isinstance(data, list):
        return [(f"{prefix}[{index}]", value) for index, value in enumerate(data)]
    return [(prefix, data)]


def flatten_keys(data: Any) -> set[str]:
    """Every key path of a label catalogue: ``briefing.reasons[0]``, ``date.months[11]``..."""
    return {key for key, _ in _leaves(data)}


def _is_text(key: str, value: str) -> bool:
    # Separators may be a (no-break) space; every other label must say something.
    return bool(value.strip()) or (key.startswith("number.") and value != "")


def check_catalogue(data: Any, reference: Any, source: str) -> list[Problem]:
    """Problems of a catalogue: non-texts, then keys missing from or unknown to ``reference``."""
    # An unquoted "Question: answer?" in a YAML list becomes a mapping: caught here, not in
    # a rendered document.
    problems = [
        Problem(source, key, "must be a non-empty text", "put the text in quotes")
        for key, value in _leaves(data)
        if not isinstance(value, str) or not _is_text(key, value)
    ]
    if reference is not None:
        expected, found = flatten_keys(reference), flatten_keys(data)
        problems += [Problem(source, key, "missing label") for key in sorted(expected - found)]
        problems += [
            Problem(source, key, "unknown label", "remove it or add it to en.yaml")
            for key in sorted(found - expected)
        ]
    return problems


def _read_labels(language: str) -> dict[str, Any]:
    source = _label_source(language)
    try:
        text = resources.files("playbooks").joinpath(f"{LABELS_FOLDER}/{language}.yaml")
        data = yaml.safe_load(text.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise PlaybookError(
            [Problem(source, "", "no template labels in this language", "add the label file")]
        ) from None
    except yaml.YAMLError as exc:
        raise PlaybookError([Problem(source, "", f"not valid YAML: {exc}")]) from None
    if not isinstance(data, dict):
        raise PlaybookError([Problem(source, "", "the file must be a mapping of sections")])
    return data


@cache
def labels(language: str) -> dict[str, Any]:
    """The template labels of ``language``; :class:`PlaybookError` if a key is missing or extra.

    English is the reference: every other catalogue must have exactly its key paths (lists
    of the same length), so no template can meet a hole in one language only.
    """
    data = _read_labels(language)
    reference = None if language == REFERENCE_LANGUAGE else _read_labels(REFERENCE_LANGUAGE)
    problems = check_catalogue(data, reference, _label_source(language))
    if problems:
        raise PlaybookError(problems)
    return data


def fill(text: str, **values: Any) -> str:
    """``text`` with its ``{name}`` placeholders filled; an unknown placeholder is an error."""
    try:
        return str(text).format_map(values)
    except (KeyError, IndexError, ValueError) as exc:
        raise PlaybookError(
            [Problem("playbooks/data/labels", repr(text[:40]), f"bad placeholder: {exc}")]
        ) from None


def cell(value: Any) -> str:
    """Text made safe for one Markdown table cell: ``|`` escaped, line breaks as ``<br>``."""
    text = "" if value is None else str(value)
    text = text.replace("\\", "\\\\").replace("|", "\\|")
    return "<br>".join(line.strip() for line in text.strip().splitlines())


_INERT = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", "[": "&#91;", "]": "&#93;"})


def inert(value: Any) -> str:
    """Text someone wrote, made inert in Markdown as the HTML report's autoescape makes it
    there: raw HTML shown as text (``&``, ``<``, ``>`` as entities), and no link or image
    (``[``, ``]`` as entities too: a backslash would not survive a table cell's own escaping),
    so a ``[click](javascript:...)`` in a title stays words."""
    return ("" if value is None else str(value)).translate(_INERT)


def format_date(date: dt.date, language: str) -> str:
    """A date as people write it in ``language``, e.g. ``11 januari 2027``, ``1er mars 2027``.

    Babel writes it from the Unicode CLDR's long date of the language's locale; the label
    catalogue adds what CLDR leaves out (French writes the first of the month ``1er``).
    """
    from babel import dates as babel_dates  # where dates are written for people (not a sync)

    locale = LOCALES.get(language, "en_GB")
    first = labels(language)["date"]["first_day"]
    if date.day == 1 and first != "1":
        return babel_dates.format_date(date, f"'{first}' MMMM y", locale=locale)
    return babel_dates.format_date(date, "long", locale=locale)


def format_number(value: float | int | Decimal, language: str) -> str:
    """A number as the language writes it (Babel): ``1,234`` in English, ``1 234`` in Swedish."""
    from babel import numbers as babel_numbers  # imported where numbers are written

    return babel_numbers.format_decimal(value, locale=LOCALES.get(language, "en_GB"))


def format_percent(percent: float | int, language: str) -> str:
    """A whole percentage as the language writes it (Babel): ``45%``, ``45 %`` in French."""
    from babel import numbers as babel_numbers

    return babel_numbers.format_percent(percent / 100, locale=LOCALES.get(language, "en_GB"))


def format_amount(amount: Decimal, language: str) -> str:
    """An amount in euros with the language's separators, e.g. ``€ 8.500`` in Dutch."""
    spec = labels(language)["number"]
    whole = amount == amount.to_integral_value()
    text = f"{amount:,.0f}" if whole else f"{amount:,.2f}"
    text = text.replace(",", "\x00").replace(".", spec["decimal"])
    return fill(spec["currency"], amount=text.replace("\x00", spec["thousands"]))
