"""The action-plan rows kept beside the state store are the validated ones, and are read and
validated anew whenever the file or the playbook they are read with changes
(:mod:`sync.core.kept.rows`).

Read back, the rows equal those validated from the file; an edited file, another calendar or
another key of the playbook is another key; a file with a problem is reported at every run and
never kept; a damaged or foreign file is validated anew; nothing is kept without a state folder
or without the fitted playbook's key.
"""

from __future__ import annotations

import pickle
import shutil
from pathlib import Path

import pytest

from playbooks import load_action_plan
from playbooks.errors import InputError
from playbooks.model import ActionRow
from sync.actionplan.calendar import alliance_playbook, fitted_playbook_key
from sync.api.runs import alliance_rows
from sync.core.config import Config, load_config
from sync.core.kept import kept_folder
from sync.core.kept.rows import rows_key
from tests.support.alliance import example_config
from tests.support.paths import ROOT

EXAMPLE_PLAN = ROOT / "playbooks/examples/frl-action-plan.yaml"


def _alliance(folder: Path, *, start: str = "2027-01-11") -> Config:
    """The example alliance with its own copy of the action plan, bootstrapped (a state
    folder)."""
    plan = folder / "plan.yaml"
    if not plan.exists():
        shutil.copyfile(EXAMPLE_PLAN, plan)
    path = example_config(folder)
    text = path.read_text(encoding="utf-8").replace(str(EXAMPLE_PLAN), str(plan))
    path.write_text(text.replace("start_date: 2027-01-11", f"start_date: {start}"),
                    encoding="utf-8")
    (folder / ".mcm-sync").mkdir(exist_ok=True)
    config = load_config(path)
    assert config.action_plan == str(plan)
    return config


def _rows(config: Config) -> list[ActionRow]:
    """The rows as the alliance reads them (kept under its fitted playbook's key)."""
    return alliance_rows(config, alliance_playbook(config), fitted_playbook_key(config))


def _validated(config: Config) -> list[ActionRow]:
    assert config.action_plan is not None
    return list(load_action_plan(Path(config.action_plan), alliance_playbook(config)).rows)


def _kept_files(config: Config) -> list[Path]:
    folder = kept_folder(config)
    assert folder is not None
    return sorted(folder.glob("rows-*.pickle"))


def test_the_kept_rows_are_the_validated_ones_and_are_what_the_next_run_reads(
        tmp_path: Path) -> None:
    config = _alliance(tmp_path)
    first = _rows(config)
    [kept] = _kept_files(config)
    assert first == _rows(config) == _validated(config)
    assert len(first) > 3
    marked = [first[0].model_copy(update={"action": "read from the kept file"}), *first[1:]]
    kept.write_bytes(pickle.dumps(marked))
    assert _rows(config)[0].action == "read from the kept file"


def test_an_edited_file_is_read_again_and_a_bad_one_reported_at_every_run(
        tmp_path: Path) -> None:
    config = _alliance(tmp_path)
    _rows(config)
    plan = Path(str(config.action_plan))
    text = plan.read_text(encoding="utf-8")
    edited = "action: Train 12 community mediators from newcomer communities"
    assert edited in text
    plan.write_text(text.replace(edited, "action: Train 15 mediators"), encoding="utf-8")
    assert _rows(config)[0].action == "Train 15 mediators"
    assert len(_kept_files(config)) == 1  # the earlier file's rows are replaced
    plan.write_text(text.replace("status: doing", "status: sleeping", 1), encoding="utf-8")
    for _ in range(2):
        with pytest.raises(InputError, match="row 1.status"):
            _rows(config)


def test_another_playbook_key_is_another_key(tmp_path: Path) -> None:
    config = _alliance(tmp_path)
    plan = Path(str(config.action_plan))
    key = fitted_playbook_key(config)
    assert key is not None
    moved = _alliance(tmp_path, start="2027-03-01")
    other = fitted_playbook_key(moved)
    assert other is not None and other != key
    assert rows_key(plan, key) != rows_key(plan, other)
    assert _rows(moved) == _validated(moved)


def test_a_damaged_or_foreign_file_is_validated_anew_and_replaced(tmp_path: Path) -> None:
    config = _alliance(tmp_path)
    first = _rows(config)
    [kept] = _kept_files(config)
    for damaged in (b"not a pickle", pickle.dumps(["a row?"]), pickle.dumps({"rows": first})):
        kept.write_bytes(damaged)
        assert _rows(config) == first
        assert pickle.loads(kept.read_bytes()) == first


def test_nothing_is_kept_without_a_state_folder_or_the_playbook_key(tmp_path: Path) -> None:
    config = _alliance(tmp_path)
    assert alliance_rows(config, alliance_playbook(config)) == _validated(config)
    assert _kept_files(config) == []  # another playbook than the fitted one: not kept
    _rows(config)
    [kept] = _kept_files(config)
    assert kept.stat().st_mode & 0o077 == 0
    fresh = tmp_path / "new"
    fresh.mkdir()
    unbootstrapped = load_config(example_config(fresh))
    assert _rows(unbootstrapped) == _validated(unbootstrapped)
    assert not (fresh / ".mcm-sync").exists()
