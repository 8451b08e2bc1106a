"""``state.url`` in the config: the PostgreSQL address of the state store, secrets inside it.

The URL's password may only be a reference, as every other secret of the config: ``${VAR}``
(an environment variable) or ``${file:PATH}`` (a file's first line); a literal password is
refused with the key named. References are replaced (URL-quoted) before validation.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any
from urllib.parse import quote

from sync.core.errors import Problem

_SECRET_REF = re.compile(r"^\$\{(?:(?P<env>[A-Za-z_][A-Za-z0-9_]*)|file:(?P<file>[^}]+))\}$")
_URL_REF = re.compile(r"\$\{(?:(?P<env>[A-Za-z_][A-Za-z0-9_]*)|file:(?P<file>[^}]+))\}")
_URL_PASSWORD = re.compile(r"^[a-z+]+://[^:/@]*:(?P<password>[^@]*)@")


def resolve_state_url(raw: dict[str, Any], source: str) -> list[Problem]:
    """Interpolate ``${VAR}`` / ``${file:PATH}`` inside ``state.url``; refuse a literal password."""
    block = raw.get("state")
    if not isinstance(block, dict) or not isinstance(block.get("url"), str):
        return []
    url: str = block["url"]
    if not url.startswith(("postgresql://", "postgres://", "postgresql+psycopg://")):
        block["url"] = None
        return [Problem(source, "state.url", "must be a postgresql:// URL",
                        "leave state.url out to keep the state in the SQLite file state.path")]
    password = _URL_PASSWORD.match(url)
    if password and password.group("password") and not _SECRET_REF.match(
            password.group("password")):
        block["url"] = None
        return [Problem(source, "state.url", "secrets must not be written in the config",
                        "write the password as ${MCM_DB_PASSWORD} and set that variable")]
    problems: list[Problem] = []

    def _value(match: re.Match[str]) -> str:
        if match.group("env"):
            found = os.environ.get(match.group("env"))
            if found is None:
                problems.append(Problem(source, "state.url",
                                        f"environment variable {match.group('env')} is not set",
                                        f"export {match.group('env')}=... before running mcm-sync"))
                return ""
        else:
            try:
                found = Path(os.path.expanduser(match.group("file"))).read_text(
                    encoding="utf-8").strip()
            except (OSError, UnicodeDecodeError):
                problems.append(Problem(source, "state.url",
                                        f"cannot read secret file {match.group('file')}",
                                        "check the path and its permissions"))
                return ""
        return quote(found, safe="")

    block["url"] = _URL_REF.sub(_value, url)
    return problems
