"""Honest summaries and a complete audit trail: conflicts name their item and say what was
decided, their losing value is logged, comments copied from Trello are in `log`, a meeting
moved with `meeting schedule --date` is the coordinator's move."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.synced import ESRA, Synced


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One bootstrapped and synced alliance (SQLite) for this module; tests get a copy."""
    folder = tmp_path_factory.mktemp("synced-audit")
    made = Synced(folder)
    made.cli("bootstrap")
    made.cli("sync")
    made.close()
    return folder


@pytest.fixture
def alliance(tmp_path: Path, template: Path) -> Iterator[Synced]:
    made = Synced(tmp_path, copy_of=template)
    yield made
    made.close()


def _policy(alliance: Synced, policy: str) -> None:
    text = alliance.config_path.read_text(encoding="utf-8")
    alliance.config_path.write_text(
        text.replace("conflict_policy: newest", f"conflict_policy: {policy}"), encoding="utf-8")


def test_a_waiting_conflict_is_not_said_to_be_decided(alliance: Synced) -> None:
    _policy(alliance, "ask")
    alliance.move("FRL-11", "blocked")
    alliance.react("FRL-11", "white_check_mark")
    waiting = alliance.cli("sync", expect=3)
    (line,) = [x for x in waiting.stdout.splitlines() if x.startswith("  conflict")]
    assert "FRL-11 status" in line and "nothing applied" in line
    assert "kept" not in line and "not applied" not in line
    assert "mcm-sync resolve FRL-11 --take SIDE" in line
    assert "1 conflict," in waiting.stdout and "1 conflicts" not in waiting.stdout
    assert "error: 1 conflict needs a decision" in waiting.stderr
    log = alliance.cli("log", "--item", "FRL-11").stdout
    assert "conflict" in log and "waiting for a decision" in log


def test_a_settled_conflict_names_its_item_and_logs_the_loser(alliance: Synced) -> None:
    _policy(alliance, "trello")
    alliance.move("FRL-12", "blocked")
    alliance.react("FRL-12", "white_check_mark")
    done = alliance.cli("sync")
    (line,) = [x for x in done.stdout.splitlines() if "conflict" in x and "FRL-12" in x]
    assert "kept blocked (trello), not applied done (slack" in line
    log = alliance.cli("log", "--item", "frl-12").stdout  # lower case works too
    assert "status done (slack) not applied; kept blocked (trello)" in log


def test_a_trello_comment_copied_to_slack_is_in_the_log(alliance: Synced) -> None:
    card = alliance.side("FRL-3", "trello")
    alliance.trello_member(ESRA).fetch_json(
        f"/cards/{card}/actions/comments", http_method="POST",
        query_params={"text": "Draft sent to the chair"})
    alliance.cli("sync")
    assert any("Draft sent to the chair" in reply for reply in alliance.message("FRL-3")["thread"])
    alliance.cli("sync")  # read again: logged once
    lines = [x for x in alliance.cli("log", "--item", "FRL-3").stdout.splitlines()
             if "Draft sent to the chair" in x]
    assert len(lines) == 1 and "comment" in lines[0] and "in Trello)" in lines[0]


def test_a_meeting_move_is_the_coordinator_s(alliance: Synced) -> None:
    alliance.cli("meeting", "schedule", "--date", "2=8-7-2027")
    with alliance.store() as store:
        number = next(i.number for i in store.list_items(kind="meeting")
                      if i.key == "meeting:gap-workshop")
    log = alliance.cli("log", "--item", number).stdout
    assert "2027-06-07 -> 2027-07-08  (Anna de Vries (example) in mcm-sync)" in log
    assert "the action plan" not in log


def test_two_members_reacting_differently_are_a_conflict_in_every_view(
        alliance: Synced) -> None:
    """Farah reacts ✅ and Esra ⛔ on FRL-13 in one run: done (the more decisive) is kept,
    and Esra's blocked is a conflict's loser with her name: in ``sync --json``, ``status``
    (and its ``--json``) and the log, like a board-against-chat conflict."""
    alliance.react("FRL-13", "white_check_mark")
    alliance.react("FRL-13", "no_entry", who=ESRA)
    result = alliance.json("sync")
    assert [(c["item"], c["winner_side"], c["winner_value"], c["loser_side"],
             c["loser_value"], c["loser_actor"]) for c in result["conflicts"]] == [
        ("FRL-13", "slack", "done", "slack", "blocked", "Esra Yilmaz (example)")]
    assert alliance.item("FRL-13").status == "done"
    status = alliance.cli("status").output
    assert "FRL-13 status: kept 'done' (slack), not applied 'blocked'" in status
    [shown] = alliance.json("status")["conflicts"]
    assert (shown["values"], shown["winner"], shown["loser_side"], shown["loser_value"]) == (
        {"slack": "done"}, "slack", "slack", "blocked")
    log = alliance.cli("log", "--item", "FRL-13").stdout
    assert ("status blocked (slack) not applied; kept done (slack)  "
            "(Esra Yilmaz (example) in Slack)") in log


def test_two_members_reactions_waiting_are_decided_by_value(alliance: Synced) -> None:
    """Under ``ask`` both reactions wait; ``--take slack`` names no one value (Slack asked
    for two), so the coordinator types the one meant."""
    _policy(alliance, "ask")
    alliance.react("FRL-14", "white_check_mark")
    alliance.react("FRL-14", "no_entry", who=ESRA)
    alliance.cli("sync", expect=3)
    assert alliance.item("FRL-14").status == "todo"
    status = alliance.cli("status").output
    assert "FRL-14 status: slack 'done', slack 'blocked'" in status
    both = alliance.cli("resolve", "FRL-14", "--take", "slack", expect=2)
    assert "slack asked for 'done' or 'blocked'" in both.stderr and "--take blocked" in both.stderr
    alliance.cli("resolve", "FRL-14", "--take", "blocked")
    assert alliance.json("sync")["unresolved_conflicts"] == 0
    assert alliance.item("FRL-14").status == "blocked"
    assert alliance.card("FRL-14")["idList"] == alliance.resource("trello", "list", "blocked")
