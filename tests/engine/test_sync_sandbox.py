"""``mcm-sync sync`` end to end: members act in Trello and Slack through the SDKs, the CLI syncs.

Each test bootstraps the example alliance on a private sandbox, runs the first sync (which
posts one message per item), then plays what members do and checks what everyone else sees.
Every test that starts from the synced template runs on both state backends (SQLite, and a
schema of the session's PostgreSQL server).
"""

from __future__ import annotations

from pathlib import Path

from tests.support.alliance import Alliance
from tests.support.synced import ESRA, FARAH, Synced, state_dump


def test_first_sync_posts_one_message_per_item_then_nothing(alliance: Synced) -> None:
    with alliance.store() as store:
        items = store.list_items()
        assert all(store.get_side(i.id, "slack") for i in items)
    slack = alliance.slack_member(ESRA)
    history = slack.conversations_history(
        channel=alliance.resource("slack", "channel", "actions"), limit=200
    )["messages"]
    assert len(history) == len(items)
    alliance.reset_calls()
    result = alliance.json("sync")
    assert result["writes"] == {}
    assert result["changes"] == []
    # A no-change sync reads a constant handful: board actions, channel history, identity.
    assert sum(alliance.calls().values()) <= 4, alliance.calls()


def test_card_moved_in_trello_reaches_slack_and_the_hub(alliance: Synced) -> None:
    alliance.move("FRL-3", "doing")
    result = alliance.json("sync")
    assert [(c["item"], c["field"], c["new"]) for c in result["changes"]] == [
        ("FRL-3", "status", "doing")
    ]
    assert alliance.item("FRL-3").status == "doing"
    message = alliance.message("FRL-3")
    assert "Status: *In progress*" in message["text"]
    assert any("In progress" in line and "Trello" in line for line in message["thread"])
    log = alliance.cli("log", "--item", "FRL-3").output
    assert "todo -> doing" in log or "doing" in log
    # Our own writes come back in the next read and are not mistaken for a member's change.
    again = alliance.json("sync")
    assert again["changes"] == [] and again["writes"] == {}


def test_reaction_in_slack_moves_the_card(alliance: Synced) -> None:
    alliance.react("FRL-4", "white_check_mark")
    result = alliance.json("sync")
    assert [(c["item"], c["new"], c["side"]) for c in result["changes"]] == [
        ("FRL-4", "done", "slack")
    ]
    card = alliance.card("FRL-4")
    assert card["idList"] == alliance.resource("trello", "list", "done")
    assert card["dueComplete"] is True
    assert "Done" in alliance.message("FRL-4")["text"]
    assert alliance.json("sync")["writes"] == {}


def test_card_moved_back_from_done_reopens(alliance: Synced) -> None:
    alliance.react("FRL-5", "white_check_mark")
    alliance.cli("sync")
    alliance.move("FRL-5", "doing")
    alliance.cli("sync")
    assert alliance.item("FRL-5").status == "doing"
    assert alliance.card("FRL-5")["dueComplete"] is False


def test_archived_card_is_cancelled(alliance: Synced) -> None:
    alliance.trello_member(ESRA).fetch_json(
        f"/cards/{alliance.side('FRL-6', 'trello')}",
        http_method="PUT",
        query_params={"closed": "true"},
    )
    alliance.cli("sync")
    assert alliance.item("FRL-6").status == "cancelled"
    assert "Cancelled" in alliance.message("FRL-6")["text"]


