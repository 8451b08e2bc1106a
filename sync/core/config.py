"""Configuration: load, interpolate secrets, validate.

The config is YAML. Secrets are never written in it: a value like ``${TRELLO_TOKEN}`` is read
from the environment and ``${file:~/.secrets/trello}`` from a file. Validation uses pydantic
models that forbid unknown keys; every problem is reported with the file and key path, and no
secret value ever appears in a message (pydantic's ``SecretStr`` masks it, and we never echo
inputs of secret fields).
"""

from __future__ import annotations

import datetime as dt
import os
import re
from pathlib import Path
from typing import Annotated, Any, Literal, Protocol, TypeVar, cast
from urllib.parse import urlsplit

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from connectors.masking import remember_secret
from playbooks.errors import key_path
from playbooks.model import Status
from playbooks.yaml_text import load_yaml
from sync.core import checks
from sync.core.errors import ConfigError, Problem
from sync.core.kept import kept_folder
from sync.core.kept.addresses import all_known, checked, deferred, keep_valid, valid_address
from sync.core.kept.config import (
    References,
    config_folder,
    config_key,
    read_config,
    with_secrets,
    without_secrets,
    write_config,
)
from sync.core.meeting_settings import MeetingSettings, Venue
from sync.core.places import DEFAULT_TIMEZONE, country_problem, suggested_zone
from sync.core.state_url import resolve_state_url

DEFAULT_CONFIG_NAME = "mcm-sync.yaml"
CONFIG_ENV = "MCM_SYNC_CONFIG"
LANGUAGES = ("en", "nl", "fr", "sv")
ROLES = ("coordinator", "chair", "secretariat", "communications", "evaluator", "member")

_SECRET_REF = re.compile(r"^\$\{(?:(?P<env>[A-Za-z_][A-Za-z0-9_]*)|file:(?P<file>[^}]+))\}$")
_SLUG = re.compile(r"^[a-z][a-z0-9-]{1,19}$")
# An e-mail address, checked as pydantic's EmailStr checks it (the same errors, the same
# normalised value), unless known to be valid from an earlier run (sync.core.kept.addresses).
Address = Annotated[str, AfterValidator(valid_address)]


class _Strict(BaseModel):
    """Base model: unknown keys are errors, values are not coerced from the wrong type."""

    model_config = ConfigDict(extra="forbid", strict=False, frozen=True, defer_build=True)


class Alliance(_Strict):
    """The alliance itself: who, where, when, in which language."""

    name: str = Field(min_length=3, max_length=100)
    slug: str = Field(description="short lowercase id: channel names and item numbers (FRL-12)")
    region: str = Field(min_length=2)
    country: str = Field(default="", max_length=2, description="ISO 3166 alpha-2 code")
    language: Literal["en", "nl", "fr", "sv"] = "en"
    start_date: dt.date
    duration_months: int = Field(default=18, ge=12, le=36)
    plenaries: int = Field(default=5, ge=4, le=5, description="plenary meetings (the guide: 4-5)")
    host_organisation: str = ""
    website: str = ""
    vision: str = ""
    timezone: str = Field(default=DEFAULT_TIMEZONE,
                          description="IANA zone; left out, the country's (Europe/Dublin for IE)")

    @model_validator(mode="before")
    @classmethod
    def _zone_of_the_country(cls, data: Any) -> Any:
        """Without a ``timezone`` the country's own zone is used (Europe/Dublin for IE)."""
        if isinstance(data, dict) and not data.get("timezone") and isinstance(
                data.get("country"), str) and suggested_zone(data["country"]):
            return {**data, "timezone": suggested_zone(data["country"])}
        return data

    @field_validator("country")
    @classmethod
    def _a_country(cls, value: str) -> str:
        if not value:
            return value
        problem = country_problem(value)
        if problem:
            raise ValueError(problem)
        return value.upper()

    @field_validator("slug")
    @classmethod
    def _slug_shape(cls, value: str) -> str:
        if not _SLUG.match(value):
            raise ValueError(
                "must be 2-20 characters: lowercase letters, digits and '-', starting with a letter"
            )
        return value

    _zone = field_validator("timezone")(checks.time_zone)
    _start = field_validator("start_date")(checks.start_date)
    _website = field_validator("website")(checks.optional_web_address)
    _start_text = field_validator("start_date", mode="before")(checks.typed_date)

    @property
    def end_date(self) -> dt.date:
        """The last day of the alliance's work plan (start + duration)."""
        month_index = self.start_date.month - 1 + self.duration_months
        year = self.start_date.year + month_index // 12
        month = month_index % 12 + 1
        day = min(self.start_date.day, 28)
        return dt.date(year, month, day) - dt.timedelta(days=1)

    @property
    def item_prefix(self) -> str:
        """Prefix of human item numbers, e.g. ``FRL`` for slug ``frl``."""
        return self.slug.replace("-", "")[:5].upper()


