"""The project's one exception tree and its exit codes.

Every error a user can meet is an :class:`McmSyncError`. The command line maps each one, in a
single place (``sync.cli.app``), to a one-line message with a hint and the fixed exit code of its
class. Anything else is a bug and exits with :attr:`ExitStatus.INTERNAL`.
"""

from __future__ import annotations

from enum import IntEnum

from connectors.errors import (
    AuthError,
    ConnectorSettingError,
    FatalRemoteError,
    NotFoundError,
    RemoteError,
    RetriableRemoteError,
)
from playbooks.errors import InputError, PlaybookError, Problem


class ExitStatus(IntEnum):
    """Process exit codes, documented in docs/troubleshooting.md; never renumber them."""

    OK = 0
    INTERNAL = 1
    USAGE = 2
    CONFLICTS = 3
    REMOTE = 4


class McmSyncError(Exception):
    """Base of every error the tool reports to a user."""

    exit_status: ExitStatus = ExitStatus.INTERNAL
    hint: str = ""

    def __init__(self, message: str, *, hint: str = "") -> None:
        super().__init__(message)
        if hint:
            self.hint = hint

    def lines(self) -> list[str]:
        """The lines to print for this error (one, unless it carries several problems)."""
        text = str(self)
        return [f"{text} (hint: {self.hint})" if self.hint else text]


class UserError(McmSyncError):
    """Bad usage or bad input the user can fix: config, playbook, CSV, arguments."""

    exit_status = ExitStatus.USAGE


class ConfigError(InputError):
    """The configuration file is missing or invalid."""

    exit_status = ExitStatus.USAGE


class StateError(McmSyncError):
    """The local state store cannot be used (locked, newer schema, corrupt)."""

    exit_status = ExitStatus.USAGE


class DatabaseUnavailable(McmSyncError):
    """The PostgreSQL server of the state or the workers' ledger cannot be reached (a restart,
    a server down). Workers wait and reconnect; a one-off command exits with it."""

    exit_status = ExitStatus.REMOTE
    hint = "check that PostgreSQL runs and state.url (or --database) points at it; workers " \
        "retry on their own"


class ConflictsUnresolved(McmSyncError):
    """A sync finished, but some items have conflicts the policy could not settle."""

    exit_status = ExitStatus.CONFLICTS


class EveryAllianceFailed(McmSyncError):
    """A worker cycle in which every alliance it ran failed: the services or the setup are
    down for all, which a scheduler must see (one alliance failing alone is isolated)."""

    exit_status = ExitStatus.REMOTE


# The ground floor's errors, and how each kind leaves the process.
_EXIT_STATUS: tuple[tuple[type[BaseException], ExitStatus], ...] = (
    (InputError, ExitStatus.USAGE),
    (ConnectorSettingError, ExitStatus.USAGE),
    (RemoteError, ExitStatus.REMOTE),
)
REPORTED: tuple[type[BaseException], ...] = (McmSyncError, *(kind for kind, _ in _EXIT_STATUS))


def reported(error: BaseException) -> bool:
    """True for an error of ours (reported in one line); anything else is a bug."""
    return isinstance(error, REPORTED)


def exit_status(error: BaseException) -> ExitStatus:
    """The fixed exit code of ``error`` (INTERNAL for anything that is not ours)."""
    if isinstance(error, McmSyncError):
        return error.exit_status
    for kind, status in _EXIT_STATUS:
        if isinstance(error, kind):
            return status
    return ExitStatus.INTERNAL


def error_lines(error: BaseException) -> list[str]:
    """The lines to print for one of our errors: one per problem, each with its hint."""
    lines = getattr(error, "lines", None)
    return lines() if callable(lines) else [str(error)]


__all__ = [
    "AuthError",
    "ConfigError",
    "ConflictsUnresolved",
    "ConnectorSettingError",
    "DatabaseUnavailable",
    "EveryAllianceFailed",
    "ExitStatus",
    "FatalRemoteError",
    "InputError",
    "McmSyncError",
    "NotFoundError",
    "PlaybookError",
    "Problem",
    "RemoteError",
    "RetriableRemoteError",
    "StateError",
    "UserError",
    "error_lines",
    "exit_status",
    "reported",
]