def test_new_card_by_a_member_becomes_an_item(alliance: Synced) -> None:
    with alliance.store() as store:
        before = len(store.list_items())
    alliance.trello_member(ESRA).fetch_json(
        "/cards",
        http_method="POST",
        query_params={
            "idList": alliance.resource("trello", "list", "todo"),
            "name": "Translate the flyer into Tigrinya",
        },
    )
    result = alliance.json("sync")
    number = f"FRL-{before + 1}"
    assert result["created_items"] == [number]
    card = alliance.card(number)
    assert card["name"] == f"{number} · Translate the flyer into Tigrinya"
    assert "mcm-sync" in card["desc"]
    message = alliance.message(number)
    assert "Tigrinya" in message["text"]
    assert any("New item" in line for line in message["thread"])
    # Nothing twice: a later sync, even a full one, adds no item and no message.
    assert alliance.json("sync", "--full")["created_items"] == []
    with alliance.store() as store:
        assert len(store.list_items()) == before + 1


def test_conflict_keeps_one_value_and_shows_the_other(alliance: Synced) -> None:
    alliance.move("FRL-7", "blocked")
    alliance.react("FRL-7", "white_check_mark")
    result = alliance.json("sync")
    assert len(result["conflicts"]) == 1
    conflict = result["conflicts"][0]
    kept = alliance.item("FRL-7").status
    assert kept == conflict["winner_value"]
    assert {conflict["winner_value"], conflict["loser_value"]} == {"blocked", "done"}
    thread = alliance.message("FRL-7")["thread"]
    loser_label = {"blocked": "Blocked", "done": "Done"}[conflict["loser_value"]]
    assert any("Conflict" in line and loser_label in line for line in thread)
    status = alliance.cli("status").output
    assert "FRL-7" in status and "conflict" in status.lower()
    assert alliance.json("sync")["writes"] == {}


def test_comments_cross_over(alliance: Synced) -> None:
    slack = alliance.slack_member(FARAH)
    slack.chat_postMessage(
        channel=alliance.resource("slack", "channel", "actions"),
        thread_ts=alliance.side("FRL-8", "slack"),
        text="The library can host us on Tuesday",
    )
    alliance.trello_member(ESRA).fetch_json(
        f"/cards/{alliance.side('FRL-9', 'trello')}/actions/comments",
        http_method="POST",
        query_params={"text": "Draft is in the shared folder"},
    )
    result = alliance.json("sync")
    assert result["comments"] == 1
    actions = alliance.trello_member(ESRA).fetch_json(
        f"/cards/{alliance.side('FRL-8', 'trello')}/actions", query_params={"filter": "commentCard"}
    )
    assert any("library can host us" in a["data"]["text"] for a in actions)
    assert any("shared folder" in line for line in alliance.message("FRL-9")["thread"])
    # Copied once only.
    assert alliance.json("sync")["comments"] == 0


def test_action_plan_row_added_by_the_coordinator(alliance: Synced, tmp_path: Path) -> None:
    plan = Path(alliance.config.resolve_path(alliance.config.action_plan))
    extra = tmp_path / "plan.yaml"
    extra.write_text(
        plan.read_text(encoding="utf-8")
        + """
  - key: buddy-walks
    step: promote
    action: Buddy walks through the city centre
    local_problem: Newcomers do not know the city's services
    responsible: Stichting VerbindMij
    due: 2027-09-01
    status: todo
""",
        encoding="utf-8",
    )
    text = alliance.config_path.read_text(encoding="utf-8")
    alliance.config_path.write_text(
        "\n".join(
            f"action_plan: {extra}" if line.startswith("action_plan:") else line
            for line in text.splitlines()
        ),
        encoding="utf-8",
    )
    result = alliance.json("sync")
    assert len(result["created_items"]) == 1
    number = result["created_items"][0]
    assert alliance.card(number)["name"].endswith("Buddy walks through the city centre")
    assert "Buddy walks" in alliance.message(number)["text"]
    assert alliance.json("sync")["created_items"] == []


def test_sync_before_bootstrap_says_what_to_do(tmp_path: Path) -> None:
    fresh = Alliance(tmp_path)
    try:
        result = fresh.cli("sync", expect=2)
        assert "mcm-sync bootstrap" in result.stderr
    finally:
        fresh.close()


