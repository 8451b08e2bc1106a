"""The files of the program as the source tree holds them: what the wheel and the container
must carry."""

from __future__ import annotations

import os
from pathlib import Path

from tests.support.paths import ROOT

PACKAGES = ("sync", "connectors", "playbooks")
# Files of the source tree that are not part of the program: caches, and what a run leaves.
NOT_SHIPPED_DIRS = {"__pycache__"}
NOT_SHIPPED_SUFFIXES = {".pyc", ".pyo"}


def source_files() -> set[str]:
    """Every file under the three packages, relative and slash-separated (no caches).

    The folders are walked rather than asked of git, so a file added a minute ago and not yet
    committed is checked too.
    """
    found = set()
    for package in PACKAGES:
        for folder, dirs, files in os.walk(ROOT / package):
            dirs[:] = [d for d in dirs if d not in NOT_SHIPPED_DIRS and not d.startswith(".")]
            for name in files:
                path = Path(folder, name)
                if path.suffix in NOT_SHIPPED_SUFFIXES or name.startswith("."):
                    continue
                found.add(path.relative_to(ROOT).as_posix())
    return found