class Person(_Strict):
    """A representative in the alliance."""

    name: str = Field(min_length=2)
    email: Address
    organisation: str = Field(min_length=2)
    _one_script = field_validator("email")(checks.one_script)
    role: Literal["coordinator", "chair", "secretariat", "communications", "evaluator", "member"]
    sector: str = ""
    # The organisation's level on the guide's participation ladder (Wilcox); "" when not set.
    engagement: Literal["", "information_exchange", "shared_learning", "deciding_together",
                        "acting_together", "collective_planning"] = ""
    phone: str = ""
    trello_username: str = ""
    slack_id: str = ""


# How a service's calls are paced: "vendor" at the vendor's published limits (always, on the
# real service), "none" not at all (a test server or a sandbox without rate limits).
Pacing = Literal["vendor", "none"]


class _PacedService(Protocol):
    pacing: str
    base_url: str | None


_Paced = TypeVar("_Paced", bound=_PacedService)


def _unpaced_only(settings: _Paced) -> _Paced:
    """``pacing: none`` only with a ``base_url``: the vendors' own APIs answer an unpaced run
    with 429s (and, for Trello, a suspended token), so they are always paced."""
    if settings.pacing == "none" and not settings.base_url:
        raise ValueError("pacing: none is only for a base_url that limits nothing (a test "
                         "server, a sandbox without rate limits): set base_url, or leave "
                         "pacing out")
    return settings


class TrelloSettings(_Strict):
    """Trello: key and token (secrets), optional base URL, board and list names."""

    api_key: SecretStr | None = None
    token: SecretStr | None = None
    # Verifies webhook deliveries (``serve``); default $TRELLO_APP_SECRET.
    app_secret: SecretStr | None = None
    base_url: str | None = None
    board_name: str = ""
    workspace_id: str = ""
    status_lists: dict[Status, str] = {}
    # "none": no client-side pacing, for a ``base_url`` that limits nothing (see _unpaced_only).
    pacing: Pacing = "vendor"

    _url = field_validator("base_url")(checks.optional_http_url)
    _id = field_validator("workspace_id", mode="before")(checks.id_text)
    _unpaced = model_validator(mode="after")(_unpaced_only)

    @field_validator("status_lists")
    @classmethod
    def _one_list_per_status(cls, value: dict[str, str]) -> dict[str, str]:
        for status, name in value.items():
            if not name.strip():
                raise ValueError(f"{status}: the list name is empty")
            if len(name) > 100 or "\n" in name:
                raise ValueError(f"{status}: a list name is one line of at most 100 characters")
        return checks.distinct_values(value, "the list")


