"""Config loading and validation: every error names the file and key path, no secret leaks."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from sync.core.config import load_config, parse_config
from sync.core.errors import ConfigError, ExitStatus
from tests.support.paths import EXAMPLE_CONFIG


def _edit(text: str, change) -> str:
    data = yaml.safe_load(text)
    change(data)
    return yaml.safe_dump(data, sort_keys=False)


def _problems(text: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_config(text, "alliance.yaml")
    assert info.value.exit_status == ExitStatus.USAGE
    return info.value.lines()


def test_example_config_is_valid() -> None:
    config = load_config(EXAMPLE_CONFIG)
    assert config.alliance.slug == "frl"
    assert config.alliance.item_prefix == "FRL"
    assert 8 <= len(config.people) <= 12
    assert config.sandbox is True
    assert config.state_path == EXAMPLE_CONFIG.parent / ".mcm-sync" / "state.db"
    assert config.alliance.end_date.isoformat() == "2028-07-10"


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            lambda d: d["alliance"].update(colour="red"),
            "alliance.yaml: alliance.colour: unknown key (hint: remove it",
        ),
        (
            lambda d: d["trello"].update(bord_name="x"),
            "alliance.yaml: trello.bord_name: unknown key",
        ),
        (
            lambda d: d["alliance"].update(duration_months="long"),
            "alliance.yaml: alliance.duration_months: Input should be a valid integer",
        ),
        (
            lambda d: d["alliance"].update(start_date="next spring"),
            "alliance.yaml: alliance.start_date: 'next spring' is not a date: write dates as "
            "YYYY-MM-DD",
        ),
        (
            lambda d: d["people"][2].update(email="carla-at-example"),
            "alliance.yaml: people[2].email: value is not a valid email address",
        ),
        (
            lambda d: d["people"][3].update(role="king"),
            "alliance.yaml: people[3].role: Input should be",
        ),
        (
            lambda d: d["alliance"].update(slug="Friesland Alliance"),
            "alliance.yaml: alliance.slug: must be 2-20 characters",
        ),
        (lambda d: d["alliance"].pop("region"), "alliance.yaml: alliance.region: Field required"),
        (
            lambda d: d["people"][1].update(email=d["people"][0]["email"]),
            "alliance.yaml: people[1].email: anna.devries@example.org is already used by people[0]",
        ),
    ],
)
def test_each_error_names_file_and_key_path(
    example_config_text: str, change, expected: str
) -> None:
    lines = _problems(_edit(example_config_text, change))
    assert any(line.startswith(expected) for line in lines), lines


def test_all_errors_are_reported_at_once(example_config_text: str) -> None:
    def two_errors(d: dict) -> None:
        d["alliance"]["colour"] = "red"
        d["people"][0]["email"] = "nope"

    lines = _problems(_edit(example_config_text, two_errors))
    assert len(lines) == 2


def test_literal_secret_is_refused_and_never_echoed(example_config_text: str) -> None:
    secret = "0123456789abcdef-very-secret"
    text = _edit(example_config_text, lambda d: d["trello"].update(token=secret))
    lines = _problems(text)
    assert any("trello.token: secrets must not be written in the config" in ln for ln in lines)
    assert not any(secret in line for line in lines)


def test_secret_from_environment_and_missing_variable(
    example_config_text: str, monkeypatch
) -> None:
    real = _edit(example_config_text, lambda d: d.update(sandbox=False))
    lines = _problems(real)
    assert any("trello.token: environment variable TRELLO_TOKEN is not set" in ln for ln in lines)
    for name in ("TRELLO_API_KEY", "TRELLO_TOKEN", "SLACK_BOT_TOKEN", "MAILCHIMP_API_KEY"):
        monkeypatch.setenv(name, f"value-of-{name}-us6")
    config = parse_config(real, "alliance.yaml")
    assert config.trello.token is not None
    assert config.trello.token.get_secret_value() == "value-of-TRELLO_TOKEN-us6"
    assert "value-of" not in repr(config) and "value-of" not in str(config.model_dump())


def test_secret_from_file(example_config_text: str, tmp_path: Path) -> None:
    secret_file = tmp_path / "slack-token"
    secret_file.write_text("xoxb-from-file\n")
    secret_file.chmod(0o600)
    text = _edit(example_config_text, lambda d: d["slack"].update(token=f"${{file:{secret_file}}}"))
    config = parse_config(text, "alliance.yaml")
    assert config.slack.token is not None
    assert config.slack.token.get_secret_value() == "xoxb-from-file"


def test_secret_file_readable_by_others_is_refused(example_config_text: str,
                                                   tmp_path: Path) -> None:
    secret_file = tmp_path / "slack-token"
    secret_file.write_text("xoxb-s3cr3t-from-file\n")
    secret_file.chmod(0o644)
    text = _edit(example_config_text, lambda d: d["slack"].update(token=f"${{file:{secret_file}}}"))
    lines = _problems(text)
    assert any("can be read by other users" in line and "chmod 600" in line for line in lines)
    assert not any("s3cr3t" in line for line in lines)


def test_sandbox_mode_tolerates_unset_variables(example_config_text: str) -> None:
    config = parse_config(example_config_text, "alliance.yaml")
    assert config.trello.token is None


def test_broken_yaml_names_the_line() -> None:
    lines = _problems("alliance:\n  name: [unclosed\n")
    assert lines[0].startswith("alliance.yaml: line ")


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path / "nope.yaml")
    assert "config file not found" in info.value.lines()[0]
    assert "mcm-sync init" in info.value.lines()[0]


def test_an_unquoted_all_digit_id_is_read_as_its_digits(tmp_path: Path) -> None:
    """YAML reads `audience_id: 1234567890` as a number; the id is meant, as text."""
    text = EXAMPLE_CONFIG.read_text(encoding="utf-8").replace(
        "  # audience_id: abc123def4", "  audience_id: 1234567890")
    config = parse_config(text, "mcm-sync.yaml", tmp_path / "mcm-sync.yaml")
    assert config.mailchimp.audience_id == "1234567890"
    with pytest.raises(ConfigError) as failure:
        parse_config(text.replace("1234567890", "12345.50"), "mcm-sync.yaml",
                     tmp_path / "mcm-sync.yaml")
    assert "mailchimp.audience_id" in failure.value.lines()[0]
    assert "quotes" in failure.value.lines()[0]
