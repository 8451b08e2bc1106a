"""In-memory fakes of the three connectors, behind the very protocols of ``connectors.base``.

The HTTP sandbox is the faithful stand-in for the vendors, but a crash-point enumeration or a
state machine runs a full bootstrap hundreds of times: over HTTP that takes minutes. These
fakes answer with the same dataclasses, in the same order, as the real connectors do on the
sandbox (board actions oldest first with increasing ids and the actor's member id and name;
one ``updateCard`` action per changed field with ``listBefore``/``listAfter``; Slack history
oldest first with reactions, metadata and thread counters), so the engine cannot tell them
apart.

:class:`FakeWorld` holds the three fakes, the people they share (one person: a Trello member
and a Slack user, like the sandbox's ``people``) and one counter of the *engine's* writes
with fault injection:

- ``crash_after(k)``: the (k+1)-th write raises :class:`sync.core.errors.FatalRemoteError` before
  it has any effect (a 400, or the process killed just before the call);
- ``drop_after(k)``: the (k+1)-th write takes effect, then its answer is lost. The fakes sit
  where the connector hands over to the engine, so they raise what a connector surfaces once
  its retries and its recover-before-repeat lookups have given up: a
  :class:`sync.core.errors.RetriableRemoteError` with ``outcome_unknown`` for a create (POST,
  ``chat.postMessage``, ``conversations.create``), without it for an absolute update.

Members act through :meth:`FakeWorld.as_member` (``move_card``, ``archive_card``,
``set_due``, ``rename_card``, ``add_card``, ``comment``, ``react``, ``reply``...); their
writes are not counted and never fail. :meth:`FakeWorld.when_writing` lets a member act
*during* a run, between two of its writes (just before a given write reaches the service),
which is how a reply posted while the sync writes a status change is reproduced.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sync.core.errors import FatalRemoteError, RetriableRemoteError

BOT_EMAIL = "coordinator@sandbox.invalid"
BOT_NAME = "mcm-sync coordinator"
# Trello ids start with their creation time in seconds (MongoDB ObjectIds).
EPOCH = 1_800_000_000


@dataclass(frozen=True)
class Person:
    """One person as the three services know them."""

    email: str
    name: str
    trello_id: str
    trello_username: str
    slack_id: str
    slack_bot_id: str = ""


def _code(seed: str, length: int) -> str:
    """A stable upper-case code derived from ``seed`` (Slack-style ids)."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
    number = int.from_bytes(hashlib.sha256(seed.encode()).digest(), "big")
    chars = []
    for _ in range(length):
        number, rest = divmod(number, len(alphabet))
        chars.append(alphabet[rest])
    return "".join(chars)


class FakeWorld:
    """The shared clock, ids, people and write counter of the three fakes."""

    def __init__(self) -> None:
        from tests.support.fakes_mailchimp import FakeMailchimp
        from tests.support.fakes_slack import FakeSlack
        from tests.support.fakes_trello import FakeTrello

        self._seq = 0
        self.people: dict[str, Person] = {}
        self.writes = 0
        self.log: list[str] = []  # "service.operation" of every counted write, in order
        self._fault: tuple[int, str] | None = None
        # Members' actions waiting for a write of the engine: [what, countdown, act].
        self._hooks: list[list[Any]] = []
        self.bot = self.person(BOT_EMAIL, BOT_NAME, bot=True)
        self.trello = FakeTrello(self)
        self.slack = FakeSlack(self)
        self.mailchimp = FakeMailchimp(self)

    # ------------------------------------------------------------------ ids and time

    def tick(self) -> int:
        """The next number of the world's sequence (ids, timestamps)."""
        self._seq += 1
        return self._seq

    def object_id(self) -> str:
        """A Trello-style 24-hex id; ids sort (and ``id_time``) in creation order."""
        n = self.tick()
        return f"{EPOCH + n:08x}{n:016x}"

    def now(self) -> dt.datetime:
        """A clock that moves one second per event, so dates and times sort too."""
        return dt.datetime.fromtimestamp(EPOCH + self._seq, dt.UTC)

    def iso_now(self) -> str:
        """Trello's date format of :meth:`now`."""
        return self.now().strftime("%Y-%m-%dT%H:%M:%S.000Z")

    # ------------------------------------------------------------------ people

    def person(self, email: str, name: str | None = None, *, bot: bool = False) -> Person:
        """The person with this e-mail, created on first use."""
        key = email.strip().lower()
        found = self.people.get(key)
        if found is None:
            local = key.split("@", 1)[0]
            found = Person(
                email=key,
                name=name or local.replace(".", " ").title(),
                trello_id=self.object_id(),
                trello_username=f"{local.replace('.', '')}{len(self.people) + 1}",
                slack_id="U" + _code(key, 10),
                slack_bot_id="B" + _code(key + "#bot", 10) if bot else "",
            )
            self.people[key] = found
        return found

    def by_trello_id(self, member_id: str) -> Person | None:
        """The person with this Trello member id."""
        return next((p for p in self.people.values() if p.trello_id == member_id), None)

    def as_member(self, email: str) -> Any:
        """A handle acting as this member in Trello and Slack (writes not counted)."""
        from tests.support.fakes_members import MemberHandle

        return MemberHandle(self, self.person(email))

    # ------------------------------------------------------------------ writes and faults

    def crash_after(self, k: int | None) -> None:
        """The (k+1)-th write from now on fails before taking effect (None: disarm)."""
        self._fault = None if k is None else (self.writes + k, "fail")

    def drop_after(self, k: int) -> None:
        """The (k+1)-th write from now on takes effect, then its answer is lost."""
        self._fault = (self.writes + k, "drop")

    def when_writing(self, what: str, act: Callable[[str], object], *, nth: int = 1) -> None:
        """Run ``act(target)`` (a member acting) just before the ``nth`` next engine write
        ``what`` (``"slack.post_message"``, ``"trello.add_comment"``...) reaches the service,
        once; ``target`` is what the write is about (the card id; the message's ts, or the
        thread's for a reply), so the member can act on that very item."""
        self._hooks.append([what, nth, act])

    def forget_hooks(self) -> None:
        """Drop the members' actions whose write never came."""
        self._hooks.clear()

    @property
    def armed(self) -> bool:
        """True while a fault waits for its write."""
        return self._fault is not None

    def write(self, service: str, operation: str, apply: Any, *, create: bool,
              target: str = "") -> Any:
        """Count one write of the engine and run ``apply()`` under the armed fault, if due
        (after the members' actions waiting for it, :meth:`when_writing`)."""
        index = self.writes
        self.writes += 1
        self.log.append(f"{service}.{operation}")
        for hook in list(self._hooks):
            if hook[0] == f"{service}.{operation}":
                hook[1] -= 1
                if hook[1] == 0:
                    self._hooks.remove(hook)
                    hook[2](target)
        fault = self._fault
        if fault is not None and fault[0] == index:
            self._fault = None
            if fault[1] == "fail":
                raise FatalRemoteError(service, f"{operation}: injected failure (write {index})")
            apply()
            raise RetriableRemoteError(
                service, f"{operation}: answer lost (write {index})", outcome_unknown=create
            )
        return apply()
