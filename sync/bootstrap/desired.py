"""What an alliance should have on Trello, Slack and Mailchimp: a pure function of its data.

``desired_state(config, playbook, rows, numbers)`` turns the config, the playbook and the
alliance's own action-plan rows into plain dataclasses: one board with status lists, step
labels and a card per task, action row and plenary meeting; two channels; one audience. No
I/O happens here; ``sync.bootstrap.plan`` compares the result with what exists remotely.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from connectors.identity import make_token
from playbooks.messages import messages
from playbooks.model import STATUSES, ActionRow, Playbook, Status
from sync.actionplan.calendar import planned_meeting_date
from sync.core.config import Config

STEP_COLOURS = ("green", "yellow", "orange", "red", "purple", "blue")
MEETING_COLOUR = "sky"
MERGE_FIELDS = (
    ("ORG", "Organisation", "text"),
    ("ROLE", "Role", "text"),
    ("SECTOR", "Sector", "text"),
    ("INFLUENCE", "Influence", "text"),
)
INFLUENCE_TAGS = ("influence-low", "influence-medium", "influence-high")
_SLACK_NAME = re.compile(r"[^a-z0-9_-]+")


@dataclass(frozen=True)
class DesiredList:
    """A status list of the board."""

    status: Status
    name: str


@dataclass(frozen=True)
class DesiredLabel:
    """A label: one per step, one for meetings."""

    key: str
    name: str
    color: str


@dataclass(frozen=True)
class DesiredCard:
    """A card for one item (task, action-plan row or plenary meeting)."""

    key: str
    token: str
    number: str
    kind: str
    title: str
    body: str
    status: Status
    due: dt.date | None
    label_key: str
    step: str
    checklist_name: str
    checklist: tuple[str, ...]
    owner_emails: tuple[str, ...]

    @property
    def name(self) -> str:
        """The card title as shown on the board: number and title."""
        return f"{self.number} · {self.title}"


@dataclass(frozen=True)
class DesiredBoard:
    """The alliance's board."""

    name: str
    token: str
    description: str
    lists: tuple[DesiredList, ...]
    labels: tuple[DesiredLabel, ...]
    cards: tuple[DesiredCard, ...]


@dataclass(frozen=True)
class DesiredChannel:
    """A Slack channel of the alliance (``general`` or ``actions``)."""

    key: str
    name: str
    topic: str
    purpose: str


@dataclass(frozen=True)
class DesiredAudience:
    """The newsletter audience: created from ``spec``, or adopted by id."""

    name: str
    adopt_id: str
    spec: Mapping[str, object]
    merge_fields: tuple[tuple[str, str, str], ...]
    tags: tuple[str, ...]


@dataclass(frozen=True)
class DesiredState:
    """Everything bootstrap should make exist."""

    board: DesiredBoard
    channels: tuple[DesiredChannel, ...]
    audience: DesiredAudience
    invite_emails: tuple[str, ...]
    welcome_token: str


def slack_channel_name(text: str) -> str:
    """A valid Slack channel name (lowercase letters, digits, '-' and '_', at most 80)."""
    name = _SLACK_NAME.sub("-", text.lower()).strip("-_")
    return name[:80] or "alliance"


def assign_numbers(
    keys: Sequence[str], existing: Mapping[str, str], prefix: str, next_number: int
) -> dict[str, str]:
    """Human numbers for ``keys``: the existing ones kept, new ones counted up from next."""
    numbers = dict(existing)
    counter = next_number
    for key in keys:
        if key not in numbers:
            numbers[key] = f"{prefix}-{counter}"
            counter += 1
    return numbers


def _owners(config: Config, role: str) -> tuple[str, ...]:
    if role == "all_members":
        return ()
    return tuple(str(p.email) for p in config.people if p.role == role)


def _responsible_emails(config: Config, responsible: str) -> tuple[str, ...]:
    wanted = responsible.strip().lower()
    if not wanted:
        return ()
    for person in config.people:
        if wanted in (str(person.email).lower(), person.name.lower()):
            return (str(person.email),)
    return ()


