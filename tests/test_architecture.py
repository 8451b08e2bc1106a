"""Architecture rules that review would otherwise have to catch by eye."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

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


@pytest.mark.xfail(strict=False, reason="sync-side moves land in the main restructure")
def test_connectors_and_playbooks_never_import_sync() -> None:
    """The layers below ``sync`` (connectors, sandbox, playbooks) never reach up into it."""
    offenders = [
        str(p.relative_to(ROOT))
        for pkg in ("connectors", "playbooks")
        for p in sorted((ROOT / pkg).rglob("*.py"))
        if "sync" in _imports(p)
    ]
    assert offenders == []


SANDBOX = "connectors.sandbox"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imported_modules(path: Path, modules: set[str]) -> set[str]:
    """The modules of ``modules`` that ``path`` imports (anywhere in it, type-only included).

    ``from pkg import name`` counts as importing ``pkg.name`` when that is a module, else
    ``pkg``; relative imports are resolved against the file's package.
    """
    package = _module_name(path).split(".")
    if path.name != "__init__.py":
        package.pop()
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            origin = ".".join(base + ([node.module] if node.module else []))
            for alias in node.names:
                submodule = f"{origin}.{alias.name}"
                found.add(submodule if submodule in modules else origin)
    return found & modules


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan, iteratively)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, targets = work[-1]
            target = next(targets, None)
            if target is not None:
                if target not in index:
                    index[target] = low[target] = len(index)
                    stack.append(target)
                    on_stack.add(target)
                    work.append((target, iter(sorted(graph[target]))))
                elif target in on_stack:
                    low[node] = min(low[node], index[target])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def _sandbox_graph() -> dict[str, set[str]]:
    files = sorted((ROOT / "connectors" / "sandbox").rglob("*.py"))
    modules = {_module_name(p) for p in files}
    return {_module_name(p): _imported_modules(p, modules) - {_module_name(p)} for p in files}


def test_the_cycle_finder_finds_cycles() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a", "e"}, "e": {"d"}, "f": set()}
    assert sorted(_cycles(graph)) == [["a", "b", "c"], ["d", "e"]]


def test_no_import_cycles_in_the_sandbox() -> None:
    graph = _sandbox_graph()
    assert f"{SANDBOX}.core.service" in graph[f"{SANDBOX}.trello.emulator"]  # the graph is read
    assert f"{SANDBOX}.slack.channels" in graph[f"{SANDBOX}.slack.emulator"]  # from pkg import
    assert _cycles(graph) == []
