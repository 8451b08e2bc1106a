"""An alliance's own regional action plan: rows of the guide's action table, from YAML or CSV.

A coordinator keeps the table in a spreadsheet (CSV) or in YAML (a list of rows, or a mapping
with ``rows:``). Column names are the playbook's column keys (``local_problem``) or their
titles in the playbook's language ("Lokaal probleem"), so a translated spreadsheet works as is.

Errors (a bad date, an unknown status or step, an unknown column, a repeated key or number, a
negative budget) are collected for the whole file and raised together as one
:class:`InputError`; nothing is returned half-loaded. SMART gaps (no responsible partner, no
due date, no measurable outcome) and a responsible nobody in the config matches are warnings:
the coordinator should see them, but they do not stop the tool.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import yaml
from pydantic import ValidationError

from playbooks.amounts import AmountError, parse_amount
from playbooks.dates import date_problem, parse_date
from playbooks.errors import InputError, Problem
from playbooks.model import STATUSES, ActionRow, Playbook
from playbooks.yaml_text import load_yaml

# Row fields beyond the guide's table columns (always by key; no translated titles).
_EXTRA_FIELDS = ("step", "outcome", "key")
# Alternative spellings of keys that people write in practice.
_ALIASES = {"budget_eur": "budget", "due_date": "due", "owner": "responsible"}
_TEXT_FIELDS: tuple[str, ...] = ("number", "action", "local_problem", "description", "resources",
                                 "responsible")
_TEXT_FIELDS += ("timeline", "outcome", "key")
_CSV_DELIMITERS = ",;\t"


class Party(Protocol):
    """Who may be named responsible for a row: a person of the alliance (the config's people)."""

    @property
    def name(self) -> str: ...  # noqa: D102 - a protocol's member says it all
    @property
    def email(self) -> str: ...  # noqa: D102
    @property
    def organisation(self) -> str: ...  # noqa: D102


@dataclass(frozen=True)
class ActionPlanFile:
    """The rows of one action-plan file and the SMART warnings about them."""

    source: str
    rows: list[ActionRow] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)


def row_key(action: str) -> str:
    """A stable key for a row without its own ``key``: a slug of the action text."""
    ascii_text = unicodedata.normalize("NFKD", action).encode("ascii", "ignore").decode()
    ascii_text = re.sub(r"['`]", "", ascii_text.lower())  # "alliance's" -> "alliances"
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text).strip("-")
    if len(slug) > 60:
        # Cut at a word boundary so keys stay readable in Trello and Slack.
        slug = slug[:61].rsplit("-", 1)[0] if "-" in slug[:61] else slug[:60]
    if slug:
        return slug
    # Scripts with no ASCII transliteration still get a stable key.
    return "row-" + hashlib.sha1(action.encode("utf-8")).hexdigest()[:10]


