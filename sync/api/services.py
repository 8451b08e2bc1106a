"""The services an alliance works with, the sandbox that emulates them, doctor's report.

:data:`ALL_SERVICES` names the three (Trello, Slack, Mailchimp); :func:`start_sandbox`
starts the emulators as ``mcm-sync sandbox serve`` runs them and :func:`announce_sandbox`
tells the alliance's runs where they listen; the secrets that prove a delivery genuine
(:class:`Secrets`, :func:`configured_secrets`) are serve's and doctor's; :func:`sandbox_url`
is the address of the alliance's sandbox (a running one, else one embedded for the block).
What bootstrap plans and doctor reports are :class:`Plan`, :class:`BootstrapResult` and
:class:`DoctorReport`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from sync.core.errors import ConfigError, Problem, UserError
from sync.core.services import (
    ALL_SERVICES,
    SECRET_VARIABLES,
    SERVER_INFO,
    Secrets,
    announce_sandbox,
    configured_secrets,
    sandbox_data_dir,
)

if TYPE_CHECKING:
    from connectors.sandbox.core.server import SandboxServer
    from sync.api.opened import OpenAlliance
    from sync.bootstrap.plan import Plan as Plan
    from sync.bootstrap.run import BootstrapResult as BootstrapResult
    from sync.doctor.report import Check as Check
    from sync.doctor.report import DoctorReport as DoctorReport
    from sync.state.store import StateStore as StateStore

__all__ = ["ALL_SERVICES", "SECRET_VARIABLES", "SERVER_INFO", "Secrets", "announce_sandbox",
           "configured_secrets", "sandbox_data_dir", "sandbox_url", "start_sandbox"]


def start_sandbox(*, host: str, port: int, data_dir: Path, rate_limits: bool,
                  allow_remote: bool, slack_app: str = "internal") -> SandboxServer:
    """The sandbox's server on ``host:port`` (not started yet), keeping its data in
    ``data_dir``, its Slack app of class ``slack_app`` (internal or distributed); a refused
    setting is a ConfigError, a port that cannot be had a UserError."""
    from connectors.sandbox.core.errors import SandboxConfigError
    from connectors.sandbox.core.server import SandboxServer

    try:
        server = SandboxServer(host=host, port=port, data_dir=data_dir,
                               rate_limits=rate_limits, allow_remote=allow_remote)
        server.app.service("slack").limits.set_app_class(slack_app)  # type: ignore[attr-defined]  # the Slack emulator's
        return server
    except SandboxConfigError as error:
        raise ConfigError([Problem("sandbox", error.setting, error.message, error.hint)]) \
            from error
    except OSError as exc:  # the port is taken, the address is not this machine's...
        reason = exc.strerror or str(exc)
        raise UserError(f"sandbox serve: cannot listen on {host} port {port}: {reason}",
                        hint="choose another --port (0: any free one) or --host "
                        "(127.0.0.1, ::1)") from None


@contextmanager
def sandbox_url(alliance: OpenAlliance) -> Iterator[str]:
    """The address of the alliance's sandbox: the running one its runs find, else one
    embedded for the block (no service is connected)."""
    from sync.core.services import connect

    with connect(alliance.config, ()) as connected:
        yield connected.sandbox_url
