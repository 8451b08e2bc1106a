"""A folder of alliances on one shared sandbox, for the worker's tests and benchmarks.

:func:`make_fleet` writes one config per alliance (the example alliance under another slug:
its own board, channels, tokens and item numbers), announces the one running sandbox in each
alliance's state folder so every run finds it, and puts the state stores in one PostgreSQL
database (a schema each) or in SQLite files.
"""

from __future__ import annotations

from pathlib import Path

from connectors.sandbox.core.server import SandboxServer
from sync.core.config import load_config
from sync.core.services import announce_sandbox, sandbox_data_dir
from sync.fleet.jobs import forget_jobs
from tests.support.alliance import example_config


def slugs(n: int) -> list[str]:
    """``n`` distinct alliance slugs: ``a0001``, ``a0002``..."""
    return [f"a{i:04d}" for i in range(1, n + 1)]


def make_fleet(folder: Path, n: int, server: SandboxServer, pg_url: str | None, *,
               own_schemas: bool = False) -> Path:
    """``folder/configs/<slug>.yaml`` for ``n`` alliances; returns the configs' folder.

    ``own_schemas``: on PostgreSQL, fresh schemas instead of the slugs (a second fleet on the
    same server beside another test module's).
    """
    configs = folder / "configs"
    configs.mkdir(parents=True, exist_ok=True)
    for slug in slugs(n):
        home = folder / slug
        home.mkdir(exist_ok=True)
        path = example_config(home, pg_url=pg_url)
        text = path.read_text(encoding="utf-8").replace("slug: frl ", f"slug: {slug} ", 1)
        if pg_url and not own_schemas:  # the schema follows the slug (the default)
            text = "\n".join(line for line in text.splitlines()
                             if not line.strip().startswith("schema:")) + "\n"
        target = configs / f"{slug}.yaml"
        target.write_text(text, encoding="utf-8")
        path.unlink()
        announce_sandbox(sandbox_data_dir(load_config(target)), server.url, rate_limits=False)
    return configs


def forget_runs(pg_url: str) -> None:
    """Empty the job engine's tables on ``pg_url`` (created if missing): every alliance is due.

    Fleets of one test session share its server and name their alliances alike (``a0001``):
    a run another test recorded would make this one's alliance not due.
    """
    forget_jobs(pg_url)
