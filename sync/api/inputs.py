"""The checks of what a person types, shared by the config's keys and the command options.

Light on purpose: the command line's option types import this module when a command is
loaded, so it pulls in no config model, no state store and no engine.
"""

from __future__ import annotations

import datetime as dt

from sync.core import checks
from sync.core.places import country_problem

__all__ = ["checks", "country_problem", "parse_duration"]


def parse_duration(text: str, setting: str = "duration") -> dt.timedelta:
    """``30s``, ``5m``, ``24h``, ``7d``, ``2w`` as a timedelta; a UserError naming
    ``setting`` otherwise (imported when asked: the durations' module is not light)."""
    from sync.core.checks import parse_duration as parse

    return parse(text, setting)