class SlackSettings(_Strict):
    """Slack: bot token (secret), optional base URL, channel names, reaction map."""

    token: SecretStr | None = None
    # Verifies the app's requests (``serve``); default $SLACK_SIGNING_SECRET.
    signing_secret: SecretStr | None = None
    base_url: str | None = None
    general_channel: str = ""
    actions_channel: str = ""
    # Whose reactions change an item: the config's people (default) or anyone in the channel.
    reactions_from: Literal["alliance", "anyone"] = "alliance"
    # The Slack app's class: "distributed" for one app installed in many workspaces and not
    # approved for the Slack Marketplace (history and replies at 1 call a minute, 15 a page).
    app_distribution: Literal["internal", "distributed"] = "internal"
    reactions: dict[str, Status] = {
        "white_check_mark": "done",
        "heavy_check_mark": "done",
        "hourglass_flowing_sand": "doing",
        "arrows_counterclockwise": "doing",
        "no_entry": "blocked",
        "x": "cancelled",
    }

    # "none": no client-side pacing, for a ``base_url`` that limits nothing (see _unpaced_only).
    pacing: Pacing = "vendor"

    _url = field_validator("base_url")(checks.optional_http_url)
    _channels = field_validator("general_channel", "actions_channel")(checks.channel_name)
    _unpaced = model_validator(mode="after")(_unpaced_only)

    @model_validator(mode="after")
    def _two_channels(self) -> SlackSettings:
        if self.general_channel and self.general_channel == self.actions_channel:
            raise ValueError(f"actions_channel: '{self.actions_channel}' is also the "
                             "general_channel: the item messages need a channel of their own")
        return self


class MailchimpContact(_Strict):
    """The postal contact Mailchimp requires on every audience (anti-spam law)."""

    company: str
    address1: str
    city: str
    zip: str = ""
    state: str = ""
    country: str = Field(min_length=2, max_length=2)


class MailchimpSettings(_Strict):
    """Mailchimp: API key (secret), server prefix, audience to create or adopt."""

    api_key: SecretStr | None = None
    # The secret in the list webhook's URL (``serve``); default $MAILCHIMP_WEBHOOK_SECRET.
    webhook_secret: SecretStr | None = None
    server: str = ""
    base_url: str | None = None
    audience_id: str = ""
    audience_name: str = ""
    contact: MailchimpContact | None = None
    from_name: str = ""
    from_email: Address | None = None
    permission_reminder: str = ""

    _url = field_validator("base_url")(checks.optional_http_url)
    _id = field_validator("audience_id", mode="before")(checks.plain_id)
    _server = field_validator("server")(checks.data_centre)


class StateSettings(_Strict):
    """The state store: a SQLite file (``path``), or PostgreSQL (``url``, password only as
    ``${VAR}``; see ``sync.core.state_url``) in the alliance's ``schema`` (default its slug)."""

    path: str = ".mcm-sync/state.db"
    url: SecretStr | None = None
    schema_name: str = Field("", alias="schema", pattern=r"^([a-z_][a-z0-9_-]{0,58})?$")

    model_config = ConfigDict(extra="forbid", strict=False, frozen=True, populate_by_name=True,
                              defer_build=True)


class SyncSettings(_Strict):
    """How `mcm-sync sync` behaves."""

    # "ask": a conflict waits (the field keeps its last agreed value everywhere it was not
    # changed) until the coordinator runs `mcm-sync resolve`; `sync` exits 3 meanwhile.
    conflict_policy: Literal["newest", "trello", "slack", "coordinator", "ask"] = "newest"
    full_reconcile_every: str = "24h"
    digest_every: str = "7d"
    # The most items (playbook tasks and meetings, action-plan rows) a run may handle: each
    # is a card and a message. Above it, commands refuse before any remote call (a 5,000-row
    # file pasted by mistake); raise it here, or pass --allow-large to bootstrap and sync.
    max_items: int = Field(default=500, ge=1, le=100_000)

    @field_validator("full_reconcile_every", "digest_every")
    @classmethod
    def _a_duration(cls, value: str) -> str:
        checks.duration(value)
        return value


REAL_TIME_MODES = ("none", "serve", "socket_mode")