def _task_cards(config: Config, book: Playbook, numbers: Mapping[str, str]) -> list[DesiredCard]:
    text = messages(book.language)
    cards = []
    for step in book.steps:
        for task in step.tasks:
            key = f"task:{task.id}"
            body = f"{task.description}\n\n**{text['outcome']}:** {task.outcome}"
            cards.append(
                DesiredCard(
                    key=key,
                    token=make_token(config.alliance.slug, key),
                    number=numbers[key],
                    kind="task",
                    title=task.title,
                    body=body,
                    status="todo",
                    due=task.timing.due_date(config.alliance.start_date),
                    label_key=f"step:{step.key}",
                    step=step.key,
                    checklist_name=task.title,
                    checklist=tuple(task.checklist),
                    owner_emails=_owners(config, task.owner_role),
                )
            )
    return cards


def _meeting_cards(config: Config, book: Playbook, numbers: Mapping[str, str],
                   dates: Mapping[str, dt.date]) -> list[DesiredCard]:
    text = messages(book.language)
    agenda = tuple(item.title for item in book.meetings.agenda)
    cards = []
    for meeting in book.meetings.meetings:
        key = f"meeting:{meeting.key}"
        step = meeting.steps[0] if meeting.steps else book.steps[0].key
        cards.append(
            DesiredCard(
                key=key,
                token=make_token(config.alliance.slug, key),
                number=numbers[key],
                kind="meeting",
                title=meeting.title,
                body=meeting.purpose,
                status="todo",
                due=dates.get(meeting.key) or planned_meeting_date(config, meeting),
                label_key="meeting",
                step=step,
                checklist_name=text["agenda"],
                checklist=agenda,
                owner_emails=_owners(config, "chair"),
            )
        )
    return cards


def _row_cards(
    config: Config, book: Playbook, rows: Sequence[ActionRow], numbers: Mapping[str, str]
) -> list[DesiredCard]:
    titles = {column.key: column.title for column in book.action_plan.columns}
    text = messages(book.language)
    cards = []
    for row in rows:
        key = f"action:{row.key}"
        fields = [
            ("local_problem", row.local_problem),
            ("description", row.description),
            ("budget", f"€ {row.budget_eur}" if row.budget_eur is not None else ""),
            ("resources", row.resources),
            ("responsible", row.responsible),
            ("timeline", row.timeline),
        ]
        lines = [f"**{titles.get(name, name)}:** {value}" for name, value in fields if value]
        if row.outcome:
            lines.append(f"**{text['outcome']}:** {row.outcome}")
        cards.append(
            DesiredCard(
                key=key,
                token=make_token(config.alliance.slug, key),
                number=numbers[key],
                kind="action",
                title=row.action,
                body="\n".join(lines),
                status=row.status,
                due=row.due,
                label_key=f"step:{row.step}",
                step=row.step,
                checklist_name="",
                checklist=(),
                owner_emails=_responsible_emails(config, row.responsible),
            )
        )
    return cards


def row_card(config: Config, book: Playbook, row: ActionRow, number: str) -> DesiredCard:
    """The card of one action-plan row (a row added after bootstrap gets it at the next sync)."""
    return _row_cards(config, book, [row], {f"action:{row.key}": number})[0]


