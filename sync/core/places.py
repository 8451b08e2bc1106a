"""Countries and their time zones, from Babel's copy of the Unicode CLDR (no list of our own).

An alliance names its country by its ISO 3166 alpha-2 code (``IE``, ``SE``); the code must be
one CLDR knows as a territory with time zones, so ``XX`` or ``EU`` are refused. The country
gives the time zone meetings are planned in: Ireland has one (``Europe/Dublin``), Spain has
three (the mainland's ``Europe/Madrid`` is the one suggested), the United States many (none
is suggested: the coordinator picks one).
"""

from __future__ import annotations

from functools import cache

from babel import Locale
from babel.core import get_global

DEFAULT_TIMEZONE = "Europe/Amsterdam"  # where the project began; used only without a country


@cache
def _zones() -> dict[str, tuple[str, ...]]:
    """Country code -> its IANA zones (CLDR's territory zones, real countries only)."""
    data = get_global("territory_zones")
    return {code: tuple(zones) for code, zones in data.items()
            if len(code) == 2 and code.isalpha() and code != "ZZ"}


def is_country(code: str) -> bool:
    """Whether ``code`` (any case) is an ISO 3166 alpha-2 code of a country CLDR knows."""
    return code.strip().upper() in _zones()


def country_zones(code: str) -> tuple[str, ...]:
    """The IANA time zones of a country (empty for an unknown code)."""
    return _zones().get(code.strip().upper(), ())


def suggested_zone(code: str) -> str | None:
    """The zone to suggest for a country: its only one, else its only European one, else None."""
    zones = country_zones(code)
    if len(zones) == 1:
        return zones[0]
    european = [zone for zone in zones if zone.startswith("Europe/")]
    return european[0] if len(european) == 1 else None


def country_name(code: str, language: str = "en") -> str:
    """The country's name in ``language`` (``Irland`` for IE in Swedish); the code if unknown."""
    name: str = Locale.parse(language).territories.get(code.strip().upper(), code)
    return name


def country_problem(code: str) -> str | None:
    """Why ``code`` is not a country code, or None for a good one (a message after a key path)."""
    if is_country(code):
        return None
    return (f"'{code}' is not an ISO 3166 country code (two letters, e.g. IE for Ireland, "
            "SE for Sweden, NL for the Netherlands)")


def zone_mismatch(code: str, zone: str) -> str | None:
    """A warning when ``zone`` is not one of the country's zones, or None when it fits."""
    zones = country_zones(code)
    if not zones or zone in zones:
        return None
    suggested = suggested_zone(code)
    fix = f"use {suggested}" if suggested else f"use one of {', '.join(zones)}"
    return (f"time zone {zone} is not one of {country_name(code)}'s ({code}); meetings, "
            f"reminders and calendar files would be off by the difference: {fix}")
