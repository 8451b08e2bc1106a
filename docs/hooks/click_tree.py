"""MkDocs hook: assemble mcm-sync's whole command tree before any page is rendered.

The Commands pages name single commands (``sync.cli.services:sandbox``) for mkdocs-click;
the members' sandbox commands are attached to their group by ``sync.cli.main``, so that module
is imported first, whatever page is rendered first.
"""

from __future__ import annotations

import importlib
from typing import Any


def on_config(config: Any) -> Any:
    """Import ``sync.cli.main`` (it adds every command to its group); the config is unchanged."""
    importlib.import_module("sync.cli.main")
    return config
