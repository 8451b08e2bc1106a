"""``mcm-sync newsletter draft``: a progress newsletter from the alliance's real state.

The content comes from the state store: the steps' progress (items per step, done out of
live), the items completed since the last newsletter (status changes to ``done`` in the audit
trail, or done items updated since), the open items due in the coming weeks, and the next
plenary meeting. It is rendered in the alliance's language with Jinja2
(``playbooks/templates/newsletter.html.j2`` and the labels in
``playbooks/data/newsletter/<lang>.yaml``).

A draft is made in Mailchimp as a regular campaign for the audience, never sent. Its title
carries an identity token derived from the content, and the store records when it was made,
so a repeat with the same content makes no call, and the next newsletter starts where this one
ended.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import jinja2
import yaml

from connectors.identity import make_token
from connectors.roles import AudienceService
from playbooks.labels import format_date, format_number, format_percent
from playbooks.model import OPEN_STATUSES, ActionRow, Playbook
from sync.actionplan.progress import step_progress
from sync.audience.store import NewsletterRecord, StakeholderStore
from sync.core.config import Config
from sync.core.errors import PlaybookError, Problem, UserError
from sync.plenary.meetings import ScheduledMeeting, meeting_schedule
from sync.state.journal import Journal
from sync.state.rows import AuditEntry, Item
from sync.state.store import StateStore

UPCOMING_WEEKS = 6
UPCOMING_MAX = 8
LABEL_KEYS = (
    "subject",
    "title",
    "intro",
    "progress",
    "done_of",
    "completed",
    "none_completed",
    "next",
    "nothing_next",
    "due",
    "meeting",
    "no_meeting",
    "meeting_when",
    "footer",
    "unsubscribe",
)


@cache
def labels(language: str) -> dict[str, str]:
    """The newsletter's labels in ``language`` (every key of :data:`LABEL_KEYS`)."""
    source = f"playbooks/data/newsletter/{language}.yaml"
    try:
        text = (
            resources.files("playbooks")
            .joinpath(f"data/newsletter/{language}.yaml")
            .read_text("utf-8")
        )
    except FileNotFoundError:
        raise PlaybookError(
            [Problem(source, "", "no newsletter labels in this language")]
        ) from None
    data: Any = yaml.safe_load(text)
    missing = [key for key in LABEL_KEYS if not isinstance(data, dict) or key not in data]
    if missing:
        raise PlaybookError([Problem(source, key, "missing label") for key in missing])
    return {key: str(data[key]) for key in LABEL_KEYS}


@cache
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("playbooks", "templates"),
        autoescape=True,  # item titles come from members: never trust them as HTML
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )


@dataclass(frozen=True)
class Newsletter:
    """A rendered newsletter: subject, HTML, the period it covers and its content hash."""

    subject: str
    html: str
    since: dt.date
    language: str
    completed: int
    upcoming: int

    @property
    def content_hash(self) -> str:
        """What makes two drafts the same (subject and HTML)."""
        return hashlib.sha256(f"{self.subject}\n{self.html}".encode()).hexdigest()


def completed_since(
    items: Sequence[Item], audit: Sequence[AuditEntry], since: dt.date
) -> list[Item]:
    """Items done now that became done on or after ``since`` (audit first, else updated_at)."""
    start = since.isoformat()
    moved = {
        a.item_id
        for a in audit
        if a.field == "status" and a.new == "done" and a.at[:10] >= start and a.item_id
    }
    done = [
        i
        for i in items
        if i.status == "done"
        and i.kind != "meeting"
        and (i.id in moved or i.updated_at[:10] >= start)
    ]
    return sorted(done, key=lambda i: (i.updated_at, i.number))


def upcoming(items: Sequence[Item], today: dt.date) -> list[Item]:
    """Open items (not meetings) due in the coming weeks, soonest first; overdue ones too."""
    end = (today + dt.timedelta(weeks=UPCOMING_WEEKS)).isoformat()
    found = [
        i
        for i in items
        if i.status in OPEN_STATUSES
        and i.kind != "meeting"
        and i.due is not None
        and i.due[:10] <= end
    ]
    return sorted(found, key=lambda i: (i.due or "", i.number))[:UPCOMING_MAX]


def next_meeting(items: Sequence[Item], today: dt.date) -> Item | None:
    """The earliest open plenary meeting from today on."""
    found = [
        i
        for i in items
        if i.kind == "meeting"
        and i.status in OPEN_STATUSES
        and i.due is not None
        and i.due[:10] >= today.isoformat()
    ]
    return min(found, key=lambda i: i.due or "", default=None)


def next_plenary(schedule: Sequence[ScheduledMeeting],
                 today: dt.date) -> tuple[str, dt.date] | None:
    """The title and date of the earliest open plenary of the calendar from today on."""
    coming = [(m.date, m.title) for m in schedule
              if m.status in OPEN_STATUSES and m.date >= today]
    return (min(coming)[1], min(coming)[0]) if coming else None


