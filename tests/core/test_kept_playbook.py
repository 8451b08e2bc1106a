"""The fitted playbook kept beside the state store is the built one, and is rebuilt whenever
anything it is made from changes (:mod:`sync.core.kept.playbook`).

Read back, it equals (and prints as) the playbook built from the package's files, so the
quiet check's digest of the inputs is the same either way. Another calendar in the config,
another language, or an edited source file is another key; a damaged file is built anew; no
file appears where the alliance has no state folder yet.
"""

from __future__ import annotations

import pickle
import shutil
from pathlib import Path

import pytest

from playbooks.calendar import fit_playbook
from playbooks.loader import load_playbook
from playbooks.model import Playbook
from sync.actionplan.calendar import alliance_playbook
from sync.core.config import Config, load_config
from sync.core.kept import kept_folder
from sync.core.kept.playbook import playbook_key, playbook_sources
from tests.support.alliance import example_config


def _config(folder: Path, *, start: str = "2027-01-11", plenaries: int = 5) -> Config:
    path = example_config(folder)
    text = path.read_text(encoding="utf-8")
    text = text.replace("start_date: 2027-01-11", f"start_date: {start}")
    text = text.replace("plenaries: 5 ", f"plenaries: {plenaries} ")
    path.write_text(text, encoding="utf-8")
    config = load_config(path)
    config.state_path.parent.mkdir(parents=True, exist_ok=True)  # a bootstrapped alliance's
    return config


def _built(config: Config, language: str | None = None) -> Playbook:
    alliance = config.alliance
    return fit_playbook(load_playbook(language or alliance.language), alliance.start_date,
                        alliance.end_date, alliance.plenaries)


def _kept_files(config: Config) -> list[Path]:
    folder = kept_folder(config)
    assert folder is not None
    return sorted(folder.glob("playbook-*.pickle"))


def test_the_kept_playbook_is_the_built_one_and_is_what_the_next_run_reads(
        tmp_path: Path) -> None:
    config = _config(tmp_path)
    first = alliance_playbook(config)
    [kept] = _kept_files(config)
    again = alliance_playbook(config)
    assert first == again == _built(config)
    assert repr(again) == repr(_built(config))  # the quiet check's digest does not move
    # The next run takes the file as it is, without building the playbook.
    marked = again.model_copy(update={"title": "read from the kept file"})
    kept.write_bytes(pickle.dumps(marked))
    assert alliance_playbook(config).title == "read from the kept file"


def test_another_calendar_in_the_config_is_another_playbook(tmp_path: Path) -> None:
    config = _config(tmp_path)
    before = alliance_playbook(config)
    moved = _config(tmp_path, start="2027-03-01", plenaries=4)
    after = alliance_playbook(moved)
    assert after == _built(moved)
    assert after != before
    assert len(_kept_files(moved)) == 1  # the earlier calendar's file is replaced
    assert alliance_playbook(config) == before  # and back: built again, the same


def test_another_language_is_kept_beside_the_alliance_own(tmp_path: Path) -> None:
    config = _config(tmp_path)
    own, dutch = alliance_playbook(config), alliance_playbook(config, "nl")
    assert (own.language, dutch.language) == ("en", "nl")
    assert dutch == _built(config, "nl")
    assert len(_kept_files(config)) == 2


@pytest.mark.parametrize("edited", ["data/text/en.yaml", "data/structure.yaml", "loader.py",
                                    "model.py", "calendar.py", "labels.py", "dates.py"])
def test_an_edited_source_file_is_a_new_key(tmp_path: Path, edited: str) -> None:
    package = tmp_path / "playbooks"
    original = playbook_sources("en")
    for source in original:
        target = package / source.relative_to(original[0].parents[1])
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
    calendar = (_config(tmp_path).alliance.start_date, _config(tmp_path).alliance.end_date, 5)
    before = playbook_key("en", *calendar, playbook_sources("en", package))
    assert before == playbook_key("en", *calendar, original)  # the copy: the same key
    with (package / edited).open("a", encoding="utf-8") as out:
        out.write("\n# edited\n")
    assert playbook_key("en", *calendar, playbook_sources("en", package)) != before


def test_a_damaged_file_is_built_anew_and_replaced(tmp_path: Path) -> None:
    config = _config(tmp_path)
    alliance_playbook(config)
    [kept] = _kept_files(config)
    kept.write_bytes(b"not a pickle")
    assert alliance_playbook(config) == _built(config)
    assert isinstance(pickle.loads(kept.read_bytes()), Playbook)


def test_the_file_is_private_and_written_only_into_an_existing_state_folder(
        tmp_path: Path) -> None:
    config = _config(tmp_path)
    alliance_playbook(config)
    [kept] = _kept_files(config)
    assert kept.stat().st_mode & 0o077 == 0
    fresh = tmp_path / "new"
    fresh.mkdir()
    path = example_config(fresh)
    unbootstrapped = load_config(path)
    assert alliance_playbook(unbootstrapped) == _built(unbootstrapped)
    assert not unbootstrapped.state_path.parent.exists()
