"""The config's addresses found valid are kept, and a new or edited one is checked as ever.

:mod:`sync.core.kept.addresses`: after a run that checked every address, the next validates
the config without the checker as long as each address is one kept as valid; an edited,
added or invalid address is checked (the same error as without anything kept), an address the
checker normalises is never kept, and the file holds digests, not addresses.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from sync.core.config import Config, load_config
from sync.core.errors import ConfigError
from sync.core.kept import kept_folder
from sync.core.kept.addresses import FILE, all_known
from tests.support.alliance import example_config

FIRST = "anna.devries@example.org"


def _alliance(folder: Path, first: str = FIRST) -> Path:
    path = example_config(folder)
    path.write_text(path.read_text(encoding="utf-8").replace(FIRST, first), encoding="utf-8")
    (folder / ".mcm-sync").mkdir(exist_ok=True)  # a bootstrapped alliance's state folder
    return path


def _kept(config: Config) -> Path:
    folder = kept_folder(config)
    assert folder is not None
    return folder / FILE


def _addresses(config: Config) -> list[str]:
    sender = config.mailchimp.from_email
    return [p.email for p in config.people] + ([sender] if sender else [])


def test_the_checked_addresses_are_kept_as_digests_and_known_next_time(tmp_path: Path) -> None:
    config = load_config(_alliance(tmp_path))
    kept = _kept(config)
    text = kept.read_text(encoding="ascii")
    assert "@" not in text and "example" not in text  # digests only: the file names nobody
    assert len(text.split()) == len(set(_addresses(config)))
    assert kept.stat().st_mode & 0o077 == 0
    folder = kept_folder(config)
    assert folder is not None and all_known(folder, _addresses(config))
    again = load_config(config.source_path or tmp_path)
    assert again == config  # validated without the checker: the very same config


def test_an_edited_address_is_checked_and_an_invalid_one_refused_as_ever(
        tmp_path: Path) -> None:
    elsewhere = tmp_path / "fresh"
    elsewhere.mkdir()
    path = _alliance(tmp_path)
    load_config(path)  # every address kept
    bad = "anna.devries@@example.org"
    path.write_text(path.read_text(encoding="utf-8").replace(FIRST, bad), encoding="utf-8")
    with pytest.raises(ConfigError) as kept_first:
        load_config(path)
    with pytest.raises(ConfigError) as nothing_kept:
        load_config(_alliance(elsewhere, bad))
    [problem] = kept_first.value.problems
    assert problem.location == "people[0].email"
    assert problem.message.startswith("value is not a valid email address: ")
    assert [(p.location, p.message, p.hint) for p in kept_first.value.problems] == \
        [(p.location, p.message, p.hint) for p in nothing_kept.value.problems]


def test_a_new_address_is_checked_then_kept_and_a_removed_one_forgotten(tmp_path: Path) -> None:
    path = _alliance(tmp_path)
    before = load_config(path)
    folder = kept_folder(before)
    assert folder is not None
    path.write_text(path.read_text(encoding="utf-8").replace(FIRST, "anna@example.org"),
                    encoding="utf-8")
    assert not all_known(folder, ["anna@example.org"])
    after = load_config(path)
    assert after.people[0].email == "anna@example.org"
    assert all_known(folder, ["anna@example.org"])
    assert not all_known(folder, [FIRST])


def test_an_address_the_checker_normalises_is_never_kept(tmp_path: Path) -> None:
    written = "Anna.DeVries@EXAMPLE.org"
    path = _alliance(tmp_path, written)
    first, second = load_config(path), load_config(path)
    assert first.people[0].email == second.people[0].email == "Anna.DeVries@example.org"
    folder = kept_folder(first)
    assert folder is not None and not all_known(folder, [written])


def test_nothing_is_kept_before_the_state_folder_exists(tmp_path: Path) -> None:
    config = load_config(example_config(tmp_path))
    assert not config.state_path.parent.exists()
