"""The sandbox's own error for a setting it refuses (the sandbox imports nothing of ``sync``).

:class:`SandboxConfigError` is a ``ValueError`` that carries the setting, the message and a
hint. The command line that starts a sandbox maps it to its own configuration error (for
``mcm-sync``: ``sync.core.errors.ConfigError`` with one ``Problem("sandbox", setting, message,
hint)``).
"""

from __future__ import annotations


class SandboxConfigError(ValueError):
    """A sandbox setting that cannot be used, e.g. a non-loopback host without permission.

    ``str()`` is the message alone; ``setting`` names what to change (``"host"``) and ``hint``
    says how.
    """

    def __init__(self, message: str, *, setting: str = "", hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.setting = setting
        self.hint = hint
