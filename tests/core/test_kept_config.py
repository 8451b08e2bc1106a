"""The validated config kept beside the state store holds no secret, is the validated one, and
is validated anew whenever anything it is made from changes (:mod:`sync.core.kept.config`).

Read back, the config equals the one validated from the file, its secrets resolved again from
the environment of this run; an edited file is another key; a damaged or foreign file is
validated anew; a secret whose variable is gone gives the same error as without anything kept;
no file appears without a state folder, elsewhere than the default state folder, or on
PostgreSQL; and the file never holds a secret's value.
"""

from __future__ import annotations

import pickle
import shutil
from pathlib import Path

import pytest
from pydantic import SecretStr

from sync.core.config import Config, load_config
from sync.core.errors import ConfigError
from sync.core.kept.config import config_folder, config_key, config_sources
from tests.support.alliance import example_config

# Values no test config writes: found in a file only if a secret was written there.
SECRETS = {"TRELLO_API_KEY": "kept-test-trello-key-5f1c",
           "TRELLO_TOKEN": "kept-test-trello-token-9a7e",
           "SLACK_BOT_TOKEN": "xoxb-kept-test-slack-3d2b",
           "MAILCHIMP_API_KEY": "kept-test-mailchimp-0c4d-us21"}


@pytest.fixture
def secrets(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The example config's secret variables set to values of this test."""
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    return SECRETS


def _alliance(folder: Path, **overrides: str) -> Path:
    """The example config, its state store in the default folder beside it, bootstrapped."""
    path = example_config(folder, **overrides)
    (folder / ".mcm-sync").mkdir(exist_ok=True)  # a bootstrapped alliance's state folder
    return path


def _kept_files(path: Path) -> list[Path]:
    return sorted(config_folder(path.resolve()).glob("config-*.pickle"))


def _validated(path: Path) -> Config:
    """The config as validated from the file, whatever is kept (a copy beside nothing)."""
    fresh = path.parent / "fresh"
    fresh.mkdir(exist_ok=True)
    copy = fresh / path.name
    shutil.copyfile(path, copy)
    return load_config(copy)


def test_the_kept_config_is_the_validated_one_and_is_what_the_next_run_reads(
        tmp_path: Path, secrets: dict[str, str]) -> None:
    path = _alliance(tmp_path)
    first = load_config(path)
    [kept] = _kept_files(path)
    again = load_config(path)
    assert first == again
    assert again.trello.token == SecretStr(secrets["TRELLO_TOKEN"])
    assert again.slack.token == SecretStr(secrets["SLACK_BOT_TOKEN"])
    # All but the file it came from (excluded from a dump): the same values, secrets too.
    assert again.model_dump() == _validated(path).model_dump()
    # The next run takes the file as it is, without parsing or validating the config.
    config, references = pickle.loads(kept.read_bytes())
    marked = config.model_copy(update={"alliance": config.alliance.model_copy(
        update={"name": "read from the kept file"})})
    kept.write_bytes(pickle.dumps((marked, references)))
    read = load_config(path)
    assert read.alliance.name == "read from the kept file"
    assert read.trello.token == SecretStr(secrets["TRELLO_TOKEN"])  # resolved this run


def test_the_file_holds_no_secret_only_the_references(tmp_path: Path,
                                                       secrets: dict[str, str]) -> None:
    path = _alliance(tmp_path)
    load_config(path)
    [kept] = _kept_files(path)
    data = kept.read_bytes()
    for value in secrets.values():
        assert value.encode() not in data
    config, references = pickle.loads(data)
    assert config.trello.token is None and config.slack.token is None
    assert config.mailchimp.api_key is None
    assert references[("trello", "token")] == "${TRELLO_TOKEN}"


def test_secrets_are_resolved_at_every_run(tmp_path: Path, secrets: dict[str, str],
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    path = _alliance(tmp_path, sandbox="false")
    load_config(path)
    monkeypatch.setenv("TRELLO_TOKEN", "a-new-token-of-this-run")
    assert load_config(path).trello.token == SecretStr("a-new-token-of-this-run")
    monkeypatch.delenv("TRELLO_TOKEN")
    with pytest.raises(ConfigError) as kept_error:
        load_config(path)
    with pytest.raises(ConfigError) as validated_error:
        _validated(path)
    assert str(kept_error.value).replace(str(path), "CONFIG") == \
        str(validated_error.value).replace(str(path.parent / "fresh" / path.name), "CONFIG")
    assert "TRELLO_TOKEN is not set" in str(kept_error.value)


def test_an_edited_config_is_another_key_and_replaces_the_kept_one(
        tmp_path: Path, secrets: dict[str, str]) -> None:
    path = _alliance(tmp_path)
    before = load_config(path)
    [old] = _kept_files(path)
    text = path.read_text(encoding="utf-8")
    assert "name: Friesland Newcomer Mediation Alliance" in text
    path.write_text(text.replace("name: Friesland Newcomer Mediation Alliance",
                                 "name: Friesland Alliance for Integration"), encoding="utf-8")
    after = load_config(path)
    assert after.alliance.name != before.alliance.name
    assert after.model_dump() == _validated(path).model_dump()
    [new] = _kept_files(path)
    assert new != old


def test_an_edited_config_with_an_error_is_reported_as_ever(tmp_path: Path,
                                                            secrets: dict[str, str]) -> None:
    path = _alliance(tmp_path)
    load_config(path)
    text = path.read_text(encoding="utf-8")
    assert "duration_months: 18" in text
    path.write_text(text.replace("duration_months: 18", "duration_months: 7"), encoding="utf-8")
    with pytest.raises(ConfigError, match="alliance.duration_months"):
        load_config(path)


def test_an_edited_module_is_another_key(tmp_path: Path) -> None:
    sources = config_sources()
    copies = []
    for source in sources:
        copy = tmp_path / source.parent.name / source.name
        copy.parent.mkdir(exist_ok=True)
        shutil.copyfile(source, copy)
        copies.append(copy)
    text, where = "alliance: {}\n", tmp_path / "mcm-sync.yaml"
    before = config_key(text, where, copies)
    assert before == config_key(text, where, sources)
    assert config_key(text, tmp_path / "other.yaml", sources) != before
    edited = next(copy for copy in copies if copy.name == "checks.py")
    with edited.open("a", encoding="utf-8") as out:
        out.write("\n# edited\n")
    assert config_key(text, where, copies) != before


def test_a_damaged_or_foreign_file_is_validated_anew_and_replaced(
        tmp_path: Path, secrets: dict[str, str]) -> None:
    path = _alliance(tmp_path)
    first = load_config(path)
    [kept] = _kept_files(path)
    for damaged in (b"not a pickle", pickle.dumps(("a config?", {})),
                    pickle.dumps((first, {("trello", "token"): 7}))):
        kept.write_bytes(damaged)
        assert load_config(path) == first
        config, _ = pickle.loads(kept.read_bytes())
        assert isinstance(config, Config)


def test_the_file_is_private_and_written_only_into_the_default_state_folder(
        tmp_path: Path, secrets: dict[str, str]) -> None:
    path = _alliance(tmp_path)
    load_config(path)
    [kept] = _kept_files(path)
    assert kept.stat().st_mode & 0o077 == 0
    assert kept.parent.stat().st_mode & 0o077 == 0
    # No state folder yet (before bootstrap): nothing is made.
    fresh = tmp_path / "new"
    fresh.mkdir()
    unbootstrapped = example_config(fresh)
    load_config(unbootstrapped)
    assert not (fresh / ".mcm-sync").exists()
    # A state store elsewhere: the next run could not find it before reading the config.
    elsewhere = tmp_path / "elsewhere"
    (elsewhere / "state").mkdir(parents=True)
    moved = example_config(elsewhere)
    moved.write_text(moved.read_text(encoding="utf-8").replace(
        str(elsewhere / ".mcm-sync/state.db"), str(elsewhere / "state/state.db")),
        encoding="utf-8")
    assert load_config(moved).state_path == elsewhere / "state/state.db"
    assert not list(elsewhere.rglob("config-*.pickle"))
