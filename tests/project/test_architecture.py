"""Architecture rules that review would otherwise have to catch by eye.

The house: ``playbooks/`` and ``connectors/`` are the ground floor and import nothing of
``sync``; ``sync/`` is split into sub-packages by concept; only ``sync/cli/`` imports click;
the engine's plan is pure (no connector, no state store); no module imports another that
imports it back (outside the sandbox's emulators, which are one program).

Inside ``sync/`` the rooms (sub-packages, and the top modules ``api.py`` and ``runner.py``)
stand on floors, written down once in :data:`FLOORS`, lowest first: a module may import its
own room, any room on a lower floor, and a room of its own floor only where
:data:`SAME_FLOOR_IMPORTS` says why; never a room on a higher floor (a "back-up" import).
Why each room stands where it does is the second half of each floor's entry;
``docs/architecture.md`` ("Floors") shows the same list, and a test holds the two equal.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.paths import ROOT

PACKAGES = ("sync", "connectors", "playbooks")
# About a dozen modules directly in a folder; more means it wants a sub-package.
MAX_MODULES_PER_FOLDER = 13

# The floor plan of sync/, lowest first: (rooms on the floor, why it stands there).
FLOORS: tuple[tuple[tuple[str, ...], str], ...] = (
    (("__init__",), "the package's face: its version, nothing of ours"),
    (("limits",), "the vendors' limits shared by every worker (PostgreSQL or in-process)"),
    (("core",), "errors and exit codes, the config, input checks, connecting the services"),
    (("state",), "the state store: its schema, rows, lock and journal; needs only core"),
    (("actionplan",), "the playbook on the alliance's calendar and its progress, over state rows"),
    (("plenary",), "meeting dates, reminders and minutes, on the calendar"),
    (("bootstrap",), "what should exist and its journalled apply; meetings give cards"),
    (("audience",), "stakeholders, consent, the Mailchimp push, erasure, the newsletter"),
    (("documents",), "the guide's templates, filled in with stakeholders and progress"),
    (("reports",), "the digest, the report, its chart and the agenda, rendered by documents"),
    (("engine",), "the two-way sync: reads, a pure plan, its apply; uses bootstrap's cards"),
    (("doctor", "runner"), "side by side, neither needs the other: checks, one scheduled run"),
    (("realtime",), "one real-time path: the queue's drain, a worker's turn and its types"),
    (("fleet",), "many alliances' workers, each made by the alliance factory handed in"),
    (("serve",), "the webhook endpoints and the front, alliances from the factory handed in"),
    (("api",), "the library face, Alliance and hosting: every use of the rooms below"),
    (("cli",), "click: parse, call, print"),
)
# Rooms of one floor that may import each other, with the reason: (importer, imported) -> why.
SAME_FLOOR_IMPORTS: dict[tuple[str, str], str] = {}
# TEMPORARY: back-up imports another helper is moving now; the lead empties this at merge.
# (sync.serve.front -> sync.fleet.ledger and sync.serve.routes -> sync.fleet.worker point
# down under the plan, fleet below serve, so they need no entry.)
KNOWN_BACKUPS_BEING_MOVED: frozenset[tuple[str, str]] = frozenset()


def _python_files(*packages: str) -> list[Path]:
    return [p for pkg in packages or PACKAGES for p in sorted((ROOT / pkg).rglob("*.py"))]


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imported_modules(path: Path) -> Iterator[str]:
    """Every dotted name ``path`` imports (``from a.b import c`` gives a.b and a.b.c)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = _module_name(path) if path.name == "__init__.py" else \
        _module_name(path).rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            yield base
            yield from (f"{base}.{alias.name}" for alias in node.names)


def _imports(path: Path) -> set[str]:
    return {name.split(".")[0] for name in _imported_modules(path)}


def _graph(files: list[Path]) -> dict[str, set[str]]:
    """Module -> the project modules it imports (packages' faces included)."""
    modules = {_module_name(p): p for p in files}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        graph[name] = {m for m in _imported_modules(path) if m in modules and m != name}
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iteratively)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
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


