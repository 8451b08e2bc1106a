"""The stakeholder database: import a CSV file, list, show and export it.

A file is read whole and every row validated (``sync.audience.model``) before anything is
stored: one bad row rejects the file, with every problem named by row number and column,
unless ``skip_invalid`` imports the good rows and lists the bad. Rows are numbered as a
spreadsheet shows them (the header is row 1). The same address on two rows is refused, naming
both rows. An address erased with ``mcm-sync forget`` is skipped and reported as erased: its
salted-hash tombstone keeps it out for good. An address the person left for another in
Mailchimp (``upemail``) names them at their new address: the row updates their row, the
report says so, and no row is made for the old address (the push would subscribe it again).

Nobody's data is lost by an import. A blank cell never clears what the database holds for a
person already in it (the stored value is kept), so a consent is never turned off by an empty
column: withdrawing consent is an explicit ``consent_withdrawn`` date. An import that would
change the consent of someone already in the database lists who and why
(:class:`ConsentChange`) and stores nothing unless ``allow_consent_changes`` (``--yes``).

Excel files are not read: no well-kept xlsx reader is among the project's dependencies, so the
user is asked to save the sheet as CSV (UTF-8).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import ValidationError

from playbooks.dates import DateError, parse_date
from sync.audience.left import LeftAddress
from sync.audience.model import COLUMNS, REQUIRED_COLUMNS, Stakeholder, header_key, sector_key
from sync.audience.store import ImportCounts, StakeholderRecord, StakeholderStore
from sync.core import csv_cells
from sync.core.errors import InputError, Problem

DELIMITERS = ",;\t"


@dataclass(frozen=True)
class MovedRow:
    """A row with an address its person changed in Mailchimp: it updates them at the new one."""

    row: int
    old: str
    new: str
    changed_at: str

    def __str__(self) -> str:
        when = f" on {self.changed_at[:10]}" if self.changed_at else ""
        return (f"row {self.row}: the person at {self.old} changed their address to "
                f"{self.new} in Mailchimp{when}; the row updates them at {self.new} "
                f"(put the new address in the sheet)")


@dataclass(frozen=True)
class ParsedFile:
    """A file's valid people (with their row numbers) and the problems of the others."""

    people: list[tuple[int, Stakeholder]]
    problems: list[Problem]
    rows: int
    # Rows naming an address the person left in Mailchimp, taken as their current row.
    moved: list[MovedRow] = field(default_factory=list)


@dataclass(frozen=True)
class ConsentChange:
    """A person whose newsletter consent the import would change, and the cells that do it."""

    row: int
    who: str
    before: str
    after: str
    why: str

    def __str__(self) -> str:
        return f"row {self.row}: {self.who}: consent {self.before} -> {self.after} ({self.why})"


def consent_state(person: Stakeholder) -> str:
    """``given``, ``withdrawn`` or ``none``: what the newsletter does with this person."""
    if person.has_consent:
        return "given"
    return "withdrawn" if person.consent_withdrawn else "none"


_CONSENT_FIELDS = ("consent_date", "consent_method", "consent_withdrawn")


def consent_change(row: int, before: Stakeholder, after: Stakeholder) -> ConsentChange | None:
    """How ``after`` changes ``before``'s consent, if it does (the cells named with values)."""
    if all(getattr(before, f) == getattr(after, f) for f in _CONSENT_FIELDS):
        return None
    why = ", ".join(f"{f} {getattr(before, f) or '(blank)'} -> {getattr(after, f) or '(blank)'}"
                    for f in _CONSENT_FIELDS if getattr(before, f) != getattr(after, f))
    who = f"{after.contact_person} <{after.email}>" if after.contact_person and after.email \
        else after.email or after.organisation
    return ConsentChange(row, who, consent_state(before), consent_state(after), why)


