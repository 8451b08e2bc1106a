"""MkDocs hook: assemble mcm-sync's whole command tree before any page is rendered.

The Commands pages name single commands (``sync.cli.services:sandbox``) for mkdocs-click;
the root imports its commands only when used and attaches the members' sandbox commands to
their group when it loads it (``sync.cli.main``), so every command is loaded first, whatever
page is rendered first.
"""

from __future__ import annotations

import importlib
from typing import Any


def on_config(config: Any) -> Any:
    """Load every command of ``sync.cli.main``'s tree; the config is unchanged."""
    importlib.import_module("sync.cli.main").cli.load_all()
    return config
