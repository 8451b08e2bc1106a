"""The container, checked as far as a machine without images can: the build context that
``.dockerignore`` leaves (scripts/docker_context.py, Docker's matching rules), the Dockerfile's
steps and files, and ``compose.yaml``'s commands against the command line.

Running the Dockerfile's install steps on a clean copy of the context, and the health check
against a real ``serve``, is scripts/test-wheel's part (run by scripts/test).
"""

from __future__ import annotations

import importlib.util
import re
import shlex
import subprocess
import sys
import warnings
from pathlib import Path
from types import ModuleType

import click
import pytest
import yaml

from sync.cli.main import cli
from tests.support.paths import ROOT


def _load_script(name: str) -> ModuleType:
    path = ROOT / "scripts" / name
    loader = importlib.machinery.SourceFileLoader(name.replace("-", "_"), str(path))
    spec = importlib.util.spec_from_loader(loader.name, loader)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[loader.name] = module  # dataclasses look their module up there
    loader.exec_module(module)
    return module


context = _load_script("docker_context.py")
healthcheck = _load_script("container-healthcheck")


def _instructions() -> list[tuple[str, str]]:
    """The Dockerfile as (INSTRUCTION, arguments), continuation lines joined."""
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    joined = re.sub(r"\\\n\s*", " ", text)
    found = []
    for line in joined.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            found.append((word.upper(), rest.strip()))
    return found


def _serve_default_port() -> int:
    serve = cli.get_command(click.Context(cli), "serve")  # the root loads its commands lazily
    assert serve is not None
    return next(p.default for p in serve.params if p.name == "port")


# ---------------------------------------------------------------- .dockerignore's rules


def _tree(root: Path, files: list[str]) -> None:
    for relative in files:
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_text("x", encoding="utf-8")


def test_dockerignore_rules_as_docker_reads_them(tmp_path: Path) -> None:
    _tree(tmp_path, ["keep.txt", "drop.txt", "src/a.py", "src/__pycache__/a.pyc",
                     "src/deep/b.py", "src/deep/notes.md", "venv/lib/x.py", "docs/a.md",
                     "docs/private/b.md"])
    (tmp_path / ".dockerignore").write_text(
        "# comment\n*\n!keep.txt\n!/src\n**/__pycache__\nsrc/deep/*.md\n!docs\ndocs/private\n",
        encoding="utf-8")
    assert context.context_files(tmp_path) == ["docs/a.md", "keep.txt", "src/a.py",
                                               "src/deep/b.py"]


def test_a_pattern_on_a_folder_covers_what_is_under_it_and_last_line_wins(
        tmp_path: Path) -> None:
    _tree(tmp_path, ["build/x/y.txt", "a/b/c.txt", "a/b/d.log", "z.log", "a/b/e.log"])
    (tmp_path / ".dockerignore").write_text("build\n**/*.log\n!a/b/e.log\n", encoding="utf-8")
    assert context.context_files(tmp_path) == [".dockerignore", "a/b/c.txt", "a/b/e.log"]


def test_no_dockerignore_sends_everything(tmp_path: Path) -> None:
    _tree(tmp_path, ["a.txt", "b/c.txt"])
    assert context.context_files(tmp_path) == ["a.txt", "b/c.txt"]


def test_an_escape_is_refused_rather_than_misread(tmp_path: Path) -> None:
    (tmp_path / ".dockerignore").write_text("a\\*b\n", encoding="utf-8")
    with pytest.raises(ValueError, match="escapes are not supported"):
        context.read_rules(tmp_path)


def test_copy_context_copies_only_what_the_rules_leave(tmp_path: Path) -> None:
    source = tmp_path / "source"
    _tree(source, ["a.txt", "secret.env"])
    (source / ".dockerignore").write_text("*.env\n", encoding="utf-8")
    copied = context.copy_context(source, tmp_path / "copy")
    assert copied == [".dockerignore", "a.txt"]
    assert sorted(p.name for p in (tmp_path / "copy").iterdir()) == [".dockerignore", "a.txt"]


# ---------------------------------------------------------------- the project's context


def test_the_build_context_holds_the_program_and_no_local_state() -> None:
    from tests.support.shipped import source_files

    sent = set(context.context_files(ROOT))
    assert source_files() <= sent
    assert {"pyproject.toml", "README.md", "MANIFEST.in", "scripts/container-install",
            "scripts/container-healthcheck"} <= sent
    assert not [f for f in sent if f.startswith((".git/", ".venv", "tests/", "out/", "bench/"))
                or "__pycache__" in f or ".mcm-sync/" in f or f.endswith((".env", ".db"))]


def test_everything_the_dockerfile_copies_is_in_the_context() -> None:
    sent = set(context.context_files(ROOT))
    for word, rest in _instructions():
        if word != "COPY" or rest.startswith("--from="):
            continue
        *sources, _target = shlex.split(rest)
        for source in sources:
            if source != ".":
                assert source in sent, f"COPY {source}: left out by .dockerignore"


