"""The secrets file: plain ``KEY=VALUE`` lines read by mcm-sync itself (``--env-file``).

One file serves cron, a systemd unit and a shell alike: the format is systemd's
``EnvironmentFile`` (``KEY=VALUE``, ``#`` comments, optional quotes; an ``export`` prefix is
accepted too), parsed by python-dotenv. The shell's ``. ./secrets.env`` does not export such
lines to the programs it starts, which is why mcm-sync reads the file instead
(``mcm-sync --env-file secrets.env sync``, or ``MCM_SYNC_ENV_FILE``).

A variable already set in the environment wins over the file (so a unit or a test can override
one value). The file holds secrets: one that other users can read is refused, as a
``${file:...}`` secret is, and no message ever echoes a line of it.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

from dotenv.parser import parse_stream

from sync.core.errors import ConfigError, Problem

ENV_FILE_ENV = "MCM_SYNC_ENV_FILE"


def read_env_file(path: Path) -> dict[str, str]:
    """The variables of the file at ``path``; ConfigError naming the file and line if bad."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError([Problem(str(path), "", "secrets file not found",
                                   "check the path given to --env-file or MCM_SYNC_ENV_FILE")]
                          ) from None
    except UnicodeDecodeError:
        raise ConfigError([Problem(str(path), "", "secrets file is not UTF-8 text",
                                   "save it as UTF-8 (plain ASCII is fine)")]) from None
    except OSError as exc:
        raise ConfigError([Problem(str(path), "", f"cannot read: {exc.strerror}",
                                   "check the path and its permissions")]) from None
    problems: list[Problem] = []
    if os.name == "posix" and path.stat().st_mode & 0o077:
        problems.append(Problem(str(path), "", "secrets file can be read by other users",
                                f"chmod 600 {path}"))
    found: dict[str, str] = {}
    for binding in parse_stream(io.StringIO(text)):
        line = f"line {binding.original.line}"
        if binding.error:
            # Never echo the line: it may hold a secret.
            # Spelled with spaces: "KEY=..." would be masked as a credential in the message.
            problems.append(Problem(str(path), line, "not a NAME = value line",
                                    "write one variable per line, as NAME=value"))
        elif binding.key is not None and binding.value is None:
            problems.append(Problem(str(path), line, f"{binding.key} has no '=' and no value",
                                    f"write {binding.key} = its value, with no spaces around '='"))
        elif binding.key is not None and binding.value is not None:
            found[binding.key] = binding.value
    if problems:
        raise ConfigError(problems)
    return found


def load_env_file(path: Path | str | None) -> list[str]:
    """Put the file's variables into this process's environment (those not set already).

    ``path`` None: ``$MCM_SYNC_ENV_FILE`` if set, else nothing. Returns the names set.
    """
    chosen = path or os.environ.get(ENV_FILE_ENV) or None
    if chosen is None:
        return []
    values = read_env_file(Path(os.path.expanduser(str(chosen))))
    added = [name for name in values if name not in os.environ]
    for name in added:
        os.environ[name] = values[name]
    return added

