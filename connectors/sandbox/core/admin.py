"""The sandbox's private admin API under ``/_sandbox/`` (other tools and scripts rely on it).

- ``GET /_sandbox/stats`` -> ``{service: {"METHOD path": {"status": n}}}``;
  ``POST /_sandbox/stats/reset`` zeroes it.
- ``POST /_sandbox/faults`` arms a fault ``{"service", "method", "path", "mode", "status",
  "seconds", "count", "skip"}``; ``GET`` lists them; ``DELETE`` disarms all.
- ``GET/POST /_sandbox/settings`` -> ``{"rate_limits": bool}``.
- ``POST /_sandbox/people`` ``{"email", "name"}`` seeds a member; ``GET`` lists people.
- ``GET /_sandbox/health`` -> ``{"ok": true, "services": [...]}``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from werkzeug.wrappers import Request, Response

from connectors.sandbox.core.controls import CallStats, Fault, FaultRegistry, Settings
from connectors.sandbox.core.service import json_response

if TYPE_CHECKING:
    from connectors.sandbox.core.people import People
    from connectors.sandbox.core.service import ServiceEmulator


class FaultSpec(BaseModel):
    """The body of ``POST /_sandbox/faults``."""

    model_config = ConfigDict(extra="forbid")

    service: str = "*"
    method: str = "*"
    path: str = "*"
    mode: str = Field(pattern="^(error|drop_after_apply|delay|ratelimit)$")
    status: int = Field(default=503, ge=100, le=599)
    seconds: float = Field(default=0.0, ge=0)
    count: int | None = Field(default=None, ge=1)
    skip: int = Field(default=0, ge=0)


class PersonSpec(BaseModel):
    """The body of ``POST /_sandbox/people``."""

    email: str = Field(min_length=3, pattern=r"^[^@\s]+@[^@\s]+$")
    name: str | None = None


class SettingsSpec(BaseModel):
    """The body of ``POST /_sandbox/settings``."""

    rate_limits: bool


def _body(request: Request) -> Any:
    return request.get_json(force=True, silent=True)


def _invalid(error: ValidationError) -> Response:
    problems = [
        {"field": ".".join(str(p) for p in e["loc"]), "message": e["msg"]} for e in error.errors()
    ]
    return json_response({"error": "invalid request", "problems": problems}, 400)


@dataclass(frozen=True)
class AdminAPI:
    """The admin API over the parts of the app it controls; the app hands it every request
    under ``/_sandbox/`` (``admin(request)``)."""

    stats: CallStats
    faults: FaultRegistry
    settings: Settings
    people: People
    services: Sequence[ServiceEmulator]

    def __call__(self, request: Request) -> Response:
        """Answer one admin request."""
        route = (request.method, request.path.rstrip("/"))
        try:
            if route == ("GET", "/_sandbox/stats"):
                return json_response(self.stats.snapshot())
            if route == ("POST", "/_sandbox/stats/reset"):
                self.stats.reset()
                return json_response({"ok": True})
            if route == ("POST", "/_sandbox/faults"):
                spec = FaultSpec.model_validate(_body(request) or {})
                self.faults.arm(Fault(**spec.model_dump()))
                return json_response({"ok": True, "armed": len(self.faults.armed())})
            if route == ("GET", "/_sandbox/faults"):
                return json_response([asdict(f) for f in self.faults.armed()])
            if route == ("DELETE", "/_sandbox/faults"):
                self.faults.disarm()
                return json_response({"ok": True})
            if route == ("GET", "/_sandbox/settings"):
                return json_response({"rate_limits": self.settings.rate_limits})
            if route == ("POST", "/_sandbox/settings"):
                rate_limits = SettingsSpec.model_validate(_body(request) or {}).rate_limits
                self.settings.rate_limits = rate_limits
                return json_response({"rate_limits": self.settings.rate_limits})
            if route == ("POST", "/_sandbox/people"):
                spec_p = PersonSpec.model_validate(_body(request) or {})
                return json_response(self.people.ensure(spec_p.email, spec_p.name))
            if route == ("GET", "/_sandbox/people"):
                return json_response(self.people.all())
            if route == ("GET", "/_sandbox/health"):
                return json_response({"ok": True, "services": [s.name for s in self.services]})
        except ValidationError as error:
            return _invalid(error)
        for service in self.services:  # a service's own admin routes (the Slack app's)
            answer = service.admin_route(request)
            if answer is not None:
                return answer
        return json_response({"error": f"no admin route {request.method} {request.path}"}, 404)