@dataclass
class ImportReport:
    """What an import did (or, with ``dry_run``, would do)."""

    source: str
    counts: ImportCounts = field(default_factory=ImportCounts)
    erased_rows: list[int] = field(default_factory=list)
    skipped: list[Problem] = field(default_factory=list)
    dry_run: bool = False
    consent_changes: list[ConsentChange] = field(default_factory=list)
    moved_rows: list[MovedRow] = field(default_factory=list)
    # True when consent changes were found without permission: nothing was stored.
    held: bool = False

    def as_dict(self) -> dict[str, object]:
        """JSON-ready form."""
        return {
            "consent_changes": [str(c) for c in self.consent_changes],
            "held": self.held,
            "source": self.source,
            "added": self.counts.added,
            "updated": self.counts.updated,
            "unchanged": self.counts.unchanged,
            "erased_rows": self.erased_rows,
            "moved": [str(m) for m in self.moved_rows],
            "skipped": [str(p) for p in self.skipped],
            "dry_run": self.dry_run,
        }


def _read_text(path: Path) -> str:
    if path.suffix.lower() in (".xlsx", ".xls", ".ods"):
        raise InputError(
            [
                Problem(
                    str(path),
                    "",
                    "spreadsheet files are not read directly",
                    "save the sheet as 'CSV UTF-8' and import that file",
                )
            ]
        )
    try:
        # utf-8-sig: Excel's "CSV UTF-8" starts with a byte-order mark.
        return path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise InputError([Problem(str(path), "", "file not found")]) from None
    except UnicodeDecodeError as exc:
        raise InputError(
            [Problem(str(path), "", f"not UTF-8 text ({exc.reason})", "save it as CSV UTF-8")]
        ) from None


def _dialect(text: str) -> type[csv.Dialect] | csv.Dialect:
    first = text.split("\n", 1)[0]
    try:
        dialect = csv.Sniffer().sniff(first, delimiters=DELIMITERS)
    except csv.Error:
        return csv.excel
    # A header without quotes makes the sniffer guess no doubled quotes; every spreadsheet (and
    # our export) writes a quote in a cell as "", e.g. =HYPERLINK(""http://..."").
    dialect.doublequote = True
    return dialect


def _row_problems(source: str, number: int, error: ValidationError) -> list[Problem]:
    problems = []
    for detail in error.errors():
        column = ".".join(str(part) for part in detail["loc"])
        message = str(detail["msg"]).removeprefix("Value error, ")
        if not column and ": " in message:
            # Model-level checks (consent) say which column in their message.
            column, message = message.split(": ", 1)
        where = f"row {number}, column {column}" if column else f"row {number}"
        cause = (detail.get("ctx") or {}).get("error")
        if isinstance(cause, DateError):
            message, hint = cause.message, cause.hint
        else:
            hint = ""
        problems.append(Problem(source, where, message, hint))
    return problems


def _raw_key(values: Mapping[str, str]) -> str:
    """The store key a row's raw cells name (as :attr:`Stakeholder.key` computes it)."""
    email = values.get("email", "").strip()
    if email:
        return email.lower()
    return (f"org:{values.get('organisation', '').strip().casefold()}"
            f"|{values.get('contact_person', '').strip().casefold()}")


def _merged(stored: Stakeholder, values: Mapping[str, str]) -> dict[str, str]:
    """A row over what the database holds: blank cells keep the stored values.

    A consent given after the stored withdrawal (a newer ``consent_date``, no
    ``consent_withdrawn`` cell) is a renewed consent: the withdrawal no longer applies.
    """
    filled = {k: v for k, v in values.items() if v.strip()}
    merged = stored.as_row() | filled
    renewed = parse_date(filled.get("consent_date", ""))
    if (stored.consent_withdrawn is not None and "consent_withdrawn" not in filled
            and renewed is not None and renewed > stored.consent_withdrawn):
        merged["consent_withdrawn"] = ""
    return merged