def test_the_dockerfile_runs_the_install_script_ci_runs() -> None:
    runs = [rest for word, rest in _instructions() if word == "RUN"]
    assert any("scripts/container-install build " in r for r in runs)
    assert any("container-install install " in r for r in runs)
    # Only the user's creation happens beside the script (CI cannot add users).
    for run in runs:
        for command in (c.strip() for c in run.split("&&")):
            assert command.startswith(("sh ", "rm -rf ", "useradd ", "mkdir ", "chown ")), command


def test_the_image_runs_mcm_sync_as_a_user_without_privileges() -> None:
    final = _instructions()
    final = final[max(i for i, (w, _) in enumerate(final) if w == "FROM"):]
    words = dict(final)
    assert words["ENTRYPOINT"] == '["mcm-sync"]'
    assert words["USER"] not in ("root", "0")
    base = dict(_instructions())["ARG"]  # PYTHON_IMAGE=..., the base of both stages
    assert re.fullmatch(r"PYTHON_IMAGE=python:3\.1[1-9]-slim", base), base
    assert words["FROM"] == "${PYTHON_IMAGE}"
    assert "container-healthcheck" in words["HEALTHCHECK"]
    assert words["EXPOSE"] == str(_serve_default_port())


def test_the_health_check_asks_serves_route_on_its_default_port() -> None:
    url = healthcheck.DEFAULT_URL
    assert url == f"http://127.0.0.1:{_serve_default_port()}/healthz"


def test_the_health_check_fails_where_nothing_answers(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "container-healthcheck"),
                           "http://127.0.0.1:9/healthz"], capture_output=True, text=True,
                          timeout=30, check=False)
    assert done.returncode == 1
    assert "unhealthy: http://127.0.0.1:9/healthz" in done.stderr


# ---------------------------------------------------------------- compose.yaml


def _compose() -> dict:
    return yaml.safe_load((ROOT / "compose.yaml").read_text(encoding="utf-8"))


def _rest(ctx: click.Context) -> list[str]:
    """A group's arguments after its options: the subcommand and what follows (click 8 keeps
    the subcommand's name apart, in a deprecated attribute; click 9 in ``args``)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return [*getattr(ctx, "protected_args", []), *ctx.args]


# What a deployment's .env gives the variables compose.yaml interpolates into command lines.
SAMPLE_ENV = {"MCM_SYNC_PUBLIC_URL": "https://hooks.example.org"}


def _interpolated(args: list[str]) -> list[str]:
    """A compose command line as compose hands it over: `${VAR...}` replaced from the .env
    (an option's value check would otherwise see the unexpanded text), `$$` left as `$`."""
    def value(match: re.Match[str]) -> str:
        return SAMPLE_ENV[match.group(1)]
    return [re.sub(r"\$\{(\w+)[^}]*\}", value, arg).replace("$$", "$") for arg in args]


def _parse(args: list[str]) -> list[str]:
    """Parse an mcm-sync command line as click would, without running it: the command path
    (a usage error raises, naming the unknown command or option)."""
    args = _interpolated(args)
    command: click.Command = cli
    ctx = cli.make_context("mcm-sync", list(args), resilient_parsing=False)
    path: list[str] = []
    remaining = _rest(ctx)
    while isinstance(command, click.Group) and remaining:
        name, *remaining = remaining
        sub = command.get_command(ctx, name)
        assert sub is not None, f"no command {' '.join([*path, name])!r}"
        path.append(name)
        ctx = sub.make_context(name, remaining, parent=ctx, resilient_parsing=False)
        command = sub
        remaining = _rest(ctx) if isinstance(sub, click.Group) else []
    return path


def test_compose_runs_postgresql_two_workers_and_the_front() -> None:
    services = _compose()["services"]
    commands = {name: _parse(s["command"]) for name, s in services.items()
                if s.get("build") == "."}
    assert sorted(commands.values()).count(["worker"]) == 2
    assert ["serve"] in commands.values()
    assert services["db"]["image"].startswith("postgres:")
    for name, service in services.items():
        assert service.get("restart"), f"{name}: no restart policy"
    for name in commands:
        assert services[name]["env_file"], name
        assert "./alliances:/alliances:ro" in services[name]["volumes"]
        assert "MCM_SYNC_DATABASE_URL" in services[name]["environment"]


def test_every_compose_command_is_a_command_line_the_cli_accepts() -> None:
    for name, service in _compose()["services"].items():
        if service.get("build") == ".":
            assert _parse(service["command"]), name
    with pytest.raises(click.UsageError):
        _parse(["worker", "--no-such-option"])
    with pytest.raises(AssertionError, match="no command 'wroker'"):
        _parse(["wroker"])


def test_the_fronts_published_port_is_the_one_it_listens_on() -> None:
    serve = _compose()["services"]["serve"]
    args = serve["command"]
    port = args[args.index("--port") + 1]
    assert serve["ports"] == [f"127.0.0.1:{port}:{port}"]
    assert port == str(_serve_default_port())  # so the image's health check finds it
