"""The statuses have one source, the playbook model; every other place derives from it.

Two holds: no module outside ``playbooks/model.py`` spells the statuses out again (a list,
tuple, set or ``Literal`` naming all of them, or all the open ones), and a sixth status written
into the model reaches every place that lists them (config, engine, CLI, reports, serve,
tests). A few statuses picked for a purpose (the three buttons of an item message, a test's
moves) are not a copy of the list and are not flagged.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

from playbooks.model import CLOSED_STATUSES, OPEN_STATUSES, STATUSES

ROOT = Path(__file__).resolve().parents[2]
MODEL = ROOT / "playbooks" / "model.py"
FIVE = ("todo", "doing", "blocked", "done", "cancelled")


def _spelled_out(tree: ast.AST) -> list[int]:
    """Lines of sequences (or ``Literal[...]``) naming all the statuses or all the open ones."""
    lines = []
    for node in ast.walk(tree):
        elements: list[ast.expr] = []
        if isinstance(node, ast.List | ast.Tuple | ast.Set):
            elements = list(node.elts)
        if isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Tuple):
            elements = list(node.slice.elts)
        names = {e.value for e in elements if isinstance(e, ast.Constant)} & set(FIVE)
        if names in (set(STATUSES), set(OPEN_STATUSES)):
            lines.append(node.lineno)
    return lines


def test_the_model_has_the_five_statuses_and_splits_them_open_and_closed() -> None:
    assert STATUSES == FIVE
    assert OPEN_STATUSES == ("todo", "doing", "blocked")
    assert CLOSED_STATUSES == ("done", "cancelled")


def test_no_module_but_the_model_spells_the_statuses_out() -> None:
    found = {}
    for folder in ("sync", "connectors", "playbooks", "tests"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            if path in (MODEL, Path(__file__).resolve()):
                continue
            lines = _spelled_out(ast.parse(path.read_text(encoding="utf-8")))
            if lines:
                found[str(path.relative_to(ROOT))] = lines
    assert found == {}, "derive these from playbooks.model (STATUSES, OPEN_STATUSES...)"


# Run in a fresh interpreter: the model, with a sixth status written into its Literal, is
# put in place before anything imports it; then every derived place is asked.
_SIXTH = r'''
import importlib.util, json, sys, types
source = open(sys.argv[1], encoding="utf-8").read()
five = 'Status = Literal["todo", "doing", "blocked", "done", "cancelled"]'
assert five in source, "the model's Literal is no longer spelled as this test expects"
model = types.ModuleType("playbooks.model")
model.__file__ = sys.argv[1]
sys.modules["playbooks.model"] = model
exec(compile(source.replace(five, five[:-1] + ', "waiting"]'), sys.argv[1], "exec"),
     model.__dict__)

from sync.cli.sandbox_members import STATUSES as cli_choice
from sync.core.config import SlackSettings, TrelloSettings
from sync.engine import normalize, read
from sync.actionplan import progress
from sync.serve import answers
from tests.support import sync_scenario

TrelloSettings(status_lists={"waiting": "Waiting"})
SlackSettings(reactions={"pause_button": "waiting"})
print(json.dumps({
    "model": list(model.STATUSES),
    "open": list(model.OPEN_STATUSES),
    "engine.read": list(read.STATUSES),
    "engine.normalize priority": list(normalize._REACTION_PRIORITY),
    "engine.normalize known": normalize.valid_status("waiting"),
    "actionplan.progress open": list(progress.OPEN_STATUSES),
    "serve.answers open": list(answers.OPEN),
    "cli sandbox move": list(cli_choice.choices),
    "tests.support.sync_scenario": list(sync_scenario.STATUSES),
}))
'''


def test_a_sixth_status_in_the_model_reaches_every_derived_place() -> None:
    done = subprocess.run([sys.executable, "-c", _SIXTH, str(MODEL)], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout)
    six = [*FIVE, "waiting"]
    assert seen["model"] == six
    assert seen["open"] == ["todo", "doing", "blocked", "waiting"]
    for place in ("engine.read", "cli sandbox move", "tests.support.sync_scenario"):
        assert seen[place] == six, place
    for place in ("actionplan.progress open", "serve.answers open"):
        assert "waiting" in seen[place], place
    # The model's order is the board's: a new last open status is the furthest along of them.
    assert seen["engine.normalize priority"] == ["done", "cancelled", "waiting", "blocked",
                                                 "doing", "todo"]
    assert seen["engine.normalize known"] is True
