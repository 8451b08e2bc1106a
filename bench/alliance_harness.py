"""Shared harness of the bootstrap and sync benchmarks: the example alliance on a sandbox.

:class:`BenchAlliance` writes the example config (``config.example.yaml``) into a temporary
folder, optionally with a generated action plan of extra rows (to reach N items cheaply),
starts a loopback sandbox beside it and announces it the way ``mcm-sync sandbox serve`` does,
so ``mcm-sync`` runs find it and pace only when the sandbox emulates the vendors' rate limits.

With ``processes=True`` (the bootstrap and sync benchmarks) everything runs as a user runs
it: the sandbox is ``mcm-sync sandbox serve`` in a process of its own, and every ``mcm-sync``
command a process of its own (``.venv/bin/mcm-sync``), so a figure includes the start-up every
cron run pays. Without it (``bench_serve.py``, which reads the sandbox's store directly) the
sandbox is a thread and the commands run in process through click's CliRunner.

Rate limits can be switched at run time (``POST /_sandbox/settings``) together with the
announcement, so the client's pacing follows. :meth:`BenchAlliance.restart` starts a new
server on the same data: its rate-limit windows are empty, as they would be for runs minutes
apart (a fresh ``mcm-sync`` process has a fresh pacer, but the sandbox remembers the last
minute of calls).

Figures: the vendors' documented limits (``contracts/API-NOTES.md``), used for the floors the
benchmarks print. They are the vendors' figures, not our pacing's (which stays a bit under).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from click.testing import CliRunner

from connectors.rate_limits import (
    SLACK_POST_PER_CHANNEL,
    SLACK_TIERS,
    TRELLO_PER_TOKEN,
    slack_tier,
)
from connectors.sandbox.clients.testing import (
    RewritingSession,
    admin,
    member_token,
    slack_client,
    trello_client,
)
from connectors.sandbox.core.server import SandboxServer
from sync.cli.main import cli
from sync.core.config import load_config
from sync.core.services import announce_sandbox
from sync.state.store import StateStore

ROOT = Path(__file__).resolve().parents[1]
MCM_SYNC = str(Path(sys.executable).parent / "mcm-sync")
PROXIES = ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY", "all_proxy")
EXAMPLE_CONFIG = ROOT / "config.example.yaml"
EXAMPLE_PLAN = ROOT / "playbooks/examples/frl-action-plan.yaml"
# Items the example playbook makes without any action-plan row: 34 tasks + 5 plenary meetings.
PLAYBOOK_ITEMS = 39
PEOPLE = ("bram.visser@example.org", "carla.mulder@example.org", "daan.bakker@example.org",
          "esra.yilmaz@example.org", "farah.haddad@example.org")

# Vendor limits (per token / per method per workspace / per channel), from connectors.rate_limits.
TRELLO_PER_10S = TRELLO_PER_TOKEN.calls
SLACK_TIER_PER_MIN = {tier: limit.calls for tier, limit in SLACK_TIERS.items()}
SLACK_POSTS_PER_S = SLACK_POST_PER_CHANNEL.calls / SLACK_POST_PER_CHANNEL.seconds


def plan_rows(count: int) -> list[dict[str, Any]]:
    """``count`` synthetic action-plan rows (unique action, number and key)."""
    steps = ("research", "publish", "promote", "sustain")
    start = dt.date(2027, 3, 1)
    return [{
        "number": str(1000 + i),
        "key": f"bench-row-{i:05d}",
        "action": f"Benchmark action {i:05d}",
        "local_problem": "A synthetic row to reach many items",
        "responsible": PEOPLE[i % len(PEOPLE)],
        "status": "todo",
        "due": (start + dt.timedelta(days=i % 500)).isoformat(),
        "step": steps[i % len(steps)],
        "outcome": "Measured",
    } for i in range(count)]


@dataclass
class Run:
    """One CLI run: exit code, wall seconds, sandbox requests per service and 429s seen."""

    exit_code: int
    seconds: float
    calls: dict[str, int]
    throttled: int
    routes: dict[str, dict[str, dict[str, int]]]
    output: str

    @property
    def total(self) -> int:
        """Requests to all services."""
        return sum(self.calls.values())


def process_env() -> dict[str, str]:
    """The environment of the processes: no proxies (loopback only)."""
    return {k: v for k, v in os.environ.items() if k not in PROXIES}


class SandboxProcess:
    """``mcm-sync sandbox serve`` on a data folder, in a process of its own."""

    def __init__(self, config: Path, data_dir: Path, rate_limits: bool) -> None:
        info = data_dir / "server.json"
        info.unlink(missing_ok=True)
        self.process = subprocess.Popen(
            [MCM_SYNC, "-c", str(config), "sandbox", "serve", "--port", "0", "--data",
             str(data_dir), "--rate-limits" if rate_limits else "--no-rate-limits"],
            env=process_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while not info.exists():
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise RuntimeError("the sandbox process did not start")
            time.sleep(0.05)
        self.url = str(json.loads(info.read_text(encoding="utf-8"))["url"])
        self.base_urls = {"trello": f"{self.url}/trello", "slack": f"{self.url}/slack/api/",
                          "mailchimp": f"{self.url}/mailchimp/3.0"}

    def stop(self) -> None:
        """Stop the process (it removes its ``server.json``)."""
        self.process.terminate()
        self.process.wait(timeout=30)


class BenchAlliance:
    """The example alliance in ``folder`` with its own sandbox (see the module docstring)."""

    def __init__(self, folder: Path, *, extra_rows: int | None = None,
                 rate_limits: bool = False, processes: bool = False) -> None:
        self.folder = folder
        self.processes = processes
        self.config_path = self._write_config(extra_rows)
        self.config = load_config(self.config_path)
        self.data_dir = self.config.state_path.parent / "sandbox"
        self.runner = CliRunner()
        self.server: SandboxServer | SandboxProcess | None = None
        self.start(rate_limits)

    def _write_config(self, extra_rows: int | None) -> Path:
        plan = EXAMPLE_PLAN
        if extra_rows is not None:
            plan = self.folder / "action-plan.yaml"
            plan.write_text(yaml.safe_dump({"rows": plan_rows(extra_rows)}, sort_keys=False),
                            encoding="utf-8")
        text = EXAMPLE_CONFIG.read_text(encoding="utf-8")
        text = text.replace("action_plan: playbooks/examples/frl-action-plan.yaml",
                            f"action_plan: {plan}")
        text = text.replace("path: .mcm-sync/state.db",
                            f"path: {self.folder / '.mcm-sync/state.db'}")
        # Large alliances on purpose: above the default bound on the number of items.
        text = text.replace("  digest_every: 7d", "  digest_every: 7d\n  max_items: 100000")
        path = self.folder / "mcm-sync.yaml"
        path.write_text(text, encoding="utf-8")
        return path

    # ------------------------------------------------------------------ sandbox

    def start(self, rate_limits: bool) -> None:
        """Start a sandbox on the alliance's data and announce it (pacing iff limits)."""
        if self.processes:  # it announces itself
            self.server = SandboxProcess(self.config_path, self.data_dir, rate_limits)
            return
        self.server = SandboxServer(port=0, data_dir=self.data_dir, rate_limits=rate_limits)
        self.server.start()
        announce_sandbox(self.data_dir, self.server.url, rate_limits=rate_limits)

    def restart(self, rate_limits: bool) -> None:
        """A new server on the same data: empty rate-limit windows and counters."""
        self.close()
        self.start(rate_limits)

    def close(self) -> None:
        """Stop the sandbox."""
        if self.server is not None:
            self.server.stop()
            self.server = None

    def set_rate_limits(self, on: bool) -> None:
        """Switch the sandbox's rate limits and the clients' pacing together."""
        self.admin("POST", "/_sandbox/settings", {"rate_limits": on})
        assert self.server is not None
        announce_sandbox(self.data_dir, self.server.url, rate_limits=on)

    def admin(self, method: str, path: str, body: Any = None) -> Any:
        """The sandbox's admin API."""
        assert self.server is not None
        return admin(self.server, method, path, body)

    def stats(self) -> dict[str, dict[str, dict[str, int]]]:
        """Requests per service, route and status since the last reset."""
        return dict(self.admin("GET", "/_sandbox/stats"))

    def reset_stats(self) -> None:
        """Zero the request counters."""
        self.admin("POST", "/_sandbox/stats/reset")

    # ------------------------------------------------------------------ runs

    def cli(self, *args: str) -> Run:
        """``mcm-sync -c <config> args``, timed and counted (counters reset first): a process
        of its own with ``processes``, else in process."""
        self.reset_stats()
        command = ["-c", str(self.config_path), *args]
        started = time.perf_counter()
        if self.processes:
            done = subprocess.run([MCM_SYNC, *command], env=process_env(), capture_output=True,
                                  text=True, check=False)
            code, output, problem = done.returncode, done.stdout, done.stderr[-2000:]
        else:
            result = self.runner.invoke(cli, command)
            code, output, problem = result.exit_code, result.output, repr(result.exception)
        seconds = time.perf_counter() - started
        routes = self.stats()
        run = Run(code, seconds, per_service(routes), throttled(routes), routes, output)
        if code not in (0, 3):
            raise RuntimeError(f"mcm-sync {' '.join(args)} exited {code}: {output[-2000:]} "
                               f"{problem}")
        return run

    def store(self) -> StateStore:
        """A fresh handle on the state store (use as a context manager)."""
        return StateStore.open(self.config.state_path)

    def resource(self, service: str, kind: str, key: str) -> str:
        """A recorded remote id (board, list, channel...)."""
        with self.store() as store:
            found = store.get_resource(service, kind, key)
        assert found is not None, (service, kind, key)
        return str(found.remote_id)

    def _member_token(self, email: str, service: str) -> str:
        """The token the sandbox issued to that member (its admin API for a process)."""
        if isinstance(self.server, SandboxProcess):
            return str(self.admin("POST", "/_sandbox/members/tokens", {"email": email})[service])
        assert self.server is not None
        return member_token(self.server, email, service)

    def trello_member(self, email: str) -> Any:
        """A py-trello client acting as that member."""
        assert self.server is not None
        token = self._member_token(email, "trello")
        if not isinstance(self.server, SandboxProcess):
            return trello_client(self.server, token=token)
        from trello import TrelloClient

        key = self.admin("GET", "/_sandbox/credentials")["trello"]["api_key"]
        return TrelloClient(api_key=key, api_secret=token,
                            http_service=RewritingSession(self.server.base_urls["trello"]))

    def slack_member(self, email: str) -> Any:
        """A slack_sdk WebClient acting as that member."""
        assert self.server is not None
        token = self._member_token(email, "slack")
        if not isinstance(self.server, SandboxProcess):
            return slack_client(self.server, token=token)
        from slack_sdk import WebClient

        client = WebClient(token=token, base_url=self.server.base_urls["slack"])
        client.proxy = None
        return client

    def __enter__(self) -> BenchAlliance:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def per_service(routes: Mapping[str, Mapping[str, Mapping[str, int]]]) -> dict[str, int]:
    """Requests per service (every status, dropped connections included)."""
    return {service: sum(sum(codes.values()) for codes in by_route.values())
            for service, by_route in routes.items()}


