"""The one date reader of mcm-sync: every date a person types goes through :func:`read_date`.

Dates are ISO (``2027-07-05``) or day first, as Dutch, French, Swedish and Irish coordinators
write them: ``05-07-2027``, ``5-7-2027``, ``5.7.2027``. Where a person writes prose (minutes,
agendas) a month name in any of the alliance languages is read too (``7 June 2027``,
``1er mars 2027``). Slashes are refused everywhere with the same hint: ``5/7/2027`` is 5 July
in Europe and 7 May in the United States, and a tool that guesses moves a meeting by two
months.

The config file, the action plan, the stakeholder sheet, the minutes, ``meeting schedule
--date``, ``init`` and every ``--today``/``--since``/``--start-date`` option use this module, so
a date that one of them accepts every other one accepts too.
"""

from __future__ import annotations

import datetime as dt
import re

from playbooks.labels import labels

LANGUAGES = ("en", "nl", "fr", "sv")
DATE_HINT = "write dates as YYYY-MM-DD or day first, 5-7-2027 or 5.7.2027"
SLASH_HINT = ("slashes are not read: 5/7/2027 is 5 July in Europe and 7 May in the United "
              "States; write 5-7-2027 or 2027-07-05")
_DAY_FIRST = re.compile(r"^(\d{1,2})([-.])(\d{1,2})\2(\d{4})$")
_SLASHED = re.compile(r"^\d{1,4}/\d{1,2}/\d{1,4}$")


class DateError(ValueError):
    """A text that is not a date: ``str()`` says what was typed, :attr:`hint` how to write it."""

    def __init__(self, text: str, hint: str = DATE_HINT) -> None:
        self.text = text
        self.message = f"'{text}' is not a date"
        self.hint = hint
        super().__init__(f"{self.message} ({hint})")


def read_date(raw: object, language: str | None = None) -> dt.date:
    """``raw`` as a date, or :class:`DateError` saying why and how to write it.

    A date (or datetime) object is taken as it is (YAML reads ``2027-07-05`` itself). With a
    ``language``, a month name is read too, in that language first, then the others.
    """
    if isinstance(raw, dt.datetime):
        return raw.date()
    if isinstance(raw, dt.date):
        return raw
    text = " ".join(str(raw if raw is not None else "").split())
    if _SLASHED.match(text):
        raise DateError(text, SLASH_HINT)
    try:
        match = _DAY_FIRST.match(text)
        if match:
            return dt.date(int(match[4]), int(match[3]), int(match[1]))
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            return dt.date.fromisoformat(text)
        named = _named_month(text, language) if language else None
    except ValueError:
        named = None
    if named is None:
        raise DateError(text)
    return named


def parse_date(raw: object, language: str | None = None) -> dt.date | None:
    """:func:`read_date`, or None where it refuses (for callers that report the problem)."""
    try:
        return read_date(raw, language)
    except DateError:
        return None


def date_problem(raw: object, language: str | None = None) -> DateError | None:
    """What is wrong with ``raw`` as a date (its message and hint), or None for a good one."""
    try:
        read_date(raw, language)
    except DateError as error:
        return error
    return None


def _named_month(text: str, language: str) -> dt.date | None:
    """``7 June 2027``, ``15 juni 2027``, ``1er mars 2027``: in ``language``, then the others."""
    parts = text.casefold().replace(",", " ").split()
    if len(parts) != 3 or not parts[2].isdigit():
        return None
    for lang in (language, *LANGUAGES):
        spec = labels(lang)["date"]
        months = [m.casefold() for m in spec["months"]]
        day = "1" if parts[0] == spec["first_day"].casefold() else parts[0].rstrip(".")
        if parts[1] in months and day.isdigit():
            return dt.date(int(parts[2]), months.index(parts[1]) + 1, int(day))
    return None
