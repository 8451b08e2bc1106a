"""The doctor's result: one :class:`Check` per line, and what it means for the exit code."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from sync.core.errors import ExitStatus

Status = Literal["ok", "warn", "fail"]
ORDER: dict[str, int] = {"ok": 0, "warn": 1, "fail": 2}


@dataclass(frozen=True)
class Check:
    """One line of the doctor's table. ``detail`` never holds a secret; ``fix`` says what
    to do in plain words ("" when there is nothing to do)."""

    service: str
    name: str
    status: Status
    detail: str
    fix: str = ""


@dataclass
class DoctorReport:
    """Every check made, in order."""

    checks: list[Check] = field(default_factory=list)

    def add(self, service: str, name: str, status: Status, detail: str, fix: str = "") -> None:
        """Append one check."""
        self.checks.append(Check(service, name, status, detail, fix))

    def worst(self) -> Status:
        """The worst status of all checks (``ok`` when there are none)."""
        worst: Status = "ok"
        for check in self.checks:
            if ORDER[check.status] > ORDER[worst]:
                worst = check.status
        return worst

    def exit_code(self) -> int:
        """0 when nothing fails (warnings are advice), 4 when a service refuses something."""
        return int(ExitStatus.REMOTE) if self.worst() == "fail" else int(ExitStatus.OK)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: the overall status and every check."""
        return {"status": self.worst(), "checks": [asdict(c) for c in self.checks]}
