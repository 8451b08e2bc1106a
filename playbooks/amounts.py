"""Amounts and dates as people type them in the alliance's language (ground floor, pure).

Amounts are parsed with Babel in the alliance's locale: in Dutch ``€ 2.500`` is 2500 and
``2.500,50`` is 2500.50; in English ``2,500`` is 2500. Babel's strict mode refuses what cannot
be read one way only (``2.50`` in Dutch: 250 or 2,5?), and the error says both readings.
Dates are read by :mod:`playbooks.dates` (the one date reader; ``parse_date`` is re-exported
here for the callers that import it from this module).
"""

from __future__ import annotations

import re
from decimal import Decimal

from playbooks.dates import parse_date
from playbooks.labels import LOCALES

__all__ = ["LOCALES", "AmountError", "parse_amount", "parse_date"]

_CURRENCY = re.compile(r"€|\bEUR\b|\beuros?\b", re.IGNORECASE)
_SPACES = re.compile(r"[\s\u00a0\u202f]+")


class AmountError(ValueError):
    """An amount that cannot be read (the message says why, and the readings if ambiguous)."""


def parse_amount(raw: object, language: str) -> Decimal:
    """``raw`` as a Decimal: numbers as they are, text in the ``language``'s locale."""
    if isinstance(raw, bool):
        raise AmountError(f"'{raw}' is not an amount in euros")
    if isinstance(raw, int | float | Decimal):
        return Decimal(str(raw))
    # Imported here: only an amount typed as text needs Babel's number parser (and its locale
    # data); a sync that reads the action plan's numbers never does.
    from babel.numbers import NumberFormatError, get_group_symbol, parse_decimal

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
