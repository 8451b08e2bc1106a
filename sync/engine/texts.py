"""What the sync writes for people to read: item messages, thread notes, names, in the language.

Pure functions of the settings and the state view: the plan renders every text it will post
here, so a dry run shows the very words a real run would write.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from playbooks.labels import format_date
from playbooks.labels import labels as playbook_labels
from playbooks.messages import messages
from sync.actionplan.progress import owner_names
from sync.core.mrkdwn import escape
from sync.core.services import SERVICES
from sync.engine.model import Settings, StateView
from sync.engine.normalize import render_item_message

# Where a change came from, as members call it (notes) and as the coordinator does (summary):
# the board and chat services by what people call them (their registry entry), and our own.
WHERE = {**SERVICES.titles(("board", "chat")), "hub": "the action plan",
         "file": "the action plan", "cli": "mcm-sync", "minutes": "the minutes"}


def labels(settings: Settings) -> dict[str, str]:
    """The engine's texts in the alliance's language, with the localised status names."""
    text = dict(messages(settings.book.language))
    text.update({f"status:{k}": v for k, v in settings.book.action_plan.statuses.items()})
    text["language"] = settings.book.language
    return text


def place(text: Mapping[str, str], side: str) -> str:
    """Where a change came from, in the alliance's language ("handlingsplanen", "Trello")."""
    return text.get(f"where_{side}", WHERE.get(side, side))


def step_title(settings: Settings, key: str) -> str:
    """A step's title in the playbook's language (the key if unknown); an item of no step
    (a card a member added) is in "Other actions", as progress counts it."""
    if not key:
        return str(playbook_labels(settings.book.language)["common"]["other_step"])
    return next((s.title for s in settings.book.steps if s.key == key), key)


def item_text(settings: Settings, number: str, step: str, agreed: Mapping[str, Any]) -> str:
    """The item message's text for the agreed values (Slack mrkdwn: what members wrote is
    escaped, :mod:`sync.core.mrkdwn`)."""
    text = labels(settings)
    return escape(render_item_message(text["item_message"], text, number=number,
                               title=agreed["title"], step=step_title(settings, step),
                               owner=owner_names(agreed.get("owners") or "",
                                                 {str(p.email): p.name
                                                  for p in settings.config.people}),
                               due=_day(agreed.get("due"), settings.book.language),
                               status=agreed["status"]))


def _day(due: Any, language: str) -> str | None:
    """A due date as members read it (``15 mars 2027``), not ISO; None for no date."""
    if not due:
        return None
    try:
        return format_date(dt.date.fromisoformat(str(due)[:10]), language)
    except ValueError:
        return str(due)


def shown(text: Mapping[str, str], field: str, value: Any) -> str:
    """A value as people read it: the localised status name, '-' for nothing."""
    if field == "status":
        return text.get(f"status:{value}", str(value))
    if field == "due" and value:
        return _day(value, text.get("language", "en")) or "-"
    return "-" if value is None else str(value)


def display_name(settings: Settings, view: StateView, actor: str) -> str:
    """A person's name for a Slack user id or a Trello name; the raw value otherwise."""
    email = view.chat_users.get(actor)
    if email is not None:
        person = next((p for p in settings.config.people
                       if str(p.email).lower() == email.lower()), None)
        if person is not None:
            return person.name
    return actor or "?"


def change_note(text: Mapping[str, str], field: str, new: Any, who: str, side: str) -> str:
    """The thread note saying who changed what where."""
    if field == "status":
        return text["moved_by"].format(new=text.get(f"status:{new}", new), who=who,
                                       where=place(text, side))
    return text["changed_by"].format(field=text.get(f"field_{field}", field),
                                     new=shown(text, field, new), who=who,
                                     where=place(text, side))
