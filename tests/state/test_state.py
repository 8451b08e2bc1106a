"""The state store: migrations, persistence, the journal across crashes, numbers, the lock.

Every test that is not about the SQLite file itself runs on both backends (the ``target``
fixture: a SQLite file, a schema of the session's private PostgreSQL server).
"""

from __future__ import annotations

import datetime as dt
import os
import re
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from sync.core.errors import StateError
from sync.state.db import DatabaseError, IntegrityError
from sync.state.lock import lock_path
from sync.state.schema import (
    SCHEMA_VERSION,
    column_names,
    migrate,
    record_version,
    schema_version,
)
from sync.state.schema.tables import MIGRATIONS
from sync.state.store import StateStore
from tests.support.paths import ROOT
from tests.support.stores import StoreTarget


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "nested" / ".mcm-sync" / "state.db"


@pytest.fixture
def store(target: StoreTarget) -> StateStore:
    opened = target.open()
    yield opened
    opened.close()


def _item(store: StateStore, key: str, number: str, **extra: str) -> str:
    fields = {"kind": "task", "title": f"Task {key}", "status": "todo", "source": "playbook"}
    return store.ensure_item(key=key, number=number, **{**fields, **extra}).id


def _run_python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


# ---------------------------------------------------------------- opening and migrations


def test_sqlite_open_creates_parent_dirs_and_uses_wal(db: Path) -> None:
    with StateStore.open(db) as store:
        assert db.exists()
        assert store.schema_version == SCHEMA_VERSION == len(MIGRATIONS)
        conn = store._conn
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        assert conn.execute("PRAGMA busy_timeout").fetchone()[0] == 5000
        assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL


def test_foreign_keys_are_enforced(store: StateStore) -> None:
    with pytest.raises(IntegrityError):
        store.put_side("no-such-item", "trello", "c1", {})
    assert store.all_sides() == []  # and the store is usable after the refusal


def test_migration_from_version_1_keeps_data_and_continues_numbers(target: StoreTarget) -> None:
    conn = target.database()
    assert migrate(conn, target=1) == 0
    conn.execute(
        "INSERT INTO items (id, number, key, kind, title, status, created_at, updated_at, source)"
        " VALUES ('i1', 'FRL-41', 'task:1', 'task', 'Map the partners', 'todo', 't', 't',"
        " 'playbook')"
    )
    conn.execute(
        "INSERT INTO resources (service, kind, logical_key, remote_id, updated_at)"
        " VALUES ('trello', 'board', 'board', 'b1', 't')"
    )
    assert schema_version(conn) == 1
    conn.close()

    with target.open() as store:
        assert store.schema_version == SCHEMA_VERSION
        assert store.get_item_by_number("FRL-41").title == "Map the partners"
        assert store.get_resource("trello", "board", "board").remote_id == "b1"
        assert store.next_item_number("FRL") == "FRL-42"  # never reuses a v1 number
        assert store.list_conflicts() == []  # v2 tables exist


def test_failed_migration_leaves_the_store_untouched(target: StoreTarget) -> None:
    conn = target.database()
    broken = (*MIGRATIONS, ("CREATE TABLE extra (x INTEGER)", "THIS IS NOT SQL"))
    with pytest.raises(DatabaseError):
        migrate(conn, target=len(broken), migrations=broken)
    assert schema_version(conn) == 0
    assert column_names(conn) == {}
    conn.close()


def test_a_newer_schema_is_refused_with_a_hint(target: StoreTarget) -> None:
    target.open().close()
    conn = target.database()
    conn.begin()
    record_version(conn, SCHEMA_VERSION + 1)
    conn.commit()
    conn.close()
    with pytest.raises(StateError) as info:
        target.open()
    assert f"schema version {SCHEMA_VERSION + 1}" in str(info.value)
    assert f"only knows up to version {SCHEMA_VERSION}" in str(info.value)
    assert "upgrade mcm-sync" in info.value.hint


def test_a_file_that_is_not_a_store_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    path.write_bytes(b"this is not sqlite at all" * 100)
    with pytest.raises(StateError, match="cannot use the state store"):
        StateStore.open(path)


