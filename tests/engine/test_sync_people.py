"""People in the sync: reactions of people outside the alliance, names in conflict notes, and
how "newest" judges a reaction (played on the sandbox like ``test_sync_sandbox``)."""

from __future__ import annotations

from tests.support.synced import Synced


def test_a_stranger_reaction_changes_nothing_and_is_reported(alliance: Synced) -> None:
    alliance.react("FRL-5", "white_check_mark", who="visitor@example.net")
    result = alliance.json("sync")
    assert result["changes"] == []
    assert alliance.item("FRL-5").status == "todo"
    thread = alliance.message("FRL-5")["thread"]
    assert any("was not applied" in line and "outside the alliance" in line for line in thread)
    status = alliance.cli("status").output
    assert "ignored reaction" in status and "FRL-5" in status
    assert alliance.json("sync")["writes"] == {}  # reported once


def test_anyone_may_react_when_the_config_says_so(alliance: Synced) -> None:
    text = alliance.config_path.read_text(encoding="utf-8")
    alliance.config_path.write_text(text.replace(
        "reactions_from: alliance", "reactions_from: anyone"), encoding="utf-8")
    alliance.react("FRL-5", "white_check_mark", who="visitor@example.net")
    assert [c["new"] for c in alliance.json("sync")["changes"]] == ["done"]


def test_newest_judges_a_reaction_by_when_the_sync_first_saw_it(alliance: Synced) -> None:
    alliance.move("FRL-6", "doing")  # a Trello move with its time
    alliance.react("FRL-6", "no_entry")  # a reaction after it: no time of its own
    result = alliance.json("sync")
    assert alliance.item("FRL-6").status == "blocked"
    assert result["conflicts"][0]["loser_value"] == "doing"


def test_the_conflict_note_names_the_loser(alliance: Synced) -> None:
    alliance.move("FRL-7", "blocked")
    alliance.react("FRL-7", "white_check_mark")
    alliance.json("sync")
    lines = [line for line in alliance.message("FRL-7")["thread"] if "Conflict" in line]
    assert lines and ("Farah Haddad (example)" in lines[0] or "Esra Yilmaz" in lines[0])
    assert "U0" not in lines[0] and ", ?)" not in lines[0]
