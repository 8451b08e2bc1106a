"""``mcm-sync meeting schedule --ics FILE``: the plenary series as an iCalendar file.

One event per plenary (icalendar, the well-kept library), in the alliance's time zone (its
``VTIMEZONE`` built from the system's zone data, so every calendar reads the same hour), with
the host organisation and place as the location. Each event's UID is the alliance's slug and
the meeting's key, so re-importing an updated file moves the meeting in a member's calendar
instead of adding a second one; ``SEQUENCE`` grows with the days the meeting moved from its
planned date, so calendars take the newer version.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from icalendar import Calendar, Event

from sync.core.config import Config
from sync.plenary.meetings import ScheduledMeeting

PRODID = "-//mcm-sync//plenary meetings//EN"


def meeting_uid(slug: str, meeting: ScheduledMeeting) -> str:
    """The event's stable UID: the same meeting keeps it whatever its date."""
    return f"{slug}-{meeting.key}@mcm-sync"


def _zone(name: str) -> dt.tzinfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return dt.UTC


def schedule_ics(config: Config, schedule: Sequence[ScheduledMeeting],
                 stamp: dt.datetime | None = None) -> bytes:
    """The iCalendar text of ``schedule`` (cancelled meetings marked CANCELLED)."""
    alliance = config.alliance
    zone = _zone(alliance.timezone)
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("x-wr-calname", alliance.name)
    now = stamp or dt.datetime.now(dt.UTC)
    for meeting in schedule:
        start = dt.datetime.combine(meeting.date, meeting.start_time, tzinfo=zone)
        event = Event()
        event.add("uid", meeting_uid(alliance.slug, meeting))
        event.add("dtstamp", now)
        event.add("sequence", abs((meeting.date - meeting.planned).days))
        event.add("summary", f"{alliance.name}: {meeting.title}")
        event.add("dtstart", start)
        event.add("dtend", start + dt.timedelta(minutes=meeting.duration_minutes))
        where = ", ".join(p for p in (meeting.where, alliance.region) if p)
        event.add("location", where)
        event.add("status", "CANCELLED" if meeting.status == "cancelled" else "CONFIRMED")
        if meeting.item_number:
            event.add("description", f"{meeting.item_number} · {meeting.title}")
        calendar.add_component(event)
    # RFC 5545 wants a VTIMEZONE for every TZID used: calendars without the zone's rules
    # (and Outlook) would otherwise guess, or show the meeting at the wrong hour.
    calendar.add_missing_timezones()
    ical: bytes = calendar.to_ical()
    return ical
