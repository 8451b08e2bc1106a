"""The action-plan file's validated rows kept between runs, so a scheduled run need not
validate them again.

Every run reads the config's ``action_plan`` file and validates each row into a pydantic
:class:`~playbooks.model.ActionRow`. With the config and the fitted playbook kept
(:mod:`.config`, :mod:`.playbook`), those rows were the only pydantic model a quiet sync still
built: its validator's schema, pydantic's plugin look-up and with it :mod:`importlib.metadata`
(some 20-30 ms of every cron run), to find again that the same file gives the same rows.

So the rows are kept (:mod:`sync.core.kept`: ``cache/rows-<key>.pickle``) under a key that is a
digest of everything they are made from:

- the action-plan file's bytes and its resolved path (its suffix says YAML or CSV);
- the fitted playbook's own key (:func:`.playbook.playbook_key`: the playbook's language and
  calendar, the packaged files and every module of the ``playbooks`` package, which holds the
  row model and the file's reader): the columns, statuses and steps the rows are read with;
- Python's and pydantic's versions, and this module's format.

Only rows that validated are kept: a file with a problem is read and reported every run, and
an edited file is a new key. The rows hold what the file says (actions, owners, dates), which
is no secret and no more than the file itself. ``pickle`` runs what a file says: the file
lives beside the state store, readable by its owner only, and whoever can write there can
change the alliance's state anyway.
"""

from __future__ import annotations

from pathlib import Path

from playbooks.model import ActionRow
from sync.core.kept import kept_key, read_pickled, write_pickled

FORMAT = "mcm-sync kept rows 1"


def rows_key(plan: Path, playbook_key: str) -> str | None:
    """The digest the rows of the action-plan file ``plan`` are kept under, for the playbook
    kept under ``playbook_key``; None when the file cannot be read (the reader says why)."""
    try:
        data = plan.read_bytes()
    except OSError:
        return None
    return kept_key(FORMAT, playbook_key, str(plan.resolve()), data)


def _name(key: str) -> str:
    return f"rows-{key}.pickle"


def read_rows(folder: Path, key: str) -> list[ActionRow] | None:
    """The rows kept under ``key`` in ``folder``, or None (none kept, or unreadable)."""
    found = read_pickled(folder / _name(key))
    if not isinstance(found, list) or not all(isinstance(row, ActionRow) for row in found):
        return None
    return found


def write_rows(folder: Path, key: str, rows: list[ActionRow]) -> bool:
    """Keep ``rows`` under ``key``, replacing earlier kept rows; False where nothing can be
    written."""
    return write_pickled(folder, _name(key), rows, replaces="rows-*.pickle")
