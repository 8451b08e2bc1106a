"""Present a playbook to a person: plain text, Markdown, or a JSON-ready dict."""

from __future__ import annotations

from typing import Any

from playbooks.model import Playbook


def playbook_as_dict(book: Playbook) -> dict[str, Any]:
    """The playbook as plain data (for ``--format json``); ids are stable across languages."""
    return book.model_dump(mode="json")


def _weeks(offset: int, duration: int) -> str:
    return f"week {offset + 1}-{offset + duration}"


def playbook_as_text(book: Playbook) -> str:
    """A compact terminal view: steps, tasks with owner and timing, checklists."""
    lines = [book.title, ""]
    for step in book.steps:
        lines.append(f"{step.number}. {step.title}  [{step.key}]")
        lines.append(f"   {step.goal}")
        for task in step.tasks:
            role = book.roles.get(task.owner_role, task.owner_role)
            timing = _weeks(task.timing.offset_weeks, task.timing.duration_weeks)
            lines.append(f"   - {task.title}  [{task.id}]  ({role}; {timing})")
            lines.extend(f"       [ ] {item}" for item in task.checklist)
        lines.append("")
    series = book.meetings
    lines.append(f"Plenary meetings ({series.min_meetings}-{series.max_meetings}):")
    lines.extend(f"   {m.number}. {m.title} (week {m.offset_weeks + 1})" for m in series.meetings)
    return "\n".join(lines)


def playbook_as_markdown(book: Playbook) -> str:
    """The playbook as a Markdown document (for a wiki or a shared drive)."""
    lines = [f"# {book.title}", ""]
    for step in book.steps:
        lines += [f"## {step.number}. {step.title}", "", f"*{step.goal}*", ""]
        for task in step.tasks:
            role = book.roles.get(task.owner_role, task.owner_role)
            timing = _weeks(task.timing.offset_weeks, task.timing.duration_weeks)
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
    lines += ["## " + ", ".join(str(m.number) for m in book.meetings.meetings), ""]
    for meeting in book.meetings.meetings:
        lines.append(f"- **{meeting.title}** (week {meeting.offset_weeks + 1}): {meeting.purpose}")
    return "\n".join(lines) + "\n"
