"""What a long-running worker keeps of an alliance's store from one run to the next
(``sync.state.kept``): kept while the store's write stamp is the one it was kept at, read
afresh once anyone else wrote the store (another process's bookmark, a delivery ``serve``
stored, a resource, a migration by a newer mcm-sync), never for the time of the last quiet
check, and never past a write of the run itself to what an answer depends on. On both
backends."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from sync.core.errors import StateError
from sync.state.events import EventQueue
from sync.state.kept.reads import KeptReads
from sync.state.schema import column_names, migrate
from sync.state.schema.stamp import STAMPED
from sync.state.store import StateStore
from tests.support.stores import StoreTarget


def _quiet_run(target: StoreTarget, kept: KeptReads) -> StateStore:
    """A quiet scheduled run as the worker's alliance makes one: under the lock, reading
    what every run reads, writing only its run row and the time of the quiet check."""
    with target.open(lock=True, kept=kept) as store:
        run = store.start_run("sync")
        store.get_bookmark("trello", "actions")
        store.get_resource("trello", "board", "board")
        store.revision()
        store.get_alliance()
        EventQueue.over(store).pending(1)
        store.drop_quiet_run(run.id)
    return store


def _setup(target: StoreTarget) -> None:
    with target.open() as setup:
        setup.bind_alliance("frl", "Friesland", "sandbox")
        setup.put_resource("trello", "board", "board", "B1")
        setup.set_bookmark("trello", "actions", "A1")


def test_a_quiet_run_leaves_its_reads_to_the_next(target: StoreTarget) -> None:
    _setup(target)
    kept = KeptReads()
    _quiet_run(target, kept)
    stamp = kept.stamp
    assert stamp is not None and kept.bookmarks == {("trello", "actions"): "A1",
                                                    ("sync", "last_quiet"): kept.bookmarks[
                                                        ("sync", "last_quiet")]}
    _quiet_run(target, kept)  # its own run row and quiet time moved no stamp
    assert kept.stamp == stamp and kept.bookmarks is not None
    with target.open(lock=True, kept=kept) as store:
        assert store.get_bookmark("trello", "actions") == "A1"
        board = store.get_resource("trello", "board", "board")
        assert board is not None and board.remote_id == "B1"


@pytest.mark.parametrize("write", [
    pytest.param(lambda s: s.set_bookmark("trello", "actions", "A2"), id="bookmark"),
    pytest.param(lambda s: s.put_resource("trello", "board", "board", "B2"), id="resource"),
    pytest.param(lambda s: EventQueue.over(s).put("trello", "x1", "action", "card", {}),
                 id="delivery"),
    pytest.param(lambda s: s.ensure_item(key="action:9", number="FRL-9", kind="action",
                                         title="Nine", status="todo", source="cli"),
                 id="item"),
])
def test_another_process_writing_the_store_is_seen_by_the_next_run(
        target: StoreTarget, write: Callable[[StateStore], object]) -> None:
    _setup(target)
    kept = KeptReads()
    _quiet_run(target, kept)
    with target.open() as other:  # a cron sync, serve, resolve: no lock needed to write
        revision = other.revision()
        write(other)
    stamp = kept.stamp
    with target.open(lock=True, kept=kept) as store:
        assert kept.stamp != stamp
        with target.open() as fresh:
            assert store.get_bookmark("trello", "actions") == fresh.get_bookmark(
                "trello", "actions")
            assert store.get_resource("trello", "board", "board") == fresh.get_resource(
                "trello", "board", "board")
            assert store.revision() == fresh.revision() >= revision
            assert len(EventQueue.over(store).pending(5)) == len(
                EventQueue.over(fresh).pending(5))
            assert store.list_items(kind="action") == fresh.list_items(kind="action")


def test_a_delivery_stored_during_a_run_is_seen_by_that_run(target: StoreTarget) -> None:
    """Deliveries are stored without the run lock (serve's front, a webhook's thread): a run
    that found the queue empty (or was handed an empty queue by the last run) still sees one
    stored a moment later. Kept within the run, serve's drain saw it only after its next own
    write to the queue: a reaction waited out another item's 429."""
    _setup(target)
    kept = KeptReads()
    _quiet_run(target, kept)  # hands "the queue is empty" to the next run
    with target.open(lock=True, kept=kept) as store:
        queue = EventQueue.over(store)
        assert queue.pending(5) == []  # the kept answer: nobody wrote since
        with target.open() as front:
            assert EventQueue.over(front).put("slack", "ev-1", "reaction", "1.0", {})
        assert [e.dedup_key for e in queue.pending(5)] == ["ev-1"]
        assert [e.dedup_key for e in queue.pending(5)] == ["ev-1"]
        with target.open() as front:
            assert EventQueue.over(front).put("slack", "ev-2", "reaction", "2.0", {})
        assert [e.dedup_key for e in queue.pending(5)] == ["ev-1", "ev-2"]


def test_another_quiet_check_moves_no_stamp_and_its_time_is_read_afresh(
        target: StoreTarget) -> None:
    _setup(target)
    kept = KeptReads()
    _quiet_run(target, kept)
    stamp = kept.stamp
    with target.open(lock=True) as other:  # a second worker's quiet run of the alliance
        other.drop_quiet_run(other.start_run("sync").id)
        when = other.get_bookmark("sync", "last_quiet")
    with target.open(lock=True, kept=kept) as store:
        assert kept.stamp == stamp and kept.bookmarks is not None
        assert store.get_bookmark("sync", "last_quiet") == when


