"""The stakeholder database template as a CSV sheet: headers in the template's language, the
alliance's members first, then everyone the stakeholder database already holds.

What the sheet writes, ``mcm-sync stakeholders import`` reads back in any language
(:func:`sync.audience.model.header_key`). A member who is also in the database shows the
database's values; a blank cell in the sheet keeps what the database holds on import, so
re-importing the sheet changes no one's consent.
"""

from __future__ import annotations

from collections.abc import Sequence

from playbooks.labels import labels
from playbooks.model import Playbook
from sync.audience.model import GUIDE_NAMES, LADDER, Stakeholder
from sync.core.config import Config
from sync.documents.context import stakeholder_rows

# Template column -> the database field it holds (the rest have the same name).
_FIELDS = {guide: field for field, guide in GUIDE_NAMES.items()}


def _cells(person: Stakeholder, columns: Sequence[str]) -> dict[str, str]:
    row = person.as_row()
    return {column: row.get(_FIELDS.get(column, column), "") for column in columns}


def _in_language(row: dict[str, str], book: Playbook) -> dict[str, str]:
    """The cells a person reads in the sheet's language: yes/no (``ja``, ``oui``), the
    guide's sector and the participation ladder's level by their names;
    ``stakeholders import`` reads them back."""
    words = labels(book.language)["stakeholders"]
    ladder = dict(zip(LADDER, book.facts.participation_ladder, strict=True))
    shown = dict(row)
    if shown.get("alliance_member") in ("yes", "no"):
        shown["alliance_member"] = words[f"member_{shown['alliance_member']}"]
    if shown.get("engagement") in ladder:
        shown["engagement"] = ladder[shown["engagement"]]
    if shown.get("sector") in book.facts.sectors:
        shown["sector"] = book.facts.sectors[shown["sector"]]
    return shown


def stakeholder_sheet(config: Config, book: Playbook, columns: Sequence[str],
                      people: Sequence[Stakeholder] = ()) -> tuple[list[str], list[list[str]]]:
    """The header (column titles in ``book``'s language) and the rows of the sheet."""
    titles = labels(book.language)["stakeholders"]["columns"]
    stored = {person.key: person for person in people}
    rows = []
    for member in stakeholder_rows(config, book):
        found = stored.pop(member["email"].lower(), None)
        if found is not None:
            kept = _cells(found, columns)
            member = {c: kept.get(c) or member.get(c, "") for c in columns}
        member = _in_language(member, book)
        rows.append([member.get(column, "") for column in columns])
    for person in stored.values():
        cells = _in_language(_cells(person, columns), book)
        rows.append([cells[column] for column in columns])
    return [titles[column] for column in columns], rows
