"""Run every check of ``mcm-sync doctor`` on an alliance's connectors (read-only)."""

from __future__ import annotations

from sync.core.config import Config
from sync.core.services import Connected
from sync.doctor.checks import (
    MailchimpDoctor,
    SlackDoctor,
    TrelloDoctor,
    check_mailchimp,
    check_slack,
    check_trello,
)
from sync.doctor.live import check_address, check_real_time
from sync.doctor.report import DoctorReport
from sync.state.store import StateStore


def diagnose(config: Config, connected: Connected, store: StateStore | None) -> DoctorReport:
    """Check each connected service in turn; one refusing never stops the others.

    ``connected`` (:class:`sync.core.services.Connected`) has ``board``, ``chat`` and ``audience``
    connectors (None: not checked). Each service gets its vendor's checks when it is that
    vendor's connector (it has what they read: the token's record, scopes, account);
    ``store`` is the alliance's state store if it exists (ids bootstrap recorded).
    """
    report = DoctorReport()
    if isinstance(connected.board, TrelloDoctor):
        check_trello(config, connected.board, store, report)
    if isinstance(connected.chat, SlackDoctor):
        check_slack(config, connected.chat, report)
    on_sandbox = bool(connected.sandbox_url)
    if isinstance(connected.audience, MailchimpDoctor):
        check_mailchimp(config, connected.audience, report)
        check_address(config, on_sandbox, report)
    check_real_time(config, on_sandbox, report)
    return report
