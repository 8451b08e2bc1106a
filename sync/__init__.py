"""mcm-sync: the engine, state store and command line of the regional-alliance tool."""

from importlib import metadata

try:
    # The installed distribution's metadata is the one truth (pyproject.toml's version): what
    # pip, `mcm-sync --version` and a bug report all show.
    __version__ = metadata.version("mcm-sync")
except metadata.PackageNotFoundError:  # a source tree on sys.path that was never installed
    __version__ = "0+unknown"
