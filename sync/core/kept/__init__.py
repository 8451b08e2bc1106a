"""What a run keeps beside the state store so that the next run need not work it out again.

Two things, each under a digest of everything it is made from, so that a changed input is a
new key and never a stale answer: the alliance's fitted playbook (:mod:`.playbook`) and the
config's e-mail addresses already found valid (:mod:`.addresses`). Both live in the folder
``cache/`` beside the SQLite state store, written atomically and readable by their owner only;
neither holds a secret. Where there is no such folder (no state folder yet: nothing is made
before bootstrap; a PostgreSQL store) nothing is kept and everything is worked out every run.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Protocol

FOLDER = "cache"


class _StateOfTheConfig(Protocol):
    """What of the config (:class:`sync.core.config.Config`) says where its state is."""

    @property
    def state_url(self) -> str: ...

    @property
    def state_path(self) -> Path: ...


def kept_folder(config: _StateOfTheConfig) -> Path | None:
    """The alliance's folder of kept results: beside its SQLite state store; None on
    PostgreSQL (no folder of its own)."""
    if config.state_url:
        return None
    return config.state_path.parent / FOLDER


def write_kept(folder: Path, name: str, data: bytes, *, replaces: str = "") -> bool:
    """Write ``data`` to ``folder/name`` atomically, readable by its owner only, and remove
    the other files matching the glob ``replaces``; False (and nothing written) where the
    state folder does not exist or cannot be written."""
    if not folder.parent.is_dir():
        return False  # no state folder yet: a command before bootstrap makes none
    target = folder / name
    temporary: str | None = None
    try:
        folder.mkdir(mode=0o700, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=folder, prefix=".kept-", suffix=".tmp")
        with os.fdopen(handle, "wb") as out:  # mkstemp: readable by its owner only
            out.write(data)
        os.replace(temporary, target)
        temporary = None
        for old in folder.glob(replaces) if replaces else ():
            if old != target:
                old.unlink(missing_ok=True)
    except OSError:
        return False
    finally:
        if temporary is not None:
            Path(temporary).unlink(missing_ok=True)
    return True
