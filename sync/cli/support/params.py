"""Click parameter types of mcm-sync's options and ``init``'s questions, on the shared checks.

Each type converts with the same reader the config and the input files use (the one date
reader of :mod:`playbooks.dates`, the countries of :mod:`sync.core.places`), so an option, a
prompt and a config key accept the same values and refuse the others with the same hint. A
refused prompt answer is asked again (click does so for a ``ParamType`` failure): a typo
never ends an ``init`` session.

The refusals are written in English by the shared checks; :data:`REFUSALS` holds them as
templates, translated where they are printed (``init``'s questions in
:mod:`sync.cli.foundation`, a refused option in :mod:`sync.cli.support.usage`).
"""

from __future__ import annotations

import datetime as dt
import zoneinfo

import click

from playbooks.dates import DateError, read_date
from sync.api.inputs import checks, country_problem
from sync.cli.support.i18n import N_

# The refusals of the checks below, as they format them (sync/core/init_config.py, checks.py,
# places.py; playbooks/dates.py), and the hints of the date reader.
REFUSALS: tuple[str, ...] = (
    N_("must be %(low)s to %(high)s characters"),
    N_("must be 2-20 characters: lowercase letters, digits and '-', starting with a letter "
       "(e.g. ros)"),
    N_("%(text)s is not an e-mail address"),
    N_("%(code)s is not an ISO 3166 country code (two letters, e.g. IE for Ireland, SE for "
       "Sweden, NL for the Netherlands)"),
    N_("%(value)s is not an IANA time zone (e.g. Europe/Amsterdam)"),
    N_("%(date)s is not a plausible start date (between %(first)s and %(last)s)"),
    N_("%(text)s is not a date: %(hint)s"),
    N_("write dates as YYYY-MM-DD or day first, 5-7-2027 or 5.7.2027"),
    N_("slashes are not read: 5/7/2027 is 5 July in Europe and 7 May in the United States; "
       "write 5-7-2027 or 2027-07-05"),
)


class DateParam(click.ParamType):  # type: ignore[type-arg]  # generic only since click 8.5
    """A date typed ISO (``2027-01-15``) or day first (``15-01-2027``, ``15.1.2027``)."""

    name = "date"

    def convert(self, value: object, param: click.Parameter | None,
                ctx: click.Context | None) -> dt.date:
        """The date, or a usage error with the reader's hint (slashes are refused)."""
        try:
            return read_date(value)
        except DateError as wrong:
            self.fail(f"{wrong.message}: {wrong.hint}", param, ctx)

    def get_metavar(self, param: click.Parameter, *args: object, **kwargs: object) -> str:
        """How ``--help`` shows the value."""
        return "DATE"


class StartDateParam(DateParam):
    """A start date: :class:`DateParam` within the years an alliance's plan can start in."""

    def convert(self, value: object, param: click.Parameter | None,
                ctx: click.Context | None) -> dt.date:
        """The date, or a usage error for one outside 2000-2099."""
        date = super().convert(value, param, ctx)
        try:
            return checks.start_date(date)
        except ValueError as wrong:
            self.fail(str(wrong), param, ctx)


class CountryParam(click.ParamType):  # type: ignore[type-arg]  # generic only since click 8.5
    """An ISO 3166 alpha-2 country code CLDR knows (any case; returned upper case)."""

    name = "country"

    def convert(self, value: object, param: click.Parameter | None,
                ctx: click.Context | None) -> str:
        """The code in upper case, or a usage error naming what a code looks like."""
        text = str(value).strip()
        problem = country_problem(text)
        if problem:
            self.fail(problem, param, ctx)
        return text.upper()


class TimeZoneParam(click.ParamType):  # type: ignore[type-arg]  # generic only since click 8.5
    """An IANA time zone name (``Europe/Dublin``)."""

    name = "timezone"

    def convert(self, value: object, param: click.Parameter | None,
                ctx: click.Context | None) -> str:
        """The zone name, or a usage error."""
        try:
            return checks.time_zone(str(value).strip())
        except (ValueError, zoneinfo.ZoneInfoNotFoundError) as wrong:
            self.fail(str(wrong), param, ctx)


class TextParam(click.ParamType):  # type: ignore[type-arg]  # generic only since click 8.5
    """Text checked by a function returning a problem (or None): a slug, a name, an e-mail."""

    name = "text"

    def __init__(self, check: object) -> None:
        self.check = check

    def convert(self, value: object, param: click.Parameter | None,
                ctx: click.Context | None) -> str:
        """The stripped text, or a usage error with the check's message."""
        text = str(value).strip()
        problem = self.check(text) if callable(self.check) else None
        if problem:
            self.fail(str(problem), param, ctx)
        return text


DATE = DateParam()
START_DATE = StartDateParam()
COUNTRY = CountryParam()
TIMEZONE = TimeZoneParam()
