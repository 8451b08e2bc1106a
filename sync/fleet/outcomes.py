"""What a worker's runs ended in: the one-line error a job history keeps, whether a service
refused the alliance's credentials, and a cycle's report (alliances by outcome)."""

from __future__ import annotations

from dataclasses import dataclass, field

from connectors.errors import AuthError
from sync.core.errors import REPORTED, error_lines


def one_line(error: BaseException) -> str:
    """An error as the job history keeps it: our one-line message (hint included), or its type."""
    if isinstance(error, REPORTED):
        return " / ".join(error_lines(error))[:500]
    return f"internal error: {type(error).__name__}: {error}"[:500]


def refused(error: BaseException | None) -> bool:
    """Whether a service refused the alliance's credentials (anywhere in the cause chain)."""
    seen = 0
    while error is not None and seen < 10:
        if isinstance(error, AuthError):
            return True
        error, seen = error.__cause__ or error.__context__, seen + 1
    return False


@dataclass
class CycleReport:
    """What a worker ran: alliances by outcome, and the failed ones' errors."""

    outcomes: dict[str, str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)  # failed alliance -> its error line

    def as_dict(self) -> dict[str, object]:
        """JSON-ready form."""
        return {"outcomes": self.outcomes, "errors": self.errors}

    @property
    def all_failed(self) -> bool:
        """True when alliances ran and every one of them failed."""
        return bool(self.outcomes) and all(o == "failed" for o in self.outcomes.values())

    def summary(self) -> str:
        """One line: how many alliances ended how, and the failed ones."""
        counts: dict[str, int] = {}
        for outcome in self.outcomes.values():
            counts[outcome] = counts.get(outcome, 0) + 1
        parts = [", ".join(f"{n} {outcome}" for outcome, n in sorted(counts.items()))
                 or "nothing due"]
        failed = sorted(n for n, o in self.outcomes.items() if o == "failed")
        if failed:
            parts.append("failed: " + "; ".join(
                f"{n} ({self.errors[n]})" if self.errors.get(n) else n for n in failed))
        return "worker cycle: " + ", ".join(parts)
