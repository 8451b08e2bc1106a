"""The people the three emulated services share.

A person exists once and has an identity in each service (a Trello member id and username, a
Slack user id), so the tokens issued to Ana (``Credentials.member_tokens``) act as the same Ana
on Trello and Slack, and Slack's ``users.lookupByEmail`` finds the member a Trello test invited.
The coordinator's issued credentials act as the coordinator (the bot); anything else is refused.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Callable
from typing import Any

from connectors.sandbox.core.credentials import Credentials
from connectors.sandbox.core.store import SandboxStore

SERVICE = "people"
KIND = "person"
MEMBER_PREFIX = "sandbox-member:"
BOT_EMAIL = "coordinator@sandbox.invalid"
BOT_NAME = "mcm-sync coordinator"
_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


def _code(seed: str, length: int) -> str:
    """A stable upper-case alphanumeric code derived from ``seed`` (Slack-style ids)."""
    number = int.from_bytes(hashlib.sha256(seed.encode()).digest(), "big")
    chars = []
    for _ in range(length):
        number, rest = divmod(number, len(_ALPHABET))
        chars.append(_ALPHABET[rest])
    return "".join(chars)


def member_email(credential: str) -> str | None:
    """The email a ``sandbox-member:<email>`` credential names, else None."""
    if credential.startswith(MEMBER_PREFIX):
        email = credential[len(MEMBER_PREFIX) :].strip().lower()
        return email or None
    return None


class People:
    """Shared identities, stored in the sandbox store (service ``people``, key = email)."""

    def __init__(self, store: SandboxStore, clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.clock = clock
        self.credentials = Credentials(store)

    def ensure(
        self, email: str, name: str | None = None, *, is_bot: bool = False
    ) -> dict[str, Any]:
        """The person with this email, created on first use (a given name updates it)."""
        key = email.strip().lower()
        with self.store.transaction():
            person = self.store.get(SERVICE, KIND, key)
            if person is None:
                local = key.split("@", 1)[0]
                username = re.sub(r"[^a-z0-9_]", "", local) or "member"
                person = {
                    "email": key,
                    "name": name or local.replace(".", " ").title(),
                    "trello_id": self.store.object_id(self.clock()),
                    "trello_username": f"{username}{self.store.count(SERVICE, KIND) + 1}",
                    "slack_id": "U" + _code(key, 10),
                    "is_bot": is_bot,
                }
                if is_bot:
                    person["slack_bot_id"] = "B" + _code(key + "#bot", 10)
                self.store.insert(SERVICE, KIND, key, person)
            elif name and person["name"] != name:
                person["name"] = name
                self.store.update(SERVICE, KIND, key, person)
        return person

    def invite(self, email: str, name: str | None = None) -> dict[str, Any]:
        """The person invited by e-mail: someone new has no account yet (unconfirmed)."""
        existing = self.get_by_email(email)
        if existing is not None:
            return existing
        person = self.ensure(email, name)
        person["trello_confirmed"] = False
        with self.store.transaction():
            self.store.update(SERVICE, KIND, person["email"], person)
        return person

    def member_tokens(self, email: str, name: str | None = None) -> dict[str, str]:
        """Sign the person up (an account: confirmed) and give them their issued tokens."""
        person = self.ensure(email, name)
        if person.get("trello_confirmed") is False:
            person["trello_confirmed"] = True
            with self.store.transaction():
                self.store.update(SERVICE, KIND, person["email"], person)
        return self.credentials.member_tokens(email)

    def bot(self) -> dict[str, Any]:
        """The coordinator / bot person every non-member credential acts as."""
        return self.ensure(BOT_EMAIL, BOT_NAME, is_bot=True)

    def for_token(self, service: str, token: str) -> dict[str, Any] | None:
        """The person an issued token of ``service`` acts as (the bot or a member), else None."""
        if self.credentials.is_coordinator(service, token):
            return self.bot()
        email = self.credentials.member_for(service, token)
        return self.ensure(email) if email else None

    def get_by_email(self, email: str) -> dict[str, Any] | None:
        """The person with this email, or None."""
        return self.store.get(SERVICE, KIND, email.strip().lower())

    def get_by_trello_id(self, trello_id: str) -> dict[str, Any] | None:
        """The person with this Trello member id, or None."""
        found = self.store.find(SERVICE, KIND, trello_id=trello_id)
        return found[0] if found else None

    def get_by_trello_username(self, username: str) -> dict[str, Any] | None:
        """The person with this Trello username, or None."""
        found = self.store.find(SERVICE, KIND, trello_username=username)
        return found[0] if found else None

    def get_by_slack_id(self, slack_id: str) -> dict[str, Any] | None:
        """The person with this Slack user id, or None."""
        found = self.store.find(SERVICE, KIND, slack_id=slack_id)
        return found[0] if found else None

    def all(self) -> list[dict[str, Any]]:
        """Everybody, in creation order (the bot included once it has acted)."""
        return self.store.list(SERVICE, KIND)