def test_a_runs_own_write_is_never_answered_from_before_it(target: StoreTarget) -> None:
    _setup(target)
    kept = KeptReads()
    _quiet_run(target, kept)
    with target.open(lock=True, kept=kept) as store:
        before = store.revision()
        assert store.list_items(kind="action") == []
        store.ensure_item(key="action:1", number="FRL-1", kind="action", title="One",
                          status="todo", source="cli")
        assert store.revision() > before
        assert [i.number for i in store.list_items(kind="action")] == ["FRL-1"]
        queue = EventQueue.over(store)
        assert queue.pending(1) == []
        queue.put("slack", "e1", "reaction", "ts", {})
        assert len(queue.pending(1)) == 1
        assert store.list_conflicts(unresolved=True) == []
        item = store.list_items(kind="action")[0]
        store.record_conflict(item.id, "status", {"trello": "done"}, "trello", "todo", "p")
        assert len(store.list_conflicts(unresolved=True)) == 1
    # That run wrote the store: the next one reads afresh and finds the same.
    with target.open(lock=True, kept=kept) as store:
        assert kept.bookmarks is None
        assert len(store.list_conflicts(unresolved=True)) == 1


def test_a_rolled_back_write_leaves_no_kept_answer_behind(target: StoreTarget) -> None:
    _setup(target)
    kept = KeptReads()
    with target.open(lock=True, kept=kept) as store:
        with pytest.raises(RuntimeError), store.transaction():
            store.ensure_item(key="action:1", number="FRL-1", kind="action", title="One",
                              status="todo", source="cli")
            assert len(store.list_items(kind="action")) == 1
            raise RuntimeError("the run failed")
        assert store.list_items(kind="action") == []


def test_a_store_migrated_by_a_newer_mcm_sync_is_refused_by_the_next_run(
        target: StoreTarget) -> None:
    _setup(target)
    kept = KeptReads()
    _quiet_run(target, kept)
    db = target.database()
    try:  # one step past this version, as a newer mcm-sync would add (no trigger sees DDL)
        from sync.state.schema.tables import MIGRATIONS

        migrate(db, migrations=(*MIGRATIONS, ("CREATE TABLE newer (id INTEGER)",)))
    finally:
        db.close()
    with pytest.raises(StateError, match="only knows up to"):
        target.open(lock=True, kept=kept)


def test_every_table_but_the_runs_moves_the_stamp(target: StoreTarget) -> None:
    db = target.database()
    try:
        migrate(db)
        tables = set(column_names(db))
    finally:
        db.close()
    # The runs (a quiet run's row comes and goes), the counters of the revision and the
    # stamp, the schema's version and SQLite's own.
    assert set(STAMPED) <= tables
    assert tables - set(STAMPED) <= {"runs", "state_revision", "store_stamp", "schema_version",
                                     "sqlite_sequence"}


def test_a_deferred_run_is_written_with_its_first_write_and_a_quiet_one_never(
        target: StoreTarget) -> None:
    _setup(target)
    with target.open(lock=True) as store:
        quiet = store.start_run("sync", deferred=True)
        assert store.last_run("sync") is None  # reading writes nothing
        store.get_bookmark("trello", "actions")
        store.drop_quiet_run(quiet.id)
        assert store.last_run("sync") is None
        assert store.get_bookmark("sync", "last_quiet") is not None
        busy = store.start_run("sync", deferred=True)
        with pytest.raises(RuntimeError), store.transaction():
            store.set_bookmark("trello", "actions", "A2")
            raise RuntimeError("the run's write failed")
        # Its row went in before the transaction, and stays when that rolls back.
        found = store.last_run("sync")
        assert found is not None and found.id == busy.id and found.finished_at is None
        store.finish_run(busy.id, "failed")
        failed = store.start_run("sync", deferred=True)
        assert store.finish_run(failed.id, "failed").outcome == "failed"  # written to finish
        store.drop_quiet_run(busy.id)  # a written run's row is deleted, as before
        with pytest.raises(KeyError):
            store.get_run(busy.id)
        assert store.get_run(failed.id).outcome == "failed"


def test_a_workers_sqlite_connection_is_kept_only_for_the_file_it_opened(
        tmp_path: Path) -> None:
    target = StoreTarget("sqlite", tmp_path / "state.db")
    _setup(target)
    kept = KeptReads()
    first = _quiet_run(target, kept)
    second = _quiet_run(target, kept)
    assert second._conn is first._conn  # kept open between the runs
    # The store set aside and another made in its place (bootstrap --adopt): a fresh
    # connection, reading the new file.
    (tmp_path / "state.db").rename(tmp_path / "state.db.broken")
    for suffix in ("-wal", "-shm"):
        (tmp_path / f"state.db{suffix}").unlink(missing_ok=True)
    with target.open() as replacement:
        replacement.bind_alliance("frl", "Friesland", "sandbox")
        replacement.set_bookmark("trello", "actions", "NEW")
    with target.open(lock=True, kept=kept) as store:
        assert store._conn is not first._conn
        assert store.get_bookmark("trello", "actions") == "NEW"
    kept.drop()  # a failed run: closed, and the next run opens afresh
    assert _quiet_run(target, kept)._conn is not store._conn
    kept.drop()
