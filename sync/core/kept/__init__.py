"""What a run keeps beside the state store so that the next run need not work it out again.

Four things, each under a digest of everything it is made from (:func:`kept_key`), so that a
changed input is a new key and never a stale answer: the alliance's fitted playbook
(:mod:`.playbook`), the config's e-mail addresses already found valid (:mod:`.addresses`), the
validated config itself without its secrets (:mod:`.config`) and the action plan's validated
rows (:mod:`.rows`). They live in the folder ``cache/`` beside the SQLite state store, written
atomically and readable by their owner only; none holds a secret. Where there is no such
folder (no state folder yet: nothing is made before bootstrap; a PostgreSQL store) nothing is
kept and everything is worked out every run.
"""

from __future__ import annotations

import functools
import hashlib
import os
import pickle
import sys
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


def files_digest(paths: list[Path]) -> bytes | None:
    """One digest of the bytes of ``paths`` (in that order, each with its name); None when one
    cannot be read."""
    digest = hashlib.sha256()
    for path in paths:
        try:
            found = path.stat()
            digest.update(path.name.encode() + b"\0"
                          + _file_digest(path, found.st_size, found.st_mtime_ns))
        except OSError:
            return None
    return digest.digest()


@functools.lru_cache(maxsize=256)
def _file_digest(path: Path, size: int, mtime_ns: int) -> bytes:
    """A file's digest, read once per process while its size and time stay the same (a
    worker opens a thousand alliances; an edited file has another time)."""
    return hashlib.sha256(path.read_bytes()).digest()


def kept_key(*parts: str | bytes, code: bytes = b"") -> str:
    """The digest a kept result is kept under: its ``parts`` (its format, then what it is
    made from) after the Python and pydantic versions that made it, and ``code`` (the
    :func:`files_digest` of the modules and files it is made of). Each part is ended, so
    no two different lists of parts give the same digest."""
    from pydantic.version import VERSION as PYDANTIC_VERSION

    digest = hashlib.sha256(code)
    for part in (sys.version, PYDANTIC_VERSION, *parts):
        data = part if isinstance(part, bytes) else part.encode("utf-8", "surrogatepass")
        digest.update(len(data).to_bytes(8, "big") + data)
    return digest.hexdigest()


def read_pickled(path: Path) -> object | None:
    """What the kept file at ``path`` holds, or None (none kept, or a damaged or foreign
    file: the caller checks what it got, and works it out anew without one)."""
    try:
        found: object = pickle.loads(path.read_bytes())
    except Exception:  # any failure to read back is "none kept"
        return None
    return found


def write_pickled(folder: Path, name: str, value: object, *, replaces: str) -> bool:
    """Keep ``value`` as ``folder/name`` (:func:`write_kept`), replacing the files matching
    ``replaces``."""
    return write_kept(folder, name, pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL),
                      replaces=replaces)


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
