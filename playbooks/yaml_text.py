"""Reading YAML without PyYAML's implicit dates.

PyYAML turns ``2027-13-40`` into a ``datetime.date`` while parsing and raises a bare
``ValueError`` for an impossible date, with neither file nor key. Leaving dates as text lets the
validation (pydantic) parse them and name the file and key path of a bad one, like any other
error.
"""

from __future__ import annotations

from typing import Any

import yaml

_TIMESTAMP = "tag:yaml.org,2002:timestamp"


# libyaml's parser where the wheel has it (5-10x faster on a 2000-row action plan); the
# resolver, where dates are recognised, is the pure-Python one in both cases.
_SafeLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class TextDateLoader(_SafeLoader):  # type: ignore[valid-type,misc]  # libyaml's or Python's SafeLoader
    """A safe loader that keeps dates and times as strings."""


TextDateLoader.yaml_implicit_resolvers = {
    first: [(tag, pattern) for tag, pattern in resolvers if tag != _TIMESTAMP]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def load_yaml(text: str) -> Any:
    """Parse YAML text safely, dates kept as text."""
    return yaml.load(text, Loader=TextDateLoader)