class Config(_Strict):
    """The whole configuration file."""

    alliance: Alliance
    people: Annotated[list[Person], Field(min_length=1)]
    action_plan: str | None = None
    sandbox: bool = False
    # How members' changes reach mcm-sync between scheduled syncs: "none" (only `sync` on a
    # schedule: a button press would be lost, so item messages carry none), "serve" (`mcm-sync
    # serve` behind a public URL) or "socket_mode" (`serve --socket-mode`). The doctor checks
    # the secrets serve needs when it is not "none".
    real_time: Literal["none", "serve", "socket_mode"] = "none"
    state: StateSettings = Field(default_factory=StateSettings)
    sync: SyncSettings = Field(default_factory=SyncSettings)
    trello: TrelloSettings = Field(default_factory=TrelloSettings)
    slack: SlackSettings = Field(default_factory=SlackSettings)
    mailchimp: MailchimpSettings = Field(default_factory=MailchimpSettings)
    meetings: MeetingSettings = Field(default_factory=MeetingSettings)

    def meeting_venue(self, number: int) -> Venue:
        """Where and when plenary ``number`` takes place (``meetings:``; hosts take turns)."""
        organisations = [self.alliance.host_organisation, *(p.organisation for p in self.people)]
        return self.meetings.venue(number, organisations)

    # Set by the loader, not by the user: the file the config came from.
    source_path: Path | None = Field(default=None, exclude=True)

    @field_validator("real_time", mode="before")
    @classmethod
    def _a_mode(cls, value: object) -> object:
        # YAML reads an unquoted off/no/false as a boolean: that can only mean "none".
        if value is False:
            return "none"
        if value is True:
            raise ValueError("write serve or socket_mode (which of the two is meant?)")
        return value

    @field_validator("sandbox", mode="before")
    @classmethod
    def _a_real_boolean(cls, value: object) -> object:
        # 'false' in quotes is a string, and a string is true: never guess which was meant.
        if not isinstance(value, bool):
            raise ValueError(f"must be true or false without quotes, not {value!r}")
        return value

    @model_validator(mode="after")
    def _people_unique(self) -> Config:
        seen: dict[str, int] = {}
        for index, person in enumerate(self.people):
            key = str(person.email).lower()
            if key in seen:
                raise ValueError(
                    f"people[{index}].email: {person.email} is already used by people[{seen[key]}]"
                )
            seen[key] = index
        return self

    def resolve_path(self, value: str) -> Path:
        """A path from the config, relative to the config file's folder."""
        path = Path(os.path.expanduser(value))
        if path.is_absolute() or self.source_path is None:
            return path
        return self.source_path.parent / path

    @property
    def state_path(self) -> Path:
        """The state store's file (SQLite; see :attr:`state_location`)."""
        return self.resolve_path(self.state.path)

    @property
    def state_url(self) -> str:
        """The state store's PostgreSQL URL (with its password), or "" for SQLite."""
        return self.state.url.get_secret_value() if self.state.url else ""

    @property
    def state_location(self) -> Path | str:
        """The state store: the PostgreSQL URL if given, else the file."""
        return self.state_url or self.state_path

    @property
    def state_schema(self) -> str:
        """The alliance's PostgreSQL schema (``state.schema``, default the slug)."""
        return self.state.schema_name or self.alliance.slug


SECRET_KEYS = {
    ("trello", "api_key"),
    ("trello", "token"),
    ("trello", "app_secret"),
    ("slack", "token"),
    ("slack", "signing_secret"),
    ("mailchimp", "api_key"),
    ("mailchimp", "webhook_secret"),
}


MAX_SECRET_BYTES = 64 * 1024  # a token is under 1 KiB; /dev/zero or a disk image is not one


class _TooBig(Exception):
    """A secret file larger than :data:`MAX_SECRET_BYTES`."""


def _read_secret_file(path: Path) -> str:
    """The secret in ``path``, read up to a bound (``/dev/zero`` never ends)."""
    with path.open("rb") as handle:
        data = handle.read(MAX_SECRET_BYTES + 1)
    if len(data) > MAX_SECRET_BYTES:
        raise _TooBig
    return data.decode("utf-8").strip()


