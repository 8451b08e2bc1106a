"""The config's e-mail addresses already found valid, kept so a run need not load the checker.

Every run validates the config, and with it every person's address (and the newsletter's
sender): ``email_validator`` checks each one. Importing it compiles its regular expressions,
some 17 ms of every cron run, to find again that the same addresses are valid.

So the config is validated in two passes (:func:`sync.core.config.parse_config`):

1. with the addresses taken as they are and noted (:func:`deferred`);
2. only if one of them is not known to be valid, or anything else is wrong, again with every
   address checked as before (:func:`checked`): the same errors, the same normalised values.

An address is *known to be valid* when the folder of kept results (:mod:`sync.core.kept`)
holds the digest of it under the checker's key: the installed ``email_validator`` (its file's
size and time, so another version is another key) and this module's format. Only addresses the
checker returned unchanged are kept (one it normalises is checked every run), and only their
digests: the file names nobody. A new or edited address is not known and is checked.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path

from sync.core.kept import write_kept

FORMAT = "mcm-sync valid addresses 1"
FILE = "addresses"

# Per validation: the addresses seen and, when checked, what the checker made of each; and
# whether they are only noted (the first pass) or checked.
_seen: ContextVar[list[tuple[str, str | None]] | None] = ContextVar("seen", default=None)
_deferring: ContextVar[bool] = ContextVar("deferring", default=False)


def valid_address(value: str) -> str:
    """The config's address check (pydantic's ``EmailStr``, the same errors and normalised
    value); while :func:`deferred`, the address is taken as it is and noted."""
    seen = _seen.get()
    if seen is not None and _deferring.get():
        seen.append((value, None))
        return value
    from pydantic.networks import validate_email  # email_validator only when it checks

    normalised = validate_email(value)[1]
    if seen is not None:
        seen.append((value, normalised))
    return normalised


@contextmanager
def deferred() -> Iterator[list[tuple[str, str | None]]]:
    """Within: addresses are not checked, only noted (the list yielded)."""
    with _noting(deferring=True) as seen:
        yield seen


@contextmanager
def checked() -> Iterator[list[tuple[str, str | None]]]:
    """Within: every address is checked, and noted with what the checker made of it."""
    with _noting(deferring=False) as seen:
        yield seen


@contextmanager
def _noting(*, deferring: bool) -> Iterator[list[tuple[str, str | None]]]:
    seen: list[tuple[str, str | None]] = []
    tokens = _seen.set(seen), _deferring.set(deferring)
    try:
        yield seen
    finally:
        _seen.reset(tokens[0])
        _deferring.reset(tokens[1])


def checker_key() -> str | None:
    """The installed checker's key (its module file's size and time); None if not found."""
    spec = importlib.util.find_spec("email_validator")
    if spec is None or not spec.origin:
        return None
    try:
        found = os.stat(spec.origin)
    except OSError:
        return None
    return f"{FORMAT}\0{spec.origin}\0{found.st_size}\0{found.st_mtime_ns}"


def _digest(key: str, address: str) -> str:
    return hashlib.sha256(f"{key}\0{address}".encode()).hexdigest()


def all_known(folder: Path, addresses: list[str]) -> bool:
    """Whether every one of ``addresses`` is kept as valid under the checker's key."""
    key = checker_key()
    if key is None:
        return False
    try:
        kept = set((folder / FILE).read_text(encoding="ascii").split())
    except (OSError, UnicodeDecodeError):
        return False
    return all(_digest(key, address) in kept for address in addresses)


def keep_valid(folder: Path, seen: list[tuple[str, str | None]]) -> None:
    """Keep the digests of the addresses the checker returned unchanged (replacing the
    earlier file: an address no longer in the config is no longer kept)."""
    key = checker_key()
    if key is None:
        return
    digests = sorted({_digest(key, value) for value, normalised in seen if value == normalised})
    write_kept(folder, FILE, "".join(f"{d}\n" for d in digests).encode("ascii"))
