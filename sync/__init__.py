"""mcm-sync: the engine, state store and command line of the regional-alliance tool.

``sync.__version__`` is the installed distribution's version (pyproject.toml's), read from its
metadata when first asked for: :mod:`importlib.metadata` and what it imports (``email``,
``zipfile``, ``csv``...) are some 30 ms of a cron run that never shows its version.
"""

from __future__ import annotations

import functools


@functools.cache
def _installed_version() -> str:
    from importlib import metadata

    try:
        # The installed distribution's metadata is the one truth: what pip, `mcm-sync
        # --version` and a bug report all show.
        return metadata.version("mcm-sync")
    except metadata.PackageNotFoundError:  # a source tree on sys.path never installed
        return "0+unknown"


def __getattr__(name: str) -> str:
    """``__version__``, read on first use (PEP 562)."""
    if name == "__version__":
        return _installed_version()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
