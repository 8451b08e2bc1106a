"""An alliance's config: reading and checking it, and writing a new one (``mcm-sync init``).

The config model and its loader live in :mod:`sync.core.config`; this is the face's name for
them, so scripts and the command line need no other module::

    config = load_config(default_config_path())   # ConfigError listing every problem
    print(config.alliance.name, config.state_location)
"""

from __future__ import annotations

from sync.core.config import Config, default_config_path, load_config, parse_config
from sync.core.init_config import ANSWER_CHECKS, new_config_text, zone_for
from sync.core.places import suggested_zone, zone_mismatch

__all__ = ["ANSWER_CHECKS", "Config", "default_config_path", "load_config", "new_config_text",
           "parse_config", "suggested_zone", "zone_for", "zone_mismatch"]