def test_remote_failure_exit_code_and_rerun_heals(alliance: Synced) -> None:
    alliance.move("FRL-10", "doing")
    alliance.fault(service="slack", path="*chat.update", mode="error", status=400, count=1)
    failed = alliance.cli("sync", expect=4)
    assert failed.stderr.startswith("error: slack")
    result = alliance.json("sync")
    assert "In progress" in alliance.message("FRL-10")["text"]
    assert alliance.item("FRL-10").status == "doing"
    assert result["writes"].get("slack.update_message") == 1


def test_ask_policy_waits_for_the_coordinator(tmp_path: Path, synced_template: Path) -> None:
    alliance = Synced(tmp_path, copy_of=synced_template)
    try:
        text = alliance.config_path.read_text(encoding="utf-8")
        alliance.config_path.write_text(
            text.replace("conflict_policy: newest", "conflict_policy: ask"), encoding="utf-8"
        )
        alliance.move("FRL-11", "blocked")
        alliance.react("FRL-11", "white_check_mark")
        waiting = alliance.cli("sync", expect=3)
        assert "1 conflict needs a decision" in waiting.stderr
        assert alliance.item("FRL-11").status == "todo"
        assert "mcm-sync resolve FRL-11" in alliance.message("FRL-11")["thread"][-1]
        # Still waiting: nothing is overwritten, and the exit code keeps saying so.
        alliance.cli("sync", expect=3)
        status = alliance.cli("status").output
        assert "conflict waiting FRL-11 status" in status and "mcm-sync resolve FRL-11" in status
        assert alliance.card("FRL-11")["idList"] == alliance.resource("trello", "list", "blocked")
        wrong = alliance.cli("resolve", "FRL-11", "--take", "maybe", expect=2)
        assert "not a status" in wrong.stderr
        alliance.cli("resolve", "FRL-11", "--take", "slack")
        done = alliance.json("sync")
        assert done["unresolved_conflicts"] == 0
        assert alliance.item("FRL-11").status == "done"
        assert alliance.card("FRL-11")["idList"] == alliance.resource("trello", "list", "done")
        assert "Status: *Done*" in alliance.message("FRL-11")["text"]
        assert alliance.json("sync")["writes"] == {}
    finally:
        alliance.close()


def test_sync_pushes_the_stakeholders_to_the_audience(alliance: Synced) -> None:
    from tests.support.paths import ROOT

    alliance.cli(
        "stakeholders", "import", str(ROOT / "playbooks/examples/stakeholders-friesland.csv")
    )
    first = alliance.json("sync")["audience"]
    assert first["sent"] > 0 and first["failed"] == []
    # Only changed people are sent: the next sync sends nobody.
    assert alliance.json("sync")["audience"]["sent"] == 0


def test_playing_members_from_the_cli(alliance: Synced) -> None:
    alliance.cli("sandbox", "move", "FRL-12", "doing", "--as", ESRA)
    alliance.cli("sandbox", "react", "FRL-13", ":no_entry:", "--as", FARAH)
    alliance.cli("sandbox", "add-card", "Map the language cafés", "--as", FARAH)
    result = alliance.json("sync")
    assert sorted((c["item"], c["new"], c["actor"]) for c in result["changes"]) == [
        ("FRL-12", "doing", "Esra Yilmaz (example)"),
        ("FRL-13", "blocked", "Farah Haddad (example)"),
    ]
    assert len(result["created_items"]) == 1
    log = alliance.cli("log", "--item", "FRL-13").output
    assert "todo -> blocked  (Farah Haddad (example) in Slack)" in log
    # Anyone may be played, and is answered as the service answers a stranger: Trello
    # refuses a non-member of the board; Slack takes the reaction, and the sync ignores it.
    stranger = alliance.cli("sandbox", "move", "FRL-12", "done", "--as", "x@example.com", expect=4)
    assert "unauthorized permission requested" in stranger.stderr
    alliance.cli("sandbox", "react", "FRL-12", "white_check_mark", "--as", "x@example.com")
    ignored = alliance.json("sync")
    assert ignored["changes"] == []
    assert any("was not applied" in line for line in alliance.message("FRL-12")["thread"])
    missing = alliance.cli("sandbox", "move", "FRL-999", "done", expect=2)
    assert "no item FRL-999" in missing.stderr