def test_reopen_persists_everything(target: StoreTarget) -> None:
    with target.open() as store:
        store.bind_alliance("frl", "Friesland alliance")
        store.put_resource(
            "slack",
            "channel",
            "general",
            "C1",
            url="http://x/C1",
            identity_token="tok",
            data={"name": "frl-general"},
        )
        item_id = _item(store, "task:1", "FRL-1", step="step1", due="2025-03-01")
        store.put_side(item_id, "trello", "card1", {"status": "todo"}, fingerprint="list1|a1")
        store.set_bookmark("trello", "board", "action-9")
        store.add_audit(item_id, "Ana", "trello", "status", "todo", "doing")
    with target.open() as store:
        assert store.get_alliance().name == "Friesland alliance"
        res = store.get_resource("slack", "channel", "general")
        assert (res.remote_id, res.url, res.identity_token, res.data) == (
            "C1",
            "http://x/C1",
            "tok",
            {"name": "frl-general"},
        )
        item = store.get_item(item_id)
        assert (item.key, item.number, item.step, item.due) == (
            "task:1",
            "FRL-1",
            "step1",
            "2025-03-01",
        )
        side = store.find_side("trello", "card1")
        assert side.item_id == item_id and side.base == {"status": "todo"}
        assert side.fingerprint == "list1|a1"
        assert store.get_bookmark("trello", "board") == "action-9"
        assert [(a.field, a.old, a.new, a.actor) for a in store.list_audit(item_id)] == [
            ("status", "todo", "doing", "Ana"),
        ]


def test_a_store_of_another_alliance_is_refused(store: StateStore) -> None:
    store.bind_alliance("frl", "Friesland")
    assert store.bind_alliance("frl", "Fryslân").name == "Fryslân"
    with pytest.raises(StateError, match="belongs to alliance 'frl', not 'gbg'"):
        store.bind_alliance("gbg", "Göteborg")


# ---------------------------------------------------------------- items and numbers


def test_item_numbers_are_monotonic_and_unique_across_reopen(target: StoreTarget) -> None:
    with target.open() as store:
        assert store.peek_item_number("FRL") == 1
        first = [store.next_item_number("FRL") for _ in range(3)]
        assert store.next_item_number("GBG") == "GBG-1"  # one counter per prefix
        _item(store, "row:x", "FRL-10", kind="action", source="file")  # typed in a file
    with target.open() as store:
        later = [store.next_item_number("FRL") for _ in range(2)]
    assert first == ["FRL-1", "FRL-2", "FRL-3"]
    assert later == ["FRL-11", "FRL-12"]


def test_a_deleted_items_number_is_never_reused(store: StateStore) -> None:
    item_id = _item(store, "task:1", store.next_item_number("FRL"))
    store._conn.execute("DELETE FROM items WHERE id = ?", (item_id,))
    assert store.next_item_number("FRL") == "FRL-2"


def test_ensure_item_is_idempotent_and_update_bumps_revision(store: StateStore) -> None:
    item_id = _item(store, "task:1", "FRL-1")
    again = store.ensure_item(
        key="task:1",
        number="FRL-9",
        kind="task",
        title="other",
        status="done",
        source="cli",
    )
    assert (again.id, again.title, again.revision) == (item_id, "Task task:1", 1)
    assert store.update_item(item_id, status="todo").revision == 1  # same value: no change
    updated = store.update_item(item_id, status="done", owner="ana@example.org")
    assert (updated.status, updated.owner, updated.revision) == ("done", "ana@example.org", 2)
    with pytest.raises(ValueError, match="never change"):
        store.update_item(item_id, number="FRL-2")
    upserted = store.upsert_item(
        key="task:1",
        number="FRL-1",
        kind="task",
        title="Renamed",
        status="done",
        source="playbook",
        owner="ana@example.org",
    )
    assert (upserted.title, upserted.revision) == ("Renamed", 3)
    assert [i.key for i in store.list_items(status="done")] == ["task:1"]
    assert store.get_item_by_key("task:2") is None


def test_schema_check_constraints_reject_bad_values(store: StateStore) -> None:
    with pytest.raises(IntegrityError):
        _item(store, "x", "FRL-1", kind="epic")
    with pytest.raises(IntegrityError):  # numbers are unique
        _item(store, "a", "FRL-2")
        _item(store, "b", "FRL-2")


# ---------------------------------------------------------------- journal


