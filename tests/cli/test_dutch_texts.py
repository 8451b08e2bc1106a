"""What a Dutch coordinator reads and types: the listed text bugs, and --step by number, key or
name in the alliance's language."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from click.testing import CliRunner

from playbooks import load_playbook
from playbooks.messages import messages
from playbooks.present import playbook_as_markdown, playbook_as_text
from sync.cli.main import cli
from sync.core.config import load_config
from sync.core.init_config import new_config_text
from sync.state.store import StateStore
from tests.support.alliance import example_config


def test_the_markdown_playbook_ends_with_a_real_heading_and_no_week_5_5() -> None:
    for language in ("en", "nl", "fr", "sv"):
        book = load_playbook(language)
        text = playbook_as_markdown(book) + playbook_as_text(book)
        assert "## 1, 2" not in text
        assert "week 5-5" not in text and "-5-" not in text
        for task in book.all_tasks():
            first = task.timing.offset_weeks + 1
            if task.timing.duration_weeks == 1:
                assert f"{first}-{first})" not in text and f"{first}-{first}\n" not in text
    nl = playbook_as_markdown(load_playbook("nl"))
    assert "## Plenaire bijeenkomsten" in nl and "(week " in nl


def test_dutch_labels_the_guide_uses() -> None:
    book = load_playbook("nl")
    assert book.facts.sectors["professional_economic"] == \
        "Professionele en economische ontwikkeling"
    assert "Charter" not in messages("nl")["welcome"]


def test_the_dutch_agenda_does_not_call_open_actions_done(tmp_path: Path) -> None:
    from playbooks.labels import labels

    marker = labels("nl")["meetings"]["due_by_meeting"]
    assert "klaar" not in marker and "vóór" in marker


def test_init_for_nl_writes_dutch_texts() -> None:
    text = new_config_text(name="Twente Alliantie", slug="twe", region="Twente",
                           language="nl", start_date="2027-03-01", duration_months=12,
                           coordinator_name="Ada", coordinator_email="ada@example.org",
                           organisation="Gemeente Enschede")
    mailchimp = yaml.safe_load(text)["mailchimp"]
    assert mailchimp["audience_name"] == "Nieuwsbrief van Twente Alliantie"
    assert mailchimp["permission_reminder"].startswith("Je ontvangt dit")


def test_status_step_by_number_key_or_name(tmp_path: Path) -> None:
    path = example_config(tmp_path)
    path.write_text(path.read_text(encoding="utf-8").replace("language: en", "language: nl"),
                    encoding="utf-8")
    StateStore.open(load_config(path).state_path).close()  # `status` needs a state store
    runner = CliRunner()

    def steps(value: str) -> tuple[int, str, str]:
        result = runner.invoke(cli, ["-c", str(path), "status", "--step", value, "--json"])
        return result.exit_code, result.stdout, result.stderr

    for value in ("2", "start", "Aan de slag", "aan_de_slag", "getting_started"):
        code, out, err = steps(value)
        assert code == 0, (value, err)
        json.loads(out)
    code, _, err = steps("nergens")
    assert code == 2
    assert "--step nergens: no such step" in err and "2 = start = Aan de slag" in err


def test_example_config_names_every_conflict_policy() -> None:
    text = (Path(__file__).parents[2] / "config.example.yaml").read_text(encoding="utf-8")
    line = next(x for x in text.splitlines() if "conflict_policy:" in x)
    assert all(policy in line for policy in ("newest", "trello", "slack", "coordinator", "ask"))
