"""Secrets masked in every text that leaves the process: log records, error lines, tracebacks.

This is the one place that knows what a secret looks like. Two layers:

* the **known secrets**: every credential the process holds (the config's resolved
  ``${VAR}``/``${file:...}`` values, the tokens a connector was built with, the credentials a
  sandbox issued, the webhook secrets ``serve`` verifies with) is remembered with
  :func:`remember_secret`; :func:`mask` replaces it in its raw form and in every encoding it
  can take on the way out (percent-encoded in a query or a path, ``+`` for spaces, lower- or
  upper-case hex, JSON-escaped, base64 as in an ``Authorization: Basic`` header);
* the **shapes** of credentials, for those we were never told about: ``key=``/``token=``
  query values, ``Bearer``/``Basic``/``OAuth`` header values, Slack ``xox?-`` tokens, Mailchimp
  ``<hex>-us21`` keys, Trello's ``/1/tokens/<token>`` path and our own
  ``/hooks/mailchimp/<secret>`` route.

:func:`install` puts it in front of logging for the whole process: a log-record factory masks
every record any library creates (urllib3, waitress, slack_sdk...), its traceback included,
before any handler sees it; :class:`MaskingFilter` does the same for a handler of ours.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import threading
import traceback
from typing import Any
from urllib.parse import quote, quote_plus

MASK = "***"
# Shorter values are not worth masking (they would mask ordinary words); no real credential
# of Trello, Slack or Mailchimp is this short.
MIN_SECRET_LENGTH = 8

_SHAPES = re.compile(
    r"(?i)((?:key|token|api_?key|apikey|secret|password|signature)=)[^&\s\"'<>]+"
    r"|(bearer\s+|basic\s+|oauth\s+)[^\s\"',]+"
    r"|((?:/1)?/tokens/)[^/?#\s\"'<>]+"
    r"|(/hooks/mailchimp/)[^/?#\s\"'<>]+"
    r"|(://[^:/@\s\"'<>]+:)[^@/\s\"'<>]+(?=@)"
    r"|xox[abeprs]-[A-Za-z0-9-]+"
    r"|\b[0-9a-f]{32}-us\d+\b"
)

_lock = threading.Lock()
_known: set[str] = set()
_pattern: re.Pattern[str] | None = None


def _forms(secret: str) -> set[str]:
    """The ways ``secret`` can be written in a URL, a JSON document or a header."""
    forms = {secret, quote(secret, safe=""), quote(secret, safe="/"), quote_plus(secret),
             json.dumps(secret)[1:-1], base64.b64encode(secret.encode()).decode().rstrip("=")}
    forms |= {re.sub(r"%[0-9A-F]{2}", lambda m: m.group(0).lower(), form) for form in forms}
    return {form for form in forms if len(form) >= MIN_SECRET_LENGTH}


def remember_secret(*values: str | None) -> None:
    """Mask these values (and their encodings) from now on, in every text :func:`mask` sees."""
    global _pattern
    fresh = {v.strip() for v in values if v and len(v.strip()) >= MIN_SECRET_LENGTH} - _known
    if not fresh:
        return
    with _lock:
        _known.update(fresh)
        forms: set[str] = set()
        for secret in _known:
            forms |= _forms(secret)
        # Longest first, so a secret's encoded form is masked whole, not a raw prefix of it.
        alternatives = sorted(forms, key=len, reverse=True)
        _pattern = re.compile("|".join(re.escape(form) for form in alternatives))


def forget_secrets() -> None:
    """Forget every remembered secret (tests that want a clean slate)."""
    global _pattern
    with _lock:
        _known.clear()
        _pattern = None


def _shape(match: re.Match[str]) -> str:
    prefix = next((group for group in match.groups() if group), "")
    return f"{prefix}{MASK}"


def mask(text: str) -> str:
    """``text`` with every remembered secret, in any encoding, and anything shaped like a
    credential replaced by ``***``."""
    if not text:
        return text
    pattern = _pattern
    if pattern is not None:
        text = pattern.sub(MASK, text)
    return _SHAPES.sub(_shape, text)


def mask_record(record: logging.LogRecord) -> logging.LogRecord:
    """Mask a log record in place: its message (arguments merged in), its traceback, its stack."""
    try:
        message = record.getMessage()
    except Exception:  # a library's bad format string: keep its text, still masked
        message = f"{record.msg} {record.args}"
    record.msg, record.args = mask(message), None
    if record.exc_info and record.exc_info[0] is not None and not record.exc_text:
        # Formatters would print the traceback later, unmasked; print it now, masked.
        record.exc_text = "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
    if record.exc_text:
        record.exc_text = mask(record.exc_text)
    if record.stack_info:
        record.stack_info = mask(record.stack_info)
    return record


class MaskingFilter(logging.Filter):
    """A handler filter that masks every record passing through (it never drops one)."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Mask ``record`` in place; always keep it."""
        mask_record(record)
        return True


_installed = False


def install() -> None:
    """Mask every log record of the process, whatever logger or handler it goes to (once)."""
    global _installed
    with _lock:
        if _installed:
            return
        _installed = True
        make = logging.getLogRecordFactory()

    def masked_record(*args: Any, **kwargs: Any) -> logging.LogRecord:
        return mask_record(make(*args, **kwargs))

    logging.setLogRecordFactory(masked_record)


__all__ = ["MASK", "MaskingFilter", "forget_secrets", "install", "mask", "mask_record",
           "remember_secret"]
