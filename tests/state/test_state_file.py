"""A lost state file is said, never silently taken as a new store (issue 11).

Zero bytes or not SQLite: exit 2 naming the file and `bootstrap --adopt`; missing, for the
commands that need the alliance's state: exit 2 "no state yet"; `bootstrap --adopt` rebuilds
it deliberately by adopting what exists, without creating anything or posting a digest again.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from sync.state.presence import check_state_file
from sync.state.store import StateStore
from tests.support.alliance import Alliance
from tests.support.paths import ROOT


@pytest.fixture(scope="module")
def bootstrapped(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    folder = tmp_path_factory.mktemp("bootstrapped")
    made = Alliance(folder)
    made.cli("bootstrap")
    made.cli("sync")  # the first digest went out
    made.close()
    yield folder


@pytest.fixture
def alliance(tmp_path: Path, bootstrapped: Path) -> Iterator[Alliance]:
    made = Alliance(tmp_path, copy_of=bootstrapped)
    yield made
    made.close()


def _lose_state(alliance: Alliance, content: bytes | None) -> Path:
    path = alliance.config.state_path
    for extra in (path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        extra.unlink(missing_ok=True)
    if content is None:
        path.unlink()
    else:
        path.write_bytes(content)
    return path


@pytest.mark.parametrize("content", [b"", b"this is not a database\n" * 10],
                         ids=["zero-bytes", "not-sqlite"])
@pytest.mark.parametrize("command", [("sync",), ("status",), ("bootstrap",), ("plan",),
                                     ("stakeholders", "list"), ("report",)])
def test_an_empty_or_foreign_state_file_is_refused(alliance: Alliance, content: bytes,
                                                   command: tuple[str, ...]) -> None:
    path = _lose_state(alliance, content)
    alliance.reset_calls()
    result = alliance.cli(*command, expect=2)
    line = result.stderr.strip()
    assert "\n" not in line
    assert line.startswith(f"error: {path}: state store ")
    assert "`mcm-sync bootstrap --adopt`" in line
    assert sum(alliance.calls().values()) == 0
    assert path.read_bytes() == content  # left as it was


@pytest.mark.parametrize("command", [("sync",), ("sync", "--dry-run"), ("status",), ("log",),
                                     ("resolve", "FRL-1", "--take", "trello")])
def test_a_missing_state_file_says_bootstrap(alliance: Alliance, command: tuple[str, ...]) -> None:
    path = _lose_state(alliance, None)
    alliance.reset_calls()
    result = alliance.cli(*command, expect=2)
    assert result.stderr.startswith(f"error: {path}: no state yet (hint: run `mcm-sync bootstrap`")
    assert sum(alliance.calls().values()) == 0
    assert not path.exists()


def test_bootstrap_adopt_rebuilds_by_adopting(alliance: Alliance) -> None:
    path = _lose_state(alliance, b"")
    summary = alliance.json("bootstrap", "--adopt")
    assert "create" not in summary["applied"] and summary["applied"]["adopt"] > 45
    aside = list(path.parent.glob(f"{path.name}.broken-*"))
    assert [p.read_bytes() for p in aside] == [b""]
    with alliance.store() as store:
        assert len(store.list_items()) == 45
    outcome = alliance.json("sync")
    assert outcome["digest_posted"] is False
    assert alliance.json("bootstrap", "--adopt")["applied"].get("create") is None


def test_a_store_with_only_local_data_says_bootstrap(tmp_path: Path) -> None:
    made = Alliance(tmp_path)
    try:
        csv_file = ROOT / "playbooks" / "examples" / "stakeholders-friesland.csv"
        made.cli("stakeholders", "import", str(csv_file))  # before any bootstrap: fine
        made.reset_calls()
        for command in (("sync",), ("sync", "--dry-run")):
            result = made.cli(*command, expect=2)
            assert result.stderr.startswith(
                f"error: {made.config.state_path}: no Trello board in the state yet")
        assert sum(made.calls().values()) == 0
    finally:
        made.close()


def test_a_damaged_store_is_refused_and_adopt_rebuilds_it(alliance: Alliance) -> None:
    path = alliance.config.state_path
    with alliance.store() as store:
        store._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    data = bytearray(path.read_bytes())
    data[4096:] = b"\x5a" * (len(data) - 4096)  # the header page survives, the rest is lost
    _lose_state(alliance, bytes(data))
    result = alliance.cli("status", expect=2)
    assert f"{path}" in result.stderr and "malformed" in result.stderr
    assert "`mcm-sync bootstrap --adopt`" in result.stderr
    summary = alliance.json("bootstrap", "--adopt")
    assert "create" not in summary["applied"]
    aside = [p for p in path.parent.glob(f"{path.name}.broken-*")
             if not p.name.endswith(("-wal", "-shm"))]
    assert len(aside) == 1
    alliance.cli("status")


def test_checking_the_file_leaves_this_process_connections_visible(tmp_path: Path) -> None:
    """`mcm-sync serve` keeps connections open and checks the file again before each new
    one. Reading the header with open()/close() dropped SQLite's POSIX locks of the open
    connections: what they committed afterwards stayed invisible to every other process
    (the real-time step of try-it waited 20 s for a change made in 50 ms)."""
    path = tmp_path / "state.db"
    count = ("import sqlite3, sys; print(sqlite3.connect(sys.argv[1])"
             ".execute('SELECT count(*) FROM resources').fetchone()[0])")

    def seen_elsewhere() -> str:
        return subprocess.run([sys.executable, "-c", count, str(path)], capture_output=True,
                              text=True, check=True).stdout.strip()

    kept = StateStore.open(path)
    try:
        kept.put_resource("trello", "board", "board", "b1")
        check_state_file(path, required=True)  # what Alliance.store() does each time
        # Another process comes and goes: with our locks dropped it took itself for the last
        # one and removed the write-ahead log our connection still writes to.
        assert seen_elsewhere() == "1"
        kept.put_resource("slack", "channel", "actions", "c1")
        assert seen_elsewhere() == "2"
    finally:
        kept.close()


def _damage_page(path: Path, table: str) -> None:
    """Overwrite the first page of ``table`` (its b-tree root) with garbage, as a bad disk
    sector or a torn copy would; every other page stays intact."""
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        page = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = ?",
                            (table,)).fetchone()[0]
        size = conn.execute("PRAGMA page_size").fetchone()[0]
    conn.close()
    data = bytearray(path.read_bytes())
    data[(page - 1) * size:page * size] = b"\x5a" * size
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("table", ["alliance", "exports"])
def test_a_store_with_one_damaged_page_is_refused_before_any_write(alliance: Alliance,
                                                                   table: str) -> None:
    """Issue 25: ``integrity_check`` said malformed, yet sync, status and bootstrap exited 0."""
    path = alliance.config.state_path
    _damage_page(path, table)
    damaged = path.read_bytes()
    alliance.reset_calls()
    for command in (("sync",), ("status",), ("bootstrap",)):
        line = alliance.cli(*command, expect=2).stderr.strip()
        assert line.startswith(f"error: {path}: state store is damaged ("), line
        assert "restore the file from a backup" in line and "bootstrap --adopt" in line
    assert sum(alliance.calls().values()) == 0
    assert path.read_bytes() == damaged  # nothing written beside the damage
