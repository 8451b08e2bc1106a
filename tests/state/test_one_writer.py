"""One writer at a time: every command that writes takes the alliance's lock (issue 11).

A second writer is turned away with exit 2, naming the holder (pid, command, since when), and
makes no remote call; two bootstraps started together never end in an IntegrityError or in
duplicates. On both state backends: the lock is a file lock beside a SQLite store and a
PostgreSQL advisory lock for a store in PostgreSQL, with the same message.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from sync.api import Alliance as Library
from tests.support.alliance import Alliance
from tests.support.inventory import EXPECTED_CARDS, remote_inventory
from tests.support.minutes import MINUTES_YAML
from tests.support.paths import ROOT
from tests.support.stores import BACKENDS

MCM_SYNC = Path(sys.executable).parent / "mcm-sync"


def _pg(request: pytest.FixtureRequest, backend: str) -> str | None:
    return request.getfixturevalue("pg_url") if backend == "postgresql" else None


@pytest.fixture(scope="module", params=BACKENDS)
def alliance(request: pytest.FixtureRequest,
             tmp_path_factory: pytest.TempPathFactory) -> Iterator[Alliance]:
    made = Alliance(tmp_path_factory.mktemp("one-writer"), pg_url=_pg(request, request.param))
    made.cli("bootstrap", "--only", "trello,slack")
    yield made
    made.close()


def _writers(folder: Path) -> list[tuple[str, ...]]:
    csv_file = folder / "people.csv"
    csv_file.write_text("email,organisation\nx@example.org,Org\n", encoding="utf-8")
    minutes = folder / "minutes.yaml"
    minutes.write_text(MINUTES_YAML, encoding="utf-8")
    return [
        ("bootstrap",),
        ("sync",),
        ("resolve", "FRL-1", "--take", "trello"),
        ("stakeholders", "import", str(csv_file)),
        ("stakeholders", "push"),
        ("forget", "someone@example.org", "--yes"),
        ("newsletter", "draft"),
        ("meeting", "schedule", "--date", "2=2027-06-10"),
        ("minutes", "import", str(minutes)),
    ]


def test_every_writer_is_turned_away_while_another_holds_the_lock(alliance: Alliance) -> None:
    holder = Library(alliance.config, command="mcm-sync bootstrap")
    with holder.writing():
        alliance.reset_calls()
        for args in _writers(alliance.folder):
            result = alliance.cli(*args, expect=2)
            line = result.stderr.strip()
            assert "\n" not in line, (args, line)
            assert line.startswith(
                f"error: another mcm-sync run holds the lock (pid {os.getpid()}, "
                "`mcm-sync bootstrap`, since 20"), (args, line)
        assert sum(alliance.calls().values()) == 0
    # Readers are never turned away, and the lock is free again once released.
    alliance.cli("status")
    alliance.cli("meeting", "schedule")


@pytest.mark.skipif(not MCM_SYNC.exists(), reason="the mcm-sync console script is not installed")
def test_a_writer_in_another_process_is_named(alliance: Alliance) -> None:
    script = textwrap.dedent(f"""
        import sys
        from sync.api import Alliance
        alliance = Alliance.open({str(alliance.config_path)!r})
        alliance.command = "mcm-sync sync --watch"
        with alliance.writing():
            print("locked", flush=True)
            sys.stdin.readline()
    """)
    holder = subprocess.Popen([sys.executable, "-c", script], cwd=ROOT, stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        result = alliance.cli("bootstrap", expect=2)
        assert f"(pid {holder.pid}, `mcm-sync sync --watch`, since " in result.stderr
    finally:
        holder.communicate("\n", timeout=10)


@pytest.mark.skipif(not MCM_SYNC.exists(), reason="the mcm-sync console script is not installed")
@pytest.mark.parametrize("backend", BACKENDS)
def test_two_bootstraps_at_once_make_one_of_everything(tmp_path: Path, backend: str,
                                                       request: pytest.FixtureRequest) -> None:
    made = Alliance(tmp_path, pg_url=_pg(request, backend))
    try:
        env = {k: v for k, v in os.environ.items() if "PROXY" not in k.upper()}
        command = [str(MCM_SYNC), "-c", str(made.config_path), "bootstrap", "--only",
                   "trello,slack"]
        runs = [subprocess.Popen(command, env=env, stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True) for _ in range(2)]
        outcomes = [(run.wait(timeout=120), run.stderr.read()) for run in runs]  # type: ignore[union-attr]
        codes = sorted(code for code, _ in outcomes)
        assert codes in ([0, 0], [0, 2]), outcomes
        for code, err in outcomes:
            assert "IntegrityError" not in err and "internal error" not in err
            if code == 2:
                assert "another mcm-sync run holds the lock (pid " in err
                assert "`mcm-sync bootstrap`" in err
        inventory = remote_inventory(made)
        assert inventory["cards"] == EXPECTED_CARDS and inventory["duplicate_cards"] == 0
        assert inventory["boards"] == 1 and inventory["welcome_messages"] == 1
    finally:
        made.close()
