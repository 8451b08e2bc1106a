"""Malformed inputs are refused before the first remote call (issue 11), table-driven.

Every case runs the CLI against a bootstrapped alliance on a private sandbox and asserts: exit
2; one line of stderr naming the file and the key (or the option) and what is wrong; and zero
requests in the sandbox's stats. Config cases run with ``validate`` and with a writing command,
so that ``validate`` catches everything a command would.
"""

from __future__ import annotations

import re
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from sync.cli.main import cli
from tests.alliance import Alliance


@dataclass(frozen=True)
class Case:
    """One malformed input: how to make it, the command, what the error line must name."""

    name: str
    args: tuple[str, ...]
    expect: tuple[str, ...]  # every one of these in one line ({config}, {folder} filled in)
    edit: Callable[[str, Path], str] | None = None  # config text, folder -> new text


def _sub(pattern: str, new: str) -> Callable[[str, Path], str]:
    def edit(text: str, folder: Path) -> str:
        changed = re.sub(pattern, new, text, count=1, flags=re.MULTILINE)
        assert changed != text, pattern
        return changed
    return edit


def _secret_file_not_utf8(text: str, folder: Path) -> str:
    secret = folder / "trello-token"
    secret.write_bytes(b"caf\xe9-not-utf8")
    return text.replace("token: ${TRELLO_TOKEN}", f"token: ${{file:{secret}}}")


def _empty_state(text: str, folder: Path) -> str:
    empty = folder / "lost" / "state.db"
    empty.parent.mkdir(exist_ok=True)
    empty.write_bytes(b"")
    return re.sub(r"(?m)^  path: .*$", f"  path: {empty}", text)


def _action_plan_not_utf8(text: str, folder: Path) -> str:
    plan = folder / "plan.csv"
    plan.write_bytes(b"step,title\nresearch,caf\xe9\n")
    return re.sub(r"(?m)^action_plan: .*$", f"action_plan: {plan}", text)


CONFIG_CASES = [
    Case("secret-file-not-utf8", (), ("{config}", "trello.token", "not UTF-8"),
         _secret_file_not_utf8),
    Case("digest-every-negative", (), ("{config}", "sync.digest_every", "not a duration"),
         _sub(r"digest_every: 7d", "digest_every: -5d")),
    Case("full-reconcile-banana", (), ("{config}", "sync.full_reconcile_every", "banana"),
         _sub(r"full_reconcile_every: 24h", "full_reconcile_every: banana")),
    Case("base-url-not-url", (), ("{config}", "trello.base_url", "not an http(s) URL"),
         _sub(r"^  # base_url: http://127.0.0.1:8765/trello.*$", "  base_url: not a url")),
    Case("base-url-ftp", (), ("{config}", "slack.base_url", "not an http(s) URL"),
         _sub(r"^  # base_url: http://127.0.0.1:8765/slack/api/.*$",
              "  base_url: ftp://example.org/api")),
    Case("sandbox-string", (), ("{config}", "sandbox", "true or false without quotes"),
         _sub(r"^sandbox: true", "sandbox: 'false'")),
    Case("timezone-mars", (), ("{config}", "alliance.timezone", "not an IANA time zone"),
         _sub(r"^  language: en.*$", "  language: en\n  timezone: Mars/Olympus")),
    Case("status-lists-shared", (), ("{config}", "trello.status_lists", "both map to"),
         _sub(r"^  board_name: .*$", "  status_lists: {todo: Open, doing: open}")),
    Case("start-date-year-1", (), ("{config}", "alliance.start_date", "plausible start date"),
         _sub(r"start_date: 2027-01-11", "start_date: 0001-01-01")),
    Case("action-plan-not-utf8", (), ("{folder}/plan.csv", "UTF-8"), _action_plan_not_utf8),
]

OPTION_CASES = [
    Case("status-step-party", ("status", "--step", "party"),
         ("--step party: no such step", "1 = scope", "3 = research",
          "number, key or title")),
    Case("log-limit-negative", ("log", "--limit", "-1"), ("'--limit'", "-1", "x>=1")),
    Case("log-limit-zero", ("log", "--limit", "0"), ("'--limit'", "x>=1")),
    Case("report-chart-gif", ("report", "--chart", "{folder}/x.gif"),
         ("'--chart'", "x.gif", "PNG or SVG")),
    Case("bootstrap-only-empty", ("bootstrap", "--only", ""), ("--only ''", "names no service")),
    Case("plan-only-commas", ("plan", "--only", ",,"), ("--only ',,'", "names no service")),
    Case("sync-interval-without-watch", ("sync", "--interval", "1s"),
         ("--interval 1s", "only goes with --watch")),
    Case("meeting-date-9999", ("meeting", "schedule", "--date", "2=9999-12-31"),
         ("--date 2=9999-12-31", "outside the alliance's work plan")),
    Case("meeting-date-before-start", ("meeting", "schedule", "--date", "1=2020-01-01"),
         ("--date 1=2020-01-01", "2027-01-11")),
    Case("sandbox-port-99999", ("sandbox", "serve", "--port", "99999"),
         ("'--port'", "99999", "0<=x<=65535")),
    Case("sandbox-port-negative", ("sandbox", "serve", "--port", "-1"), ("'--port'", "-1")),
    Case("stakeholders-csv-not-utf8", ("stakeholders", "import", "{folder}/people.csv"),
         ("{folder}/people.csv", "not UTF-8")),
    Case("minutes-not-utf8", ("minutes", "import", "{folder}/minutes.md"),
         ("{folder}/minutes.md", "UTF-8")),
]