def load_action_plan(
    path: Path, playbook: Playbook, people: Sequence[Party] = ()
) -> ActionPlanFile:
    """Read and validate an action-plan file (``.yaml``/``.yml`` or ``.csv``).

    Raises :class:`InputError` listing every problem (file, ``row N[.column]``); returns the
    rows with their SMART warnings otherwise.
    """
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise InputError(
            [
                Problem(
                    source, "", "action-plan file not found", "check `action_plan:` in the config"
                )
            ]
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise InputError(
            [Problem(source, "", f"cannot read: {reason}", "save it as UTF-8")]
        ) from None
    suffix = Path(path).suffix.lower()
    if suffix == ".csv":
        records, problems = _csv_records(text, source, playbook)
    elif suffix in (".yaml", ".yml"):
        records, problems = _yaml_records(text, source)
    else:
        raise InputError(
            [Problem(source, "", f"unknown file type '{suffix}'", "use a .yaml or .csv file")]
        )
    if problems:
        raise InputError(problems)
    return parse_rows(records, source, playbook, people)


# An action is a card's title and an item message's first line: one line, short.
MAX_ACTION = 300
FIRST_YEAR, LAST_YEAR = 2000, 2099  # as the alliance's start date


def _csv_records(
    text: str, source: str, playbook: Playbook
) -> tuple[list[dict[str, Any]], list[Problem]]:
    """CSV rows as mappings keyed by column keys; the delimiter is sniffed (',' ';' or tab)."""
    try:
        dialect: Any = csv.Sniffer().sniff(text.split("\n", 1)[0], delimiters=_CSV_DELIMITERS)
    except csv.Error:
        dialect = csv.excel
    if "\x00" in text:
        line = text[: text.index("\x00")].count("\n") + 1
        return [], [Problem(source, f"line {line}", "holds NUL bytes: not a CSV text file",
                            "export the sheet again as CSV UTF-8")]
    # strict: an unclosed quote is an error, not the rest of the file in one cell.
    reader = csv.reader(io.StringIO(text), dialect, strict=True)
    try:
        header = next(reader, None)
        rest = list(reader)
    except csv.Error as exc:
        return [], [Problem(source, f"line {reader.line_num}", f"not valid CSV: {exc}",
                            'close every quote ("...") and keep each cell under 128 KiB')]
    if not header:
        return [], []
    names = column_names(playbook)
    keys: list[str] = []
    records: list[dict[str, str]]  # one per data row, made below
    problems = []
    for index, title in enumerate(header, start=1):
        key = names.get(title.strip().casefold())
        if key is None:
            problems.append(
                Problem(
                    source,
                    "header",
                    f"unknown column '{title.strip()}' (column {index})",
                    f"use the column keys or titles: {', '.join(_known_keys(playbook))}",
                )
            )
        if key is not None and key in keys:
            problems.append(Problem(source, "header", f"column '{title.strip()}' (column "
                                    f"{index}) appears twice", "keep one of them"))
        keys.append(key or title)
    records = []
    for cells in rest:
        if not any(cell.strip() for cell in cells):
            continue  # spreadsheets leave empty lines at the end
        if any(cell.strip() for cell in cells[len(keys) :]):
            # Usually an unquoted comma inside a text: the columns after it are shifted.
            problems.append(
                Problem(
                    source,
                    f"row {len(records) + 1}",
                    "more cells than columns in the header",
                    'put texts that contain the delimiter in double quotes ("...")',
                )
            )
        records.append({key: value for key, value in zip(keys, cells, strict=False)})
    return records, problems


def _yaml_records(text: str, source: str) -> tuple[list[Any], list[Problem]]:
    """YAML rows: a list of mappings, or a mapping with a ``rows`` list."""
    try:
        data = load_yaml(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark else ""
        return [], [
            Problem(
                source,
                where,
                f"not valid YAML: {getattr(exc, 'problem', exc)}",
                "check indentation and quoting",
            )
        ]
    if data is None:
        return [], []
    if isinstance(data, dict) and set(data) == {"rows"}:
        data = data["rows"]
    if not isinstance(data, list):
        return [], [
            Problem(
                source,
                "",
                "expected a list of rows (or a mapping with 'rows:')",
                "see playbooks/examples/frl-action-plan.yaml",
            )
        ]
    return data, []


def _known_keys(playbook: Playbook) -> list[str]:
    return [column.key for column in playbook.action_plan.columns] + list(_EXTRA_FIELDS)


def column_names(playbook: Playbook) -> dict[str, str]:
    """Accepted column names (case-folded) -> column key: keys, aliases, localised titles."""
    names = {key.casefold(): key for key in _known_keys(playbook)}
    names.update({alias: key for alias, key in _ALIASES.items()})
    names.update({column.title.casefold(): column.key for column in playbook.action_plan.columns})
    return names


def parse_rows(
    records: Sequence[Any], source: str, playbook: Playbook, people: Sequence[Party] = ()
) -> ActionPlanFile:
    """Validate row mappings into :class:`ActionRow` objects, or raise with every problem."""
    names = column_names(playbook)
    rows: list[tuple[int, ActionRow]] = []
    problems: list[Problem] = []
    for number, record in enumerate(records, start=1):
        where = f"row {number}"
        if not isinstance(record, dict):
            problems.append(Problem(source, where, "a row must be a mapping of column: value"))
            continue
        values, row_problems = _row_values(record, names, playbook, source, where)
        problems += row_problems
        if row_problems:
            continue
        try:
            rows.append((number, ActionRow(**values)))
        except ValidationError as exc:
            for item in exc.errors(include_url=False):
                column = ".".join(str(part) for part in item["loc"])
                problems.append(Problem(source, f"{where}.{column}", item["msg"]))
    problems += _duplicates(rows, source)
    if problems:
        raise InputError(problems)
    warnings = [w for number, row in rows for w in smart_warnings(row, number, source, people)]
    return ActionPlanFile(source, [row for _, row in rows], warnings)


def _row_values(
    record: dict[Any, Any], names: dict[str, str], playbook: Playbook, source: str, where: str
) -> tuple[dict[str, Any], list[Problem]]:
    """One row's values converted for :class:`ActionRow`, or the problems that prevent it."""
    values: dict[str, Any] = {}
    problems: list[Problem] = []

    def fail(column: str, message: str, hint: str = "") -> None:
        problems.append(Problem(source, f"{where}.{column}", message, hint))

    for name, raw in record.items():
        key = names.get(str(name).strip().casefold())
        if key is None:
            fail(
                str(name),
                f"unknown column '{name}'",
                f"use one of: {', '.join(_known_keys(playbook))}",
            )
            continue
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            continue
        if isinstance(raw, list | dict):
            fail(key, f"wrong type: expected a single value, got a {type(raw).__name__}")
        elif key == "due":
            values["due"] = parse_date(raw)
            wrong = date_problem(raw)
            if wrong is not None:
                fail("due", wrong.message, wrong.hint)
            elif values["due"] is not None and not FIRST_YEAR <= values["due"].year <= LAST_YEAR:
                fail("due", f"{values['due'].isoformat()} is not a plausible date (between "
                     f"{FIRST_YEAR} and {LAST_YEAR})", "check the year")
        elif key == "budget":
            try:
                amount = parse_amount(raw, playbook.language)
            except AmountError as exc:
                fail("budget", str(exc), "write the amount as a number, e.g. 2500")
                continue
            if amount < 0:
                fail("budget", f"the budget must not be negative (got {raw})")
            else:
                values["budget_eur"] = amount
        elif key == "status":
            values["status"] = _status(str(raw), playbook)
            if values["status"] is None:
                fail("status", f"unknown status '{raw}'", f"use one of: {', '.join(STATUSES)}")
        elif key == "step":
            values["step"] = _step(str(raw), playbook)
            if values["step"] is None:
                keys = ", ".join(step.key for step in playbook.steps)
                fail("step", f"unknown step '{raw}'", f"use one of: {keys}")
        else:
            values[key] = str(raw).strip()
            if key == "action" and ("\n" in values[key] or len(values[key]) > MAX_ACTION):
                fail("action", f"an action is one line of at most {MAX_ACTION} characters "
                     f"(it is a card's title; this one has {len(values[key])} characters and "
                     f"{values[key].count(chr(10)) + 1} lines)",
                     "put the details in the description column")
    if not values.get("action") and not any(p.location == f"{where}.action" for p in problems):
        fail("action", "missing action", "every row needs the action to take")
    values = {k: v for k, v in values.items() if v is not None}
    if "action" in values and not values.get("key"):
        values["key"] = row_key(values["action"])
    return values, problems


def _status(raw: str, playbook: Playbook) -> str | None:
    wanted = raw.strip().casefold()
    for key, label in playbook.action_plan.statuses.items():
        if wanted in (key, label.casefold()):
            return key
    return None


def _step(raw: str, playbook: Playbook) -> str | None:
    wanted = raw.strip().casefold()
    for step in playbook.steps:
        if wanted in (step.key, str(step.number), step.title.casefold()):
            return step.key
    return None


def _duplicates(rows: Sequence[tuple[int, ActionRow]], source: str) -> list[Problem]:
    """Row keys and non-empty numbers must be unique: they identify the row when syncing."""
    problems = []
    keys: dict[str, int] = {}
    numbers: dict[str, int] = {}
    for number, row in rows:
        if row.key in keys:
            problems.append(
                Problem(
                    source,
                    f"row {number}.key",
                    f"duplicate row key '{row.key}' (also row {keys[row.key]})",
                    "give one of the rows its own `key` or a different action text",
                )
            )
        keys.setdefault(row.key, number)
        if row.number and row.number in numbers:
            problems.append(
                Problem(
                    source,
                    f"row {number}.number",
                    f"duplicate number '{row.number}' (also row {numbers[row.number]})",
                    "number each action once",
                )
            )
        numbers.setdefault(row.number, number)
    return problems


def smart_warnings(
    row: ActionRow, number: int, source: str, people: Sequence[Party] = ()
) -> list[Problem]:
    """The SMART gaps of one row, as warnings (cancelled rows need none)."""
    if row.status == "cancelled":
        return []
    where = f"row {number}"
    warnings = []
    if not row.responsible:
        warnings.append(
            Problem(
                source,
                f"{where}.responsible",
                "no responsible partner (SMART: who does it?)",
                "name a person (e-mail or name) or an organisation of the alliance",
            )
        )
    elif people and not _known_responsible(row.responsible, people):
        warnings.append(
            Problem(
                source,
                f"{where}.responsible",
                f"'{row.responsible}' is not a person or organisation of the alliance",
                "use an e-mail, a name or an organisation from the config's people",
            )
        )
    if row.due is None:
        warnings.append(
            Problem(
                source,
                f"{where}.due",
                "no due date (SMART: time-bound)",
                "add a due date as YYYY-MM-DD",
            )
        )
    if not row.outcome:
        warnings.append(
            Problem(
                source,
                f"{where}.outcome",
                "no measurable outcome (SMART: measurable)",
                "add an `outcome` saying how you will know the action is done",
            )
        )
    return warnings


def _known_responsible(responsible: str, people: Sequence[Party]) -> bool:
    """Every name in ``responsible`` (comma or semicolon separated) is a person or organisation."""
    known = set()
    for person in people:
        known |= {str(person.email).casefold(), person.name.casefold()}
        known.add(person.organisation.casefold())
    parts = [part.strip().casefold() for part in re.split(r"[;,]", responsible) if part.strip()]
    return all(part in known for part in parts)
