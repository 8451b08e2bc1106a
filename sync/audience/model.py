"""One stakeholder, as in the guide's stakeholder database template, validated with pydantic.

The guide's annex lists the columns (organisation or person; contact person with phone,
e-mail, website and address; how they can contribute; what matters to them; influence low /
medium / high; the strategy to involve them; your own criteria). mcm-sync adds the contact's
role, the sector, whether the organisation is an alliance member, and the GDPR consent: the
date and the way it was given, and the date it was withdrawn, if it was.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from functools import cache
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
    validate_email,
)
from pydantic_core import PydanticCustomError

from playbooks.dates import read_date
from playbooks.labels import labels
from playbooks.loader import load_playbook
from sync.core.checks import one_script

Influence = Literal["", "low", "medium", "high"]
LANGUAGES = ("en", "nl", "fr", "sv")
LADDER = ("information_exchange", "shared_learning", "deciding_together", "acting_together",
          "collective_planning")

# The CSV columns, in the order `stakeholders export` writes them.
COLUMNS: tuple[str, ...] = (
    "organisation",
    "contact_person",
    "role",
    "phone",
    "email",
    "website",
    "address",
    "contribution",
    "interests",
    "influence",
    "strategy",
    "criteria",
    "sector",
    "alliance_member",
    "consent_date",
    "consent_method",
    "consent_withdrawn",
    "engagement",
)
REQUIRED_COLUMNS: tuple[str, ...] = ("organisation",)
# The guide's template names two columns differently from the database; the template keeps
# the guide's names (import reads both) and leaves out what only the tool records.
GUIDE_NAMES: dict[str, str] = {"strategy": "engagement_strategy", "criteria": "own_criteria"}
TEMPLATE_COLUMNS: tuple[str, ...] = tuple(
    GUIDE_NAMES.get(column, column) for column in COLUMNS
    if column not in ("role", "consent_withdrawn"))

# Header spellings people type in a spreadsheet, mapped to the column keys above.
HEADER_ALIASES: dict[str, str] = {
    "organization": "organisation",
    "organisation_person": "organisation",
    "name": "organisation",
    "contact": "contact_person",
    "e_mail": "email",
    "mail": "email",
    "telephone": "phone",
    "how_they_can_contribute": "contribution",
    "how_can_they_contribute": "contribution",
    "what_matters_to_them": "interests",
    "influence_on_the_project": "influence",
    "engagement_strategy": "strategy",
    "strategy_to_involve_them": "strategy",
    "own_criteria": "criteria",
    "member": "alliance_member",
}

# Influence levels in the alliance languages (the guide's template says low / medium / high).
_INFLUENCE: dict[str, str] = {
    "low": "low",
    "medium": "medium",
    "high": "high",
    "laag": "low",
    "gemiddeld": "medium",
    "middel": "medium",
    "hoog": "high",
    "faible": "low",
    "moyen": "medium",
    "moyenne": "medium",
    "élevé": "high",
    "eleve": "high",
    "forte": "high",
    "låg": "low",
    "lag": "low",
    "medel": "medium",
    "hög": "high",
    "hog": "high",
}
_YES = {"yes", "y", "true", "1", "ja", "j", "oui", "x"}
_NO = {"", "no", "n", "false", "0", "nee", "non", "nej"}
_SECTOR_KEY = re.compile(r"[^a-z0-9]+")
_WEBSITE = re.compile(r"^(https?://)?[^\s/.]+(\.[^\s/.]+)+(/\S*)?$", re.IGNORECASE)


def _plain_key(text: str) -> str:
    plain = unicodedata.normalize("NFKD", text.strip().lower()).encode("ascii", "ignore").decode()
    return _SECTOR_KEY.sub("_", plain).strip("_")


@cache
def _language_headers() -> dict[str, str]:
    """The stakeholder template's column titles in every language -> column key."""
    found = {}
    for language in LANGUAGES:
        for key, title in labels(language)["stakeholders"]["columns"].items():
            found[_plain_key(title)] = HEADER_ALIASES.get(key, key)
    return found


@cache
def _ladder_names() -> dict[str, str]:
    """The ladder's levels by key and by their name in every language -> key."""
    found = {key: key for key in LADDER}
    for language in LANGUAGES:
        names = load_playbook(language).facts.participation_ladder
        found |= {_plain_key(name): key for name, key in zip(names, LADDER, strict=True)}
    return found


def header_key(text: str) -> str:
    """A CSV header as a column key: lowercase, words joined by ``_``, aliases resolved.

    The stakeholder template's column titles in every alliance language are accepted too, so a
    Dutch sheet (``Contactpersoon``) imports in an English alliance and the other way round.
    """
    key = _plain_key(text)
    return HEADER_ALIASES.get(key) or _language_headers().get(key, key)


def _plain_sector(text: str) -> str:
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return _SECTOR_KEY.sub("_", plain.lower()).strip("_")


