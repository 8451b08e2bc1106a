"""The project's one exception tree and its exit codes.

Every error a user can meet is an :class:`McmSyncError`. The command line maps each one, in a
single place (``sync.cli``), to a one-line message with a hint and the fixed exit code of its
class. Anything else is a bug and exits with :attr:`ExitStatus.INTERNAL`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum


class ExitStatus(IntEnum):
    """Process exit codes, documented in the README; never renumber them."""

    OK = 0
    INTERNAL = 1
    USAGE = 2
    CONFLICTS = 3
    REMOTE = 4


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an input: where (file, key path or row) and what, with a hint."""

    source: str
    location: str
    message: str
    hint: str = ""

    def __str__(self) -> str:
        where = f"{self.source}: {self.location}" if self.location else self.source
        text = f"{where}: {self.message}"
        return f"{text} (hint: {self.hint})" if self.hint else text


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


class InputError(UserError):
    """One or more problems in an input file; every problem names its file and location."""

    def __init__(self, problems: list[Problem], *, summary: str = "") -> None:
        self.problems = list(problems)
        first = str(self.problems[0]) if self.problems else "invalid input"
        super().__init__(summary or first)

    def lines(self) -> list[str]:
        """One line per problem, so a user can fix them all in one go."""
        return [str(p) for p in self.problems] or super().lines()


class ConfigError(InputError):
    """The configuration file is missing or invalid."""


class PlaybookError(InputError):
    """A playbook or its translations are invalid."""


class StateError(McmSyncError):
    """The local state store cannot be used (locked, newer schema, corrupt)."""

    exit_status = ExitStatus.USAGE


class ConflictsUnresolved(McmSyncError):
    """A sync finished, but some items have conflicts the policy could not settle."""

    exit_status = ExitStatus.CONFLICTS


class RemoteError(McmSyncError):
    """A remote service (Trello, Slack, Mailchimp) failed."""

    exit_status = ExitStatus.REMOTE

    def __init__(self, service: str, message: str, *, hint: str = "") -> None:
        self.service = service
        super().__init__(f"{service}: {message}", hint=hint)


class RetriableRemoteError(RemoteError):
    """A failure that may pass: rate limit, 5xx, dropped connection, timeout."""

    def __init__(
        self,
        service: str,
        message: str,
        *,
        retry_after: float | None = None,
        outcome_unknown: bool = False,
        hint: str = "",
    ) -> None:
        self.retry_after = retry_after
        # True when the request may have taken effect (the answer was lost): a create
        # must then be looked up by its identity token, never blindly repeated.
        self.outcome_unknown = outcome_unknown
        super().__init__(service, message, hint=hint or "try again later; nothing is lost")


class FatalRemoteError(RemoteError):
    """A failure that repeating will not fix (bad request, permission, gone)."""


class AuthError(FatalRemoteError):
    """The service refused our credentials."""


class NotFoundError(FatalRemoteError):
    """The remote object does not exist (any more)."""