def _room(module: str) -> str:
    """The room of a module of sync/: ``sync.engine.read`` -> engine, ``sync.api`` -> api."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _floor_of(floors: tuple[tuple[tuple[str, ...], str], ...]) -> dict[str, int]:
    return {room: number for number, (rooms, _) in enumerate(floors) for room in rooms}


def _backups(graph: dict[str, set[str]], floors: tuple[tuple[tuple[str, ...], str], ...],
             same_floor: dict[tuple[str, str], str]) -> list[tuple[str, str]]:
    """Every import (module, imported) into a higher floor, or into another room of the same
    floor that ``same_floor`` does not allow."""
    floor = _floor_of(floors)
    found = []
    for module in sorted(graph):
        for imported in sorted(graph[module]):
            here, there = _room(module), _room(imported)
            if here == there:
                continue
            if floor[there] > floor[here] or (floor[there] == floor[here]
                                               and (here, there) not in same_floor):
                found.append((module, imported))
    return found


def _shown(pairs: list[tuple[str, str]]) -> str:
    floor = _floor_of(FLOORS)
    return "\n".join(f"{a} -> {b}  ({_room(a)}, floor {floor.get(_room(a))} -> {_room(b)}, "
                     f"floor {floor.get(_room(b))})" for a, b in pairs)


def test_every_room_of_sync_is_on_one_floor() -> None:
    """A new room is placed on the plan before it is used: nothing stands outside the house."""
    placed = [room for rooms, _ in FLOORS for room in rooms]
    assert len(placed) == len(set(placed)), "a room on two floors"
    rooms = {_room(_module_name(p)) for p in _python_files("sync")}
    assert sorted(rooms - set(placed)) == []
    assert all(_floor_of(FLOORS)[a] == _floor_of(FLOORS)[b] for a, b in SAME_FLOOR_IMPORTS)


def test_no_module_of_sync_imports_a_higher_floor() -> None:
    found = _backups(_graph(_python_files("sync")), FLOORS, SAME_FLOOR_IMPORTS)
    offenders = [pair for pair in found if pair not in KNOWN_BACKUPS_BEING_MOVED]
    assert offenders == [], "imports up the floor plan (see FLOORS):\n" + _shown(offenders)


def test_the_known_backups_are_still_there() -> None:
    """An entry whose import has gone (or points down now) is struck from the list."""
    found = set(_backups(_graph(_python_files("sync")), FLOORS, SAME_FLOOR_IMPORTS))
    stale = sorted(KNOWN_BACKUPS_BEING_MOVED - found)
    assert stale == [], "no longer back-ups, remove from KNOWN_BACKUPS_BEING_MOVED:\n" \
        + _shown(stale)


def test_the_floor_checker_finds_backups() -> None:
    floors = ((("low",), "below"), (("mid", "side"), "beside"), (("high",), "above"))
    graph = {"sync.low.a": {"sync.high.b"}, "sync.high.b": {"sync.mid.c", "sync.low.a"},
             "sync.mid.c": {"sync.side.d", "sync.mid.e"}, "sync.mid.e": set(),
             "sync.side.d": {"sync.low.a"}}
    assert _backups(graph, floors, {}) == [("sync.low.a", "sync.high.b"),
                                           ("sync.mid.c", "sync.side.d")]
    assert _backups(graph, floors, {("mid", "side"): "a reason"}) == [
        ("sync.low.a", "sync.high.b")]


def test_the_docs_show_the_floor_plan() -> None:
    """docs/architecture.md's "Floors" lists the same floors, lowest first, one line each."""
    text = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    section = text.split("\n## Floors\n", 1)[1].split("\n## ", 1)[0]
    shown = [tuple(re.findall(r"`([a-z_]+)`", line.split(":", 1)[0]))
             for line in section.splitlines() if re.match(r"\d+\. ", line)]
    assert shown == [rooms for rooms, _ in FLOORS]


def test_only_the_cli_package_imports_click() -> None:
    offenders = [
        str(p.relative_to(ROOT))
        for p in _python_files()
        if "click" in _imports(p) and ROOT / "sync" / "cli" not in p.parents
    ]
    assert offenders == []


def test_engine_never_imports_an_sdk() -> None:
    """The app sees only the connector interfaces, never a vendor SDK type."""
    sdks = {"trello", "slack_sdk", "mailchimp_marketing"}
    offenders = [str(p.relative_to(ROOT)) for p in _python_files("sync") if _imports(p) & sdks]
    assert offenders == []


@pytest.mark.parametrize("ground", ["playbooks", "connectors"])
def test_the_ground_floor_imports_nothing_of_sync(ground: str) -> None:
    offenders = [str(p.relative_to(ROOT)) for p in _python_files(ground) if "sync" in _imports(p)]
    assert offenders == []