def throttled(routes: Mapping[str, Mapping[str, Mapping[str, int]]]) -> int:
    """How many requests the sandbox answered 429."""
    return sum(codes.get("429", 0) for by_route in routes.values() for codes in by_route.values())


def route_count(routes: Mapping[str, Mapping[str, Mapping[str, int]]], service: str,
                suffix: str) -> int:
    """Requests of one service whose route ends with ``suffix`` (e.g. ``chat.postMessage``)."""
    return sum(sum(codes.values()) for route, codes in routes.get(service, {}).items()
               if route.endswith(suffix))


def window_floor(calls: int, per_window: int, window: float) -> float:
    """Least wall time for ``calls`` under "``per_window`` calls in any ``window`` s".

    The first ``per_window`` go at once; each further full window admits ``per_window`` more.
    """
    if calls <= per_window:
        return 0.0
    return ((calls - 1) // per_window) * window


def floors(routes: Mapping[str, Mapping[str, Mapping[str, int]]]) -> dict[str, float]:
    """The floor each vendor limit implies for these requests (seconds, by limit name).

    Answers 429 are left out (a refused call takes no slot). Slack posts are counted as one
    channel's (the actions channel takes nearly all).
    """
    served = {service: {route: {code: n for code, n in codes.items() if code != "429"}
                        for route, codes in by_route.items()}
              for service, by_route in routes.items()}
    found = {"trello 100/10s per token":
             window_floor(per_service(served).get("trello", 0), TRELLO_PER_10S, 10.0)}
    for route, codes in served.get("slack", {}).items():
        method = route.rsplit("/", 1)[-1]
        count = sum(codes.values())
        if method == "chat.postMessage":
            found["slack chat.postMessage 1/s per channel"] = max(0.0, (count - 1)
                                                                  / SLACK_POSTS_PER_S)
            continue
        tier = slack_tier(method)
        found[f"slack {method} tier {tier} ({SLACK_TIER_PER_MIN[tier]}/min)"] = window_floor(
            count, SLACK_TIER_PER_MIN[tier], 60.0)
    return found


def binding(routes: Mapping[str, Mapping[str, Mapping[str, int]]]) -> tuple[str, float]:
    """The limit with the highest floor, and that floor."""
    found = floors(routes)
    name = max(found, key=lambda k: found[k])
    return name, found[name]


def no_proxies() -> None:
    """Loopback only: drop proxy settings the environment may carry."""
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY",
                 "all_proxy"):
        os.environ.pop(name, None)
