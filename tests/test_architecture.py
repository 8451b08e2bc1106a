"""Architecture rules that review would otherwise have to catch by eye."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.conftest import ROOT

PACKAGES = ("sync", "connectors", "playbooks")


def _python_files() -> list[Path]:
    return [p for pkg in PACKAGES for p in sorted((ROOT / pkg).rglob("*.py"))]


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_only_the_cli_layer_imports_click() -> None:
    offenders = [
        str(p.relative_to(ROOT))
        for p in _python_files()
        if "click" in _imports(p) and not p.name.startswith("cli")
    ]
    assert offenders == []


def test_engine_never_imports_an_sdk() -> None:
    """The engine sees only the connector interfaces, never a vendor SDK type."""
    sdks = {"trello", "slack_sdk", "mailchimp_marketing"}
    offenders = [
        str(p.relative_to(ROOT))
        for p in sorted((ROOT / "sync").rglob("*.py"))
        if _imports(p) & sdks
    ]
    assert offenders == []


def test_every_module_has_a_docstring() -> None:
    missing = [
        str(p.relative_to(ROOT))
        for p in _python_files()
        if ast.get_docstring(ast.parse(p.read_text(encoding="utf-8"))) is None
    ]
    assert missing == []