def test_playbooks_and_connectors_do_not_lean_on_each_other() -> None:
    """Both are ground floor: neither may need the other."""
    offenders = [str(p.relative_to(ROOT)) for p in _python_files("playbooks")
                 if "connectors" in _imports(p)]
    offenders += [str(p.relative_to(ROOT)) for p in _python_files("connectors")
                  if "playbooks" in _imports(p)]
    assert offenders == []


def test_no_import_cycles_outside_the_sandbox() -> None:
    files = [p for p in _python_files() if "sandbox" not in p.relative_to(ROOT).parts]
    assert _cycles(_graph(files)) == []


def test_the_engine_plan_is_pure() -> None:
    """Deciding imports no connector implementation and no state store: data in, plan out."""
    plan_modules = [ROOT / "sync" / "engine" / name
                    for name in ("plan.py", "item.py", "actions.py", "decide.py", "normalize.py",
                                 "texts.py")]
    for path in plan_modules:
        imported = set(_imported_modules(path))
        effectful = {m for m in imported
                     if (m.startswith("connectors") and not m.startswith(
                         ("connectors.base", "connectors.identity")))
                     or m.startswith(("sync.state.store", "sync.engine.apply"))}
        assert effectful == set(), path.name


def test_no_folder_is_a_flat_room_of_many_modules() -> None:
    crowded = {}
    for package in PACKAGES:
        for folder in [ROOT / package, *sorted((ROOT / package).rglob("*/"))]:
            if not (folder / "__init__.py").exists():
                continue
            modules = [p for p in folder.glob("*.py") if p.name != "__init__.py"]
            if len(modules) > MAX_MODULES_PER_FOLDER:
                crowded[str(folder.relative_to(ROOT))] = len(modules)
    assert crowded == {}


def test_every_module_has_a_docstring() -> None:
    missing = [
        str(p.relative_to(ROOT))
        for p in _python_files()
        if ast.get_docstring(ast.parse(p.read_text(encoding="utf-8"))) is None
    ]
    assert missing == []


def test_the_cycle_finder_finds_cycles() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()}
    assert _cycles(graph) == [["a", "b", "c"]]


def test_no_import_cycles_in_the_sandbox_either() -> None:
    """The emulators are one program, but still a house of one-way imports."""
    files = [p for p in _python_files("connectors")
             if "sandbox" in p.relative_to(ROOT).parts]
    assert _cycles(_graph(files)) == []


# What the command line may import of ``sync``: the library face, the exception tree (exit
# codes), the version, and itself. Everything else is reached through ``sync.api``.
CLI_MAY_IMPORT = ("sync.api", "sync.core.errors", "sync.cli")

def _cli_offences(path: Path) -> list[str]:
    """``file:line: module`` for each import of ``sync`` that the command line may not make."""
    offences = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and not node.level:
            modules = [node.module or ""]
            if node.module == "sync":
                modules = [f"sync.{alias.name}" for alias in node.names
                           if alias.name != "__version__"]
        elif isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        else:
            continue
        offences += [f"{path.relative_to(ROOT) if path.is_relative_to(ROOT) else path.name}:"
                     f"{node.lineno}: {module}"
                     for module in modules
                     if (module == "sync" or module.startswith("sync."))
                     and not any(module == allowed or module.startswith(f"{allowed}.")
                                 for allowed in CLI_MAY_IMPORT)]
    return offences


def test_the_cli_imports_only_the_library_face() -> None:
    """``sync/cli/**`` imports of ``sync`` only ``sync.api``, ``sync.core.errors``,
    ``sync.__version__`` and ``sync.cli``: the command line parses, calls the face, prints."""
    offenders = [offence for path in _python_files("sync")
                 if ROOT / "sync" / "cli" in path.parents for offence in _cli_offences(path)]
    assert offenders == []


def test_the_cli_import_check_finds_an_offence(tmp_path: Path) -> None:
    planted = tmp_path / "command.py"
    planted.write_text("from sync import __version__, runner\nimport sync.state.store\n"
                       "from sync.api.status import status\nfrom sync.core.errors import X\n"
                       "from sync.engine.decide import Conflict\n", encoding="utf-8")
    assert _cli_offences(planted) == ["command.py:1: sync.runner", "command.py:2: sync.state.store",
                                      "command.py:5: sync.engine.decide"]
