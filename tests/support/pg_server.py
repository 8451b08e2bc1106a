"""A real, private PostgreSQL server for the tests (and the benchmarks), on loopback.

:func:`start` makes a cluster in a temporary folder with ``initdb``, starts it with ``pg_ctl``
on a free 127.0.0.1 port with its unix socket in that folder, and creates the database ``mcm``.
PostgreSQL refuses to run as root, and these machines run as root: then the server runs as the
unprivileged system user ``mcmtest`` (created with ``useradd`` if missing) and the folder is
given to it. Durability is switched off (``fsync=off``): these servers hold test data only, and
what the tests check (an intent committed before the remote call, a ``kill -9`` mid-sync) is
about processes dying, not machines.

The server binaries are Debian's ``postgresql`` package (``.ci/run`` installs it); where none
exists :func:`find_bin_dir` returns None and the PostgreSQL tests are skipped with that reason.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

TEST_USER = "mcmtest"
NO_SERVER = ("no PostgreSQL server binaries (initdb, pg_ctl): install Debian's postgresql "
             "package (.ci/run does) to run the PostgreSQL tests")


def find_bin_dir() -> Path | None:
    """The folder holding ``initdb`` and ``pg_ctl`` (the newest Debian cluster version first)."""
    for candidate in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if Path(candidate, "initdb").exists() and Path(candidate, "pg_ctl").exists():
            return Path(candidate)
    found = shutil.which("initdb")
    return Path(found).resolve().parent if found and shutil.which("pg_ctl") else None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _server_user() -> tuple[int, int] | None:
    """(uid, gid) to run the server as, when we are root; None otherwise."""
    if os.geteuid() != 0:
        return None
    try:
        entry = pwd.getpwnam(TEST_USER)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin",
                        TEST_USER], check=False, capture_output=True)
        entry = pwd.getpwnam(TEST_USER)
    return entry.pw_uid, entry.pw_gid


@dataclass
class PostgresServer:
    """A running private server: its folder, port and the URL of its ``mcm`` database."""

    folder: Path
    port: int
    bin_dir: Path
    user: tuple[int, int] | None
    options: str = ""  # the server's settings (``pg_ctl start -o``), for :meth:`resume`

    @property
    def url(self) -> str:
        """``postgresql://postgres@127.0.0.1:<port>/mcm`` (trust authentication, loopback)."""
        return f"postgresql://postgres@127.0.0.1:{self.port}/mcm"

    def _run(self, *args: str) -> subprocess.CompletedProcess[str]:
        user = self.user

        def _drop() -> None:
            if user is not None:
                os.setgid(user[1])
                os.setuid(user[0])

        return subprocess.run([str(self.bin_dir / args[0]), *args[1:]], preexec_fn=_drop,
                              capture_output=True, text=True, check=False, timeout=120,
                              cwd=self.folder)

    def halt(self) -> None:
        """Shut the server down as an administrator's restart does (``-m fast``: sessions
        are told ``AdminShutdown``), keeping its data for :meth:`resume`."""
        done = self._run("pg_ctl", "stop", "-D", str(self.folder / "data"), "-m", "fast", "-w")
        if done.returncode:
            raise RuntimeError(f"pg_ctl stop failed: {done.stderr}")

    def resume(self) -> None:
        """Start the halted server again on the same port and data."""
        done = self._run("pg_ctl", "start", "-D", str(self.folder / "data"), "-w", "-t", "60",
                         "-l", str(self.folder / "server.log"), "-o", self.options)
        if done.returncode:
            raise RuntimeError(f"pg_ctl start failed: {done.stderr}")

    def stop(self) -> None:
        """Stop the server at once and remove its folder."""
        self._run("pg_ctl", "stop", "-D", str(self.folder / "data"), "-m", "immediate", "-w")
        shutil.rmtree(self.folder, ignore_errors=True)


def start(bin_dir: Path | None = None, *, max_connections: int = 200) -> PostgresServer:
    """Start a private server (see the module's docstring); RuntimeError with its log if not."""
    bin_dir = bin_dir or find_bin_dir()
    if bin_dir is None:
        raise RuntimeError(NO_SERVER)
    # In memory where there is room (a container's /dev/shm is often 64 MB: too small).
    shm = Path("/dev/shm")
    roomy = shm.is_dir() and shutil.disk_usage(shm).free > 1 << 30
    folder = Path(tempfile.mkdtemp(prefix="mcm-pg-", dir=shm if roomy else None))
    user = _server_user()
    if user is not None:
        os.chown(folder, *user)
    os.chmod(folder, 0o700)
    server = PostgresServer(folder, _free_port(), bin_dir, user)
    data = folder / "data"
    made = server._run("initdb", "-D", str(data), "-U", "postgres", "-A", "trust", "-E", "UTF8",
                       "--no-sync", "--locale=C")
    if made.returncode:
        shutil.rmtree(folder, ignore_errors=True)
        raise RuntimeError(f"initdb failed: {made.stderr or made.stdout}")
    options = (f"-p {server.port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off"
               f" -c synchronous_commit=off -c full_page_writes=off"
               f" -c max_connections={max_connections}")
    server.options = options
    started = server._run("pg_ctl", "start", "-D", str(data), "-w", "-t", "60",
                          "-l", str(folder / "server.log"), "-o", options)
    if started.returncode:
        log = (folder / "server.log").read_text(errors="replace") if (
            folder / "server.log").exists() else ""
        shutil.rmtree(folder, ignore_errors=True)
        raise RuntimeError(f"pg_ctl start failed: {started.stderr}{log}")
    created = server._run("psql", "-h", "127.0.0.1", "-p", str(server.port), "-U", "postgres",
                          "-d", "postgres", "-c", "CREATE DATABASE mcm")
    if created.returncode:
        server.stop()
        raise RuntimeError(f"cannot create the test database: {created.stderr}")
    return server
