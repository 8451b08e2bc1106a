"""The documentation covers the product (in the manner of sqlite-utils' test_docs).

Every command and option of the click tree is on exactly one Commands page (``docs/commands/``,
where mkdocs-click's blocks render the tree), with a help text that explains it; the overview
lists every command once; every key the config model accepts, and every key
``config.example.yaml`` shows (commented-out optional ones included), is in the configuration
reference. A new command, option or key without its documentation fails here, by name.
"""

from __future__ import annotations

import re
import types
import typing
from collections.abc import Iterator
from functools import cache

import click
import markdown
import pytest
import yaml
from mkdocs_click import MKClickExtension
from pydantic import BaseModel

from sync.cli.main import cli
from sync.core.config import Config
from tests.support.paths import ROOT

DOCS = ROOT / "docs"
COMMAND_PAGES = sorted((DOCS / "commands").glob("*.md"))
OVERVIEW = DOCS / "commands" / "index.md"
REFERENCE = DOCS / "configuration.md"
EXAMPLE = ROOT / "config.example.yaml"
PROG = "mcm-sync"

# ---------------------------------------------------------------------------------------------
# The click tree and the Commands pages


def _subcommands(group: click.Group) -> dict[str, click.Command]:
    """A group's commands, the root's lazy ones imported (click's own listing, as --help)."""
    ctx = click.Context(group)
    return {name: command for name in group.list_commands(ctx)
            if (command := group.get_command(ctx, name)) is not None}


