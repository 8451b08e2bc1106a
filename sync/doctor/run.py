"""Run every check of ``mcm-sync doctor`` on an alliance's connectors (read-only)."""

from __future__ import annotations

from typing import Any

from sync.core.config import Config
from sync.doctor.checks import check_mailchimp, check_slack, check_trello
from sync.doctor.live import check_address, check_real_time
from sync.doctor.report import DoctorReport
from sync.state.store import StateStore


def diagnose(config: Config, connected: Any, store: StateStore | None) -> DoctorReport:
    """Check each connected service in turn; one refusing never stops the others.

    ``connected`` (:class:`sync.core.services.Connected`) has ``board``, ``chat`` and ``audience``
    connectors (None: not checked); the chat one gets Slack's checks (scopes included), the only
    chat service there is;
    ``store`` is the alliance's state store if it exists (ids bootstrap recorded).
    """
    report = DoctorReport()
    if connected.board is not None:
        check_trello(config, connected.board, store, report)
    if connected.chat is not None:
        check_slack(config, connected.chat, report)
    on_sandbox = bool(getattr(connected, "sandbox_url", ""))
    if connected.audience is not None:
        check_mailchimp(config, connected.audience, report)
        check_address(config, on_sandbox, report)
    check_real_time(config, on_sandbox, report)
    return report