def test_journal_intent_survives_a_crash_and_is_closed_on_the_next_run(
        target: StoreTarget) -> None:
    target.open().close()
    crashed = _run_python(f"""
        import os
        from sync.state.store import StateStore
        store = StateStore.open({target.open_code})
        intent = store.journal_open("run-1", "trello", "create_card", "0123abcd4567",
                                    detail={{"name": "Map the partners"}})
        print(intent, flush=True)
        os._exit(9)  # die between the intent and the remote call's answer
    """)
    assert crashed.returncode == 9, crashed.stderr
    intent_id = int(crashed.stdout.strip())
    with target.open() as store:
        pending = store.open_intents("trello")
        assert [(i.id, i.identity_token, i.operation, i.detail) for i in pending] == [
            (intent_id, "0123abcd4567", "create_card", {"name": "Map the partners"}),
        ]
        assert store.open_intents("slack") == []
        closed = store.journal_close(intent_id, "done", "card-77", detail={"adopted": True})
        assert (closed.state, closed.remote_id, closed.closed_at is not None) == (
            "done",
            "card-77",
            True,
        )
    with target.open() as store:
        assert store.open_intents() == []
        assert store.intents(identity_token="0123abcd4567")[0].detail == {
            "name": "Map the partners",
            "adopted": True,
        }


def test_journal_open_is_committed_even_if_the_connection_just_drops(
        target: StoreTarget) -> None:
    store = target.open()
    store.journal_open("run-1", "slack", "post_message", "tok1")
    store._conn.close()  # no close of the intent, no clean shutdown
    with target.open() as again:
        assert [i.identity_token for i in again.open_intents()] == ["tok1"]


def test_journal_rules(store: StateStore) -> None:
    intent = store.journal_open("r", "mailchimp", "create_audience", "tok")
    with pytest.raises(ValueError, match="cannot close an intent as 'open'"):
        store.journal_close(intent, "open")
    store.journal_close(intent, "failed")
    with pytest.raises(ValueError, match="already failed"):
        store.journal_close(intent, "done", "x")
    with store.transaction(), pytest.raises(RuntimeError, match="committed before"):
        store.journal_open("r", "slack", "post_message", "tok2")


# ---------------------------------------------------------------- transactions


def test_transaction_rolls_back_and_nested_blocks_are_savepoints(store: StateStore) -> None:
    with pytest.raises(RuntimeError), store.transaction():
        store.set_bookmark("slack", "actions", "1.0")
        raise RuntimeError("boom")
    assert store.get_bookmark("slack", "actions") is None

    with store.transaction():
        store.set_bookmark("slack", "actions", "2.0")
        with pytest.raises(KeyError), store.transaction():
            store.set_bookmark("trello", "board", "a1")
            raise KeyError("inner")
    assert store.get_bookmark("slack", "actions") == "2.0"
    assert store.get_bookmark("trello", "board") is None


# ---------------------------------------------------------------- conflicts, audit, runs


def test_conflicts_are_kept_until_resolved(store: StateStore) -> None:
    item_id = _item(store, "task:1", "FRL-1")
    conflict = store.record_conflict(
        item_id,
        "status",
        {"trello": "done", "slack": "blocked"},
        "trello",
        "blocked",
        "newest",
    )
    assert store.list_conflicts(unresolved=True, unannounced=True) == [conflict]
    store.mark_conflict_announced(conflict.id)
    assert store.list_conflicts(unannounced=True) == []
    resolved = store.resolve_conflict(conflict.id)
    assert resolved.resolved_at is not None and resolved.loser_value == "blocked"
    assert store.resolve_conflict(conflict.id).resolved_at == resolved.resolved_at
    assert store.list_conflicts(unresolved=True) == []
    assert store.list_conflicts(item_id=item_id)[0].side_values == {
        "trello": "done",
        "slack": "blocked",
    }


def test_runs_and_clock(target: StoreTarget) -> None:
    ticks = iter(dt.datetime(2025, 1, 1, 9, m, tzinfo=dt.UTC) for m in range(10))
    with target.open(clock=lambda: next(ticks)) as store:
        run = store.start_run("sync")
        assert run.started_at == "2025-01-01T09:00:00+00:00"
        done = store.finish_run(run.id, "ok")
        assert (done.finished_at, done.outcome) == ("2025-01-01T09:01:00+00:00", "ok")
        store.start_run("sync")
        assert store.last_run("sync", outcome="ok") == done
        assert store.last_run("bootstrap") is None