def _resolve_secrets(raw: dict[str, Any], source: str, sandbox: bool) -> list[Problem]:
    """Replace ``${VAR}`` / ``${file:PATH}`` in secret fields, in place; return the problems.

    Secrets may only be given as references: a literal secret in a file that is likely to be
    shared or committed is refused. Unset variables are tolerated in sandbox mode, where the
    embedded sandbox issues its own credentials.
    """
    problems: list[Problem] = []
    for section, key in sorted(SECRET_KEYS):
        block = raw.get(section)
        if not isinstance(block, dict) or block.get(key) in (None, ""):
            continue
        value = block[key]
        where = f"{section}.{key}"
        match = _SECRET_REF.match(str(value)) if isinstance(value, str) else None
        if not match:
            problems.append(
                Problem(
                    source,
                    where,
                    "secrets must not be written in the config",
                    f"write ${{{section.upper()}_{key.upper()}}} and set that environment variable",
                )
            )
            block[key] = None
            continue
        if match.group("env"):
            name = match.group("env")
            resolved = os.environ.get(name)
            if resolved is None and not sandbox:
                problems.append(
                    Problem(
                        source,
                        where,
                        f"environment variable {name} is not set",
                        f"export {name}=... before running mcm-sync",
                    )
                )
            block[key] = resolved
        else:
            file_path = Path(os.path.expanduser(match.group("file")))
            try:
                block[key] = _read_secret_file(file_path)
                if os.name == "posix" and file_path.stat().st_mode & 0o077:
                    problems.append(Problem(
                        source, where, f"secret file {file_path} can be read by other users",
                        f"chmod 600 {file_path}"))
            except _TooBig:
                problems.append(Problem(source, where, f"secret file {file_path} is over "
                                        f"{MAX_SECRET_BYTES // 1024} KiB: not a secret",
                                        "point to the file that holds only the secret"))
                block[key] = None
            except UnicodeDecodeError:
                # Never echo the bytes: they are a secret.
                problems.append(Problem(source, where,
                                        f"secret file {file_path} is not UTF-8 text",
                                        "save it as UTF-8 (plain ASCII is fine)"))
                block[key] = None
            except OSError as exc:
                problems.append(
                    Problem(
                        source,
                        where,
                        f"cannot read secret file {file_path}: {exc.strerror}",
                        "check the path and its permissions",
                    )
                )
                block[key] = None
    return problems


_HINTS = {
    "extra_forbidden": "remove it, or check its spelling against config.example.yaml",
    "missing": "add it; see config.example.yaml",
    "date_from_datetime_parsing": "write dates as YYYY-MM-DD",
    "date_parsing": "write dates as YYYY-MM-DD",
    "date_type": "write dates as YYYY-MM-DD",
    "value_error": "",
    "literal_error": "",
}


def problems_from_validation(error: ValidationError, source: str) -> list[Problem]:
    """Turn pydantic's errors into :class:`Problem` lines without echoing any input value."""
    problems = []
    for item in error.errors(include_input=False, include_url=False):
        location = key_path(tuple(item["loc"]))
        message = item["msg"]
        if message.startswith("Value error, "):
            message = message[len("Value error, ") :]
        if item["type"] == "extra_forbidden":
            message = "unknown key"
        if ": " in message and message.split(": ", 1)[0].startswith("people["):
            # A model-level check already names its own path.
            location, message = message.split(": ", 1)
        elif message.startswith("actions_channel: "):  # the Slack section's own check
            key, message = message.split(": ", 1)
            location = f"{location}.{key}" if location else key
        problems.append(Problem(source, location, message, _HINTS.get(item["type"], "")))
    return problems


