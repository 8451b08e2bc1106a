"""The doctor's checks of the config itself before going live: the real-time mode and the
secrets ``serve`` needs for it, and the audience's postal address.

No remote call: these read the config and the environment only. A placeholder address or a
missing secret fails on the real services (Mailchimp refuses an audience without a real
postal address; ``serve`` refuses to start without its secrets) and is advice on the
sandbox, where a trial needs neither. Nothing here prints a secret, only the names of the
settings and variables that hold them.
"""

from __future__ import annotations

import os
import re

from sync.core.config import Config, MailchimpContact
from sync.core.errors import Problem
from sync.core.services import SECRET_VARIABLES, configured_secrets
from sync.doctor.report import DoctorReport, Status

GUIDE = "docs/going-live.md"
# What `mcm-sync init` writes where it cannot know the answer: a text in parentheses.
_PLACEHOLDER = re.compile(r"^\s*\(.*\)\s*$")
SOCKET_TOKEN = "SLACK_APP_TOKEN"
_SETTING = {"trello": "trello.app_secret", "slack": "slack.signing_secret",
            "mailchimp": "mailchimp.webhook_secret"}
_MISSING = {"trello": "serve refuses to start without Trello's app secret (it verifies "
            "Trello's webhooks)",
            "slack": "serve refuses to start without Slack's signing secret (it verifies "
            "Slack's events, button presses and /alliance)",
            "mailchimp": "serve refuses Mailchimp's webhooks: unsubscribes arrive at the next "
            "sync instead"}
_WHERE = {"trello": "the Power-Up's API key page (Secret)",
          "slack": "the Slack app's Basic Information page (Signing Secret)",
          "mailchimp": "a long random text you choose (it goes in the webhook's URL)"}


def address_placeholders(contact: MailchimpContact | None) -> list[str]:
    """The fields of the audience's postal contact that are empty or placeholders."""
    if contact is None:
        return ["contact"]
    required = [name for name in ("company", "address1", "city", "country")
                if not getattr(contact, name).strip()]
    return required + [name for name in ("company", "address1", "zip", "city")
                       if _PLACEHOLDER.match(getattr(contact, name))]


def address_warnings(config: Config, source: str) -> list[Problem]:
    """``validate``'s warning for a placeholder postal address (none when it is real)."""
    fields = address_placeholders(config.mailchimp.contact)
    if not fields:
        return []
    where = ", ".join(f"mailchimp.contact.{name}" if name != "contact" else "mailchimp.contact"
                      for name in fields)
    return [Problem(source, where, "not a real postal address yet (Mailchimp requires one "
                    "on every audience and shows it in each newsletter's footer)",
                    "write the host organisation's street and number, postcode and city")]


def check_address(config: Config, sandbox: bool, report: DoctorReport) -> None:
    """The postal address: a placeholder fails on the real services, warns on the sandbox."""
    fields = address_placeholders(config.mailchimp.contact)
    if not fields:
        contact = config.mailchimp.contact
        assert contact is not None
        report.add("config", "postal address", "ok",
                   f"{contact.address1}, {contact.city} ({contact.country})")
        return
    status: Status = "warn" if sandbox else "fail"
    report.add("config", "postal address", status,
               "placeholder in " + ", ".join(f"mailchimp.contact.{n}" for n in fields)
               + " (Mailchimp requires a real postal address)",
               "write the real street and number, postcode and city under mailchimp.contact "
               "(see " + GUIDE + ")")


def check_real_time(config: Config, sandbox: bool, report: DoctorReport) -> None:
    """Which mode is in force (``real_time``), and the secrets ``serve`` needs for it."""
    mode = config.real_time
    if mode == "none":
        report.add("real time", "mode", "ok",
                   "none: changes arrive at the next scheduled sync; item messages carry no "
                   "buttons (a press could not be received)")
        return
    how = ("mcm-sync serve behind a public URL" if mode == "serve"
           else "mcm-sync serve --socket-mode (Slack without a public URL)")
    report.add("real time", "mode", "ok", f"{mode}: {how}; item messages carry status buttons")
    if sandbox:
        report.add("real time", "serve's secrets", "ok", "issued by the sandbox")
        return
    found = configured_secrets(config)
    needed: list[tuple[str, Status]] = [("trello", "fail"), ("mailchimp", "warn")]
    if mode == "serve":
        needed.insert(1, ("slack", "fail"))
    for service, status in needed:
        variable = SECRET_VARIABLES[service]
        if getattr(found, service):
            report.add("real time", variable, "ok", f"set ({_SETTING[service]} or ${variable})")
            continue
        report.add("real time", variable, status, f"not set: {_MISSING[service]}",
                   f"set {variable} (or {_SETTING[service]}: ${{VAR}}) from {_WHERE[service]}")
    if mode == "socket_mode":
        if os.environ.get(SOCKET_TOKEN):
            report.add("real time", SOCKET_TOKEN, "ok", "set")
        else:
            report.add("real time", SOCKET_TOKEN, "fail",
                       "not set: serve --socket-mode needs the app-level token (xapp-...)",
                       "create it on the Slack app's Basic Information page (scope "
                       f"connections:write) and set {SOCKET_TOKEN}")