@pytest.fixture(scope="module")
def alliance(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Alliance]:
    made = Alliance(tmp_path_factory.mktemp("malformed"))
    made.cli("bootstrap", "--only", "trello,slack")
    (made.folder / "people.csv").write_bytes(b"organisation,email\nCaf\xe9,x@example.org\n")
    (made.folder / "minutes.md").write_bytes(b"# Minutes caf\xe9\n")
    yield made
    made.close()


def _assert_refused(alliance: Alliance, config: Path, args: tuple[str, ...],
                    expect: tuple[str, ...]) -> None:
    folder = str(alliance.folder)
    args = tuple(a.replace("{folder}", folder) for a in args)
    wanted = [e.replace("{config}", str(config)).replace("{folder}", folder) for e in expect]
    alliance.reset_calls()
    result = alliance.runner.invoke(cli, ["-c", str(config), *args])
    assert result.exit_code == 2, (args, result.output, result.exception)
    lines = [line for line in result.stderr.splitlines() if all(w in line for w in wanted)]
    assert lines, (args, wanted, result.stderr)
    assert sum(alliance.calls().values()) == 0, alliance.calls()


@pytest.mark.parametrize("command", [("validate",), ("bootstrap",), ("sync",)])
@pytest.mark.parametrize("case", CONFIG_CASES, ids=lambda c: c.name)
def test_malformed_config_is_refused_before_any_call(alliance: Alliance, case: Case,
                                                     command: tuple[str, ...]) -> None:
    assert case.edit is not None
    bad = alliance.folder / f"bad-{case.name}.yaml"
    bad.write_text(case.edit(alliance.config_path.read_text(encoding="utf-8"), alliance.folder),
                   encoding="utf-8")
    _assert_refused(alliance, bad, command, case.expect)


@pytest.mark.parametrize("command", [("validate",), ("sync",), ("status",)])
def test_config_not_utf8_is_refused(alliance: Alliance, command: tuple[str, ...]) -> None:
    bad = alliance.folder / "latin1.yaml"
    bad.write_bytes(alliance.config_path.read_bytes() + "# café\n".encode("latin-1"))
    _assert_refused(alliance, bad, command, (str(bad), "line ", "not UTF-8", "0xe9"))


@pytest.mark.parametrize("command", [("sync",), ("status",), ("bootstrap",)])
def test_empty_state_file_is_refused(alliance: Alliance, command: tuple[str, ...]) -> None:
    bad = alliance.folder / "empty-state.yaml"
    bad.write_text(_empty_state(alliance.config_path.read_text(encoding="utf-8"),
                                alliance.folder), encoding="utf-8")
    _assert_refused(alliance, bad, command,
                    (f"{alliance.folder}/lost/state.db", "empty", "bootstrap --adopt"))


@pytest.mark.parametrize("case", OPTION_CASES, ids=lambda c: c.name)
def test_malformed_option_is_refused_before_any_call(alliance: Alliance, case: Case) -> None:
    _assert_refused(alliance, alliance.config_path, case.args, case.expect)


@pytest.mark.parametrize("host", ["127.0.0.1", "[::1]"])
def test_sandbox_port_in_use_is_one_line(alliance: Alliance, host: str) -> None:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        taken = socket.socket(family, socket.SOCK_STREAM)
        taken.bind((host.strip("[]"), 0))
    except OSError:
        pytest.skip(f"{host} is not available on this machine")
    with taken:
        taken.listen()
        port = str(taken.getsockname()[1])
        _assert_refused(alliance, alliance.config_path, ("sandbox", "serve", "--host", host,
                                                         "--port", port),
                        (f"cannot listen on {host} port {port}", "in use", "--port"))


def test_the_step_can_be_named_by_number_key_or_title(alliance: Alliance) -> None:
    for step in ("1", "research", "RESEARCH"):
        alliance.cli("status", "--step", step)
