"""The connectors' own errors: what a remote service did, classified for retrying and reporting.

Kept on the ground floor so that ``connectors`` imports nothing of ``sync``. The app's exception
tree (:mod:`sync.core.errors`) takes these in as its remote branch and maps them, in one place,
to exit code 4; :mod:`connectors.retry` retries :class:`RetriableRemoteError` only.
"""

from __future__ import annotations


class RemoteError(Exception):
    """A remote service (Trello, Slack, Mailchimp) failed."""

    hint: str = ""

    def __init__(self, service: str, message: str, *, hint: str = "") -> None:
        self.service = service
        super().__init__(f"{service}: {message}")
        if hint:
            self.hint = hint

    def lines(self) -> list[str]:
        """The line to print for this error, with its hint."""
        text = str(self)
        return [f"{text} (hint: {self.hint})" if self.hint else text]


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


class ConnectorSettingError(ValueError):
    """A connector cannot be built from the settings it was given (a malformed key, say).

    ``setting`` names the setting as the user writes it (``mailchimp.api_key``), so the app
    can report it as a config error without the connector knowing the config file.
    """

    def __init__(self, setting: str, message: str, *, hint: str = "") -> None:
        self.setting = setting
        self.hint = hint
        super().__init__(f"{setting} {message}")

    def lines(self) -> list[str]:
        """The line to print for this error, with its hint."""
        text = str(self)
        return [f"{text} (hint: {self.hint})" if self.hint else text]
