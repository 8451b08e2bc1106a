"""Amounts and dates as people type them in the alliance's language (ground floor, pure).

Amounts are parsed with Babel in the alliance's locale: in Dutch ``€ 2.500`` is 2500 and
``2.500,50`` is 2500.50; in English ``2,500`` is 2500. Babel's strict mode refuses what cannot
be read one way only (``2.50`` in Dutch: 250 or 2,5?), and the error says both readings.
Dates are ISO (``2027-07-05``) or day first, as Dutch, French and Swedish coordinators write
them: ``05-07-2027``, ``5-7-2027``, ``5.7.2027`` (not with slashes: ``5/7/2027`` is 7 May
in the United States).
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

from babel.numbers import NumberFormatError, get_group_symbol, parse_decimal

LOCALES = {"en": "en_GB", "nl": "nl_NL", "fr": "fr_FR", "sv": "sv_SE"}
_CURRENCY = re.compile(r"€|\bEUR\b|\beuros?\b", re.IGNORECASE)
_SPACES = re.compile(r"[\s\u00a0\u202f]+")
# Not with slashes: 5/7/2027 reads as 7 May in the United States.
_DAY_FIRST = re.compile(r"^(\d{1,2})([-.])(\d{1,2})\2(\d{4})$")


class AmountError(ValueError):
    """An amount that cannot be read (the message says why, and the readings if ambiguous)."""


def parse_amount(raw: object, language: str) -> Decimal:
    """``raw`` as a Decimal: numbers as they are, text in the ``language``'s locale."""
    if isinstance(raw, bool):
        raise AmountError(f"'{raw}' is not an amount in euros")
    if isinstance(raw, int | float | Decimal):
        return Decimal(str(raw))
    locale = LOCALES.get(language, "en_GB")
    text = _CURRENCY.sub("", str(raw)).strip()
    text = _SPACES.sub(get_group_symbol(locale), text).strip(get_group_symbol(locale))
    try:
        amount = parse_decimal(text, locale=locale, strict=True)
    except NumberFormatError as exc:
        readings = getattr(exc, "suggestions", None) or []
        hint = f" (ambiguous in '{language}': {' or '.join(readings)}?)" if readings else ""
        raise AmountError(f"'{raw}' is not an amount in euros{hint}") from None
    if not amount.is_finite():
        raise AmountError(f"'{raw}' is not an amount in euros")
    return amount


def parse_date(raw: object) -> dt.date | None:
    """A typed date: a date object, ISO ``YYYY-MM-DD``, or day first ``5-7-2027``; else None."""
    if isinstance(raw, dt.datetime):
        return raw.date()
    if isinstance(raw, dt.date):
        return raw
    text = str(raw).strip()
    match = _DAY_FIRST.match(text)
    try:
        if match:
            day, month, year = int(match[1]), int(match[3]), int(match[4])
            return dt.date(year, month, day)
        return dt.date.fromisoformat(text)
    except ValueError:
        return None
