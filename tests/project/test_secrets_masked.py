"""No secret in any log, state file or output (issue 25, item 4), as an adversary would look.

A whole journey runs as real processes at ``-vv`` through errors the sandbox injects:
bootstrap and sync with failing Trello and Slack calls (retries log the URLs), ``doctor`` (it
reads ``GET /1/tokens/{token}``), and ``serve`` while the Mailchimp API fails, receiving forged
and genuine deliveries on ``/hooks/mailchimp/<secret>``. Then every output, every file of the
alliance's folder (the sandbox's own data aside: it is the vendor) is searched for every
secret the process held, raw and in each encoding a URL, a JSON body or a header gives it.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from urllib.parse import quote, quote_plus

import pytest
import requests
import waitress.server

from connectors import masking
from connectors.sandbox.clients.testing import issued
from sync.serve.routes import SANDBOX_MAILCHIMP_SECRET
from tests.support.alliance import Alliance
from tests.support.paths import ROOT


def encodings(secret: str) -> set[str]:
    """``secret`` as it could leak: raw, percent-encoded (both cases), ``+``-encoded,
    JSON-escaped, base64 (alone and as Basic auth's ``user:secret``)."""
    forms = {secret, quote(secret, safe=""), quote(secret, safe="/"), quote_plus(secret),
             json.dumps(secret)[1:-1], base64.b64encode(secret.encode()).decode(),
             base64.b64encode(f"anystring:{secret}".encode()).decode()}
    forms |= {re.sub(r"%[0-9A-F]{2}", lambda m: m.group(0).lower(), f) for f in forms}
    return forms


def leaks(texts: dict[str, str], secrets: list[str]) -> list[tuple[str, str]]:
    """(where, which form) for every secret form found in one of ``texts``."""
    return [(where, form) for where, text in texts.items() for secret in secrets
            for form in encodings(secret) if form in text]


@pytest.fixture(scope="module")
def alliance(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Alliance]:
    made = Alliance(tmp_path_factory.mktemp("secrets"))
    yield made
    made.close()


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    env["PYTHONPATH"] = str(ROOT)
    return env


def _run(alliance: Alliance, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sync.cli.main", "-vv", "-c",
                           str(alliance.config_path), *args], capture_output=True, text=True,
                          env=_env(), timeout=240, cwd=alliance.folder)


def _serve(alliance: Alliance, secret: str) -> str:
    """``serve`` while Mailchimp fails; forged and genuine deliveries; stopped by SIGTERM."""
    process = subprocess.Popen([sys.executable, "-m", "sync.cli.main", "-vv", "-c",
                                str(alliance.config_path), "serve", "--port", "0",
                                "--reconcile-every", "off"], stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, env=_env(),
                               cwd=alliance.folder)
    assert process.stdout is not None
    lines: list[str] = []
    url = ""
    deadline = time.monotonic() + 120
    while not url and time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        lines.append(line)
        found = re.search(r"serving on (http://\S+)", line)
        url = found.group(1) if found else ""
    try:
        assert url, "".join(lines)
        session = requests.Session()
        session.trust_env = False
        hook = f"{url}/hooks/mailchimp/"
        session.get(hook + secret, timeout=10)
        session.get(hook + quote(secret + "x", safe=""), timeout=10)  # wrong: refused, logged
        session.post(hook + secret, data={"type": "unsubscribe", "fired_at": "2027-01-12",
                                          "data[list_id]": "nope", "data[email]": "a@b.org"},
                     timeout=10)
        session.post(f"{url}/hooks/trello", data=b"[" * 50_000,
                     headers={"X-Trello-Webhook": "forged"}, timeout=10)
        session.get(f"{url}/healthz", timeout=10)
    finally:
        process.terminate()
        rest, _ = process.communicate(timeout=60)
    return "".join(lines) + rest


