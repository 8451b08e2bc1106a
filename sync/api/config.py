"""An alliance's config: reading and checking it, and writing a new one (``mcm-sync init``).

The config model and its loader live in :mod:`sync.core.config`; this is the face's name for
them, so scripts and the command line need no other module::

    config = load_config(default_config_path())   # ConfigError listing every problem
    print(config.alliance.name, config.state_location)

What only ``mcm-sync init`` needs (:mod:`sync.core.init_config`: its questions' checks pull in
pydantic's e-mail check and with it :mod:`importlib.metadata`) is imported on first use, so
that loading a config for a cron run does not pay for it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from sync.core.config import Config, default_config_path, load_config, parse_config
from sync.core.places import suggested_zone, zone_mismatch

if TYPE_CHECKING:
    from sync.core.init_config import ANSWER_CHECKS, new_config_text, zone_for

_INIT = ("ANSWER_CHECKS", "new_config_text", "zone_for")

__all__ = ["ANSWER_CHECKS", "Config", "default_config_path", "load_config", "new_config_text",
           "parse_config", "suggested_zone", "zone_for", "zone_mismatch"]


def __getattr__(name: str) -> Any:
    """What ``mcm-sync init`` needs, from :mod:`sync.core.init_config` on first use (PEP 562)."""
    if name in _INIT:
        return getattr(importlib.import_module("sync.core.init_config"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
