"""The credentials the sandbox issues, as the vendors issue theirs.

The real services accept only the keys and tokens they issued; so does the sandbox. On first
start it issues the coordinator's credentials (a Trello API key, token and app secret, a Slack
bot token and signing secret, a Mailchimp API key with its data centre), keeps them in its
store (so they survive a restart) and writes them to ``credentials.json`` in its data folder
(mode 0600). Members get their own tokens (a Trello token, a Slack user token ``xoxp-``),
issued on request through the admin API. Anything else is refused the vendor's way by each
emulator's ``authenticate``.

A member has two Slack user tokens: ``slack``, their own client's (Slack's apps, not ours),
and ``slack_app``, the user token our app got when they authorised it (OAuth's
``authed_user.access_token``): both act as the member, but the second is a token *of our app*
and counts against the app's rate limits, which Slack keeps per app, workspace and method.

``GET /_sandbox/credentials`` (loopback only) answers :meth:`Credentials.coordinator`.
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path
from typing import Any

from connectors.sandbox.core.store import SandboxStore
from connectors.slack.scopes import REQUIRED_BOT_SCOPES

SERVICE = "credentials"
FILE_NAME = "credentials.json"
MAILCHIMP_DC = "us1"


def _hex(nbytes: int) -> str:
    return secrets.token_hex(nbytes)


def _slack_token(prefix: str) -> str:
    numbers = "-".join(str(secrets.randbelow(10**12)).zfill(12) for _ in range(2))
    return f"{prefix}-{numbers}-{secrets.token_urlsafe(18)[:24]}"


def issue_coordinator() -> dict[str, dict[str, str]]:
    """Fresh coordinator credentials shaped like the vendors' own."""
    return {
        "trello": {"api_key": _hex(16), "token": "ATTA" + _hex(32), "app_secret": _hex(32)},
        "slack": {"bot_token": _slack_token("xoxb"), "signing_secret": _hex(16)},
        "mailchimp": {"api_key": f"{_hex(16)}-{MAILCHIMP_DC}"},
    }


class Credentials:
    """Issued credentials, kept in the sandbox store (service ``credentials``)."""

    def __init__(self, store: SandboxStore) -> None:
        self.store = store
        self._coordinator: dict[str, dict[str, str]] | None = None

    def coordinator(self) -> dict[str, dict[str, str]]:
        """The coordinator's credentials, issued on first use and then always the same."""
        if self._coordinator is None:
            with self.store.transaction():
                found = self.store.get(SERVICE, "coordinator", "coordinator")
                if found is None:
                    found = issue_coordinator()
                    self.store.insert(SERVICE, "coordinator", "coordinator", found)
            self._coordinator = {k: dict(v) for k, v in found.items()}
        return self._coordinator

    def write_file(self, data_dir: Path) -> Path:
        """Write ``credentials.json`` (owner-only permissions) into ``data_dir``."""
        data_dir.mkdir(parents=True, exist_ok=True)
        path = data_dir / FILE_NAME
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(self.coordinator(), out, indent=2)
        os.chmod(path, 0o600)
        return path

    # -- the Slack bot's scopes (what the app was installed with) -------------------------

    def slack_bot_scopes(self) -> list[str]:
        """The bot token's scopes: by default exactly what mcm-sync's manifest asks for."""
        found = self.store.get(SERVICE, "settings", "slack_bot_scopes")
        return list(found["scopes"]) if found else list(REQUIRED_BOT_SCOPES)

    def set_slack_bot_scopes(self, scopes: list[str]) -> None:
        """Reinstall the app with other scopes (``POST /_sandbox/settings``)."""
        with self.store.transaction():
            self.store.upsert(SERVICE, "settings", "slack_bot_scopes", {"scopes": list(scopes)})

    # -- members ------------------------------------------------------------------------

    def member_tokens(self, email: str) -> dict[str, str]:
        """The tokens issued to the member with this e-mail (issued on first request):
        ``trello``, ``slack`` (their own client's) and ``slack_app`` (through our app)."""
        key = email.strip().lower()
        with self.store.transaction():
            found = self.store.get(SERVICE, "member", key)
            if found is None:
                found = {"email": key, "trello": "ATTA" + _hex(32), "slack": _slack_token("xoxp")}
                self.store.insert(SERVICE, "member", key, found)
                for service in ("trello", "slack"):
                    self.store.insert(SERVICE, "token", found[service],
                                      {"email": key, "service": service})
            if "slack_app" not in found:  # members issued before there was one get it now
                found = {**found, "slack_app": _slack_token("xoxp")}
                self.store.update(SERVICE, "member", key, found)
                self.store.insert(SERVICE, "token", found["slack_app"],
                                  {"email": key, "service": "slack", "through_app": True})
        return {"trello": found["trello"], "slack": found["slack"],
                "slack_app": found["slack_app"]}

    def member_for(self, service: str, token: str) -> str | None:
        """The e-mail of the member this token was issued to for ``service``, else None."""
        found = self._token(token)
        if found is None or found.get("service") != service:
            return None
        return str(found["email"])

    def through_app(self, token: str) -> bool:
        """Whether this member token is one our app was given (it counts as the app's)."""
        found = self._token(token)
        return bool(found and found.get("through_app"))

    def _token(self, token: str) -> dict[str, Any] | None:
        if not token:
            return None
        found: dict[str, Any] | None = self.store.get(SERVICE, "token", token)
        return found

    # -- checks the emulators make --------------------------------------------------------

    def is_trello_key(self, key: str) -> bool:
        """True for the issued Trello API key."""
        issued = self.coordinator()["trello"]["api_key"]
        return secrets.compare_digest(key.encode(), issued.encode())

    def is_coordinator(self, service: str, secret: str) -> bool:
        """True for the coordinator's token / bot token / API key of ``service``."""
        field = {"trello": "token", "slack": "bot_token", "mailchimp": "api_key"}[service]
        return secrets.compare_digest(secret.encode(),
                                      self.coordinator()[service][field].encode())
