"""The smaller defects a new alliance met in its first month, each with its test."""

from __future__ import annotations

import re
from pathlib import Path

from click.testing import CliRunner
from docx import Document

from sync.api import Alliance as AllianceApi
from sync.bootstrap.plan import Change
from sync.bootstrap.run import describe
from sync.cli.main import cli
from sync.core.config import load_config
from tests.support.alliance import Alliance, example_config

FARAH = "farah.haddad@example.org"


def _cli(config: Path, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["-c", str(config), *args])
    return result.exit_code, result.stdout, result.stderr


def test_bootstrap_on_its_own_sandbox_prints_no_page_that_is_gone(tmp_path: Path) -> None:
    # No sandbox serves this folder: bootstrap starts one in-process, which stops with it.
    code, out, _ = _cli(example_config(tmp_path), "bootstrap", "--only", "mailchimp")
    assert code == 0, out
    assert "sandbox page" not in out and "mcm-sync sandbox serve" in out


def test_bootstrap_progress_counts_to_a_known_total_in_words(tmp_path: Path) -> None:
    alliance = Alliance(tmp_path)
    try:
        seen: list[tuple[int, int, str]] = []
        AllianceApi(load_config(alliance.config_path)).bootstrap(
            progress=lambda done, total, what: seen.append((done, total, what)))
    finally:
        alliance.close()
    totals = {total for _, total, _ in seen}
    assert len(totals) == 1 and seen[-1][0] == seen[-1][1] == totals.pop()
    assert not any("task:" in what or "meeting:" in what for _, _, what in seen)
    assert any(what.startswith("Trello card FRL-1 · ") for _, _, what in seen)


def test_describe_a_change() -> None:
    change = Change("slack", "channel", "general", "create", "#frl-general")
    assert describe(change) == "Slack channel #frl-general"
    assert describe(Change("mailchimp", "merge_field", "SECTOR", "create", "")) == \
        "Mailchimp merge field SECTOR"


def test_a_nested_list_item_in_a_word_agenda_stays_a_list_item(tmp_path: Path) -> None:
    target = tmp_path / "agenda.docx"
    code, out, _ = _cli(example_config(tmp_path), "template", "render", "agenda", "--format",
                        "docx", "-o", str(target))
    assert code == 0, out
    paragraphs = Document(str(target)).paragraphs
    assert not [p.text for p in paragraphs if p.text.lstrip().startswith("- ")]
    nested = [p for p in paragraphs if p.text.startswith("Planned: ")]
    assert nested and {p.style.name for p in nested} == {"List Bullet 2"}


def test_a_card_a_member_added_has_a_step_in_its_message(tmp_path: Path) -> None:
    alliance = Alliance(tmp_path)
    try:
        alliance.cli("bootstrap")
        alliance.cli("sync")
        alliance.cli("sandbox", "add-card", "Map the language cafés", "--as", FARAH)
        alliance.cli("sync")
        slack = alliance.slack_member(FARAH)
        history = slack.conversations_history(
            channel=alliance.resource("slack", "channel", "actions"))["messages"]
        (text,) = [m["text"] for m in history if "Map the language cafés" in m["text"]]
    finally:
        alliance.close()
    assert "Step: Other actions · " in text and "Step:  ·" not in text


def test_forget_an_unknown_address_does_not_claim_it_is_in_the_audience(tmp_path: Path) -> None:
    code, out, _ = _cli(example_config(tmp_path), "forget", "nobody@example.org", "--dry-run")
    assert code == 0, out
    assert "the Mailchimp audience if it is there" in out
    assert "from: the Mailchimp audience (delete-permanent)" not in out


def test_counted_nouns_agree(tmp_path: Path) -> None:
    config = example_config(tmp_path)
    minutes = tmp_path / "m.yaml"
    minutes.write_text("meeting: gap-workshop\nitems:\n  - subject: Research\n    actions:\n"
                       "      - {action: Publish it, responsible: Daan Bakker, due: 1-7-2027}\n",
                       encoding="utf-8")
    code, out, _ = _cli(config, "minutes", "import", str(minutes))
    assert code == 0, out
    assert "1 new action item," in out
    code, out, _ = _cli(config, "validate")
    assert code == 0, out
    counted = re.findall(r"(\d+) (warnings?|tasks?|action-plan rows?)\b", out)
    assert len(counted) == 3
    assert all((number == "1") == (not noun.endswith("s")) for number, noun in counted)


def test_worker_keep_history_out_of_range_is_refused_before_anything_runs(
        tmp_path: Path) -> None:
    for value, expect in (("30m", "--keep-history 30m is out of range"),
                          ("100d", "--keep-history 100d is out of range"),
                          ("soon", "--keep-history: 'soon' is not a duration")):
        result = CliRunner().invoke(cli, ["worker", "--alliances", str(tmp_path),
                                          "--keep-history", value])
        assert result.exit_code == 2, result.output
        assert expect in result.output
