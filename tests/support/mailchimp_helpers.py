"""Shared helpers of the Mailchimp sandbox tests (an audience body, hashes, problem bodies)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

import pytest
from mailchimp_marketing import Client
from mailchimp_marketing.api_client import ApiClientError

AUDIENCE: dict[str, Any] = {
    "name": "Friesland alliance newsletter",
    "contact": {"company": "FRL", "address1": "Street 1", "city": "Leeuwarden", "country": "NL"},
    "permission_reminder": "You follow the Friesland alliance.",
    "campaign_defaults": {
        "from_name": "FRL",
        "from_email": "news@example.org",
        "subject": "News",
        "language": "en",
    },
    "email_type_option": False,
}
PROBLEM_KEYS = {"type", "title", "status", "detail", "instance"}


def md5(email: str) -> str:
    return hashlib.md5(email.lower().encode()).hexdigest()


def problem(call: Callable[[], Any]) -> tuple[int, dict[str, Any]]:
    """The status and parsed problem+json body of a call that must fail."""
    with pytest.raises(ApiClientError) as caught:
        call()
    body = json.loads(caught.value.text)  # the SDK leaves problem+json as raw text
    assert set(body) >= PROBLEM_KEYS
    assert body["status"] == caught.value.status_code
    return caught.value.status_code, body


def put(mc: Client, list_id: str, email: str, **body: Any) -> dict[str, Any]:
    payload = {"email_address": email, "status_if_new": "subscribed", **body}
    return mc.lists.set_list_member(list_id, md5(email), payload)
