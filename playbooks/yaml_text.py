"""Reading YAML without PyYAML's implicit dates, duplicate keys or unbounded shapes.

PyYAML turns ``2027-13-40`` into a ``datetime.date`` while parsing and raises a bare
``ValueError`` for an impossible date, with neither file nor key. Leaving dates as text lets the
validation (pydantic) parse them and name the file and key path of a bad one, like any other
error.

PyYAML also keeps the later of two equal keys without a word (``slug:`` twice: the second
wins), expands aliases into as many nodes as asked (a "billion laughs" file of a few hundred
bytes: MemoryError) and recurses once per nesting level (10,000 ``[``: RecursionError).
:func:`check_shape` walks the parser's events first (iteratively, no recursion) and raises a
:class:`yaml.MarkedYAMLError` with the line for each: every reader reports it as it reports a
syntax error, with file and line.
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


MAX_DEPTH = 64  # nested mappings and lists; our files nest under 6
MAX_NODES = 500_000  # values after aliases are expanded; a 5,000-row plan is about 70,000


def _refused(problem: str, event: Any) -> yaml.MarkedYAMLError:
    return yaml.MarkedYAMLError(problem=problem, problem_mark=event.start_mark)


def check_shape(text: str) -> None:
    """Raise :class:`yaml.MarkedYAMLError` (with the line) for a duplicate key in a mapping,
    nesting deeper than :data:`MAX_DEPTH`, or more than :data:`MAX_NODES` values once aliases
    are expanded; syntax errors raise as the parser raises them."""
    anchors: dict[str, int] = {}
    # Per open collection: [anchor, weight, keys seen (mappings) or None, next is a key].
    stack: list[list[Any]] = []
    total = 0

    def add(weight: int, event: Any, key: str | None) -> None:
        nonlocal total
        total += weight
        if total > MAX_NODES:
            raise _refused(f"more than {MAX_NODES:,} values once its aliases are expanded "
                           "(an alias bomb?)", event)
        if stack:
            top = stack[-1]
            top[1] += weight
            if top[2] is not None:
                if top[3] and key is not None and key != "<<":
                    if key in top[2]:
                        raise _refused(f"duplicate key '{key}' (also on line "
                                       f"{top[2][key]}): the later one would silently win",
                                       event)
                    top[2][key] = event.start_mark.line + 1
                top[3] = not top[3]

    for event in yaml.parse(text, Loader=_SafeLoader):
        if isinstance(event, yaml.ScalarEvent):
            if event.anchor:
                anchors[event.anchor] = 1
            add(1, event, event.value)
        elif isinstance(event, yaml.AliasEvent):
            add(anchors.get(event.anchor or "", 1), event, None)
        elif isinstance(event, yaml.CollectionStartEvent):
            if len(stack) >= MAX_DEPTH:
                raise _refused(f"nested deeper than {MAX_DEPTH} levels", event)
            mapping = isinstance(event, yaml.MappingStartEvent)
            stack.append([event.anchor, 1, {} if mapping else None, True])
        elif isinstance(event, yaml.CollectionEndEvent):
            anchor, weight, _, _ = stack.pop()
            if anchor:
                anchors[anchor] = weight
            add(weight, event, None)


def load_yaml(text: str) -> Any:
    """Parse YAML text safely, dates kept as text, its shape checked (:func:`check_shape`)."""
    check_shape(text)
    return yaml.load(text, Loader=TextDateLoader)
