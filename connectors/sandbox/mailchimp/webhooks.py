"""Mailchimp list webhooks as the sandbox sends them: the GET check, then form-encoded posts.

Mailchimp sends ``GET <url>`` when a webhook is saved and refuses it unless that answers 200
(loopback URLs only: the sandbox never calls another host). Deliveries are
``application/x-www-form-urlencoded`` POSTs with ``type``, ``fired_at`` (``YYYY-MM-DD
HH:MM:SS``) and ``data[...]`` fields; they are not signed (the URL carries a secret). A
webhook gets an event only if it subscribes to its type (``events``) and its origin
(``sources``: ``user`` when the person did it, ``admin``, ``api``).

People act here through the admin API, each act whole as in Mailchimp (the change and its
webhook together): ``POST /_sandbox/mailchimp/member`` ``{"list_id", "email", "action", ...}``
with action

- ``unsubscribe``: the person clicks "unsubscribe" in a newsletter (source ``user``): status
  ``unsubscribed`` and compliance state (the API cannot subscribe them again), webhook
  ``unsubscribe``;
- ``cleaned`` (or ``clean``): the address bounced hard (source ``admin``): status ``cleaned``,
  compliance state, webhook ``cleaned``;
- ``profile`` with ``merge_fields``: the person updates their profile through the form in a
  newsletter (source ``user``), webhook ``profile``;
- ``upemail`` with ``new_email``: the person changes their address; the member is filed
  again under the md5 of the new lower-cased address (the old hash answers 404), webhooks
  ``upemail`` then ``profile`` (Mailchimp sends both);
- ``subscribe`` with optional ``merge_fields``: the person signs up through the audience's
  signup form (source ``user``; a person in compliance state may opt in again themselves),
  webhook ``subscribe``.

``POST /_sandbox/mailchimp/unsubscribe|clean`` ``{"list_id", "email"}`` is the same act.
Failed deliveries are kept and shown on the sandbox page.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import threading
import time
from collections import deque
from typing import Any
from urllib.parse import urlsplit

import requests
from werkzeug.wrappers import Request, Response

from connectors.sandbox.core.network import is_loopback
from connectors.sandbox.core.service import json_response

SERVICE = "mailchimp"
KEPT = 200
ACTIONS = ("unsubscribe", "cleaned", "upemail", "profile", "subscribe")


def _loopback(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and is_loopback(parts.hostname or "")


def _session() -> requests.Session:
    session = requests.Session()
    session.trust_env = False  # loopback only, never through a proxy
    return session


class MailchimpDeliveries:
    """Sends list webhook posts and remembers the recent ones."""

    def __init__(self) -> None:
        self.deliveries: deque[dict[str, Any]] = deque(maxlen=KEPT)
        self.lock = threading.Lock()

    def check(self, url: str) -> str | None:
        """Mailchimp's GET check of a new webhook URL: why it failed, or None."""
        if not _loopback(url):
            return None
        try:
            answer = _session().get(url, timeout=5, allow_redirects=False)
        except requests.RequestException:
            return "no answer"
        return None if answer.status_code == 200 else f"status {answer.status_code}"

    def send(self, hooks: list[dict[str, Any]], kind: str, source: str,
             fields: dict[str, str]) -> int:
        """Post ``fields`` to every subscribed loopback webhook (background); how many."""
        chosen = [h for h in hooks if (h.get("events") or {}).get(kind)
                  and (h.get("sources") or {}).get(source) and _loopback(str(h.get("url")))]
        form = {"type": kind,
                "fired_at": dt.datetime.fromtimestamp(time.time(), dt.UTC)
                .strftime("%Y-%m-%d %H:%M:%S"), **fields}
        for hook in chosen:
            threading.Thread(target=self._post, args=(str(hook["url"]), kind, form),
                             daemon=True).start()
        return len(chosen)

    def _post(self, url: str, kind: str, form: dict[str, str]) -> None:
        status: int | None = None
        try:
            status = _session().post(url, data=form, timeout=10).status_code
        except requests.RequestException:
            status = None
        with self.lock:
            self.deliveries.append({"kind": kind, "url": urlsplit(url).path.rsplit("/", 1)[0]
                                    + "/***", "status": status,
                                    "ok": status is not None and 200 <= status < 300,
                                    "at": time.time()})

    def failures(self) -> list[dict[str, Any]]:
        """The failed deliveries kept, oldest first."""
        with self.lock:
            return [d for d in self.deliveries if not d["ok"]]

    def recent(self) -> list[dict[str, Any]]:
        """Every delivery kept, oldest first."""
        with self.lock:
            return list(self.deliveries)