def _walk(command: click.Command, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    yield path
    if isinstance(command, click.Group):
        for name, sub in sorted(_subcommands(command).items()):
            yield from _walk(sub, (*path, name))


def _command(path: tuple[str, ...]) -> click.Command:
    command: click.Command = cli
    for name in path:
        assert isinstance(command, click.Group)
        command = _subcommands(command)[name]
    return command


COMMANDS = [path for path in _walk(cli) if path]
OPTIONS = [(path, option) for path in COMMANDS for option in _command(path).params
           if isinstance(option, click.Option) and not option.hidden]

_BLOCK = re.compile(r"^::: mkdocs-click\n(?:[ \t]+:.*\n)+", re.MULTILINE)
_USAGE = re.compile(r"\*\*Usage:\*\*\n\n```text\n(?P<usage>.+)\n```")


@cache
def documented_sections() -> dict[tuple[str, ...], list[tuple[str, str]]]:
    """Command path -> [(page, the generated section of that command)] over the Commands pages.

    Each ``::: mkdocs-click`` block is expanded exactly as ``mkdocs build`` does it; a section
    runs from one generated heading to the next and names its command in its usage line.
    """
    found: dict[tuple[str, ...], list[tuple[str, str]]] = {}
    expand = markdown.Markdown(extensions=[MKClickExtension()]).preprocessors["mk_click"]
    for page in COMMAND_PAGES:
        for block in _BLOCK.findall(page.read_text(encoding="utf-8")):
            generated = "\n".join(expand.run(block.splitlines()))
            for section in re.split(r"^(?=#+ )", generated, flags=re.MULTILINE):
                usage = _USAGE.search(section)
                if usage is None:
                    continue
                words = usage["usage"].split(" [OPTIONS]")[0].split()
                assert words[0] == PROG, usage["usage"]
                found.setdefault(tuple(words[1:]), []).append((page.name, section))
    return found


@pytest.mark.parametrize("path", COMMANDS, ids=" ".join)
def test_every_command_is_on_one_commands_page(path: tuple[str, ...]) -> None:
    pages = [page for page, _ in documented_sections().get(path, [])]
    assert pages, f"`{PROG} {' '.join(path)}` is on no page of docs/commands/ (add it to a " \
                  "`::: mkdocs-click` block of the page of its group)"
    assert len(pages) == 1, f"`{PROG} {' '.join(path)}` is documented twice: {pages}"


@pytest.mark.parametrize("path", COMMANDS, ids=" ".join)
def test_every_command_has_help(path: tuple[str, ...]) -> None:
    assert (_command(path).help or "").strip(), f"`{PROG} {' '.join(path)}` has no help text"


@pytest.mark.parametrize(("path", "option"), OPTIONS,
                         ids=[f"{' '.join(p)} {o.opts[0]}" for p, o in OPTIONS])
def test_every_option_is_documented(path: tuple[str, ...], option: click.Option) -> None:
    where = f"`{PROG} {' '.join(path)} {'/'.join(option.opts)}`"
    assert (option.help or "").strip(), \
        f"{where} has no help text, so its Commands page lists it without saying what it does"
    sections = documented_sections().get(path, [])
    assert sections, f"{where}: its command is on no Commands page"
    for flag in [*option.opts, *option.secondary_opts]:
        assert re.search(rf"(?<![\w-]){re.escape(flag)}(?![\w-])", sections[0][1]), \
            f"{where}: {flag} is not in the section of its command on {sections[0][0]}"


def test_the_global_options_are_on_the_overview() -> None:
    text = OVERVIEW.read_text(encoding="utf-8")
    flags = [flag for option in cli.params for flag in option.opts]
    missing = [flag for flag in flags if f"`{flag}" not in text]
    assert missing == [], f"global options missing from {OVERVIEW.name}: {missing}"


def test_the_overview_lists_every_command_once() -> None:
    rows = [line for line in OVERVIEW.read_text(encoding="utf-8").splitlines()
            if line.startswith(f"| `{PROG} ")]
    firsts = [row.split("`")[1] for row in rows]
    assert sorted(set(firsts)) == sorted(firsts), \
        f"a command is listed twice: {[f for f in firsts if firsts.count(f) > 1]}"
    listed = {first.split()[1] for first in firsts}
    missing = sorted(set(_subcommands(cli)) - listed)
    assert missing == [], f"commands missing from the table of {OVERVIEW.name}: {missing}"


def test_the_sections_are_read_from_the_pages() -> None:
    """The parser behind the tests above finds the usage lines it should (it cannot be blind)."""
    sections = documented_sections()
    assert ("sandbox", "move") in sections
    assert "--as" in sections["sandbox", "move"][0][1]
    assert len(sections) == len(COMMANDS)


def test_the_readme_links_only_to_files_that_exist() -> None:
    """The README is not part of the site, so ``mkdocs build --strict`` does not check it."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    targets = [t.split("#")[0] for t in re.findall(r"\]\(([^)\s]+)\)", readme)
               if not t.startswith(("http://", "https://", "#"))]
    assert targets, "the README links into the site"
    assert [t for t in targets if not (ROOT / t).is_file()] == []
    anchors = re.findall(r"\]\(#([^)]+)\)", readme)
    headings = {re.sub(r"[^a-z0-9 -]", "", h.lower()).replace(" ", "-")
                for h in re.findall(r"^#+ (.+)$", readme, flags=re.MULTILINE)}
    assert [a for a in anchors if a not in headings] == []


def test_the_readme_is_a_front_door() -> None:
    lines = (ROOT / "README.md").read_text(encoding="utf-8").count("\n")
    assert lines < 200, f"README.md has {lines} lines: move the details into a page of docs/"


# ---------------------------------------------------------------------------------------------
# The configuration reference


def _models(annotation: object) -> list[type[BaseModel]]:
    """The pydantic models inside a field's type (``X | None``, ``list[X]``)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [model for arg in typing.get_args(annotation) for model in _models(arg)]


def _is_list(annotation: object) -> bool:
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        return any(_is_list(arg) for arg in typing.get_args(annotation))
    return origin is list


def model_keys(model: type[BaseModel] = Config, prefix: str = "") -> list[str]:
    """Every key path the config model accepts: ``alliance.slug``, ``people[].email``."""
    keys = []
    for name, field in model.model_fields.items():
        if field.exclude:
            continue  # set by the loader, not by the user
        path = f"{prefix}{field.alias or name}"
        keys.append(path)
        for inner in _models(field.annotation):
            keys += model_keys(inner, f"{path}[]." if _is_list(field.annotation) else f"{path}.")
    return keys


def _yaml_keys(value: object, prefix: str = "") -> Iterator[str]:
    if isinstance(value, dict):
        for key, inner in value.items():
            yield f"{prefix}{key}"
            yield from _yaml_keys(inner, f"{prefix}{key}.")
    elif isinstance(value, list):
        for inner in value:
            yield from _yaml_keys(inner, f"{prefix.rstrip('.')}[].")


_KEY_LINE = re.compile(r"^(?P<indent> *)(?P<comment># ?)?(?P<key>[a-z_]+):(?: |$)")


def example_keys(text: str) -> list[str]:
    """The key paths of the example config: its keys, and the optional keys it shows commented
    out inside a section (``  # url: postgresql://...`` under ``state:``)."""
    keys = list(_yaml_keys(yaml.safe_load(text)))
    parents: list[tuple[int, str]] = []  # (indent, key) of the open block keys
    for line in text.splitlines():
        match = _KEY_LINE.match(line)
        if match is None:
            continue
        indent = len(match["indent"])
        while parents and parents[-1][0] >= indent:
            parents.pop()
        path = ".".join([key for _, key in parents] + [match["key"]])
        if match["comment"] is None:
            parents.append((indent, match["key"]))
        elif parents:  # a commented key at the top level is prose, not a key
            keys.append(path)
    return list(dict.fromkeys(keys))


@pytest.mark.parametrize("key", sorted(set(model_keys()) | set(example_keys(
    EXAMPLE.read_text(encoding="utf-8")))))
def test_every_config_key_is_in_the_reference(key: str) -> None:
    assert f"`{key}`" in REFERENCE.read_text(encoding="utf-8"), \
        f"config key {key} is not in docs/{REFERENCE.name}"


def test_the_example_shows_only_keys_the_model_accepts() -> None:
    unknown = set(example_keys(EXAMPLE.read_text(encoding="utf-8"))) - set(model_keys())
    assert unknown == set(), f"{EXAMPLE.name} shows keys the config refuses: {sorted(unknown)}"


def test_the_key_readers_see_nested_and_commented_keys() -> None:
    text = "state:\n  path: a\n  # url: b\nmeetings:\n  hosts:\n    - {organisation: X}\n" \
           "# prose: at the top level\n"
    assert example_keys(text) == ["state", "state.path", "meetings", "meetings.hosts",
                                  "meetings.hosts[].organisation", "state.url"]
    keys = model_keys()
    assert {"state.schema", "people[].email", "mailchimp.contact.zip",
            "meetings.hosts[].place"} <= set(keys)
    assert "source_path" not in keys