def parse_csv(
    text: str,
    source: str,
    *,
    sector_names: Mapping[str, str] | None = None,
    known: Callable[[str], Stakeholder | None] | None = None,
    left: Callable[[str], LeftAddress | None] | None = None,
) -> ParsedFile:
    """Validate every row of a CSV text; file-level problems raise ``InputError`` at once.

    ``sector_names`` maps a sector's title in the alliance's language to its key, so that
    ``Sociale actie`` and ``social_action`` are the same sector. ``known`` finds the person a
    row is about in the database: their stored values fill the row's blank cells, so a blank
    cell never clears anything (nor turns consent off). ``left`` finds where the person who
    left an address (changed it in Mailchimp) is now: such a row is about them, at their new
    address.
    """
    if "\x00" in text:
        line = text[: text.index("\x00")].count("\n") + 1
        raise InputError([Problem(source, f"row {line}", "holds NUL bytes: not a CSV text file",
                                  "export the sheet again as CSV UTF-8")])
    # strict: an unclosed quote is an error, not the rest of the file in one cell.
    reader = csv.reader(io.StringIO(text), _dialect(text), strict=True)
    try:
        header = next(reader)
        rows = list(reader)
    except StopIteration:
        raise InputError([Problem(source, "row 1", "the file is empty")]) from None
    except csv.Error as exc:
        raise InputError([Problem(source, f"row {reader.line_num}", f"not valid CSV: {exc}",
                                  'close every quote ("...") and keep each cell under '
                                  "128 KiB")]) from None
    keys = [header_key(cell) for cell in header]
    file_problems = [
        Problem(
            source,
            f"row 1, column {cell!r}",
            "unknown column",
            f"use the columns {', '.join(COLUMNS)}",
        )
        for cell, key in zip(header, keys, strict=True)
        if key and key not in COLUMNS
    ]
    file_problems += [
        Problem(source, "row 1", f"column {name} is missing", "add it to the header row"
                + (" (its cells may stay empty for an organisation without a contact)"
                   if name == "email" else ""))
        for name in (*REQUIRED_COLUMNS, "email")
        if name not in keys
    ]
    repeated = sorted({k for k in keys if k and keys.count(k) > 1})
    file_problems += [Problem(source, "row 1", f"column {k} appears twice") for k in repeated]
    if file_problems:
        raise InputError(file_problems)
    sectors = {sector_key(title): key for title, key in (sector_names or {}).items()}
    people: list[tuple[int, Stakeholder]] = []
    problems: list[Problem] = []
    first_row: dict[str, int] = {}
    moved: dict[int, MovedRow] = {}
    count = 0
    for number, cells in enumerate(rows, start=2):
        if not any(cell.strip() for cell in cells):
            continue  # blank lines at the end of a spreadsheet export
        count += 1
        if len(cells) > len(keys):
            problems.append(
                Problem(
                    source, f"row {number}", f"{len(cells)} cells but the header has {len(keys)}"
                )
            )
            continue
        # unquote_cell: our own export's neutralised formulas come back as they were typed.
        values = {key: csv_cells.unquote_cell(cell)
                  for key, cell in zip(keys, cells, strict=False) if key}
        key = _raw_key(values)
        # An address the person left leads to their row, even where an earlier import made a
        # row for it (that row is never pushed: see plan_push's "left").
        now_at = left(key) if left is not None and "@" in key else None
        current = known(now_at.key) if now_at is not None and known is not None else None
        stored = known(key) if known is not None and current is None else None
        if now_at is not None and current is not None:
            stored = current
            moved[number] = MovedRow(number, values["email"].strip(), str(current.email),
                                     now_at.changed_at)
            values = {**values, "email": str(current.email)}
        if stored is not None:
            values = _merged(stored, values)
        if values.get("sector"):
            values["sector"] = sectors.get(sector_key(values["sector"]), values["sector"])
        try:
            person = Stakeholder.model_validate(values)
        except ValidationError as error:
            problems.extend(_row_problems(source, number, error))
            continue
        if person.key in first_row:
            column = "email" if person.email else "organisation"
            first = first_row[person.key]
            change = moved.get(number) or moved.get(first)
            why = (f" ({change.old} on row {change.row} is the address they left for "
                   f"{change.new} in Mailchimp)" if change is not None else "")
            problems.append(
                Problem(
                    source,
                    f"row {number}, column {column}",
                    f"{person.email or person.organisation} is already on row {first}{why}",
                    "keep one row per person: merge the two rows",
                )
            )
            moved.pop(number, None)
            continue
        first_row[person.key] = number
        people.append((number, person))
    return ParsedFile(people, problems, count, list(moved.values()))


