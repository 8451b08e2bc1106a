"""The plenary series: dates, adjustments, and the Slack reminders a week and a day before.

A meeting's date is, in order: the coordinator's adjustment (``mcm-sync meeting schedule
--date N=YYYY-MM-DD``, kept as the hub resource ``meeting_date``), else the due date of its
item (bootstrap made one card per meeting; a member may have moved its due date on Trello),
else the playbook's plan (alliance start + the meeting's offset in weeks). Applying the
schedule writes the dates into the meeting items; the next sync pushes them to the cards.

Reminders are decided by the pure :func:`reminders_due` and posted by
:func:`post_meeting_reminders`, which the sync runner calls once per run.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from connectors.roles import ChatService
from playbooks.dates import DateError, read_date
from playbooks.labels import fill, format_date, labels
from playbooks.model import Playbook
from sync.actionplan.calendar import meeting_calendar
from sync.core.config import Config
from sync.core.errors import UserError
from sync.core.mrkdwn import escape
from sync.state.journal import Journal
from sync.state.store import StateStore

ADJUSTMENT_KIND = "meeting_date"  # ("hub", "meeting_date", <meeting key>) -> ISO date
REMINDER_KIND = "meeting_reminder"  # ("slack", "meeting_reminder", <reminder key>) -> ts
REMINDER_EVENT = "mcm_sync_meeting_reminder"
# Days before the meeting, largest first: "in one week", then "tomorrow".
REMINDER_LEADS: tuple[int, ...] = (7, 1)
_CLOSED = ("done", "cancelled")


@dataclass(frozen=True)
class ScheduledMeeting:
    """One plenary of the series with the date it will take place."""

    number: int
    key: str
    title: str
    planned: dt.date
    date: dt.date
    origin: str  # "plan", "board" (the item's due date) or "adjusted"
    item_number: str = ""
    status: str = "todo"
    host: str = ""
    place: str = ""
    start_time: dt.time = dt.time(14, 0)
    duration_minutes: int = 150

    @property
    def where(self) -> str:
        """The host and place as one line ("Learning Hub Friesland, Leeuwarden")."""
        return ", ".join(part for part in (self.host, self.place) if part)

    @property
    def item_key(self) -> str:
        """The logical key of the meeting's item (and card)."""
        return f"meeting:{self.key}"

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form, with the reminder days."""
        return {
            "number": self.number, "key": self.key, "title": self.title,
            "date": self.date.isoformat(), "planned": self.planned.isoformat(),
            "origin": self.origin, "item": self.item_number, "status": self.status,
            "host": self.host, "place": self.place,
            "start_time": self.start_time.strftime("%H:%M"),
            "duration_minutes": self.duration_minutes,
            "reminders": [(self.date - dt.timedelta(days=d)).isoformat() for d in REMINDER_LEADS],
        }


@dataclass(frozen=True)
class Reminder:
    """A reminder to post: which meeting, on which date, how many days before."""

    meeting_key: str
    number: int
    title: str
    item_number: str
    date: dt.date
    lead_days: int
    where: str = ""
    start_time: dt.time = dt.time(14, 0)

    @property
    def key(self) -> str:
        """Stable id of the reminder; a new date gives new reminders."""
        return f"{self.meeting_key}:{self.date.isoformat()}:{self.lead_days}d"


def parse_adjustments(values: Sequence[str], book: Playbook,
                      within: tuple[dt.date, dt.date] | None = None) -> dict[str, dt.date]:
    """``["2=2027-06-10", "closing=1-6-2028"]`` -> meeting key -> date; UserError if bad.

    ``within``: the alliance's first and last day; a date outside them (``9999-12-31``) is
    refused.
    """
    by_name = {str(m.number): m.key for m in book.meetings.meetings}
    by_name |= {m.key: m.key for m in book.meetings.meetings}
    found: dict[str, dt.date] = {}
    for value in values:
        name, sep, text = value.partition("=")
        key = by_name.get(name.strip())
        if not sep or key is None:
            raise UserError(f"--date {value}: expected N=YYYY-MM-DD with N a meeting number",
                            hint=f"meetings are 1-{len(book.meetings.meetings)}, e.g. 2=2027-06-10")
        try:
            date = read_date(text)
        except DateError as wrong:
            raise UserError(f"--date {value}: {wrong.message}", hint=wrong.hint) from None
        if within is not None and not within[0] <= date <= within[1]:
            first, last = (day.isoformat() for day in within)
            raise UserError(f"--date {value}: outside the alliance's work plan ({first} to "
                            f"{last})", hint="pick a date in that period, or change "
                            "alliance.start_date / duration_months in the config")
        found[key] = date
    return found


def stored_adjustments(store: StateStore) -> dict[str, dt.date]:
    """The adjusted meeting dates kept in the store: meeting key -> date."""
    return {r.logical_key: dt.date.fromisoformat(r.remote_id)
            for r in store.list_resources("hub", ADJUSTMENT_KIND)}


# What the schedule is read from in the store: the meeting items and the adjustments.
_SCHEDULE_TABLES = frozenset({"items", "resources"})


def meeting_schedule(config: Config, book: Playbook, store: StateStore) -> list[ScheduledMeeting]:
    """The plenary series with each meeting's date (adjusted, else its item's, else planned).

    Kept by a store that keeps its reads (``sync.state.kept``) while it writes no item or
    resource: every scheduled sync asks for it, and a worker's next run of a quiet alliance
    finds it as the last one left it (for the same config and playbook objects)."""
    config_and_book, schedule = store.kept_value(
        "meeting schedule", _SCHEDULE_TABLES,
        lambda: ((config, book), tuple(_schedule(config, book, store))))
    if config_and_book[0] is not config or config_and_book[1] is not book:
        return _schedule(config, book, store)  # another alliance object's inputs
    return list(schedule)


def _schedule(config: Config, book: Playbook, store: StateStore) -> list[ScheduledMeeting]:
    # One query for the series (each scheduled sync asks for the schedule).
    listed = store.list_items(kind="meeting")
    items = {item.key: item for item in listed}
    dates = meeting_calendar(config, book, stored_adjustments(store), listed)
    schedule = []
    for meeting in book.meetings.meetings:
        item = items.get(f"meeting:{meeting.key}")
        when = dates[meeting.key]
        venue = config.meeting_venue(meeting.number)
        schedule.append(ScheduledMeeting(
            meeting.number, meeting.key, meeting.title, when.planned, when.date, when.origin,
            item.number if item else "", item.status if item else "todo",
            venue.host, venue.place, venue.start_time, venue.duration_minutes,
        ))
    return schedule


def apply_schedule(config: Config, book: Playbook, store: StateStore,
                   adjustments: Mapping[str, dt.date]) -> list[ScheduledMeeting]:
    """Keep ``adjustments`` and write every meeting's date into its item (one transaction).

    Returns the new schedule. Items whose date changed get an audit entry; the next sync
    pushes the due dates to the meeting cards.
    """
    # The coordinator moved it with `mcm-sync meeting schedule`: the log says so, by name.
    coordinator = next((p.name for p in config.people if p.role == "coordinator"),
                       "coordinator")
    with store.transaction():
        for key, date in adjustments.items():
            store.put_resource("hub", ADJUSTMENT_KIND, key, date.isoformat())
        schedule = meeting_schedule(config, book, store)
        for meeting in schedule:
            item = store.get_item_by_key(meeting.item_key)
            if item is not None and item.due != meeting.date.isoformat():
                store.update_item(item.id, due=meeting.date.isoformat())
                store.add_audit(item.id, coordinator, "cli", "due", item.due,
                                meeting.date.isoformat())
    return schedule


def reminders_due(meetings: Sequence[ScheduledMeeting], now: dt.date | dt.datetime,
                  already_sent: Collection[str]) -> list[Reminder]:
    """The reminders to post now: pure, no I/O.

    A reminder ``lead`` days before a meeting is due from that day until the next, shorter
    reminder's day (the week reminder is skipped once the day reminder is due: one message,
    not two). Meetings that are done or cancelled, past meetings, and reminders whose
    :attr:`Reminder.key` is in ``already_sent`` are left out. ``now`` is a date, or a
    datetime already in the alliance's time zone.
    """
    today = now.date() if isinstance(now, dt.datetime) else now
    due = []
    for meeting in meetings:
        if meeting.status in _CLOSED or meeting.date <= today:
            continue
        leads = sorted(REMINDER_LEADS, reverse=True)
        for position, lead in enumerate(leads):
            start = meeting.date - dt.timedelta(days=lead)
            following = leads[position + 1] if position + 1 < len(leads) else 0
            end = meeting.date - dt.timedelta(days=following)
            reminder = Reminder(meeting.key, meeting.number, meeting.title,
                                meeting.item_number, meeting.date, lead, meeting.where,
                                meeting.start_time)
            if start <= today < end and reminder.key not in already_sent:
                due.append(reminder)
    return due


def reminder_text(reminder: Reminder, language: str) -> str:
    """The Slack text of a reminder, in the alliance's language."""
    text = labels(language)["meetings"]
    template = text["reminder_day"] if reminder.lead_days <= 1 else text["reminder_week"]
    return fill(template, title=reminder.title, number=reminder.item_number or reminder.number,
                date=format_date(reminder.date, language),
                time=reminder.start_time.strftime("%H:%M"),
                where=reminder.where or text["place_todo"])


