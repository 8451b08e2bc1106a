"""The suite is grouped like the code: one room of tests per package, one set of helpers.

A test file lives in the room named after what it tests (``tests/engine/`` for ``sync/engine``,
``tests/connectors/`` for ``connectors/``, ...; ``tests/project/`` for the project as a whole);
what tests share lives in ``tests/support/`` and nowhere else, so no test module imports
another test module.
"""

from __future__ import annotations

import ast
from pathlib import Path

from tests.support.paths import ROOT

TESTS = ROOT / "tests"
PACKAGES = ("sync", "connectors", "playbooks")
# Rooms that are not named after one package: the whole project, and the shared helpers.
OTHER_ROOMS = {"project", "support"}


def _rooms_of_the_code() -> set[str]:
    """The packages and the first-level sub-packages of ``sync/`` (a room may name either)."""
    rooms = set(PACKAGES)
    rooms |= {p.parent.name for p in (ROOT / "sync").glob("*/__init__.py")}
    return rooms


def _test_files() -> list[Path]:
    return sorted(TESTS.rglob("test_*.py"))


def test_no_test_file_lies_loose_in_the_tests_folder() -> None:
    assert sorted(p.name for p in TESTS.glob("test_*.py")) == []


def test_every_room_is_named_after_what_it_tests() -> None:
    rooms = {p.relative_to(TESTS).parts[0] for p in _test_files()}
    assert rooms - _rooms_of_the_code() - OTHER_ROOMS == set()


def test_every_room_is_a_package_with_a_docstring() -> None:
    for room in sorted({p.relative_to(TESTS).parts[0] for p in _test_files()} | {"support"}):
        face = TESTS / room / "__init__.py"
        assert face.exists(), room
        assert ast.get_docstring(ast.parse(face.read_text(encoding="utf-8"))), room


def test_the_helpers_hold_no_tests() -> None:
    assert list((TESTS / "support").rglob("test_*.py")) == []


def test_no_test_module_imports_another_test_module() -> None:
    offenders = []
    for path in _test_files():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = ([node.module or ""] if isinstance(node, ast.ImportFrom)
                     else [a.name for a in node.names] if isinstance(node, ast.Import) else [])
            for name in names:
                if name.startswith("tests.") and name.rpartition(".")[2].startswith("test_"):
                    offenders.append(f"{path.relative_to(ROOT)} imports {name}")
    assert offenders == []