def test_due_date_and_title_edits_in_trello(alliance: Synced) -> None:
    card_id = alliance.side("FRL-14", "trello")
    alliance.trello_member(ESRA).fetch_json(
        f"/cards/{card_id}", http_method="PUT",
        query_params={"due": "2027-06-30T12:00:00.000Z", "name": "FRL-14 · Weekly mediator call"})
    result = alliance.json("sync")
    assert sorted((c["field"], c["new"]) for c in result["changes"]) == [
        ("due", "2027-06-30"), ("title", "Weekly mediator call")]
    item = alliance.item("FRL-14")
    assert (item.due, item.title) == ("2027-06-30", "Weekly mediator call")
    text = alliance.message("FRL-14")["text"]
    assert "Weekly mediator call" in text and "30 June 2027" in text  # as members write it
    assert alliance.json("sync")["writes"] == {}


def test_deleted_card_cancels_the_item_and_is_not_made_again(alliance: Synced) -> None:
    card_id = alliance.side("FRL-15", "trello")
    alliance.trello_member(ESRA).fetch_json(f"/cards/{card_id}", http_method="DELETE")
    result = alliance.json("sync")
    assert [(c["item"], c["new"]) for c in result["changes"]] == [("FRL-15", "cancelled")]
    assert "Status: *Cancelled*" in alliance.message("FRL-15")["text"]
    # A later reaction still works: the item changes, nothing tries to write the lost card.
    alliance.react("FRL-15", "hourglass_flowing_sand")
    later = alliance.json("sync", "--full")
    assert alliance.item("FRL-15").status == "doing"
    assert later["created_items"] == []
    assert alliance.json("sync")["writes"] == {}


def test_deleted_message_is_posted_again(alliance: Synced) -> None:
    from connectors.sandbox.clients.testing import slack_client

    old_ts = alliance.side("FRL-16", "slack")
    bot = slack_client(alliance.server)
    bot.chat_delete(channel=alliance.resource("slack", "channel", "actions"), ts=old_ts)
    alliance.move("FRL-16", "doing")
    alliance.cli("sync")
    new_ts = alliance.side("FRL-16", "slack")
    assert new_ts != old_ts
    assert "Status: *In progress*" in alliance.message("FRL-16")["text"]
    assert alliance.json("sync")["writes"] == {}


def test_dry_run_shows_what_would_change_and_writes_nothing(alliance: Synced) -> None:
    alliance.move("FRL-17", "blocked")
    alliance.trello_member(FARAH).fetch_json(
        "/cards", http_method="POST",
        query_params={"idList": alliance.resource("trello", "list", "todo"), "name": "Rent a hall"})
    state_before = state_dump(alliance)
    alliance.reset_calls()
    shown = alliance.cli("sync", "--dry-run")
    assert "would set FRL-17 status: todo -> blocked (from Trello)" in shown.output
    assert "would add an item for the card 'Rent a hall' (Trello)" in shown.output
    stats = alliance.admin("GET", "/_sandbox/stats")
    writes = [route for routes in stats.values() for route in routes
              if route.split()[0] in ("POST", "PUT", "DELETE")
              and route.rsplit("/", 1)[-1] not in ("auth.test", "conversations.history")]
    assert writes == []
    assert state_dump(alliance) == state_before
    # Still to do, and then done by the real sync.
    assert alliance.json("sync", "--dry-run")["changes"][0]["new"] == "blocked"
    assert alliance.json("sync")["changes"][0]["new"] == "blocked"
    assert alliance.json("sync", "--dry-run")["changes"] == []
