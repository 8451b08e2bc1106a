"""``mcm-sync`` run as cron runs it, in a fresh interpreter: what it printed and what it loaded."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass

from tests.support.paths import ROOT


@dataclass(frozen=True)
class CliProcess:
    """A finished ``mcm-sync`` process: its standard output and the modules it had imported
    when it exited (``sys.modules``, sorted)."""

    output: str
    modules: list[str]


def cli_process(*args: str) -> CliProcess:
    """Run ``mcm-sync ARGS`` in a fresh interpreter (it must exit 0) and report what it printed
    and the modules it had loaded at exit."""
    script = (
        "import atexit, json, sys\n"
        "atexit.register(lambda: print(json.dumps(sorted(sys.modules)), file=sys.stderr))\n"
        "from sync.cli.main import main\n"
        f"sys.argv = ['mcm-sync', *{list(args)!r}]\n"
        "main()\n")
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True,
                          text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    return CliProcess(done.stdout, json.loads(done.stderr.strip().splitlines()[-1]))
