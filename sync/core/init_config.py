"""Write the config file of a new alliance (the engine behind ``mcm-sync init``)."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable

import yaml
from pydantic import validate_email
from pydantic_core import PydanticCustomError

from playbooks.messages import messages
from sync.core.places import DEFAULT_TIMEZONE, suggested_zone

_SLUG = re.compile(r"^[a-z][a-z0-9-]{1,19}$")


def _length(low: int, high: int = 200) -> Callable[[str], str | None]:
    def check(text: str) -> str | None:
        if not low <= len(text) <= high:
            return f"must be {low} to {high} characters"
        return None
    return check


def _slug(text: str) -> str | None:
    if _SLUG.match(text):
        return None
    return ("must be 2-20 characters: lowercase letters, digits and '-', starting with a "
            "letter (e.g. ros)")


def _email(text: str) -> str | None:
    try:
        validate_email(text)
    except PydanticCustomError:
        return f"'{text}' is not an e-mail address"
    return None


# The checks of init's free-text answers: the config model's rules (sync.core.config), asked
# as each answer is typed so that a typo is asked again instead of ending the session.
ANSWER_CHECKS: dict[str, Callable[[str], str | None]] = {
    "name": _length(3, 100),
    "slug": _slug,
    "region": _length(2),
    "coordinator_name": _length(2),
    "coordinator_email": _email,
    "organisation": _length(2),
}


def zone_for(country: str) -> str:
    """The time zone ``init`` suggests for a country (its own, else the default)."""
    return suggested_zone(country) or DEFAULT_TIMEZONE

# What `init` writes where only the coordinator knows the answer: a text in parentheses,
# which `validate` and `doctor` recognise (sync.doctor.live).
ADDRESS_PLACEHOLDERS = {"address1": "(street and number)", "zip": "(postcode)",
                        "city": "(city)"}

_HEADER = """\
# mcm-sync configuration, written by `mcm-sync init`.
# Reference: config.example.yaml and docs/configuration.md.
# Secrets are never written here: ${VAR} reads an environment variable, ${file:PATH} a file.
"""


def store_path(slug: str) -> str:
    """The state store ``init`` gives an alliance: ``.mcm-sync/<slug>/state.db``."""
    return f".mcm-sync/{slug}/state.db"


def new_config_text(
    *,
    name: str,
    slug: str,
    region: str,
    language: str,
    start_date: dt.date | str,
    duration_months: int | str,
    coordinator_name: str,
    coordinator_email: str,
    organisation: str,
    country: str = "NL",
    timezone: str | None = None,
    sandbox: bool = True,
) -> str:
    """The YAML text of a minimal valid config for a new alliance with one coordinator.

    The texts members and subscribers read (audience name, permission reminder) are in the
    alliance's ``language``.
    """
    text = messages(language)
    data = {
        "alliance": {
            "name": name,
            "slug": slug,
            "region": region,
            "country": country.upper(),
            "language": language,
            "timezone": timezone or zone_for(country),
            "start_date": start_date
            if isinstance(start_date, dt.date)
            else dt.date.fromisoformat(str(start_date)),
            "duration_months": int(duration_months),
            "host_organisation": organisation,
        },
        "people": [
            {
                "name": coordinator_name,
                "email": coordinator_email,
                "organisation": organisation,
                "role": "coordinator",
            },
        ],
        "sandbox": sandbox,
        # One store per alliance, named after its slug: two configs side by side in one
        # folder (as `worker --alliances` wants them) never share a store or a sandbox.
        "state": {"path": store_path(slug)},
        "trello": {"api_key": "${TRELLO_API_KEY}", "token": "${TRELLO_TOKEN}", "board_name": name},
        "slack": {"token": "${SLACK_BOT_TOKEN}"},
        "mailchimp": {
            "api_key": "${MAILCHIMP_API_KEY}",
            "audience_name": text["audience_name"].format(alliance=name),
            # Mailchimp requires the real postal address (shown in every newsletter's
            # footer): left clearly marked, so `validate` warns and `doctor` fails until the
            # coordinator writes it (the region is not a city).
            "contact": {
                "company": organisation,
                "address1": ADDRESS_PLACEHOLDERS["address1"],
                "zip": ADDRESS_PLACEHOLDERS["zip"],
                "city": ADDRESS_PLACEHOLDERS["city"],
                "country": country.upper(),
            },
            "from_name": name,
            "from_email": coordinator_email,
            "permission_reminder": text["permission_reminder"],
        },
    }
    return _HEADER + yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
