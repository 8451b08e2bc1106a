"""Present a playbook to a person: plain text, Markdown, or a JSON-ready dict."""

from __future__ import annotations

from typing import Any

from playbooks.labels import fill, labels
from playbooks.model import Playbook


def playbook_as_dict(book: Playbook) -> dict[str, Any]:
    """The playbook as plain data (for ``--format json``); ids are stable across languages."""
    return book.model_dump(mode="json")


def _weeks(book: Playbook, offset: int, duration: int = 1) -> str:
    """``week 5`` or ``weeks 5-8`` in the playbook's language (never ``week 5-5``)."""
    common = labels(book.language)["common"]
    first, last = offset + 1, offset + duration
    return fill(common["week"], week=first) if first == last else \
        fill(common["weeks"], start=first, end=last)


def playbook_as_text(book: Playbook) -> str:
    """A compact terminal view: steps, tasks with owner and timing, checklists."""
    lines = [book.title, ""]
    for step in book.steps:
        lines.append(f"{step.number}. {step.title}  [{step.key}]")
        lines.append(f"   {step.goal}")
        for task in step.tasks:
            role = book.roles.get(task.owner_role, task.owner_role)
            timing = _weeks(book, task.timing.offset_weeks, task.timing.duration_weeks)
            lines.append(f"   - {task.title}  [{task.id}]  ({role}; {timing})")
            lines.extend(f"       [ ] {item}" for item in task.checklist)
        lines.append("")
    series = book.meetings
    title = labels(book.language)["common"]["plenaries"]
    lines.append(f"{title} ({series.min_meetings}-{series.max_meetings}):")
    lines.extend(f"   {m.number}. {m.title} ({_weeks(book, m.offset_weeks)})"
                 for m in series.meetings)
    return "\n".join(lines)


def playbook_as_markdown(book: Playbook) -> str:
    """The playbook as a Markdown document (for a wiki or a shared drive)."""
    lines = [f"# {book.title}", ""]
    for step in book.steps:
        lines += [f"## {step.number}. {step.title}", "", f"*{step.goal}*", ""]
        for task in step.tasks:
            role = book.roles.get(task.owner_role, task.owner_role)
            timing = _weeks(book, task.timing.offset_weeks, task.timing.duration_weeks)
            lines += [
                f"### {task.title}",
                "",
                f"`{task.id}` · {role} · {timing}",
                "",
                task.description,
                "",
            ]
            lines += [f"- [ ] {item}" for item in task.checklist]
            lines += ["", f"**{task.outcome}**", ""]
    lines += [f"## {labels(book.language)['common']['plenaries']}", ""]
    for meeting in book.meetings.meetings:
        lines.append(f"{meeting.number}. **{meeting.title}** ({_weeks(book, meeting.offset_weeks)})"
                     f": {meeting.purpose}")
    return "\n".join(lines) + "\n"
