"""The worker's folder of alliances: its listing, the configs that share a store, and the
file stamps that say when a parsed alliance must be parsed again (its config or action plan
changed) and when its SQLite store may have been written (a look for deliveries is due)."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

from sync.core.config import Config, load_config
from sync.core.errors import REPORTED
from sync.realtime.hosted import HostedAlliance
from sync.state.db import schema_name

# A config that cannot be read (ours, or a value the config model refuses).
UNREADABLE: tuple[type[BaseException], ...] = (*REPORTED, ValueError)


def files_stamp(paths: tuple[Path, ...]) -> tuple[int, ...]:
    """The modification times and sizes of ``paths`` (a missing file has its own mark)."""
    stamp: list[int] = []
    for path in paths:
        try:
            info = os.stat(path)
        except FileNotFoundError:
            stamp += (0, -1)
            continue
        stamp += (info.st_mtime_ns, info.st_size)
    return tuple(stamp)


# A store's files are trusted to show a later write only once they have been left alone this
# long: a file system stamps modification times from a coarse clock (a few ms; 2 s on FAT),
# so a write in the same tick as the one before it could leave the time as it was.
SETTLED_NS = 2_000_000_000


def store_stamp(files: tuple[Path, ...]) -> tuple[int, ...] | None:
    """What any write to a SQLite store changes, given its file and its write-ahead log:
    their inodes, sizes and modification times. None when it cannot tell: files modified
    within :data:`SETTLED_NS` (a write in the same clock tick might not show)."""
    stamp: list[int] = []
    settled = time.time_ns() - SETTLED_NS
    for path in files:
        try:
            info = os.stat(path)
        except FileNotFoundError:
            stamp += (0, 0, 0)
            continue
        if info.st_mtime_ns > settled:
            return None
        stamp += (info.st_ino, info.st_size, info.st_mtime_ns)
    return tuple(stamp)


@dataclass
class ParsedAlliance:
    """An alliance as parsed from its files, kept while they are unchanged."""

    alliance: HostedAlliance
    inputs: tuple[Path, ...]  # its config and action-plan files
    stamp: tuple[int, ...]  # theirs when parsed
    store: tuple[Path, ...]  # its SQLite file and write-ahead log (none on PostgreSQL)

    @classmethod
    def of(cls, alliance: HostedAlliance, config_path: Path) -> ParsedAlliance:
        """The files to watch of a freshly parsed alliance (resolved once: not cheap)."""
        config = alliance.config
        inputs = (config_path, *([config.resolve_path(config.action_plan)]
                                 if config.action_plan else []))
        state = config.state_path
        store = () if config.state_url else (state, state.with_name(f"{state.name}-wal"))
        return cls(alliance, inputs, files_stamp(inputs), store)

    def unchanged(self, config_path: Path) -> bool:
        """Whether the config (still at ``config_path``) and action plan are as parsed."""
        return self.inputs[0] == config_path and files_stamp(self.inputs) == self.stamp


def alliance_configs(folder: Path) -> dict[str, Path]:
    """The alliances of ``folder``: config name (file name without ``.yaml``) -> path."""
    found = sorted([*folder.glob("*.yaml"), *folder.glob("*.yml")])
    return {path.stem: path for path in found if not path.name.startswith(".")}


def store_identity(config: Config) -> str:
    """What names an alliance's state store: its resolved file, or its database and schema."""
    if config.state_url:
        return f"{config.state_url} schema {schema_name(config.state_schema)}"
    return str(config.state_path.resolve())


def shared_stores(folder: Path) -> list[tuple[Path, Path]]:
    """Pairs of configs of ``folder`` that name one state store (each pair once, in order).

    A config that cannot be read is left out: the worker records its error when it runs it.
    """
    owner: dict[str, Path] = {}
    pairs: list[tuple[Path, Path]] = []
    for path in alliance_configs(folder).values():
        try:
            identity = store_identity(load_config(path))
        except UNREADABLE:
            continue
        if identity in owner:
            pairs.append((owner[identity], path))
        else:
            owner[identity] = path
    return pairs
