"""The quiet sync: a scheduled run with nothing new skips reading the state and planning.

A run records the fingerprint of its inputs (state revision, config, playbook and rows, the
actions channel as read, the Trello bookmark) when its plan was empty; the next run with the
same fingerprint and no Trello action is quiet. These tests check that every kind of change
still breaks the silence: a member in Slack (no Trello action at all), a member in Trello, a
write to the state by someone else, an edited action plan. And that the state's revision (the
triggers of schema version 6) moves on exactly the writes a plan depends on, on both backends.
"""

from __future__ import annotations

import pytest

from sync.api import Alliance as LibraryAlliance
from sync.engine.model import inputs_digest
from sync.state.schema import migrate, schema_version
from tests.support.stores import StoreTarget
from tests.support.synced import Synced, until_quiet


def test_a_steady_alliance_syncs_quietly(alliance: Synced) -> None:
    quiet = until_quiet(alliance)
    assert quiet["writes"] == {} and quiet["changes"] == []
    alliance.reset_calls()
    again = alliance.json("sync")
    assert again["quiet"] is True
    # Two reads: the board's actions and the channel's history (identity is cached per run).
    assert sum(alliance.calls().values()) <= 3, alliance.calls()
    # Quiet runs keep no row of their own, only the time of the last check.
    with alliance.store() as store:
        runs = store._conn.execute("SELECT COUNT(*) AS n FROM runs").fetchone()["n"]
    alliance.json("sync")
    with alliance.store() as store:
        assert store._conn.execute("SELECT COUNT(*) AS n FROM runs").fetchone()["n"] == runs
        assert store.get_bookmark("sync", "last_quiet")
    status = alliance.json("status")["last_sync"]
    assert status["outcome"] == "ok" and status["quiet_check"]
    assert "last check with nothing new" in alliance.cli("status").output
    assert "sync (quiet: nothing new) done: 0 changes" in alliance.cli("sync").output


def test_a_reaction_alone_breaks_the_silence(alliance: Synced) -> None:
    until_quiet(alliance)
    alliance.react("FRL-4", "white_check_mark")  # Slack only: Trello reports no action
    result = alliance.json("sync")
    assert result["quiet"] is False
    assert [(c["item"], c["new"]) for c in result["changes"]] == [("FRL-4", "done")]
    assert alliance.card("FRL-4")["idList"] == alliance.resource("trello", "list", "done")


def test_a_card_move_breaks_the_silence(alliance: Synced) -> None:
    until_quiet(alliance)
    alliance.move("FRL-3", "doing")
    result = alliance.json("sync")
    assert result["quiet"] is False
    assert alliance.item("FRL-3").status == "doing"
    # The next run reads only our own writes coming back: it plans (and finds nothing), and
    # records the fingerprint past them, so the run after it is quiet already.
    echoes = alliance.json("sync")
    assert echoes["quiet"] is False and echoes["writes"] == {}
    assert alliance.json("sync")["quiet"] is True


def test_a_write_to_the_state_by_another_hand_is_not_missed(alliance: Synced) -> None:
    """Nothing changed remotely, but the hub did (as ``serve`` or ``resolve`` would change
    it): the revision moved, so the run plans and carries the hub's value out."""
    until_quiet(alliance)
    with alliance.store() as store:
        item = store.get_item_by_number("FRL-5")
        assert item is not None
        store.update_item(item.id, status="blocked")
        store.add_audit(item.id, "coordinator", "hub", "status", item.status, "blocked")
    result = alliance.json("sync")
    assert result["quiet"] is False
    assert alliance.card("FRL-5")["idList"] == alliance.resource("trello", "list", "blocked")
    assert "Blocked" in alliance.message("FRL-5")["text"]


def test_inputs_digest_follows_config_and_rows(alliance: Synced) -> None:
    library = LibraryAlliance.open(alliance.config_path)
    library.validate()
    before = inputs_digest(library.config, library.playbook, library.rows)
    assert before == library.inputs
    renamed = library.config.model_copy(
        update={"alliance": library.config.alliance.model_copy(update={"name": "Other"})})
    assert inputs_digest(renamed, library.playbook, library.rows) != before
    assert inputs_digest(library.config, library.playbook, library.rows[:-1] or [None]) \
        != before  # type: ignore[list-item]


def test_kept_connections_are_reused_and_dropped_after_a_failure(alliance: Synced) -> None:
    library = LibraryAlliance(alliance.config, keep_connections=True)
    with library.connect(("trello", "slack")) as first:
        pass
    with library.connect(("trello", "slack")) as second:
        assert second is first
    with pytest.raises(RuntimeError), library.connect(("trello", "slack")):
        raise RuntimeError("a refused credential, say")
    with library.connect(("trello", "slack")) as third:
        assert third is not first
    library.close()


# ---------------------------------------------------------------------- the revision


def test_the_revision_moves_on_what_a_plan_reads_and_only_on_that(target: StoreTarget) -> None:
    with target.open() as store:
        start = store.revision()
        store.set_bookmark("trello", "actions", "a1")
        run = store.start_run("sync")
        store.finish_run(run.id, "ok")
        assert store.revision() == start  # bookkeeping of runs and cursors: not plan input
        store.put_resource("trello", "board", "board", "b1")
        after_resource = store.revision()
        assert after_resource > start
        item = store.ensure_item(key="task:x", number="FRL-1", kind="task", title="X",
                              status="todo", source="playbook")
        after_item = store.revision()
        assert after_item > after_resource
        store.put_side(item.id, "trello", "card1", {"status": "todo"})
        after_side = store.revision()
        assert after_side > after_item
        store.add_audit(item.id, "esra", "trello", "status", "todo", "doing")
        assert store.revision() > after_side


def test_a_version_5_store_gains_the_revision(target: StoreTarget) -> None:
    db = target.database()
    try:
        migrate(db, target=5)
        db.execute("INSERT INTO resources (service, kind, logical_key, remote_id, updated_at)"
                    " VALUES ('trello', 'board', 'board', 'b1', 'now')")
        migrate(db, target=6)
        assert schema_version(db) == 6
    finally:
        db.close()
    with target.open() as store:
        before = store.revision()
        assert store.get_resource("trello", "board", "board") is not None
        store.delete_resource("trello", "board", "board")
        assert store.revision() > before
