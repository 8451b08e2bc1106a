"""The type checker's rules that mypy itself does not hold (scripts/test runs mypy, strict).

Every ``type: ignore`` names its error codes and says on the same line why the checker is
wrong there, so a reader can tell a known limit of a library's types from a hidden bug.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("sync", "connectors", "playbooks")
_IGNORE = re.compile(r"#\s*type:\s*ignore(?P<codes>\[[a-z0-9_,\- ]+\])?(?P<rest>.*)$")


def _ignores() -> list[tuple[str, str, str]]:
    found = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                match = _IGNORE.search(line)
                if match:
                    where = f"{path.relative_to(ROOT)}:{number}"
                    found.append((where, match["codes"] or "", match["rest"]))
    return found


def test_every_type_ignore_names_its_codes_and_a_reason() -> None:
    ignores = _ignores()
    assert ignores, "the scan found no `type: ignore` at all: is the pattern still right?"
    bad = [where for where, codes, rest in ignores
           if not codes or not re.match(r"\s+#\s*\S", rest)]
    assert bad == [], "write `# type: ignore[code]  # why` (or fix the type)"


def test_mypy_checks_the_three_packages_strictly() -> None:
    settings = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["mypy"]
    assert settings["strict"] is True
    assert sorted(settings["files"]) == sorted(PACKAGES)
    assert "mypy" in (ROOT / "scripts" / "test").read_text(encoding="utf-8").split()