def test_a_journey_at_debug_through_errors_leaks_no_secret(alliance: Alliance) -> None:
    credentials = issued(alliance.server)
    secrets = sorted({value for service in credentials.values() for value in service.values()}
                     | {SANDBOX_MAILCHIMP_SECRET})
    outputs: dict[str, str] = {}

    alliance.fault(service="trello", method="POST", path="/1/cards", mode="error", status=500,
                   count=2)
    alliance.fault(service="slack", path="/api/chat.postMessage", mode="error", status=503,
                   count=1)
    for name, args in (("bootstrap", ("bootstrap",)), ("sync", ("sync",)),
                       ("doctor", ("doctor",))):
        result = _run(alliance, *args)
        outputs[name] = result.stdout + result.stderr
    alliance.admin("DELETE", "/_sandbox/faults")
    for method in ("GET", "POST"):  # serve's webhook registration fails once each, retried
        alliance.fault(service="mailchimp", method=method, mode="error", status=500, count=1)
    outputs["serve"] = _serve(alliance, SANDBOX_MAILCHIMP_SECRET)
    alliance.admin("DELETE", "/_sandbox/faults")

    everything = "\n".join(outputs.values())
    # The journey did go where secrets leak: debug logs of the HTTP libraries, the token's
    # own path, retries after the injected failures, the Mailchimp route.
    assert "DEBUG urllib3" in everything, everything[-3000:]
    assert "/1/tokens/***" in everything, everything[-3000:]
    assert "/hooks/mailchimp/***" in everything, outputs["serve"][-3000:]
    files = {str(path): path.read_bytes().decode("utf-8", "replace")
             for path in alliance.folder.rglob("*")
             if path.is_file() and "sandbox" not in path.relative_to(alliance.folder).parts}
    assert any(path.endswith("state.db") for path in files)
    assert leaks({**outputs, **files}, secrets) == []


def test_waitress_error_lines_and_tracebacks_are_masked(caplog: pytest.LogCaptureFixture) -> None:
    """An application failing on ``/hooks/mailchimp/<secret>``: waitress logs the path and the
    traceback (which carries the secret too); both are masked, through the root logger."""
    secret = "mc-webhook-secret-a1b2c3d4e5"
    masking.install()
    masking.remember_secret(secret)

    def failing(environ: dict[str, str], start_response: object) -> list[bytes]:
        raise RuntimeError(f"cannot handle {environ['PATH_INFO']}")

    server = waitress.server.create_server(failing, host="127.0.0.1", port=0,
                                           expose_tracebacks=False)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        with caplog.at_level(logging.ERROR, logger="waitress"):
            session = requests.Session()
            session.trust_env = False
            answer = session.get(f"http://127.0.0.1:{server.effective_port}/hooks/mailchimp/"
                                 f"{secret}", timeout=10)
            assert answer.status_code == 500
            deadline = time.monotonic() + 5
            while not caplog.records and time.monotonic() < deadline:
                time.sleep(0.05)
    finally:
        server.close()
    text = caplog.text
    assert "Exception while serving /hooks/mailchimp/***" in text, text
    assert "RuntimeError: cannot handle /hooks/mailchimp/***" in text, text
    assert leaks({"log": text}, [secret]) == []


@pytest.mark.parametrize("line", [
    "GET /1/tokens/{token}/member?fields=id",
    "GET /1/tokens/{quoted}/webhooks",
    "https://api.trello.com/1/members/me?key={key}&token={quoted_lower}",
    "Authorization: Bearer {slack}",
    "body: {{\"token\": \"{json}\"}}",
    "Basic {basic}",
])
def test_every_form_of_a_remembered_secret_is_masked(line: str) -> None:
    token, key, slack = "ATTA/0a1+b2=c3d4e5f6", "0123456789abcdef", "xoxb-1-2-abcdefghij"
    masking.remember_secret(token, key, slack)
    lower = re.sub(r"%[0-9A-F]{2}", lambda m: m.group(0).lower(), quote(token, safe=""))
    text = line.format(token=token, quoted=quote(token, safe=""), key=key, slack=slack,
                       quoted_lower=lower, json=json.dumps(token)[1:-1],
                       basic=base64.b64encode(token.encode()).decode())
    masked = masking.mask(text)
    assert leaks({"line": masked}, [token, key, slack]) == [], masked
    assert "***" in masked
