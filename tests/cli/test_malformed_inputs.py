"""Malformed inputs are refused before the first remote call (issues 11 and 25), table-driven.

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
from tests.support.alliance import Alliance


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


def _plan(name: str, text: str | bytes) -> Callable[[str, Path], str]:
    """The config pointing to an action plan file ``name`` holding ``text``."""
    def edit(config: str, folder: Path) -> str:
        plan = folder / name
        if isinstance(text, bytes):
            plan.write_bytes(text)
        else:
            plan.write_text(text, encoding="utf-8")
        return re.sub(r"(?m)^action_plan: .*$", f"action_plan: {plan}", config)
    return edit


def _yaml_row(**cells: str) -> str:
    row = {"action": "Host a job fair", "step": "promote", "due": "2027-09-01", **cells}
    return "rows:\n  - " + "\n    ".join(f"{k}: {v}" for k, v in row.items()) + "\n"


_CSV_HEAD = "action,step,due\n"
_LAUGHS = "".join(f"{c}: &{c} [{', '.join([f'*{p}'] * 9)}]\n"
                  for p, c in zip("abcdefgh", "bcdefghi", strict=True))
BILLION_LAUGHS = 'a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]\n' \
    + _LAUGHS


def _secret_dev_zero(text: str, folder: Path) -> str:
    return text.replace("token: ${TRELLO_TOKEN}", "token: ${file:/dev/zero}")


def _append(extra: str) -> Callable[[str, Path], str]:
    def edit(text: str, folder: Path) -> str:
        return text + extra
    return edit


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
    # issue 25: accepted before, or an internal error
    Case("duplicate-people", (), ("{config}", "line ", "duplicate key 'people'"),
         _append("people:\n  - {name: Xa Yb, email: x@example.org, organisation: Org, "
                 "role: member}\n")),
    Case("duplicate-slug", (), ("{config}", "line ", "duplicate key 'slug'"),
         _sub(r"^  slug: frl .*$", "  slug: frl\n  slug: frx")),
    Case("nesting-10000", (), ("{config}", "line ", "nest"),
         _sub(r"^  vision: >-$", "  vision: " + "[" * 10_000 + "]" * 10_000 + "\n  x: >-")),
    Case("billion-laughs-config", (), ("{config}", "line ", "aliases"),
         _append("laughs:\n" + "".join("  " + line + "\n"
                                        for line in BILLION_LAUGHS.splitlines()))),
    Case("secret-dev-zero", (), ("{config}", "trello.token", "/dev/zero", "not a secret"),
         _secret_dev_zero),
    Case("digest-every-50000-years", (), ("{config}", "sync.digest_every", "too long"),
         _sub(r"digest_every: 7d", "digest_every: 2600000w")),
    Case("digest-every-huge-number", (), ("{config}", "sync.digest_every", "too long"),
         _sub(r"digest_every: 7d", "digest_every: 99999999999999999999d")),
    Case("channels-same-name", (), ("{config}", "slack.actions_channel", "also the general"),
         _sub(r"^  reactions_from: .*$", "  reactions_from: alliance\n  general_channel: "
              "frl-all\n  actions_channel: frl-all")),
    Case("channel-with-spaces", (), ("{config}", "slack.general_channel", "channel name"),
         _sub(r"^  reactions_from: .*$", "  reactions_from: alliance\n  general_channel: "
              "frl general")),
    Case("status-list-empty", (), ("{config}", "trello.status_lists", "empty"),
         _sub(r"^  board_name: .*$", "  status_lists: {todo: '', doing: Doing}")),
    Case("audience-id-dotdot", (), ("{config}", "mailchimp.audience_id", "not an id"),
         _sub(r"^  # audience_id: .*$", "  audience_id: ../../3.0/lists")),
    Case("mailchimp-server-host", (), ("{config}", "mailchimp.server", "data-centre"),
         _sub(r"^  # server: us6 .*$", "  server: evil.example")),
    Case("website-javascript", (), ("{config}", "alliance.website", "not an http(s) URL"),
         _sub(r"^  website: .*$", "  website: javascript:alert(1)")),
    Case("homoglyph-email-in-people", (), ("{config}", "people[4].email", "scripts"),
         _sub(r"esra\.yilmaz@example\.org", "esra.y\u0456lmaz@example.org")),
    Case("plan-row-1900", (), ("{folder}/plan-1900.yaml", "row 1.due", "plausible"),
         _plan("plan-1900.yaml", _yaml_row(due="1900-01-01"))),
    Case("plan-action-20000", (), ("{folder}/plan-long.yaml", "row 1.action", "one line"),
         _plan("plan-long.yaml", _yaml_row(action="x" * 20_000))),
    Case("plan-title-newline", (), ("{folder}/plan-lines.yaml", "row 1.action", "2 lines"),
         _plan("plan-lines.yaml", _yaml_row(action='"First line\\nsecond line"'))),
    Case("plan-duplicate-key", (), ("{folder}/plan-dup.yaml", "line 5", "duplicate key 'due'"),
         _plan("plan-dup.yaml", _yaml_row() + "    due: 2027-10-01\n")),
    Case("plan-csv-duplicate-header", (), ("{folder}/plan-dup.csv", "header", "twice"),
         _plan("plan-dup.csv", "action,step,due,action\nA fair,promote,2027-09-01,B\n")),
    Case("plan-csv-unclosed-quote", (), ("{folder}/plan-quote.csv", "line ", "not valid CSV"),
         _plan("plan-quote.csv", _CSV_HEAD + '"A fair,promote,2027-09-01\nB,promote,\n')),
    Case("plan-csv-nul", (), ("{folder}/plan-nul.csv", "line 2", "NUL"),
         _plan("plan-nul.csv", _CSV_HEAD + "A\x00fair,promote,2027-09-01\n")),
    Case("plan-csv-huge-cell", (), ("{folder}/plan-big.csv", "line ", "not valid CSV"),
         _plan("plan-big.csv", _CSV_HEAD + "A fair,promote,2027-09-01," + "x" * 140_000 + "\n")),
]

OPTION_CASES = [
    Case("status-step-party", ("status", "--step", "party"),
         ("--step party: no such step", "1 = scope", "3 = research",
          "number, key or title")),
    Case("log-limit-negative", ("log", "--limit", "-1"), ("'--limit'", "-1", "1<=x<=1000000")),
    Case("log-limit-zero", ("log", "--limit", "0"), ("'--limit'", "1<=x<=1000000")),
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
    # issue 25
    Case("minutes-billion-laughs", ("minutes", "import", "{folder}/laughs.yaml"),
         ("{folder}/laughs.yaml", "line ", "aliases")),
    Case("minutes-duplicate-key", ("minutes", "import", "{folder}/dup-minutes.yaml"),
         ("{folder}/dup-minutes.yaml", "line 2", "duplicate key 'meeting'")),
    Case("minutes-nesting", ("minutes", "import", "{folder}/deep.yaml"),
         ("{folder}/deep.yaml", "line ", "nest")),
    Case("minutes-action-newline", ("minutes", "import", "{folder}/lines.yaml"),
         ("{folder}/lines.yaml", "line 4", "one line")),
    Case("serve-port-negative", ("serve", "--port", "-1"), ("'--port'", "-1")),
    Case("serve-public-url-ftp", ("serve", "--public-url", "ftp://example.org/hooks"),
         ("'--public-url'", "not an http(s) URL")),
    Case("serve-public-url-no-scheme", ("serve", "--public-url", "example.org"),
         ("'--public-url'", "not an http(s) URL")),
    Case("serve-reconcile-1s", ("serve", "--reconcile-every", "1s"),
         ("--reconcile-every 1s", "between 30s and 24h")),
    Case("log-limit-10-20", ("log", "--limit", str(10**20)), ("'--limit'", "1<=x<=1000000")),
    Case("report-o-missing-folder", ("report", "-o", "{folder}/missing/report.md"),
         ("'-o'", "{folder}/missing", "does not exist")),
    Case("report-o-a-folder", ("report", "-o", "{folder}/../.."), ("'-o'", "is a directory")),
    Case("report-chart-missing-folder", ("report", "--chart", "{folder}/missing/c.png"),
         ("'--chart'", "does not exist")),
    Case("report-o-full-disk", ("report", "-o", "/dev/full"),
         ("cannot write the report to /dev/full", "No space left")),
    Case("ics-missing-folder", ("meeting", "schedule", "--ics", "{folder}/missing/m.ics"),
         ("'--ics'", "does not exist")),
    Case("ics-full-disk", ("meeting", "schedule", "--ics", "/dev/full"),
         ("cannot write the calendar to /dev/full", "No space left")),
    Case("template-o-missing-folder", ("template", "render", "action_plan", "-o",
                                       "{folder}/missing/sub/plan.md"),
         ("'-o'", "does not exist")),
    Case("template-o-full-disk", ("template", "render", "action_plan", "-o", "/dev/full"),
         ("cannot write the document to /dev/full", "No space left")),
    Case("status-owner-nobody", ("status", "--owner", "nobody"),
         ("--owner nobody", "no one")),
    Case("stakeholders-no-email-column", ("stakeholders", "import", "{folder}/no-email.csv"),
         ("{folder}/no-email.csv", "row 1", "column email is missing")),
    Case("stakeholders-homoglyph", ("stakeholders", "import", "{folder}/homoglyph.csv"),
         ("{folder}/homoglyph.csv", "row 2", "email", "scripts")),
    Case("stakeholders-nul", ("stakeholders", "import", "{folder}/nul.csv"),
         ("{folder}/nul.csv", "row 2", "NUL")),
    Case("stakeholders-unclosed-quote", ("stakeholders", "import", "{folder}/quote.csv"),
         ("{folder}/quote.csv", "row ", "not valid CSV")),
    Case("stakeholders-huge-cell", ("stakeholders", "import", "{folder}/big.csv"),
         ("{folder}/big.csv", "row ", "not valid CSV")),
    Case("stakeholders-duplicate-header", ("stakeholders", "import", "{folder}/dup.csv"),
         ("{folder}/dup.csv", "row 1", "column email appears twice")),
]


@pytest.fixture(scope="module")
def alliance(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Alliance]:
    made = Alliance(tmp_path_factory.mktemp("malformed"))
    made.cli("bootstrap", "--only", "trello,slack")
    (made.folder / "people.csv").write_bytes(b"organisation,email\nCaf\xe9,x@example.org\n")
    (made.folder / "minutes.md").write_bytes(b"# Minutes caf\xe9\n")
    (made.folder / "laughs.yaml").write_text("meeting: 2\n" + BILLION_LAUGHS, encoding="utf-8")
    (made.folder / "dup-minutes.yaml").write_text("meeting: 2\nmeeting: 3\nitems: []\n",
                                                  encoding="utf-8")
    (made.folder / "deep.yaml").write_text("meeting: 2\nitems: " + "[" * 10_000 + "]" * 10_000
                                           + "\n", encoding="utf-8")
    (made.folder / "lines.yaml").write_text(
        "meeting: 2\nitems:\n  - subject: Next steps\n    action: \"Two\\nlines\"\n"
        "    responsible: Daan Bakker\n    due: 2027-07-01\n", encoding="utf-8")
    people = "organisation,email\n"
    for name, text in {"no-email.csv": "organisation,contact_person\nDBieb,Gerrit\n",
                       "homoglyph.csv": people + "DBieb,g\u0435rrit@example.org\n",
                       "nul.csv": people + "DB\x00ieb,gerrit@example.org\n",
                       "quote.csv": people + '"DBieb,gerrit@example.org\nX,y@example.org\n',
                       "big.csv": people + "DBieb," + "x" * 140_000 + "@example.org\n",
                       "dup.csv": "organisation,email,email\nDBieb,a@example.org,b@example.org\n",
                       }.items():
        (made.folder / name).write_text(text, encoding="utf-8")
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


def test_a_file_written_outside_the_current_folder_is_said_so(
        alliance: Alliance, tmp_path_factory: pytest.TempPathFactory) -> None:
    target = tmp_path_factory.mktemp("elsewhere") / "report.md"
    result = alliance.cli("report", "-o", str(target))
    assert target.read_text(encoding="utf-8").startswith("# ")
    assert f"wrote {target.resolve()} (outside the current folder)" in result.stderr

