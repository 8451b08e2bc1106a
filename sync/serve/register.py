"""Where the vendors deliver: the board's Trello webhook, and the sandbox Slack app's URLs.

- Trello: one webhook on the board with our callback URL. Found among our token's webhooks, it
  is adopted (never a second one); found but disabled by Trello (``active: false`` after
  failed deliveries), it is deleted and made again; one of ours to an older public URL is
  deleted; the webhook id is recorded in the state store. Trello sends ``HEAD`` to the URL
  first, so the server must already be listening.
- Mailchimp: one list webhook on the audience, its URL carrying the secret (adopted when
  found, so never two; Mailchimp checks the URL with ``GET`` first).
- Slack: on real Slack a workspace admin enters the Request URLs in the app's settings (see
  docs/realtime.md); on the sandbox ``POST /_sandbox/slack/app`` does it, and the sandbox sends
  ``url_verification`` to the event URL as Slack does.
"""

from __future__ import annotations

import json
import logging
import urllib.request
from typing import Any

from sync.core.errors import UserError
from sync.state.store import StateStore

log = logging.getLogger("mcm_sync.serve")
DESCRIPTION = "mcm-sync serve"


def ensure_trello_webhook(trello: Any, store: StateStore, board_id: str,
                          callback_url: str) -> str:
    """The board's webhook to ``callback_url``: adopted, made, or made again; returns what."""
    on_board = [h for h in trello.webhooks() if h.model_id == board_id]
    ours = [h for h in on_board if h.callback_url == callback_url]
    for moved in [h for h in on_board if h.callback_url != callback_url
                  and h.description == DESCRIPTION]:
        trello.delete_webhook(moved.id)  # ours, to a URL we no longer serve: one webhook only
    what = "adopted"
    active = [h for h in ours if h.active]
    for stale in [h for h in ours if not h.active]:
        trello.delete_webhook(stale.id)  # disabled by Trello: made again below
        what = "re-created"
    if active:
        hook = active[0]
        for extra in active[1:]:
            trello.delete_webhook(extra.id)
    else:
        hook = trello.create_webhook(board_id, callback_url, DESCRIPTION)
        what = "created" if what == "adopted" else what
    store.put_resource("trello", "webhook", "board", hook.id, url=callback_url)
    return what


def ensure_mailchimp_webhook(mailchimp: Any, store: StateStore, audience_id: str,
                             url: str) -> str:
    """The audience's webhook to ``url`` (which carries the secret): adopted or created.

    Ours to another URL of this server (``/hooks/mailchimp/``: an older public URL or
    secret) is deleted, so there is one.
    """
    from connectors.mailchimp.webhooks import create_webhook, delete_webhook, list_webhooks

    found = list_webhooks(mailchimp, audience_id)
    mine = [h for h in found if h.get("url") == url]
    for old in found:
        if old.get("url") != url and "/hooks/mailchimp/" in str(old.get("url")):
            delete_webhook(mailchimp, audience_id, str(old["id"]))
    hook = mine[0] if mine else create_webhook(mailchimp, audience_id, url)
    store.put_resource("mailchimp", "webhook", "audience", str(hook["id"]))
    return "adopted" if mine else "created"


def register_sandbox_slack_app(sandbox_url: str, public_url: str) -> None:
    """Point the sandbox's Slack app at our endpoints (its ``url_verification`` follows)."""
    body = json.dumps({"event_url": f"{public_url}/hooks/slack/events",
                       "interactivity_url": f"{public_url}/hooks/slack/interactive",
                       "command_url": f"{public_url}/hooks/slack/commands"}).encode()
    request = urllib.request.Request(f"{sandbox_url}/_sandbox/slack/app", data=body,
                                     headers={"Content-Type": "application/json"},
                                     method="POST")
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(request, timeout=10) as answer:
            answer.read()
    except OSError as exc:
        detail = ""
        if hasattr(exc, "read"):
            detail = exc.read().decode("utf-8", "replace")[:200]
        raise UserError(f"the sandbox refused the Slack app's URLs: {exc} {detail}".strip(),
                        hint="is --public-url reachable from the sandbox (loopback)?") from None