@cache
def _sector_names() -> dict[str, str]:
    """The guide's sectors by their name in every alliance language -> key."""
    found: dict[str, str] = {}
    for language in LANGUAGES:
        found |= {_plain_sector(name): key
                  for key, name in load_playbook(language).facts.sectors.items()}
    return found


def sector_key(text: str) -> str:
    """``Social action`` (or ``Socialt arbete``) -> ``social_action``: the key used in the
    ``sector-<key>`` tag; another sector is its name made into a key the same way."""
    plain = _plain_sector(text)
    return _sector_names().get(plain, plain)


class Stakeholder(BaseModel):
    """One row of the stakeholder database; blank cells are empty strings."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    organisation: str = Field(min_length=2, max_length=200)
    contact_person: str = Field(default="", max_length=120)
    role: str = Field(default="", max_length=120)
    phone: str = Field(default="", max_length=40, pattern=r"^[0-9+() ./-]*$")
    email: str = ""
    website: str = ""
    address: str = ""
    contribution: str = ""
    interests: str = ""
    influence: Influence = ""
    strategy: str = ""
    criteria: str = ""
    sector: str = ""
    alliance_member: bool = False
    consent_date: dt.date | None = None
    consent_method: str = ""
    consent_withdrawn: dt.date | None = None
    # The guide's participation ladder (Wilcox): "" or one of LADDER.
    engagement: str = ""

    @field_validator("influence", mode="before")
    @classmethod
    def _influence(cls, value: Any) -> Any:
        if isinstance(value, str):
            text = value.strip().lower()
            if text in _INFLUENCE:
                return _INFLUENCE[text]
            if text:
                raise ValueError("must be low, medium or high")
            return ""
        return value

    @field_validator("engagement", mode="before")
    @classmethod
    def _engagement(cls, value: Any) -> Any:
        if not isinstance(value, str) or not value.strip():
            return "" if isinstance(value, str) else value
        found = _ladder_names().get(_plain_key(value))
        if found is None:
            raise ValueError(f"must be a level of the participation ladder: {', '.join(LADDER)}")
        return found

    @field_validator("alliance_member", mode="before")
    @classmethod
    def _yes_no(cls, value: Any) -> Any:
        if isinstance(value, str):
            text = value.strip().lower()
            if text in _YES:
                return True
            if text in _NO:
                return False
            raise ValueError("must be yes or no")
        return value

    @field_validator("consent_date", "consent_withdrawn", mode="before")
    @classmethod
    def _blank_date(cls, value: Any) -> Any:
        if isinstance(value, str):
            # Blank is no date; otherwise the one date reader (day first or ISO, no slashes),
            # whose DateError carries the hint _row_problems shows.
            return read_date(value) if value.strip() else None
        return value

    @field_validator("website")
    @classmethod
    def _website(cls, value: str) -> str:
        if value and not _WEBSITE.match(value):
            raise ValueError("must be a web address such as https://www.example.org")
        return value

    @field_validator("sector")
    @classmethod
    def _sector(cls, value: str) -> str:
        return sector_key(value) if value else ""

    @field_validator("email")
    @classmethod
    def _email(cls, value: str) -> str:
        if not value:
            return ""
        try:
            _, address = validate_email(value)
        except PydanticCustomError as exc:
            raise ValueError(
                str(exc)
                .removeprefix("value is not a valid email address: ")
                .join(("not a valid e-mail address (", ")"))
            ) from None
        one_script(address)  # a look-alike of someone else's address: refused
        # The domain is case-insensitive; keep the local part as typed (Mailchimp does too).
        local, _, domain = address.rpartition("@")
        return f"{local}@{domain.lower()}"

    @model_validator(mode="after")
    def _consent_complete(self) -> Stakeholder:
        today = dt.date.today()
        if self.consent_date is None and self.consent_method:
            raise ValueError("consent_date: missing; consent_method is given, so is the date")
        if self.consent_date is not None and not self.consent_method:
            raise ValueError("consent_method: missing; say how consent was given (form, e-mail)")
        if self.consent_date is not None and self.consent_date > today:
            raise ValueError("consent_date: is in the future")
        if self.consent_withdrawn is not None:
            if self.consent_date is None:
                raise ValueError("consent_withdrawn: there is no consent_date to withdraw")
            if self.consent_withdrawn < self.consent_date:
                raise ValueError("consent_withdrawn: is before consent_date")
        return self

    @property
    def key(self) -> str:
        """The person's identity in the store: the address, else organisation and contact."""
        if self.email:
            return self.email.lower()
        return f"org:{self.organisation.casefold()}|{self.contact_person.casefold()}"

    @property
    def has_consent(self) -> bool:
        """Consent was given and not withdrawn: the only case in which we subscribe."""
        return self.consent_date is not None and self.consent_withdrawn is None

    def as_row(self) -> dict[str, str]:
        """The CSV cells of this person (the inverse of parsing a row)."""
        data = self.model_dump(mode="json")
        row = {name: "" if data[name] is None else str(data[name]) for name in COLUMNS}
        row["alliance_member"] = "yes" if self.alliance_member else "no"
        return row
