"""The alliance's fitted playbook kept between runs, so that a scheduled run need not build it.

Every command works with the guide's playbook in the alliance's language, fitted to its
calendar (:func:`sync.actionplan.calendar.alliance_playbook`). Building it parses two YAML
files of the package, checks them against their schemas (:mod:`playbooks.spec`) and against
each other, and builds some twenty pydantic models: 40-70 ms of every cron run, for a result
that only changes when the package or the alliance's calendar does.

So the fitted playbook is kept beside the state store (:mod:`sync.core.kept`:
``cache/playbook-<language>-<key>.pickle``), under a key that is a digest of everything it is
made from:

- the bytes of the packaged files read (``structure.yaml``, ``text/<language>.yaml``) and of
  every module of the ``playbooks`` package, which defines the playbook's models and builds
  and fits them (the loader, its schemas and checks, the calendar fitting): an edited file,
  in a source tree too, or an upgrade that changes any of them is a new key;
- the language and the calendar taken from the config (start, end, number of plenaries):
  another config is another key;
- Python's and pydantic's versions, and this module's format. Not mcm-sync's own version: the
  package's code is in the key already, and reading the version costs a cron run
  :mod:`importlib.metadata` (some 30 ms) for nothing.

A run with the key's file reads it back (``pickle``: the very objects, no validation, so
pydantic builds none of the playbook's models); without it, the playbook is built and checked
as before, then written. The playbook holds no secret and nothing of the alliance but its
calendar. A file that cannot be read back is ignored and written anew; where nothing can be
written (no state folder yet, a read-only disk, a PostgreSQL store) the playbook is simply
built every time. ``pickle`` runs what a file says:
the file lives beside the state store, and whoever can write there can change the alliance's
state anyway.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING

import playbooks
from sync.core.kept import files_digest, kept_key, read_pickled, write_pickled

if TYPE_CHECKING:
    from playbooks.model import Playbook

FORMAT = "mcm-sync fitted playbook 2"


def playbook_sources(language: str, package: Path | None = None) -> list[Path]:
    """The files a fitted playbook in ``language`` is made from (``package``: the playbooks
    package's folder)."""
    folder = package or Path(playbooks.__file__).parent
    # Every module of the package (an edit of any is a new key), in a stable order.
    return [folder / "data" / "structure.yaml", folder / "data" / "text" / f"{language}.yaml",
            *sorted(folder.glob("*.py"))]


def playbook_key(language: str, start: dt.date, end: dt.date, plenaries: int,
                 sources: list[Path]) -> str | None:
    """The digest a fitted playbook is kept under; None when a source cannot be read (a
    language without a text file: the loader says what is wrong)."""
    code = files_digest(sources)
    if code is None:
        return None
    return kept_key(FORMAT, language, start.isoformat(), end.isoformat(), str(plenaries),
                    code=code)


def _name(language: str, key: str) -> str:
    return f"playbook-{language}-{key}.pickle"


def read_playbook(folder: Path, language: str, key: str) -> Playbook | None:
    """The playbook kept under ``key`` in ``folder``, or None (none kept, or unreadable)."""
    from playbooks.model import Playbook

    found = read_pickled(folder / _name(language, key))
    return found if isinstance(found, Playbook) and found.language == language else None


def write_playbook(folder: Path, key: str, book: Playbook) -> None:
    """Keep ``book`` under ``key``, replacing earlier files of its language; nothing where
    the state folder does not exist or cannot be written."""
    write_pickled(folder, _name(book.language, key), book,
                  replaces=f"playbook-{book.language}-*.pickle")
