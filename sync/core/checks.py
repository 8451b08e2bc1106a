"""Value checks shared by the config model and the command line (issue 11: inputs checked first).

Each check returns the checked value or raises ``ValueError`` with a message that reads well
after a key path (``sync.digest_every: ...``); pydantic validators and click callbacks turn it
into a config or usage error (exit 2). No check ever echoes a secret: none is used on one.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
import urllib.parse
import zoneinfo
from typing import Literal

from playbooks.dates import DateError, read_date
from sync.core.errors import UserError

# The one way a duration is written (config keys: duration(); command options and the
# runner: parse_duration()): a number and a unit.
DURATION = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$")
DURATION_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
DURATION_HINT = "write a number and a unit: 30s, 5m, 24h, 7d or 2w"

# An alliance's work plan starts in a year people actually work in (the guide dates from 2021).
FIRST_START = dt.date(2000, 1, 1)
LAST_START = dt.date(2099, 12, 31)


# Nothing of ours repeats less often than yearly; past this a timedelta overflows anyway.
LONGEST = dt.timedelta(days=366)


def duration(text: str, *, minimum: dt.timedelta = dt.timedelta(0),
             maximum: dt.timedelta = LONGEST) -> dt.timedelta:
    """``30s``, ``5m``, ``24h``, ``7d``, ``2w`` as a positive timedelta up to ``maximum``;
    ValueError otherwise."""
    match = DURATION.match(str(text))
    if not match or len(match.group(1)) > 9:
        if match:
            raise ValueError(f"{text!r} is too long: at most {maximum.days} days")
        raise ValueError(f"{text!r} is not a duration ({DURATION_HINT})")
    value = dt.timedelta(**{DURATION_UNITS[match.group(2)]: int(match.group(1))})
    if value <= minimum:
        raise ValueError(f"{text!r} is too short: it must be more than {minimum}")
    if value > maximum:
        raise ValueError(f"{text!r} is too long: at most {maximum.days} days")
    return value


def parse_duration(text: str, setting: str = "duration") -> dt.timedelta:
    """``30s``, ``5m``, ``24h``, ``7d``, ``2w`` as a timedelta; else a UserError (exit 2) naming
    ``setting`` (a command option or config key read after parsing, so no ValueError here)."""
    match = DURATION.match(text)
    if not match:
        raise UserError(f"{setting}: '{text}' is not a duration",
                        hint=DURATION_HINT)
    return dt.timedelta(**{DURATION_UNITS[match.group(2)]: int(match.group(1))})


# Slack's rule for channel names: lowercase letters, digits, '-' and '_', at most 80.
_CHANNEL = re.compile(r"^[a-z0-9][a-z0-9_-]{0,79}$")


def channel_name(value: str) -> str:
    """A Slack channel name as Slack allows it (no spaces, no capitals, no '#'); or ""."""
    if value and not _CHANNEL.match(value):
        raise ValueError(f"{value!r} is not a Slack channel name: lowercase letters, digits, "
                         "'-' and '_', at most 80, no spaces and no '#'")
    return value


_DATA_CENTRE = re.compile(r"^[a-z]{2,4}[0-9]{1,3}$")


def data_centre(value: str) -> str:
    """A Mailchimp data-centre code (``us21``), the part after '-' in an API key; or ""."""
    if value and not _DATA_CENTRE.match(value):
        raise ValueError(f"{value!r} is not a Mailchimp data-centre code (like us21: the end "
                         "of the API key, after the '-')")
    return value


_PLAIN_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def plain_id(value: object) -> object:
    """:func:`id_text`, and only letters, digits, '-' and '_' (it goes into URLs' paths)."""
    value = id_text(value)
    if isinstance(value, str) and value and not _PLAIN_ID.match(value):
        raise ValueError(f"{value!r} is not an id: letters and digits only (it is put in "
                         "the service's URLs)")
    return value


def optional_web_address(value: str) -> str:
    """An http(s) address people may open (a website), or ""; ``javascript:`` and the like
    are refused."""
    return http_url(value) if value.strip() else ""


def one_script(value: str) -> str:
    """Text whose letters are of one script: ``pаul@example.org`` with a Cyrillic ``а`` is a
    look-alike of another address (a homoglyph), refused; ValueError naming the scripts."""
    scripts = set()
    for char in value:
        if char.isalpha():
            name = unicodedata.name(char, "")
            scripts.add(name.split(" ", 1)[0] if name else "UNKNOWN")
    if len(scripts) > 1:
        raise ValueError(f"{value!r} mixes letters of {' and '.join(sorted(scripts)).lower()} "
                         "scripts (a look-alike address?): retype it")
    return value


def http_url(value: str) -> str:
    """An absolute ``http(s)://host...`` URL (a base URL of a service); ValueError otherwise."""
    parts = urllib.parse.urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{value!r} is not an http(s) URL (e.g. https://api.trello.com/1)")
    try:
        _ = parts.port  # "http://host:port-not-a-number" raises here
    except ValueError:
        raise ValueError(f"{value!r} has an invalid port") from None
    return value.strip()


def optional_http_url(value: str | None) -> str | None:
    """:func:`http_url`, or None for a setting left out."""
    return None if value is None else http_url(value)


def time_zone(value: str) -> str:
    """An IANA time zone name (``Europe/Amsterdam``); ValueError for anything else."""
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{value!r} is not an IANA time zone (e.g. Europe/Amsterdam)") from None
    return value


def start_date(value: dt.date) -> dt.date:
    """A start date in a sane range (2000-2099); ValueError for 0001-01-01 and the like."""
    if not FIRST_START <= value <= LAST_START:
        raise ValueError(f"{value.isoformat()} is not a plausible start date "
                         f"(between {FIRST_START.isoformat()} and {LAST_START.isoformat()})")
    return value


def typed_date(value: object) -> object:
    """A date typed as text (``"15-01-2027"``) read by the one date reader; others unchanged.

    YAML reads an unquoted ``2027-01-15`` as a date itself; a day-first or quoted date
    arrives as text, and a slashed one is refused with the reader's hint.
    """
    if isinstance(value, str):
        try:
            return read_date(value)
        except DateError as wrong:
            raise ValueError(f"{wrong.message}: {wrong.hint}") from None
    return value


def distinct_values(mapping: dict[str, str], what: str) -> dict[str, str]:
    """Refuse two keys mapped to one value (two statuses on one Trello list)."""
    seen: dict[str, str] = {}
    for key, value in mapping.items():
        name = value.strip().casefold()
        if name in seen:
            raise ValueError(f"{seen[name]} and {key} both map to {what} {value!r}: each needs "
                             "its own")
        seen[name] = key
    return mapping


def chart_kind(path_suffix: str) -> Literal["png", "svg"]:
    """``png`` or ``svg`` from a file suffix; ValueError for any other picture format."""
    kind = path_suffix.lower().lstrip(".")
    if kind not in ("png", "svg"):
        given = repr(path_suffix) if path_suffix else "a name without extension"
        raise ValueError(f"the progress picture is written as PNG or SVG, not {given}: "
                         "name it .png or .svg")
    return "png" if kind == "png" else "svg"


def id_text(value: object) -> object:
    """A remote id as text: YAML reads an unquoted all-digit id (``1234567890``) as a number.

    A whole number is taken back as its digits; a value YAML turned into a float
    (``1e10``, ``0123.5``) lost its spelling, so it is refused with the fix.
    """
    if isinstance(value, bool):
        raise ValueError("must be an id in quotes, not true/false")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        raise ValueError("YAML read this id as a number; write it in quotes")
    return value