def parse_config(text: str, source: str = "<config>", path: Path | None = None) -> Config:
    """Parse and validate config text; raise :class:`ConfigError` listing every problem.

    With the file's ``path``, a config validated by an earlier run is read back without its
    secrets, and they are resolved again (:mod:`sync.core.kept.config`)."""
    key = config_key(text, path) if path is not None else None
    kept = _kept_config(path, key, source) if path is not None and key is not None else None
    if kept is not None:
        _remember_secrets(kept)
        return kept
    try:
        raw = load_yaml(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark else ""
        raise ConfigError([Problem(source, where, f"not valid YAML: {getattr(exc, 'problem', exc)}",
                                   "check indentation and quoting")]) from None
    if not isinstance(raw, dict):
        raise ConfigError([Problem(source, "", "the config must be a mapping of sections",
                                   "start from config.example.yaml")])
    # A quoted 'false' is refused by the model; until then, unset secrets are not blamed.
    sandbox = raw.get("sandbox", False) is not False
    references = _references(raw)  # before they are replaced by the secrets
    problems = _resolve_secrets(raw, source, sandbox)
    problems += resolve_state_url(raw, source)
    data = {**raw, "source_path": path}
    config = None if problems else _with_known_addresses(data)
    if config is None:  # every address checked: today's errors and normalised values
        with checked() as seen:
            try:
                config = Config.model_validate(data)
            except ValidationError as exc:
                problems.extend(problems_from_validation(exc, source))
                config = None
        folder = kept_folder(config) if config is not None and not problems else None
        if folder is not None:
            keep_valid(folder, seen)
    if problems or config is None:
        raise ConfigError(problems)
    _remember_secrets(config)
    if path is not None and key is not None:
        _keep_config(config, path, key, references)
    return config


def _references(raw: dict[str, Any]) -> References:
    """The secret fields' references as the file writes them (``${VAR}``): no secret."""
    return {(section, key): block[key] for section, key in SECRET_KEYS
            if isinstance(block := raw.get(section), dict) and isinstance(block.get(key), str)
            and block[key]}


def _kept_config(path: Path, key: str, source: str) -> Config | None:
    """The config kept under ``key`` with its secrets resolved again, or None (none kept, or
    a secret's reference does not resolve now: validated anew, which says what is wrong)."""
    found = read_config(config_folder(path), key, Config)
    if found is None:
        return None
    config, references = found
    raw: dict[str, Any] = {}
    for (section, name), reference in references.items():
        raw.setdefault(section, {})[name] = reference
    if _resolve_secrets(raw, source, config.sandbox):
        return None
    return cast(Config, with_secrets(config, raw))


def _keep_config(config: Config, path: Path, key: str, references: References) -> None:
    """Keep the validated ``config`` without its secrets, where the next run looks (only for
    a SQLite store in the default state folder beside the config: see the module)."""
    folder = kept_folder(config)
    if folder is None or config.state.url is not None:
        return
    if folder.resolve() != config_folder(path).resolve():
        return  # a state.path elsewhere: the next run could not find it before reading
    write_config(folder, key, without_secrets(config, SECRET_KEYS), references)


def _with_known_addresses(data: dict[str, Any]) -> Config | None:
    """The config validated with its addresses taken as they are, if it is valid so and every
    address is known to be valid from an earlier run; otherwise None (validate again, checking
    them: :mod:`sync.core.kept.addresses`)."""
    with deferred() as seen:
        try:
            config = Config.model_validate(data)
        except ValidationError:
            return None
    folder = kept_folder(config)
    if folder is None or not all_known(folder, [address for address, _ in seen]):
        return None
    return config


def _remember_secrets(config: Config) -> None:
    """Every secret of the config masked in every log line and message from now on."""
    for section, key in SECRET_KEYS:
        value = getattr(getattr(config, section), key)
        if value is not None:
            remember_secret(value.get_secret_value())
    if config.state_url:
        remember_secret(urlsplit(config.state_url).password)


def default_config_path() -> Path:
    """``$MCM_SYNC_CONFIG`` if set, else ``./mcm-sync.yaml``."""
    return Path(os.environ.get(CONFIG_ENV) or DEFAULT_CONFIG_NAME)


def load_config(path: Path | str | None = None) -> Config:
    """Read, interpolate and validate the config file at ``path``."""
    config_path = Path(path) if path else default_config_path()
    try:
        text = config_path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            [
                Problem(
                    str(config_path),
                    "",
                    "config file not found",
                    "run `mcm-sync init` or pass -c FILE",
                )
            ]
        ) from None
    except OSError as exc:
        raise ConfigError([Problem(str(config_path), "", f"cannot read: {exc.strerror}")]) from None
    except UnicodeDecodeError as exc:
        line = exc.object[: exc.start].count(b"\n") + 1
        raise ConfigError([Problem(str(config_path), f"line {line}",
                                   f"not UTF-8 text (byte 0x{exc.object[exc.start]:02x} at "
                                   f"offset {exc.start})",
                                   "save the file as UTF-8")]) from None
    return parse_config(text, str(config_path), config_path.resolve())
