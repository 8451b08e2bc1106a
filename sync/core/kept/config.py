"""The validated config kept between runs, without its secrets, so a scheduled run need not
parse and validate it again.

Every command reads the config: PyYAML parses it (twice: once to check its shape, then to
load it, :func:`playbooks.yaml_text.load_yaml`) and pydantic builds and runs the validators of
its ten models. For a cron run that is 20-40 ms, to find again that the same file is valid.

So the validated config is kept (:mod:`sync.core.kept`: ``cache/config-<key>.pickle``) under a
key that is a digest of everything its validation is made from:

- the config file's bytes and its resolved path (relative paths in it are relative to it);
- the bytes of every module that validates it: ``sync/core`` (the models, their checks, the
  meetings' settings, the places) with ``sync/core/kept``, and the ``playbooks`` package (the
  statuses, the date reader, the YAML reader);
- Python's and pydantic's versions, and this module's format.

**No secret is kept.** The secret fields (:data:`sync.core.config.SECRET_KEYS`) are written as
None; beside the config the file holds only their *references* as the config file writes them
(``${TRELLO_TOKEN}``, ``${file:~/.secrets/trello}``), which are in the config file anyway. A
run that reads the file back resolves those references from the environment (or the files
they name) as every run does, and only if all of them resolve without a problem takes the
kept config with the secrets set; otherwise it parses and validates the file as before, so
every problem is reported as before. A config with a PostgreSQL ``state.url`` is never kept
(it has no state folder, and its URL holds a password).

Where the file lives: beside the state store, like the other kept results; but a run must find
it before it has read the config, so it looks where the state store is by default (``.mcm-sync``
beside the config file). A config whose ``state.path`` points elsewhere is simply validated
every run. ``pickle`` runs what a file says: the file lives beside the state store, readable by
its owner only, and whoever can write there can change the alliance's state anyway.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import playbooks
from sync.core.kept import FOLDER, files_digest, kept_key, read_pickled, write_pickled

FORMAT = "mcm-sync kept config 1"
# Where the state store is when the config does not say (StateSettings.path's folder).
DEFAULT_STATE_FOLDER = ".mcm-sync"

# A secret's place in the config (section, key) and the reference the config file writes.
References = dict[tuple[str, str], str]


def config_folder(path: Path) -> Path:
    """Where the config at ``path`` (resolved) is looked for: the default state folder's
    ``cache/`` beside it."""
    return path.parent / DEFAULT_STATE_FOLDER / FOLDER


def config_sources() -> list[Path]:
    """The modules a config's validation is made of (an edit of any is a new key)."""
    core = Path(__file__).resolve().parents[1]
    return sorted([*core.glob("*.py"), *(core / "kept").glob("*.py"),
                   *Path(playbooks.__file__).resolve().parent.glob("*.py")])


def config_key(text: str, path: Path, sources: list[Path] | None = None) -> str | None:
    """The digest a config's text at ``path`` is kept under; None when a source cannot be
    read (the config is then validated, as without a kept one)."""
    code = files_digest(config_sources() if sources is None else sources)
    return None if code is None else kept_key(FORMAT, str(path), text, code=code)


def _name(key: str) -> str:
    return f"config-{key}.pickle"


def read_config(folder: Path, key: str, kind: type) -> tuple[Any, References] | None:
    """The config (of class ``kind``, secrets None) and its secrets' references kept under
    ``key`` in ``folder``, or None (none kept, or unreadable)."""
    found = read_pickled(folder / _name(key))
    if not (isinstance(found, tuple) and len(found) == 2 and isinstance(found[0], kind)
            and isinstance(found[1], dict)
            and all(isinstance(k, tuple) and isinstance(v, str) for k, v in found[1].items())):
        return None
    return found[0], found[1]


def write_config(folder: Path, key: str, config: Any, references: References) -> bool:
    """Keep ``config`` (its secrets already None) and its secrets' ``references`` under
    ``key``, replacing earlier kept configs; False where nothing can be written."""
    return write_pickled(folder, _name(key), (config, references), replaces="config-*.pickle")


def without_secrets(config: Any, keys: set[tuple[str, str]]) -> Any:
    """``config`` (a frozen pydantic model) with every secret field ``(section, key)`` None."""
    sections: dict[str, dict[str, None]] = {}
    for section, key in keys:
        sections.setdefault(section, {})[key] = None
    return config.model_copy(update={section: getattr(config, section).model_copy(update=blank)
                                      for section, blank in sections.items()})


def with_secrets(config: Any, values: dict[str, dict[str, Any]]) -> Any:
    """``config`` with its secret fields set from ``values`` (section -> key -> the resolved
    secret, or None), as validation would have set them (``SecretStr``)."""
    from pydantic import SecretStr

    return config.model_copy(update={
        section: getattr(config, section).model_copy(
            update={key: None if value is None else SecretStr(value)
                    for key, value in found.items()})
        for section, found in values.items()})