def import_file(
    store: StakeholderStore,
    path: Path,
    *,
    skip_invalid: bool = False,
    dry_run: bool = False,
    sector_names: Mapping[str, str] | None = None,
    allow_consent_changes: bool = False,
) -> ImportReport:
    """Validate ``path`` and store its people (all or nothing unless ``skip_invalid``).

    Blank cells keep what the database holds. When the file would change the consent of
    someone already in the database, the report lists them and, unless
    ``allow_consent_changes``, nothing is stored (``report.held``).
    """

    def known(key: str) -> Stakeholder | None:
        record = store.get(key)
        return record.person if record is not None else None

    parsed = parse_csv(_read_text(path), str(path), sector_names=sector_names, known=known,
                       left=store.left_addresses.find)
    if parsed.problems and not skip_invalid:
        raise InputError(
            parsed.problems,
            summary=f"{path}: {len(parsed.problems)} problem"
            f"{'' if len(parsed.problems) == 1 else 's'}; nothing was imported",
        )
    report = ImportReport(str(path), skipped=list(parsed.problems), dry_run=dry_run,
                          moved_rows=list(parsed.moved))
    keep: list[Stakeholder] = []
    for number, person in parsed.people:
        if store.is_erased(str(person.email)):
            report.erased_rows.append(number)
        else:
            keep.append(person)
            stored = known(person.key)
            change = consent_change(number, stored, person) if stored is not None else None
            if change is not None:
                report.consent_changes.append(change)
    report.held = bool(report.consent_changes) and not allow_consent_changes and not dry_run
    if dry_run or report.held:
        added = sum(1 for p in keep if store.get(p.key) is None)
        changed = sum(1 for p in keep if (r := store.get(p.key)) is not None and r.person != p)
        report.counts = ImportCounts(added, changed, len(keep) - added - changed)
    else:
        report.counts = store.upsert(keep)
    return report


def export_text(people: Sequence[StakeholderRecord]) -> str:
    """The people as CSV in the import format (``import`` of this text changes nothing)."""
    buffer = io.StringIO()
    writer = csv_cells.dict_writer(buffer, COLUMNS, lineterminator="\n")  # no formulas
    writer.writeheader()
    for record in people:
        writer.writerow(record.person.as_row())
    return buffer.getvalue()


def export_file(store: StakeholderStore, path: Path) -> int:
    """Write the export to ``path`` and remember it (``forget`` cleans it); returns the count."""
    people = store.people()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(export_text(people), encoding="utf-8")
    store.record_export(str(path.resolve()))
    return len(people)


def audience_state(record: StakeholderRecord) -> str:
    """One word for ``stakeholders list``: where this person stands with the newsletter."""
    if record.remote_status in ("unsubscribed", "cleaned", "archived"):
        return record.remote_status
    if not record.email:
        return "no-email"
    if not record.person.has_consent:
        return "withdrawn" if record.person.consent_withdrawn else "no-consent"
    if record.last_error:
        return "error"
    return "subscribed" if record.pushed_status == "subscribed" else "to-push"


def summary(record: StakeholderRecord) -> dict[str, object]:
    """A person as a JSON-ready dict for ``list --json`` and ``show``."""
    return {
        **record.person.model_dump(mode="json"),
        "newsletter": audience_state(record),
        "mailchimp_status": record.remote_status,
        "last_error": record.last_error,
        "updated_at": record.updated_at,
    }
