"""The guide's participation ladder (Wilcox, 2000) per member organisation.

Members engage at different levels, and the guide says that is fine: information exchange,
shared learning and consultation, deciding together, acting together, collective planning and
delivery. ``people[].engagement`` in the config holds an organisation's level (the highest any
of its people has); the profile shows it beside the organisation, in the alliance's language.
"""

from __future__ import annotations

from playbooks.model import Playbook
from sync.core.config import Config

LEVELS = ("information_exchange", "shared_learning", "deciding_together", "acting_together",
          "collective_planning")


def engagement_levels(config: Config, book: Playbook) -> dict[str, str]:
    """Organisation -> its level on the ladder, as the playbook names it (set ones only)."""
    best: dict[str, int] = {}
    for person in config.people:
        if person.engagement:
            rank = LEVELS.index(person.engagement)
            best[person.organisation] = max(rank, best.get(person.organisation, -1))
    ladder = book.facts.participation_ladder
    return {organisation: ladder[rank] for organisation, rank in best.items()}
