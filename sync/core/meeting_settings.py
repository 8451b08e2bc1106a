"""The ``meetings:`` section of the config: where and when the plenaries take place.

The guide's agenda and minutes start with the host organisation, the place and the date; hosts
rotate among the members. ``meetings.hosts`` lists them in turn (each with its address); without
it the people's organisations take turns, the alliance's host organisation first.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field, field_validator


class Host(BaseModel):
    """An organisation that hosts plenary meetings, and where."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    organisation: str = Field(min_length=2)
    place: str = ""


@dataclass(frozen=True)
class Venue:
    """Where and when one plenary takes place."""

    host: str
    place: str
    start_time: dt.time
    duration_minutes: int


class MeetingSettings(BaseModel):
    """The plenaries' start time, length and hosts (the guide rotates hosts among members)."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    start_time: dt.time = dt.time(14, 0)
    duration_minutes: int = Field(default=150, ge=30, le=600)
    hosts: list[Host] = []

    @field_validator("start_time", mode="before")
    @classmethod
    def _sexagesimal(cls, value: object) -> object:
        # YAML 1.1 reads an unquoted 14:00 as the number 840 (14 * 60): take it back as a time.
        if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 24 * 60:
            return dt.time(value // 60, value % 60)
        if isinstance(value, str) and ":" in value:
            hours, _, minutes = value.strip().partition(":")
            if hours.isdigit() and minutes.isdigit():
                return dt.time(int(hours), int(minutes))
        return value

    def venue(self, number: int, organisations: Sequence[str]) -> Venue:
        """Plenary ``number`` (1-based): the hosts take turns in order; without ``hosts``, the
        ``organisations`` (the alliance's host first, then the people's) do."""
        hosts = list(self.hosts) or [Host(organisation=name)
                                     for name in dict.fromkeys(o for o in organisations if o)]
        host = hosts[(number - 1) % len(hosts)] if hosts else Host(organisation="--")
        return Venue(host.organisation, host.place, self.start_time, self.duration_minutes)