def render_newsletter(
    config: Config,
    book: Playbook,
    items: Sequence[Item],
    audit: Sequence[AuditEntry],
    *,
    since: dt.date,
    today: dt.date,
    rows: Sequence[ActionRow] = (),
    schedule: Sequence[ScheduledMeeting] = (),
) -> Newsletter:
    """The newsletter for this state, period and language (pure: no I/O but templates).

    ``rows`` are the alliance's own action-plan rows: the progress is
    :func:`~sync.actionplan.progress.step_progress`'s, as everywhere. ``schedule`` is the
    meeting calendar (moves included) the next plenary comes from; without it, the items'.
    """
    text = labels(book.language)
    alliance = config.alliance
    language = book.language
    # Dates and numbers as the alliance's language writes them (Babel), never ISO.
    fmt = {
        "alliance": alliance.name,
        "region": alliance.region,
        "since": format_date(since, language),
        "date": format_date(today, language),
    }
    numbers = {step.key: step.number for step in book.steps}
    # Items of no playbook step (a card a member added) form step_progress's last group
    # (key ""): it has a title but no number.
    steps = [
        {
            "number": numbers.get(p.key),
            "title": p.title,
            "percent": p.percent,
            "percent_text": format_percent(p.percent, language),
            "done_of": text["done_of"].format(done=format_number(p.done, language),
                                              total=format_number(p.total, language)),
        }
        for p in step_progress(items, book, rows)
        if p.total
    ]
    done = completed_since(items, audit, since)
    coming = upcoming(items, today)
    meeting = next_plenary(schedule, today) if schedule else None
    if meeting is None and not schedule:
        item = next_meeting(items, today)
        meeting = (item.title, dt.date.fromisoformat(item.due[:10])) if item and item.due \
            else None
    meeting_text = (
        text["meeting_when"].format(title=meeting[0], date=format_date(meeting[1], language))
        if meeting
        else text["no_meeting"]
    )
    subject = text["subject"].format(**fmt)
    html = (
        _environment()
        .get_template("newsletter.html.j2")
        .render(
            language=book.language,
            alliance=alliance.name,
            today=format_date(today, language),
            subject=subject,
            labels=text,
            intro=text["intro"].format(**fmt),
            steps=steps,
            completed_title=text["completed"].format(**fmt),
            completed=[{"title": i.title, "number": i.number} for i in done],
            upcoming=[
                {"title": i.title, "due_text": text["due"].format(
                    date=format_date(dt.date.fromisoformat((i.due or "")[:10]), language))}
                for i in coming
            ],
            meeting_text=meeting_text,
            footer=text["footer"].format(**fmt),
        )
    )
    return Newsletter(subject, html, since, book.language, len(done), len(coming))


def default_since(store: StateStore, config: Config) -> dt.date:
    """Where the next newsletter starts: the last draft's date, else the alliance's start."""
    last = StakeholderStore(store).last_newsletter()
    return dt.date.fromisoformat(last.created_at[:10]) if last else config.alliance.start_date


def build(
    config: Config,
    book: Playbook,
    store: StateStore,
    *,
    since: dt.date | None = None,
    today: dt.date | None = None,
    rows: Sequence[ActionRow] = (),
) -> Newsletter:
    """Render the newsletter from the state store.

    Before the alliance's start the default period starts today: the first newsletter is the
    one announcing the alliance. An explicit ``since`` in the future is still an error.
    """
    today = today or dt.date.today()
    if since is not None and since > today:
        raise UserError(f"--since {since} is in the future", hint="give a date up to today")
    since = since or min(default_since(store, config), today)
    return render_newsletter(
        config, book, store.list_items(), store.list_audit(), since=since, today=today, rows=rows,
        schedule=meeting_schedule(config, book, store),
    )


@dataclass(frozen=True)
class DraftResult:
    """The draft made (or found: same content as the last one) and whether a call was made."""

    record: NewsletterRecord
    created: bool


def create_draft(
    config: Config, store: StateStore, mailchimp: AudienceService, audience_id: str,
    letter: Newsletter,
) -> DraftResult:
    """Make the campaign draft in Mailchimp (never sent) and record it; no call if unchanged."""
    people = StakeholderStore(store)
    last = people.last_newsletter()
    if last is not None and last.content_hash == letter.content_hash and last.campaign_id:
        return DraftResult(last, created=False)
    token = make_token(config.alliance.slug, f"newsletter:{letter.content_hash[:16]}")
    coordinator = next((p for p in config.people if p.role == "coordinator"), config.people[0])
    reply_to = str(config.mailchimp.from_email or coordinator.email)
    run = store.start_run("newsletter")
    campaign = Journal(store, run.id).create(
        "mailchimp", "create_campaign_draft", token,
        lambda: mailchimp.create_campaign_draft(
            audience_id,
            subject=letter.subject,
            title=f"{letter.subject} [{token}]",
            html=letter.html,
            from_name=config.mailchimp.from_name or config.alliance.name,
            reply_to=reply_to,
        ),
        lambda made: str(getattr(made, "id", made)),
        on_failure=lambda: store.finish_run(run.id, "remote-error"))
    campaign_id = str(getattr(campaign, "id", campaign))
    web_id = str(getattr(campaign, "web_id", "") or "")
    store.finish_run(run.id, "ok")
    record = people.add_newsletter(
        since=letter.since.isoformat(),
        language=letter.language,
        subject=letter.subject,
        content_hash=letter.content_hash,
        campaign_id=campaign_id,
        web_id=web_id,
    )
    return DraftResult(record, created=True)
