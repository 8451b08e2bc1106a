"""A store that holds the run lock reads its bookmarks and resources once and keeps them in
step with its own writes (a rolled-back write forgets them); a store without the lock reads
every time. On PostgreSQL the run lock is held on the store's own connection: released before
that connection goes back to the pool, also when the open fails after taking it. On both
backends."""

from __future__ import annotations

import pytest

from sync.core.errors import StateError
from sync.state.db import Database, schema_name
from sync.state.lock import LOCK_NAMESPACE
from tests.support.stores import StoreTarget


def test_a_locked_store_keeps_its_reads_in_step_with_its_writes(target: StoreTarget) -> None:
    with target.open() as setup:
        setup.put_resource("trello", "list", "todo", "L1")
        setup.set_bookmark("trello", "actions", "A1")
    with target.open(lock=True) as store:
        assert store.keeps_reads()
        assert store.get_bookmark("trello", "actions") == "A1"
        assert store.get_resource("trello", "list", "todo") is not None
        store.set_bookmark("trello", "actions", "A2")
        store.put_resource("trello", "list", "todo", "L2")  # a key it knows: replaced
        store.put_resource("trello", "list", "doing", "L3")  # a new key: read again, in order
        store.put_resource("slack", "channel", "actions", "C1")
        assert store.get_bookmark("trello", "actions") == "A2"
        assert [r.logical_key for r in store.list_resources("trello", "list")] == ["doing", "todo"]
        assert [r.service for r in store.list_resources()] == ["slack", "trello", "trello"]
        assert store.remote_ids("trello", ["list"]) == {("list", "todo"): "L2",
                                                        ("list", "doing"): "L3"}
        assert store.delete_resource("trello", "list", "doing")
        assert store.get_resource("trello", "list", "doing") is None
        with pytest.raises(RuntimeError), store.transaction():
            store.set_bookmark("trello", "actions", "A3")
            store.put_resource("trello", "list", "todo", "L4")
            raise RuntimeError("the run failed")
        # The rolled-back writes are not what the store answers.
        assert store.get_bookmark("trello", "actions") == "A2"
        found = store.get_resource("trello", "list", "todo")
        assert found is not None and found.remote_id == "L2"
        # A write past the store's methods: forget_reads, and the next read asks again.
        store._conn.execute("UPDATE bookmarks SET cursor = 'A9' WHERE scope = 'actions'")
        store.forget_reads()
        assert store.get_bookmark("trello", "actions") == "A9"
    with target.open() as after:
        assert after.get_bookmark("trello", "actions") == "A9"
        assert {r.remote_id for r in after.list_resources()} == {"L2", "C1"}


def test_a_store_without_the_lock_reads_every_time(target: StoreTarget) -> None:
    with target.open() as reader, target.open() as writer:
        assert not reader.keeps_reads()
        assert reader.get_bookmark("trello", "actions") is None
        writer.set_bookmark("trello", "actions", "A1")
        writer.put_resource("trello", "board", "board", "B1")
        assert reader.get_bookmark("trello", "actions") == "A1"
        assert reader.get_resource("trello", "board", "board") is not None


def _advisory_locks(db: Database, schema: str = "t_kept_lock") -> int:
    """Sessions holding the run lock of ``schema``."""
    return int(db.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND"
                          " classid = ? AND objid = hashtext(?)::oid AND granted",
                          (LOCK_NAMESPACE, schema_name(schema))).one()[0])


def test_the_postgresql_lock_rides_on_the_stores_connection(pg_url: str) -> None:
    target = StoreTarget("postgresql", pg_url, "t_kept_lock")
    watcher = Database.postgresql(pg_url, "public")
    try:
        with target.open(lock=True) as store:
            assert _advisory_locks(watcher) == 1
            # The holder's session is the store's own, named: pid, since when, command.
            name = store._conn.execute("SHOW application_name").one()[0]
            assert str(name).split("|")[2] == "mcm-sync"
            assert store._conn.execute(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND classid = ?"
                " AND pid = pg_backend_pid()", (LOCK_NAMESPACE,)).one()[0] == 1
            with pytest.raises(StateError, match="another mcm-sync run holds the lock"):
                target.open(lock=True)
        assert _advisory_locks(watcher) == 0
        # The connection went back to the pool unlocked and named as before.
        with target.open() as again:
            assert again._conn.execute("SHOW application_name").one()[0] == "mcm-sync"
        # A store that cannot be opened (written by a newer mcm-sync) leaves no lock behind.
        raw = Database.postgresql(pg_url, schema_name("t_kept_lock"))
        try:
            raw.execute("UPDATE schema_version SET version = 999")
        finally:
            raw.close()
        with pytest.raises(StateError, match="schema version 999"):
            target.open(lock=True)
        assert _advisory_locks(watcher) == 0
    finally:
        watcher.close()