def member_fields(action: str, doc: dict[str, Any], new_email: str = "",
                  old_email: str = "") -> dict[str, str]:
    """The ``data[...]`` fields of an event about member ``doc`` (as it is after the act)."""
    fields = {"data[id]": str(doc.get("unique_email_id") or doc["id"]),
              "data[list_id]": str(doc["list_id"]), "data[email]": str(doc["email_address"]),
              "data[email_type]": str(doc.get("email_type") or "html"),
              "data[merges][EMAIL]": str(doc["email_address"])}
    for tag, value in (doc.get("merge_fields") or {}).items():
        if value not in ("", None) and not isinstance(value, dict):
            fields[f"data[merges][{tag}]"] = str(value)
    fields["data[ip_opt]"] = str(doc.get("ip_opt") or "")
    if action == "unsubscribe":
        fields.update({"data[action]": "unsub", "data[reason]": "manual",
                       "data[campaign_id]": ""})
    elif action == "subscribe":
        fields["data[ip_signup]"] = str(doc.get("ip_signup") or "")
    elif action == "cleaned":
        fields = {"data[list_id]": fields["data[list_id]"], "data[campaign_id]": "",
                  "data[reason]": "hard", "data[email]": fields["data[email]"]}
    elif action == "upemail":
        fields = {"data[list_id]": fields["data[list_id]"], "data[new_id]": fields["data[id]"],
                  "data[new_email]": new_email, "data[old_email]": old_email}
    return fields


def _merge_fields(body: dict[str, Any]) -> dict[str, str]:
    given = body.get("merge_fields") or {}
    return {str(k).upper(): str(v) for k, v in given.items()} if isinstance(given, dict) else {}


def person_acts(emulator: Any, action: str, body: dict[str, Any]) -> Response:
    """One person's act on an audience (see the module docstring): change, then webhooks."""
    action = {"clean": "cleaned"}.get(action, action)
    if action not in ACTIONS:
        return json_response({"error": f"action must be one of {', '.join(ACTIONS)}"}, 400)
    list_id = str(body.get("list_id") or "")
    email = str(body.get("email") or "").strip()
    new_email = str(body.get("new_email") or "").strip()
    events: list[tuple[str, str, dict[str, str]]] = []
    with emulator.store.transaction():
        if emulator.store.get(SERVICE, "list", list_id) is None:
            return json_response({"error": "no such audience"}, 404)
        doc = emulator.member_doc(list_id, hashlib.md5(email.lower().encode()).hexdigest())
        if action == "subscribe":
            if doc is None:
                doc = emulator.signup(list_id, email)
            doc.update(status="subscribed", _compliance=False, ip_opt="127.0.0.1",
                       timestamp_opt=emulator.stamp())
        elif doc is None or doc["status"] == "archived":
            return json_response({"error": "no such member"}, 404)
        if action in ("unsubscribe", "cleaned"):
            doc.update(status="unsubscribed" if action == "unsubscribe" else "cleaned",
                       _compliance=True)
        if action in ("profile", "subscribe"):
            doc["merge_fields"] = {**doc["merge_fields"], **_merge_fields(body)}
        if action == "upemail":
            if "@" not in new_email:
                return json_response({"error": "new_email must be an e-mail address"}, 400)
            old_email = str(doc["email_address"])
            problem = emulator.refile(doc, new_email)
            if problem:
                return json_response({"error": problem}, 400)
            events.append(("upemail", "user", member_fields("upemail", doc, new_email,
                                                           old_email)))
            events.append(("profile", "user", member_fields("profile", doc)))
        else:
            source = "admin" if action == "cleaned" else "user"
            events.append((action, source, member_fields(action, doc)))
        doc["last_changed"] = emulator.stamp()
        emulator.store.update(SERVICE, "member", f"{list_id}:{doc['id']}", doc)
        hooks = emulator.store.list(SERVICE, "webhook", list_id)
    # After the commit: a receiver that reads the member back sees the act done.
    sent = sum(emulator.deliveries.send(hooks, kind, source, fields)
               for kind, source, fields in events)
    return json_response({"ok": True, "webhooks": sent, "status": doc["status"],
                          "id": doc["id"]})


def member_action_route(emulator: Any, request: Request) -> Response | None:
    """``/_sandbox/mailchimp/member|unsubscribe|clean`` and ``.../deliveries`` (None: not ours)."""
    path = request.path.rstrip("/")
    if (request.method, path) == ("GET", "/_sandbox/mailchimp/deliveries"):
        return json_response(emulator.deliveries.recent())
    if request.method != "POST":
        return None
    body = request.get_json(force=True, silent=True) or {}
    if path == "/_sandbox/mailchimp/member":
        return person_acts(emulator, str(body.get("action") or "unsubscribe"), body)
    if path in ("/_sandbox/mailchimp/unsubscribe", "/_sandbox/mailchimp/clean"):
        return person_acts(emulator, path.rsplit("/", 1)[1], body)
    return None
