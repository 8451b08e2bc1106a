"""What users install holds the whole program: every module under ``sync/``, ``connectors/``
and ``playbooks/`` and every data file beside them (playbook YAML, templates, examples) is in
the built wheel, and the sdist carries what rebuilding it needs.

The sdist and wheel are built once per session (``python -m build``: the wheel from the
sdist). Under ``scripts/test``, ``scripts/test-wheel`` has built them already from a clean
copy of the build context and passes its folder in ``$MCM_SYNC_DIST``; these tests then read
that build instead of making another.
"""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import tarfile
import tomllib
import zipfile
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from tests.support.paths import ROOT
from tests.support.shipped import source_files

# Beside the packages, what the sdist must carry (MANIFEST.in): to rebuild (pyproject.toml,
# the README that is the long description) and what a user reads beside the code.
SDIST_EXTRAS = ("pyproject.toml", "README.md", "MANIFEST.in", "CHANGELOG.md",
                "config.example.yaml", "slack-app-manifest.yaml")

pytestmark = pytest.mark.slow


def _build(into: Path) -> None:
    """``python -m build`` of the repository into ``into`` (sdist, then the wheel from it)."""
    env = {k: v for k, v in os.environ.items() if k.lower() not in ("http_proxy", "https_proxy")}
    done = subprocess.run([sys.executable, "-m", "build", "--outdir", str(into), str(ROOT)],
                          capture_output=True, text=True, env=env, timeout=600, check=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]


@pytest.fixture(scope="session")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The folder holding one sdist and one wheel of this source tree."""
    given = os.environ.get("MCM_SYNC_DIST")
    if given:
        return Path(given)
    # One build per run: xdist's workers share their base temp folder's parent (without
    # xdist, that parent is shared by every run, so the run's own folder is taken).
    base = tmp_path_factory.getbasetemp()
    shared = (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / "mcm-sync-dist"
    shared.mkdir(exist_ok=True)
    with open(shared / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not list(shared.glob("*.whl")):
            _build(shared)
    return shared


def _one(folder: Path, pattern: str) -> Path:
    found = sorted(folder.glob(pattern))
    assert len(found) == 1, f"expected one {pattern} in {folder}, found {found}"
    return found[0]


@pytest.fixture(scope="session")
def wheel_names(dist: Path) -> set[str]:
    """The files of the wheel."""
    with zipfile.ZipFile(_one(dist, "mcm_sync-*-py3-none-any.whl")) as wheel:
        return {n for n in wheel.namelist() if not n.endswith("/")}


@pytest.fixture(scope="session")
def sdist_names(dist: Path) -> set[str]:
    """The files of the sdist, without its top folder (mcm_sync-VERSION/)."""
    with tarfile.open(_one(dist, "mcm_sync-*.tar.gz")) as sdist:
        return {m.name.split("/", 1)[1] for m in sdist.getmembers() if m.isfile()}


def _project() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]


def _requirement(text: str) -> tuple[str, frozenset[str], frozenset[str], str]:
    """A dependency in a form that compares equal however its specifiers are ordered."""
    parsed = Requirement(text)
    return (parsed.name.lower(), frozenset(parsed.extras),
            frozenset(str(s) for s in parsed.specifier), str(parsed.marker or ""))


def test_the_source_listing_sees_modules_and_data() -> None:
    """The listing the other tests compare against is not empty-handed."""
    files = source_files()
    assert {"sync/doctor/__init__.py", "sync/fleet/worker.py", "playbooks/data/structure.yaml",
            "playbooks/templates/report.html.j2", "playbooks/examples/frl-action-plan.csv",
            "connectors/sandbox/core/page.py"} <= files
    assert not [f for f in files if "__pycache__" in f]


def test_the_wheel_holds_every_module_and_data_file(wheel_names: set[str]) -> None:
    assert sorted(source_files() - wheel_names) == []


def test_the_wheel_holds_nothing_but_the_program(wheel_names: set[str]) -> None:
    """No tests, benchmarks, scripts or caches: the program and its metadata only."""
    extra = {n for n in wheel_names - source_files() if ".dist-info/" not in n}
    assert sorted(extra) == []


def test_the_wheel_metadata_is_the_projects(dist: Path) -> None:
    project = _project()
    wheel = _one(dist, "mcm_sync-*-py3-none-any.whl")
    with zipfile.ZipFile(wheel) as archive:
        info = f"mcm_sync-{project['version']}.dist-info"
        meta = archive.read(f"{info}/METADATA").decode()
        entry_points = archive.read(f"{info}/entry_points.txt").decode()
    assert f"\nVersion: {project['version']}\n" in meta
    required = {_requirement(line.split(": ", 1)[1])
                for line in meta.splitlines() if line.startswith("Requires-Dist: ")}
    assert {_requirement(d) for d in project["dependencies"]} <= required
    assert "mcm-sync = sync.cli.main:main" in entry_points


def test_the_sdist_carries_the_sources_and_what_rebuilding_needs(
        sdist_names: set[str]) -> None:
    missing = (source_files() | set(SDIST_EXTRAS)) - sdist_names
    assert sorted(missing) == []
    # Not half a test suite (setuptools alone would ship tests/test*.py without conftest).
    assert sorted(n for n in sdist_names if n.startswith(("tests/", "bench/"))) == []


def test_every_data_file_kind_is_a_package_data_pattern() -> None:
    """A new kind of data file (say .txt next to a template) must be added to the patterns;
    this names the kind before a wheel is even built."""
    patterns = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))[
        "tool"]["setuptools"]["package-data"]["*"]
    suffixes = {p.removeprefix("*") for p in patterns}
    data = {f for f in source_files() if not f.endswith(".py")}
    assert sorted(f for f in data if Path(f).suffix not in suffixes) == []