def _local(now: dt.datetime, timezone: str) -> dt.datetime:
    try:
        return now.astimezone(ZoneInfo(timezone))
    except (ZoneInfoNotFoundError, ValueError):
        return now  # an unknown zone in the config: UTC is close enough for a day's reminder


def post_meeting_reminders(config: Config, book: Playbook, slack: ChatService, store: StateStore,
                           now: dt.datetime | None = None, run_id: str = "") -> list[Reminder]:
    """Post the plenary reminders that are due in the general channel; returns those posted.

    For the sync runner: call it once per run after the engine, with the run's Slack
    connector, store and clock. It posts nothing when the general channel is not yet
    recorded (before bootstrap). Each posted reminder is recorded as the resource
    ``("slack", "meeting_reminder", reminder.key)`` holding the message ts, right after its
    call, so a second run posts nothing twice. Each post is journalled first and carries its
    key in the message metadata: after a crash between the post and the record, or a state
    store rebuilt after it was lost, the next run finds the message and adopts it instead of
    posting again. Connector errors propagate.
    """
    general = store.get_resource("slack", "channel", "general")
    if general is None:
        return []
    local = _local(now or dt.datetime.now(dt.UTC), config.alliance.timezone)
    sent = {r.logical_key for r in store.list_resources("slack", REMINDER_KIND)}
    posted = []
    already: dict[str, str] | None = None
    for reminder in reminders_due(meeting_schedule(config, book, store), local, sent):
        token = f"{REMINDER_EVENT}:{reminder.key}"
        # Not recorded: an earlier run may have posted it and died before recording it, or
        # the state store was lost and rebuilt by bootstrap since. Look first (one read of the
        # channel per run, and only when a reminder is due).
        already = already if already is not None else _posted_reminders(slack, general)
        ts = already.get(reminder.key)
        if ts is None:
            ts = Journal(store, run_id or "reminders").create(
                "slack", "post_reminder", token,
                lambda reminder=reminder: slack.post_message(  # type: ignore[misc]  # the default binds this turn's reminder; mypy infers no lambda with defaults
                    general.remote_id,
                    escape(reminder_text(reminder, book.language)),
                    metadata={"event_type": REMINDER_EVENT,
                              "event_payload": {"meeting": reminder.meeting_key,
                                                "lead_days": reminder.lead_days,
                                                "key": reminder.key}},
                ).ts,
                lambda posted_ts: posted_ts)
        store.put_resource("slack", REMINDER_KIND, reminder.key, ts,
                           data={"meeting": reminder.meeting_key,
                                 "date": reminder.date.isoformat(),
                                 "lead_days": reminder.lead_days})
        posted.append(reminder)
    return posted


def _posted_reminders(slack: ChatService, general: Any) -> dict[str, str]:
    """Reminders found in the general channel, by key (from their message metadata)."""
    found = {}
    for message in slack.history(general.remote_id):
        metadata = message.metadata or {}
        payload = metadata.get("event_payload") or {}
        if metadata.get("event_type") == REMINDER_EVENT and payload.get("key"):
            found[str(payload["key"])] = message.ts
    return found
