"""The foundation commands through click's CliRunner: exit codes and messages."""

from __future__ import annotations

import json
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from sync.cli.main import cli
from tests.support.alliance import example_config
from tests.support.paths import EXAMPLE_CONFIG

INIT_OPTIONS = [
    "--name", "Kronoberg Alliance", "--slug", "krn", "--region", "Kronoberg", "--country", "SE",
    "--language", "sv", "--start-date", "2027-03-01", "--duration", "18",
    "--coordinator-name", "Test Person (example)", "--coordinator-email", "test@example.org",
    "--organisation", "Linnaeus University",
]


def run(*args: str, input: str | None = None) -> click.testing.Result:
    return CliRunner().invoke(cli, list(args), input=input)


def _commands(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every command path, asked as click asks (the root's commands are loaded lazily, so
    ``group.commands`` alone would be empty and this test would check nothing)."""
    ctx = click.Context(group)
    found = []
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        assert command is not None, name
        found.append((*prefix, name))
        if isinstance(command, click.Group):
            found += _commands(command, (*prefix, name))
    return found


def test_the_command_tree_is_walked_whole() -> None:
    assert len(_commands(cli)) > 40  # not an empty parametrisation

@pytest.mark.parametrize("path", _commands(cli), ids=" ".join)
def test_every_command_has_help(path: tuple[str, ...]) -> None:
    result = run(*path, "--help")
    assert result.exit_code == 0, result.output
    assert "Usage: " in result.output
    summary = result.output.split("\n\n")[1].strip()
    assert summary and not summary.startswith("Options"), f"{path}: no description"


def test_version() -> None:
    result = run("--version")
    assert result.exit_code == 0 and result.output.startswith("mcm-sync, version ")


def test_validate_the_example() -> None:
    result = run("-c", str(EXAMPLE_CONFIG), "validate")
    assert result.exit_code == 0, result.output
    data = json.loads(run("-c", str(EXAMPLE_CONFIG), "validate", "--json").stdout)
    assert data["ok"] is True and data["tasks"] == 34


def test_validate_reports_every_problem_with_file_and_key(tmp_path: Path) -> None:
    config = example_config(tmp_path)
    text = config.read_text(encoding="utf-8")
    text = text.replace("language: en ", "language: xx ").replace("start_date: 2027-01-11",
                                                                  "start_date: 2027-13-40")
    text += "\nunknown_section: 1\n"
    config.write_text(text, encoding="utf-8")
    result = run("-c", str(config), "validate")
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert all(line.startswith(f"error: {config}") for line in lines), lines
    joined = "\n".join(lines)
    for key in ("alliance.language", "alliance.start_date", "unknown_section"):
        assert key in joined, key


def test_missing_config_file_is_a_clear_error(tmp_path: Path) -> None:
    result = run("-c", str(tmp_path / "nope.yaml"), "validate")
    assert result.exit_code == 2
    assert "nope.yaml" in result.stderr and "hint" in result.stderr


def test_playbook_show_nl_has_the_english_ids() -> None:
    english = json.loads(run("playbook", "show", "--lang", "en", "--format", "json").stdout)
    dutch = json.loads(run("playbook", "show", "--lang", "nl", "--format", "json").stdout)
    assert len(dutch["steps"]) == 6

    def ids(book: dict) -> list[str]:
        return [task["id"] for step in book["steps"] for task in step["tasks"]]

    assert ids(dutch) == ids(english) and len(ids(english)) == 34


@pytest.mark.parametrize("language", ["en", "nl"])
def test_every_template_renders_for_the_example(language: str, tmp_path: Path) -> None:
    listed = json.loads(run("-c", str(EXAMPLE_CONFIG), "template", "list", "--json").stdout)
    assert len(listed) >= 9
    for template in listed:
        result = run("-c", str(EXAMPLE_CONFIG), "template", "render", template["name"],
                     "--lang", language, "-o", f"{tmp_path}/")
        assert result.exit_code == 0, (template["name"], result.output)
    written = list(tmp_path.iterdir())
    assert len(written) == len(listed)
    assert all(path.stat().st_size > 100 for path in written)


def test_unknown_template_names_the_choices() -> None:
    result = run("-c", str(EXAMPLE_CONFIG), "template", "render", "brochure")
    assert result.exit_code == 2
    assert "brochure" in result.stderr and "charter" in result.stderr


def test_init_writes_a_valid_config_and_refuses_to_overwrite(tmp_path: Path) -> None:
    target = tmp_path / "mcm-sync.yaml"
    result = run("-c", str(target), "init", *INIT_OPTIONS)
    assert result.exit_code == 0, result.output
    assert run("-c", str(target), "validate").exit_code == 0
    again = run("-c", str(target), "init", *INIT_OPTIONS)
    assert again.exit_code == 2 and "--force" in again.stderr
    assert run("-c", str(target), "init", *INIT_OPTIONS, "--force").exit_code == 0


def test_init_asks_for_what_the_options_do_not_give(tmp_path: Path) -> None:
    target = tmp_path / "mcm-sync.yaml"
    answers = "\n".join(["Roscommon Alliance", "ros", "Roscommon", "IE", "", "en", "2027-02-01",
                         "12", "Test Person (example)", "test@example.org", "Roscommon LEADER"])
    result = run("-c", str(target), "init", input=answers + "\n")
    assert result.exit_code == 0, result.output
    assert "Roscommon Alliance" in target.read_text(encoding="utf-8")
    assert run("-c", str(target), "validate").exit_code == 0


def test_init_checks_each_answer_as_it_is_typed(tmp_path: Path) -> None:
    """A wrong answer is asked again (the session goes on); day-first dates are dates."""
    target = tmp_path / "mcm-sync.yaml"
    answers = ["Roscommon Alliance", "ROS", "ros", "Roscommon", "XX", "ie", "", "en",
               "banana", "15/01/2027", "15-01-2027", "12", "Test Person (example)",
               "not-an-address", "test@example.org", "Roscommon LEADER"]
    result = run("-c", str(target), "init", input="\n".join(answers) + "\n")
    assert result.exit_code == 0, result.output
    assert "internal error" not in result.output
    assert "'XX' is not an ISO 3166 country code" in result.output
    assert "'banana' is not a date" in result.output
    assert "slashes are not read" in result.output
    assert "'not-an-address' is not an e-mail address" in result.output
    text = target.read_text(encoding="utf-8")
    assert "start_date: 2027-01-15" in text and "country: IE" in text
    assert "timezone: Europe/Dublin" in text
    assert run("-c", str(target), "validate").exit_code == 0


@pytest.mark.parametrize(("option", "value", "message"), [
    ("--country", "XX", "'XX' is not an ISO 3166 country code"),
    ("--start-date", "banana", "'banana' is not a date"),
    ("--start-date", "3/7/2027", "slashes are not read"),
    ("--timezone", "Europe/Atlantis", "not an IANA time zone"),
])
def test_init_refuses_a_wrong_option(tmp_path: Path, option: str, value: str,
                                     message: str) -> None:
    target = tmp_path / "mcm-sync.yaml"
    options = [*INIT_OPTIONS]
    if option in options:
        options[options.index(option) + 1] = value
    else:
        options += [option, value]
    result = run("-c", str(target), "init", *options)
    assert result.exit_code == 2 and message in result.stderr
    assert not target.exists()


def test_init_takes_the_time_zone_of_the_country(tmp_path: Path) -> None:
    target = tmp_path / "mcm-sync.yaml"
    assert run("-c", str(target), "init", *INIT_OPTIONS).exit_code == 0
    assert "timezone: Europe/Stockholm" in target.read_text(encoding="utf-8")


def test_validate_warns_of_a_time_zone_not_of_the_country(tmp_path: Path) -> None:
    target = tmp_path / "mcm-sync.yaml"
    assert run("-c", str(target), "init", *INIT_OPTIONS, "--timezone",
               "Europe/Amsterdam").exit_code == 0
    result = run("-c", str(target), "validate")
    assert result.exit_code == 0
    assert "alliance.timezone: time zone Europe/Amsterdam is not one of Sweden's (SE)" \
        in result.stderr and "use Europe/Stockholm" in result.stderr
    # The other warning: init's placeholder postal address (mailchimp.contact), until it is real.
    assert "2 warnings)" in result.stdout and "not a real postal address yet" in result.stderr
