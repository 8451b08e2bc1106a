"""Shared pieces of the Mailchimp emulator: problem+json errors, ids, paging, field selection.

Mailchimp answers every error as ``application/problem+json; charset=utf-8`` with ``type``,
``title``, ``status``, ``detail`` and ``instance`` (a request id), and validation failures add
``errors: [{field, message}]``. Handlers raise :class:`MailchimpError`; the emulator turns it
into that body. Request bodies are checked with pydantic models (``mailchimp.models``) whose
failures are mapped to Mailchimp's field messages by :func:`validate`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import secrets
import string
import uuid
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

import pydantic
from werkzeug import Request, Response

SERVICE = "mailchimp"
ERROR_TYPE = "https://mailchimp.com/developer/marketing/docs/errors/"
PROBLEM_CONTENT_TYPE = "application/problem+json; charset=utf-8"
JSON_CONTENT_TYPE = "application/json; charset=utf-8"
DEFAULT_COUNT = 10
MAX_COUNT = 1000
INVALID_DETAIL = (
    "The resource submitted could not be validated. "
    "For field-specific details, see the 'errors' array."
)
NOT_FOUND_DETAIL = "The requested resource could not be found."
# The titles Mailchimp's error glossary gives per status (used when a caller names none).
TITLES = {
    400: "Invalid Resource",
    401: "API Key Invalid",
    403: "Forbidden",
    404: "Resource Not Found",
    405: "Method Not Allowed",
    414: "Resource Nesting Too Deep",
    422: "Invalid Action",
    429: "TooManyRequests",
    500: "Internal Server Error",
    503: "Service Unavailable",
}
# A deliberately loose address check: Mailchimp refuses anything without a local part, an
# "@" and a dotted domain ("looks fake or invalid").
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")

M = TypeVar("M", bound=pydantic.BaseModel)


class MailchimpError(Exception):
    """A Mailchimp error answer; raised by handlers, rendered as problem+json."""

    def __init__(
        self,
        status: int,
        title: str = "",
        detail: str = "",
        errors: list[dict[str, str]] | None = None,
    ) -> None:
        super().__init__(f"{status} {title}: {detail}")
        self.status = status
        self.title = title or TITLES.get(status, "Error")
        self.detail = detail
        self.errors = errors

    def body(self) -> dict[str, Any]:
        """The problem+json document (a fresh ``instance`` id each time)."""
        body: dict[str, Any] = {
            "type": ERROR_TYPE,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
            "instance": str(uuid.uuid4()),
        }
        if self.errors is not None:
            body["errors"] = self.errors
        return body

    def response(self) -> Response:
        """The werkzeug response carrying :meth:`body`."""
        return Response(
            json.dumps(self.body()), status=self.status, content_type=PROBLEM_CONTENT_TYPE
        )


def not_found() -> MailchimpError:
    """Mailchimp's 404 for any missing list, member, segment, campaign or batch."""
    return MailchimpError(404, "Resource Not Found", NOT_FOUND_DETAIL)


def invalid(field: str, message: str, detail: str = INVALID_DETAIL) -> MailchimpError:
    """A 400 "Invalid Resource" naming one field."""
    return MailchimpError(400, "Invalid Resource", detail, [{"field": field, "message": message}])


def json_response(data: Any, status: int = 200) -> Response:
    """A JSON answer as Mailchimp sends it."""
    return Response(json.dumps(data), status=status, content_type=JSON_CONTENT_TYPE)


def no_content() -> Response:
    """The empty 204 answer of deletes, tag updates and erasures."""
    return Response(status=204)


# --------------------------------------------------------------------------- ids and time


def subscriber_hash(email: str) -> str:
    """Mailchimp's member id: the MD5 hex of the lowercased address."""
    return hashlib.md5(email.strip().lower().encode("utf-8")).hexdigest()


def hex_id(length: int = 10) -> str:
    """A random lowercase hex id (list, campaign, unique_email_id, webhook ids)."""
    return secrets.token_hex((length + 1) // 2)[:length]


def alnum_id(length: int = 10) -> str:
    """A random lowercase alphanumeric id (batch ids)."""
    alphabet = string.ascii_lowercase + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(length))


def iso(clock: Callable[[], float]) -> str:
    """The clock's time as Mailchimp writes it: ``2025-01-14T09:30:00+00:00``."""
    return dt.datetime.fromtimestamp(clock(), dt.UTC).isoformat(timespec="seconds")


def parse_time(text: str, field: str) -> dt.datetime:
    """An ISO 8601 time from a query parameter (400 naming ``field`` if unreadable)."""
    try:
        when = dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace(" ", "+"))
    except ValueError:
        raise invalid(field, f"Invalid date-time: {text!r}") from None
    return when if when.tzinfo else when.replace(tzinfo=dt.UTC)


# --------------------------------------------------------------------------- requests


