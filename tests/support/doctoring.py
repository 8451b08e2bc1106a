"""An example alliance switched to the real services' settings, pointed at the sandbox, with
the issued secrets in the environment (what the doctor and going-live tests check)."""

from __future__ import annotations

import pytest

import sync.limits
from tests.support.alliance import Alliance


def real_mode(made: Alliance, monkeypatch: pytest.MonkeyPatch, **wrong: str) -> dict[str, str]:
    """Switch the config to the real services' settings, pointed at the sandbox, with the
    issued secrets in the environment (``wrong`` replaces some); returns the secrets used."""
    issued = made.server.app.people.credentials.coordinator()
    secrets = {
        "TRELLO_API_KEY": issued["trello"]["api_key"], "TRELLO_TOKEN": issued["trello"]["token"],
        "SLACK_BOT_TOKEN": issued["slack"]["bot_token"],
        "MAILCHIMP_API_KEY": issued["mailchimp"]["api_key"], **wrong,
    }
    for name, value in secrets.items():
        monkeypatch.setenv(name, value)
    # The real services' pacing books every call in this process's limits, one bucket per
    # token, and every test here uses the sandbox's one token: fresh limits for each test, as a
    # new process has (else a file of doctor runs waits out Slack's 50 user look-ups a minute).
    monkeypatch.setattr(sync.limits, "_made", {})
    base = made.server.url
    text = made.config_path.read_text(encoding="utf-8").replace("sandbox: true", "sandbox: false")
    text = text.replace("  # base_url: http://127.0.0.1:8765/trello", f"  base_url: {base}/trello")
    text = text.replace("  # base_url: http://127.0.0.1:8765/slack/api/",
                        f"  base_url: {base}/slack/api/")
    text = text.replace("  # server: us6 ", f"  base_url: {base}/mailchimp/3.0\n  # ")
    made.config_path.write_text(text, encoding="utf-8")
    with made.store() as store:  # as if it had been bootstrapped on the real services
        store.set_mode("live")
    return secrets
