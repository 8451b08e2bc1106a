"""The alliance's fitted playbook kept between runs, so that a scheduled run need not build it.

Every command works with the guide's playbook in the alliance's language, fitted to its
calendar (:func:`sync.actionplan.calendar.alliance_playbook`). Building it parses two YAML
files of the package, checks them against their schemas (:mod:`playbooks.spec`) and against
each other, and builds some twenty pydantic models: 40-70 ms of every cron run, for a result
that only changes when the package or the alliance's calendar does.

So the fitted playbook is kept in the state store's folder, beside ``state.db``
(``cache/playbook-<language>-<key>.pickle``), under a key that is a digest of everything it
is made from:

- the bytes of the packaged files read (``structure.yaml``, ``text/<language>.yaml``) and of
  the modules that turn them into the playbook (the models, the loader, its schemas and
  checks, the calendar fitting): an edited file, in a source tree too, is a new key;
- the language and the calendar taken from the config (start, end, number of plenaries):
  another config is another key;
- mcm-sync's, Python's and pydantic's versions, and this module's format.

A run with the key's file reads it back (``pickle``: the very objects, no validation, so
pydantic builds none of the playbook's models); without it, the playbook is built and checked
as before, then written (atomically, readable by its owner only). The playbook holds no secret
and nothing of the alliance but its calendar. A file that cannot be read back is ignored and
written anew; where nothing can be written (no state folder yet, a read-only disk, a
PostgreSQL store) the playbook is simply built every time. ``pickle`` runs what a file says:
the file lives beside the state store, and whoever can write there can change the alliance's
state anyway.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import pickle
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import VERSION as PYDANTIC_VERSION

import playbooks
import sync

if TYPE_CHECKING:
    from playbooks.model import Playbook
    from sync.core.config import Config

FORMAT = "mcm-sync fitted playbook 1"
FOLDER = "cache"
# The modules of the playbooks package that shape a fitted playbook (an edit is a new key).
CODE = ("model.py", "loader.py", "spec.py", "checks.py", "calendar.py", "yaml_text.py",
        "errors.py")


def cache_folder(config: Config) -> Path | None:
    """Where the alliance's fitted playbook is kept: beside its SQLite state store; None on
    PostgreSQL (no folder of its own)."""
    if config.state_url:
        return None
    return config.state_path.parent / FOLDER


def playbook_sources(language: str, package: Path | None = None) -> list[Path]:
    """The files a fitted playbook in ``language`` is made from (``package``: the playbooks
    package's folder)."""
    folder = package or Path(playbooks.__file__).parent
    return [folder / "data" / "structure.yaml", folder / "data" / "text" / f"{language}.yaml",
            *(folder / name for name in CODE)]


def playbook_key(language: str, start: dt.date, end: dt.date, plenaries: int,
                 sources: list[Path]) -> str | None:
    """The digest a fitted playbook is kept under; None when a source cannot be read (a
    language without a text file: the loader says what is wrong)."""
    digest = hashlib.sha256()
    for part in (FORMAT, sync.__version__, sys.version, PYDANTIC_VERSION, language,
                 start.isoformat(), end.isoformat(), str(plenaries)):
        digest.update(part.encode() + b"\0")
    for source in sources:
        try:
            digest.update(source.read_bytes())
        except OSError:
            return None
        digest.update(b"\0")
    return digest.hexdigest()


def _file(folder: Path, language: str, key: str) -> Path:
    return folder / f"playbook-{language}-{key}.pickle"


def read_playbook(folder: Path, language: str, key: str) -> Playbook | None:
    """The playbook kept under ``key`` in ``folder``, or None (none kept, or unreadable)."""
    from playbooks.model import Playbook

    try:
        found = pickle.loads(_file(folder, language, key).read_bytes())
    except Exception:  # none kept, or a damaged or foreign file: built anew
        return None
    return found if isinstance(found, Playbook) and found.language == language else None


def write_playbook(folder: Path, key: str, book: Playbook) -> None:
    """Keep ``book`` under ``key``, replacing earlier files of its language; silently nothing
    where the folder cannot be made or written (the state store's folder must exist)."""
    if not folder.parent.is_dir():
        return  # no state folder yet: a command before bootstrap makes none
    target = _file(folder, book.language, key)
    temporary: str | None = None
    try:
        folder.mkdir(mode=0o700, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=folder, prefix=".playbook-", suffix=".tmp")
        with os.fdopen(handle, "wb") as out:  # mkstemp: readable by its owner only
            out.write(pickle.dumps(book, protocol=pickle.HIGHEST_PROTOCOL))
        os.replace(temporary, target)
        temporary = None
        for old in folder.glob(f"playbook-{book.language}-*.pickle"):
            if old != target:
                old.unlink(missing_ok=True)
    except OSError:
        return
    finally:
        if temporary is not None:
            Path(temporary).unlink(missing_ok=True)