def read_json(request: Request) -> dict[str, Any]:
    """The request's JSON object body; ``{}`` for none or ``null`` (the SDK sends ``null``)."""
    raw = request.get_data(as_text=True)
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except ValueError:
        raise MailchimpError(
            400, "JSON Parse Exception", "We encountered an unspecified JSON parsing error."
        ) from None
    if body is None:
        return {}
    if not isinstance(body, dict):
        raise MailchimpError(
            400, "JSON Schema Validation Failed", "The request body must be a JSON object."
        )
    return body


def validate(model: type[M], body: Mapping[str, Any]) -> M:
    """``body`` checked against ``model``; failures as Mailchimp's ``errors`` array."""
    try:
        return model.model_validate(dict(body))
    except pydantic.ValidationError as exc:
        raise MailchimpError(400, "Invalid Resource", INVALID_DETAIL, _field_errors(exc)) from None


def _field_errors(exc: pydantic.ValidationError) -> list[dict[str, str]]:
    errors = []
    for error in exc.errors(include_url=False):
        path = [str(part) for part in error["loc"]]
        field = ".".join(path)
        if error["type"] == "missing":
            message = f"Required fields were not provided: {path[-1]}"
        elif error["type"] == "literal_error":
            expected = str((error.get("ctx") or {}).get("expected", "")).replace("'", "")
            message = f"Data presented is not one of the accepted values: {expected}."
        else:
            message = str(error["msg"])
        errors.append({"field": field, "message": message})
    return errors


def check_email(email: str) -> str:
    """The address, or a 400 "Invalid Resource" as Mailchimp gives for a fake-looking one."""
    if not EMAIL_RE.match(email.strip()):
        raise MailchimpError(
            400,
            "Invalid Resource",
            f"{email} looks fake or invalid, please enter a real email address.",
            [{"field": "email_address", "message": "Please provide a valid email address."}],
        )
    return email.strip()


def paging(request: Request) -> tuple[int, int]:
    """``count`` (default 10, at most 1000) and ``offset`` from the query."""

    def number(name: str, default: int) -> int:
        raw = request.args.get(name, "")
        if raw == "":
            return default
        try:
            value = int(raw)
        except ValueError:
            raise invalid(
                name, f"Schema describes integer, string found instead: {raw!r}"
            ) from None
        if value < 0:
            raise invalid(name, "Must be zero or more")
        return value

    return min(number("count", DEFAULT_COUNT), MAX_COUNT), number("offset", 0)


def page(request: Request, items: list[Any]) -> list[Any]:
    """One page of ``items`` by ``count``/``offset``."""
    count, offset = paging(request)
    return items[offset : offset + count]


# --------------------------------------------------------------------------- fields


def select_fields(data: Any, request: Request) -> Any:
    """Apply ``fields`` / ``exclude_fields`` (comma-separated dotted paths) to an answer.

    ``lists.id`` keeps ``id`` inside every item of the ``lists`` array, as Mailchimp does.
    """
    fields = _paths(request.args.getlist("fields"))
    excluded = _paths(request.args.getlist("exclude_fields"))
    if fields:
        data = _keep(data, _tree(fields))
    if excluded:
        data = _drop(data, _tree(excluded))
    return data


def _paths(values: Iterable[str]) -> list[str]:
    return [part.strip() for value in values for part in value.split(",") if part.strip()]


def _tree(paths: list[str]) -> dict[str, Any]:
    """Dotted paths as a nested dict; an empty dict marks a whole kept/dropped subtree."""
    tree: dict[str, Any] = {}
    for path in paths:
        node = tree
        parts = path.split(".")
        for i, part in enumerate(parts):
            if i == len(parts) - 1:
                node[part] = {}
            elif node.get(part) == {} and part in node:
                break  # a parent is already selected whole
            else:
                node = node.setdefault(part, {"__partial__": True})
    return tree


def _keep(data: Any, tree: dict[str, Any]) -> Any:
    if isinstance(data, list):
        return [_keep(item, tree) for item in data]
    if not isinstance(data, dict):
        return data
    kept = {}
    for key, sub in tree.items():
        if key == "__partial__" or key not in data:
            continue
        kept[key] = _keep(data[key], sub) if sub.get("__partial__") else data[key]
    return kept


def _drop(data: Any, tree: dict[str, Any]) -> Any:
    if isinstance(data, list):
        return [_drop(item, tree) for item in data]
    if not isinstance(data, dict):
        return data
    result = dict(data)
    for key, sub in tree.items():
        if key == "__partial__" or key not in result:
            continue
        if sub.get("__partial__"):
            result[key] = _drop(result[key], sub)
        else:
            del result[key]
    return result


def public(doc: Mapping[str, Any]) -> dict[str, Any]:
    """A stored document without its private ``_`` keys (kept for the emulator only)."""
    return {k: v for k, v in doc.items() if not k.startswith("_")}
