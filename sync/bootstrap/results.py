"""What a bootstrap works with and gives back: the services, the facts gathered, the result."""

from __future__ import annotations

from dataclasses import dataclass, field

from connectors.roles import AudienceService, BoardService, ChatService
from sync.bootstrap.plan import SERVICES, Plan


@dataclass
class Services:
    """The connectors of one run, by role; a service left out (``--only``) is None."""

    board: BoardService | None = None
    chat: ChatService | None = None
    audience: AudienceService | None = None

    def selected(self) -> tuple[str, ...]:
        """Names of the services present (the plan's and ``--only``'s), in the fixed order."""
        present = {"trello": self.board, "slack": self.chat, "mailchimp": self.audience}
        return tuple(name for name in SERVICES if present[name] is not None)


@dataclass
class BootstrapResult:
    """What a bootstrap did, for the summary and ``--json``."""

    plan: Plan
    links: dict[str, str] = field(default_factory=dict)
    unresolved: list[str] = field(default_factory=list)
    pending: list[str] = field(default_factory=list)  # invited, waiting for the person
    applied: dict[str, int] = field(default_factory=dict)

    def creates(self) -> int:
        """How many objects were created remotely."""
        return self.applied.get("create", 0)


@dataclass
class ApplyContext:
    """Mutable facts gathered while applying (remote ids of what later steps need)."""

    board_id: str = ""
    board_url: str = ""
    lists: dict[str, str] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    trello_members: dict[str, str] = field(default_factory=dict)
    card_urls: dict[str, str] = field(default_factory=dict)
    channels: dict[str, str] = field(default_factory=dict)
    audience_id: str = ""