# ---------------------------------------------------------------- the lock


def test_lock_held_by_another_process_is_refused_with_its_pid(target: StoreTarget) -> None:
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(f"""
            import sys
            from sync.state.store import StateStore
            store = StateStore.open({target.open_code}, lock=True, command="mcm-sync sync")
            print("locked", flush=True)
            sys.stdin.readline()
            store.close()
        """),
        ],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        with pytest.raises(StateError) as info:
            target.open(lock=True)
        assert str(info.value).startswith(
            f"another mcm-sync run holds the lock (pid {holder.pid}, `mcm-sync sync`, since 20")
        assert "released when that process ends" in info.value.hint
        with target.open() as reader:  # reading without the lock is still possible
            assert reader.schema_version == SCHEMA_VERSION
    finally:
        holder.communicate("\n", timeout=10)
    with target.open(lock=True) as store:  # free again once the holder is gone
        if target.backend == "sqlite":
            assert lock_path(target.location).read_text().splitlines()[0] == str(os.getpid())
        store.acquire_lock()  # idempotent for the holder


def test_lock_is_released_when_the_holder_dies(target: StoreTarget) -> None:
    target.open().close()
    died = _run_python(f"""
        import os
        from sync.state.store import StateStore
        StateStore.lock({target.open_code}).acquire()
        os._exit(3)
    """)
    assert died.returncode == 3, died.stderr
    # The kernel (SQLite) or the server, on seeing the session end (PostgreSQL), frees it.
    lock = target.lock()
    deadline = time.monotonic() + 10
    while not _try(lock) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert lock.held
    lock.release()


def _try(lock: object) -> bool:
    try:
        lock.acquire()  # type: ignore[attr-defined]
    except StateError:
        return False
    return True


# ---------------------------------------------------------------- nothing secret


CREDENTIAL_COLUMN = re.compile(
    r"(?i)secret|password|passwd|api_?key|apikey|credential|auth|^token$|access_token"
)


def test_no_column_can_hold_a_credential(store: StateStore) -> None:
    columns = column_names(store._conn)
    assert {"resources", "journal", "items", "runs", "audit"} <= set(columns)
    suspicious = [
        f"{table}.{col}"
        for table, cols in columns.items()
        for col in cols
        if CREDENTIAL_COLUMN.search(col)
    ]
    assert suspicious == []
    assert "identity_token" in columns["resources"] and "identity_token" in columns["journal"]


def test_json_columns_refuse_credential_keys(store: StateStore) -> None:
    with pytest.raises(ValueError, match="refusing key 'api_key'"):
        store.put_resource("mailchimp", "audience", "a", "A1", data={"nested": {"api_key": "x"}})
    with pytest.raises(ValueError, match="refusing key 'token'"):
        store.journal_open("r", "slack", "post", "tok", detail={"token": "xoxb-1"})
    assert store.list_resources() == [] and store.open_intents() == []


# ---------------------------------------------------------------- moving a store


def test_copy_store_moves_a_sqlite_store_to_postgresql(db: Path, pg_url: str) -> None:
    from sync.state.transfer import copy_store
    from tests.support.stores import unique_schema

    with StateStore.open(db) as store:
        store.bind_alliance("frl", "Friesland")
        item_id = _item(store, "task:1", store.next_item_number("FRL"))
        store.put_side(item_id, "trello", "card1", {"status": "todo"})
        intent = store.journal_open("r1", "trello", "create_card", "tok1")
        store.journal_close(intent, "done", "card1")
        store.add_audit(item_id, "Ana", "trello", "status", "todo", "doing")
    schema = unique_schema()
    with StateStore.open(db) as source, StateStore.open(pg_url, schema=schema) as target:
        copied = copy_store(source, target)
        with pytest.raises(ValueError, match="not empty"):
            copy_store(source, target)
    assert copied["items"] == 1 and copied["journal"] == 1
    with StateStore.open(pg_url, schema=schema) as moved:
        assert moved.get_alliance().slug == "frl"
        assert moved.get_side(item_id, "trello").base == {"status": "todo"}
        assert moved.next_item_number("FRL") == "FRL-2"
        assert moved.journal_open("r2", "slack", "post", "tok2") > intent  # ids continue
        assert [a.actor for a in moved.list_audit(item_id)] == ["Ana"]
