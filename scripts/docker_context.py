"""Copy the Docker build context, as ``.dockerignore`` leaves it, into a clean folder.

    python3 scripts/docker_context.py SOURCE DEST      # copy what `docker build SOURCE` sends
    python3 scripts/docker_context.py SOURCE --list    # print those paths, one a line

CI cannot pull an image here, so it runs the Dockerfile's install steps on this copy instead
(scripts/test-wheel): whatever the image's build needs and ``.dockerignore`` leaves out fails
there as it would in ``docker build``.

The matching follows Docker's rules (its ``patternmatcher``) for the patterns Docker
documents: one pattern a line, ``#`` comments, paths relative to the context root (a leading
``/`` is dropped), ``*`` and ``?`` within one path segment, ``[...]`` classes, ``**`` for any
number of segments, ``!`` to take an earlier exclusion back; the last matching line wins, and
a pattern that matches a folder matches everything under it. Not supported (refused, so a
``.dockerignore`` never silently means something else here): ``\\`` escapes.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Rule:
    """One line of ``.dockerignore``: a compiled pattern, and whether it is an exception."""

    pattern: re.Pattern[str]
    exception: bool
    text: str


def _translate(pattern: str) -> re.Pattern[str]:
    """Docker's pattern syntax as a regular expression over a slash-separated path."""
    if "\\" in pattern:
        raise ValueError(f".dockerignore: escapes are not supported here: {pattern!r}")
    out, i = [], 0
    while i < len(pattern):
        char = pattern[i]
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
            continue
        if pattern.startswith("**", i):
            out.append(".*")
            i += 2
            continue
        if char == "*":
            out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
        elif char == "[":
            end = pattern.find("]", i + 1)
            if end == -1:
                raise ValueError(f".dockerignore: unclosed [ in {pattern!r}")
            body = pattern[i + 1:end]
            out.append("[" + ("^" + body[1:] if body.startswith("^") else body) + "]")
            i = end
        else:
            out.append(re.escape(char))
        i += 1
    return re.compile("".join(out) + r"\Z")


def read_rules(context: Path) -> list[Rule]:
    """The rules of ``context/.dockerignore`` (none if there is no such file)."""
    path = context / ".dockerignore"
    if not path.exists():
        return []
    rules = []
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        exception = line.startswith("!")
        text = line[1:].strip() if exception else line
        # Docker cleans each pattern like a path (filepath.Clean) and drops a leading slash.
        cleaned = os.path.normpath(text).lstrip("/")
        rules.append(Rule(_translate(cleaned), exception, line))
    return rules


def excluded(relative: str, rules: list[Rule]) -> bool:
    """Whether Docker leaves ``relative`` (slash-separated) out of the context."""
    parents = relative.split("/")[:-1]
    candidates = [relative, *("/".join(parents[: n + 1]) for n in range(len(parents)))]
    matched = False
    for rule in rules:
        # As Docker: an exception can only take back what is excluded so far, and vice versa.
        if rule.exception != matched:
            continue
        if any(rule.pattern.match(path) for path in candidates):
            matched = not rule.exception
    return matched


def _may_take_back(folder: str, rules: list[Rule]) -> bool:
    """Whether an exception could take back something under an excluded ``folder``."""
    for rule in rules:
        if not rule.exception:
            continue
        literal = re.split(r"[*?\[]", rule.text.lstrip("!").strip().lstrip("/"), maxsplit=1)[0]
        if literal.startswith(f"{folder}/") or f"{folder}/".startswith(literal):
            return True
    return False


def context_files(context: Path) -> list[str]:
    """Every file (and symlink) of the build context, relative, sorted."""
    rules = read_rules(context)
    kept = []
    for folder, dirs, files in os.walk(context):
        base = Path(folder).relative_to(context).as_posix()
        # Like Docker, do not walk an excluded folder (.git, .venv) that nothing takes back.
        dirs[:] = sorted(
            d for d in dirs
            if not (excluded(rel := d if base == "." else f"{base}/{d}", rules)
                    and not _may_take_back(rel, rules)))
        for name in sorted(files):
            relative = name if base == "." else f"{base}/{name}"
            if not excluded(relative, rules):
                kept.append(relative)
    return sorted(kept)


def copy_context(context: Path, destination: Path) -> list[str]:
    """Copy the build context into ``destination`` (which must not exist yet)."""
    destination.mkdir(parents=True)
    files = context_files(context)
    for relative in files:
        target = destination / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(context / relative, target, follow_symlinks=False)
    return files


def main(argv: list[str]) -> int:
    """Command line: SOURCE DEST, or SOURCE --list."""
    if len(argv) != 2:
        print("usage: docker_context.py SOURCE DEST | SOURCE --list", file=sys.stderr)
        return 2
    source = Path(argv[0])
    if argv[1] == "--list":
        print("\n".join(context_files(source)))
        return 0
    files = copy_context(source, Path(argv[1]))
    print(f"build context: {len(files)} files copied to {argv[1]}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
