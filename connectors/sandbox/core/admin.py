"""The sandbox's private admin API under ``/_sandbox/`` (other tools and scripts rely on it).

- ``GET /_sandbox/stats`` -> ``{service: {"METHOD path": {"status": n}}}``;
  ``POST /_sandbox/stats/reset`` zeroes it.
- ``POST /_sandbox/faults`` arms a fault ``{"service", "method", "path", "mode", "status",
  "seconds", "count", "skip"}`` (``seconds``: a ``delay``'s length, or the ``Retry-After`` a
  ``ratelimit`` fault's 429 carries where the vendor sends one: Slack); ``GET`` lists them;
  ``DELETE`` disarms all.
- ``GET/POST /_sandbox/settings`` -> ``{"rate_limits": bool, "slack_bot_scopes": [...],
  "trello_per_token": [calls, seconds], "trello_per_key": [calls, seconds],
  "slack_app": "internal"|"distributed", "slack_app_window": s}`` (any key may be posted
  alone: the bot's scopes are what the Slack app was installed with, Trello's figures what
  its emulator enforces instead of 100 and 300 per 10 s; ``slack_app`` the app's class,
  ``slack_app_window`` the seconds of a distributed app's one history and one replies
  call, Slack's 60 unless a test shortens it).
- ``GET /_sandbox/credentials`` (loopback callers only) -> the coordinator's issued credentials
  ``{"trello": {"api_key", "token", "app_secret"}, "slack": {"bot_token", "signing_secret"},
  "mailchimp": {"api_key"}}``.
- ``POST /_sandbox/members/tokens`` ``{"email"}`` -> the member's issued tokens (``trello``,
  ``slack`` their own client's, ``slack_app`` the user token our Slack app was given, both
  ``xoxp-``; loopback only; the member is created).
- ``POST /_sandbox/people`` ``{"email", "name"}`` seeds a member; ``GET`` lists people.
- ``POST /_sandbox/<service>/<action>`` ``{...}``: what a person does in the vendor's own
  interface (``mailchimp/unsubscribe`` or ``mailchimp/clean`` ``{"list_id", "email"}``).
- ``GET /_sandbox/health`` -> ``{"ok": true, "services": [...]}``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PositiveFloat, PositiveInt, ValidationError
from werkzeug.wrappers import Request, Response

from connectors.rate_limits import Limit
from connectors.sandbox.core.controls import CallStats, Fault, FaultRegistry, Settings
from connectors.sandbox.core.network import is_loopback
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

    model_config = ConfigDict(extra="forbid")

    rate_limits: bool | None = None
    slack_bot_scopes: list[str] | None = None
    mailchimp_batch_seconds: float | None = Field(default=None, ge=0)
    # Trello's limits as [calls, seconds] (tests and benchmarks use small windows).
    trello_per_token: tuple[PositiveInt, PositiveFloat] | None = None
    trello_per_key: tuple[PositiveInt, PositiveFloat] | None = None
    slack_app: Literal["internal", "distributed"] | None = None
    slack_app_window: float | None = Field(default=None, gt=0)


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
                return json_response(self._settings())
            if route == ("POST", "/_sandbox/settings"):
                spec_s = SettingsSpec.model_validate(_body(request) or {})
                if spec_s.rate_limits is not None:
                    self.settings.rate_limits = spec_s.rate_limits
                if spec_s.slack_bot_scopes is not None:
                    self.people.credentials.set_slack_bot_scopes(spec_s.slack_bot_scopes)
                if spec_s.mailchimp_batch_seconds is not None:
                    for service in self.services:
                        if service.name == "mailchimp":
                            service.batch_seconds = spec_s.mailchimp_batch_seconds  # type: ignore[attr-defined]  # the Mailchimp emulator's
                if spec_s.trello_per_token or spec_s.trello_per_key:
                    self._set_trello_limits(spec_s)
                if spec_s.slack_app is not None or spec_s.slack_app_window is not None:
                    for service in self.services:
                        if service.name == "slack":
                            limits = service.limits  # type: ignore[attr-defined]  # the Slack emulator's
                            limits.set_app_class(spec_s.slack_app or limits.app_class,
                                                 spec_s.slack_app_window)
                return json_response(self._settings())
            if route[1] in ("/_sandbox/credentials", "/_sandbox/members/tokens") and not (
                is_loopback(str(request.remote_addr or ""))
            ):
                return json_response({"error": "credentials are for loopback callers only"}, 403)
            if route == ("GET", "/_sandbox/credentials"):
                return json_response(self.people.credentials.coordinator())
            if route == ("POST", "/_sandbox/members/tokens"):
                spec_m = PersonSpec.model_validate(_body(request) or {})
                return json_response(self.people.member_tokens(spec_m.email, spec_m.name))
            if route == ("POST", "/_sandbox/people"):
                spec_p = PersonSpec.model_validate(_body(request) or {})
                return json_response(self.people.ensure(spec_p.email, spec_p.name))
            if route == ("GET", "/_sandbox/people"):
                return json_response(self.people.all())
            parts = route[1].split("/")
            if route[0] == "POST" and len(parts) == 4:  # /_sandbox/<service>/<action>
                acting = next((s for s in self.services if s.name == parts[2]), None)
                if acting is not None:
                    try:
                        with acting.store.transaction():
                            return json_response(acting.admin_action(parts[3], _body(request)
                                                                      or {}))
                    except KeyError:
                        pass
            if route == ("GET", "/_sandbox/health"):
                return json_response({"ok": True, "services": [s.name for s in self.services]})
        except ValidationError as error:
            return _invalid(error)
        for service in self.services:  # a service's own admin routes (the Slack app's)
            answer = service.admin_route(request)
            if answer is not None:
                return answer
        return json_response({"error": f"no admin route {request.method} {request.path}"}, 404)

    def _set_trello_limits(self, spec: SettingsSpec) -> None:
        def limit(pair: tuple[int, float] | None) -> Limit | None:
            return Limit(pair[0], pair[1]) if pair else None

        for service in self.services:
            if service.name == "trello":
                service.set_limits(limit(spec.trello_per_token), limit(spec.trello_per_key))  # type: ignore[attr-defined]  # the Trello emulator's

    def _settings(self) -> dict[str, Any]:
        batch = [getattr(s, "batch_seconds", None) for s in self.services if s.name == "mailchimp"]
        trello = [s.limits() for s in self.services if s.name == "trello"]  # type: ignore[attr-defined]  # the Trello emulator's
        slack = [getattr(s, "limits", None) for s in self.services if s.name == "slack"]
        limits = slack[0] if slack else None
        return {"rate_limits": self.settings.rate_limits,
                "slack_bot_scopes": self.people.credentials.slack_bot_scopes(),
                "mailchimp_batch_seconds": batch[0] if batch else None,
                "slack_app": getattr(limits, "app_class", None),
                "slack_app_window": getattr(limits, "distributed_window", None),
                **({"trello_" + name: figures for name, figures in trello[0].items()}
                   if trello else {})}