def desired_board(
    config: Config, book: Playbook, rows: Sequence[ActionRow], numbers: Mapping[str, str],
    meeting_dates: Mapping[str, dt.date] | None = None,
) -> DesiredBoard:
    """The board: status lists, labels, and one card per item.

    ``meeting_dates``: the meeting calendar (a meeting moved before bootstrap gets its card
    on the new date); without it the plan's dates.
    """
    text = messages(book.language)
    alliance = config.alliance
    names = {
        status: config.trello.status_lists.get(status) or book.action_plan.statuses[status]
        for status in STATUSES
    }
    labels = [
        DesiredLabel(f"step:{s.key}", f"{s.number}. {s.title}", STEP_COLOURS[i % 6])
        for i, s in enumerate(book.steps)
    ]
    labels.append(DesiredLabel("meeting", text["meeting_label"], MEETING_COLOUR))
    cards = (
        _task_cards(config, book, numbers)
        + _meeting_cards(config, book, numbers, meeting_dates or {})
        + _row_cards(config, book, rows, numbers)
    )
    return DesiredBoard(
        name=config.trello.board_name or alliance.name,
        token=make_token(alliance.slug, "board"),
        description=text["board_description"].format(
            alliance=alliance.name, region=alliance.region
        ),
        lists=tuple(DesiredList(status, names[status]) for status in STATUSES),
        labels=tuple(labels),
        cards=tuple(cards),
    )


def reaction_legend(config: Config, book: Playbook) -> str:
    """``:white_check_mark: Done · :no_entry: Blocked ...`` for topics and the welcome."""
    return " · ".join(
        f":{emoji}: {book.action_plan.statuses[status]}"
        for emoji, status in config.slack.reactions.items()
    )


def desired_channels(config: Config, book: Playbook) -> tuple[DesiredChannel, ...]:
    """The general and the actions channel, named from the slug unless configured."""
    text = messages(book.language)
    alliance = config.alliance
    fmt = {
        "alliance": alliance.name,
        "region": alliance.region,
        "legend": reaction_legend(config, book),
    }
    general = config.slack.general_channel or f"{alliance.slug}-alliance"
    actions = config.slack.actions_channel or f"{alliance.slug}-actions"
    return (
        DesiredChannel(
            "general",
            slack_channel_name(general),
            text["general_topic"].format(**fmt),
            text["general_purpose"].format(**fmt),
        ),
        DesiredChannel(
            "actions",
            slack_channel_name(actions),
            text["actions_topic"].format(**fmt),
            text["actions_purpose"].format(**fmt),
        ),
    )


def desired_audience(config: Config, book: Playbook) -> DesiredAudience:
    """The newsletter audience with its merge fields and the tags the stakeholder sync uses."""
    settings = config.mailchimp
    alliance = config.alliance
    name = settings.audience_name or f"{alliance.name} newsletter"
    contact = settings.contact.model_dump(exclude_defaults=False) if settings.contact else {}
    spec = {
        "name": name,
        "contact": contact,
        "permission_reminder": settings.permission_reminder
        or f"You are receiving this because you follow {alliance.name}.",
        "campaign_defaults": {
            "from_name": settings.from_name or alliance.name,
            "from_email": str(settings.from_email or ""),
            "subject": messages(book.language)["audience_subject"].format(alliance=alliance.name),
            "language": alliance.language,
        },
        "email_type_option": False,
    }
    sectors = tuple(f"sector-{key}" for key in book.facts.sectors)
    tags = (f"alliance-{alliance.slug}", "alliance-member", *sectors, *INFLUENCE_TAGS)
    return DesiredAudience(name, settings.audience_id, spec, MERGE_FIELDS, tags)


def desired_state(
    config: Config, book: Playbook, rows: Sequence[ActionRow], numbers: Mapping[str, str],
    meeting_dates: Mapping[str, dt.date] | None = None,
) -> DesiredState:
    """Everything bootstrap should make exist, for this config, playbook and rows."""
    return DesiredState(
        board=desired_board(config, book, rows, numbers, meeting_dates),
        channels=desired_channels(config, book),
        audience=desired_audience(config, book),
        invite_emails=tuple(str(person.email) for person in config.people),
        welcome_token=make_token(config.alliance.slug, "slack:welcome"),
    )


def welcome_text(config: Config, book: Playbook, desired: DesiredState, board_url: str,
                 charter_url: str) -> str:
    """The pinned welcome message of the general channel."""
    text = messages(book.language)
    return text["welcome"].format(
        alliance=config.alliance.name, board_url=board_url or "-", charter=charter_url or "-",
        actions_channel=desired.channels[1].name, legend=reaction_legend(config, book),
    )
