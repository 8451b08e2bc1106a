"""Buttons only where they work (issue 21, item 4).

Slack hands a button press to the app's interactivity URL (or its Socket Mode connection)
once and keeps it nowhere a later read can find it, so under ``real_time: none`` (a scheduled
``sync`` and no ``serve``) a press would be lost: the item messages carry no buttons, a sync
takes them off messages posted while real time was on and puts them back when it is on again,
and ``doctor`` says which mode is in force.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.support.synced import Synced


def _buttons(alliance: Synced, number: str) -> list[str]:
    message = alliance.message(number)
    return [element["action_id"] for block in message.get("blocks") or ()
            if block["type"] == "actions" for element in block["elements"]]


def test_without_real_time_item_messages_carry_no_buttons(alliance: Synced) -> None:
    assert alliance.config.real_time == "none"
    assert _buttons(alliance, "FRL-5") == []
    assert "FRL-5" in alliance.message("FRL-5")["text"]  # the text is all there is


def test_real_time_on_puts_the_buttons_on_and_off_again(tmp_path: Path,
                                                        synced_template: Path) -> None:
    live = Synced(tmp_path, copy_of=synced_template, real_time="serve")
    try:
        first = live.json("sync")
        assert first["changes"] == []  # only the messages' buttons changed
        assert first["writes"]["slack.update_message"] >= 30
        assert _buttons(live, "FRL-5") == [
            "mcm_status_doing", "mcm_status_done", "mcm_status_blocked"]
        assert live.json("sync")["writes"] == {}  # once on, nothing to do again
        # Real time off again (serve no longer runs): the buttons go at the next sync.
        text = live.config_path.read_text(encoding="utf-8")
        live.config_path.write_text(text.replace("real_time: serve", "real_time: none"),
                                    encoding="utf-8")
        live.cli("sync")
        assert _buttons(live, "FRL-5") == []
    finally:
        live.close()


def _mode_line(report: dict[str, Any]) -> dict[str, Any]:
    return next(c for c in report["checks"] if c["service"] == "real time"
                and c["name"] == "mode")


def test_doctor_says_which_mode_is_in_force(alliance: Synced) -> None:
    report = json.loads(alliance.cli("doctor", "--json").stdout)
    line = _mode_line(report)
    assert line["status"] == "ok"
    assert "carry no buttons" in line["detail"] and "next scheduled sync" in line["detail"]


def test_doctor_in_serve_mode_says_buttons_are_on(tmp_path: Path,
                                                  synced_template: Path) -> None:
    live = Synced(tmp_path, copy_of=synced_template, real_time="serve")
    try:
        line = _mode_line(json.loads(live.cli("doctor", "--json").stdout))
        assert "mcm-sync serve" in line["detail"] and "buttons" in line["detail"]
    finally:
        live.close()
