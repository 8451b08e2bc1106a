"""``template render NAME --format docx``: a Word document that opens, with the headings and
tables of the Markdown, in the alliance's language."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from docx import Document

from sync.cli.main import cli
from tests.support.alliance import example_config


def _render(tmp_path: Path, *args: str) -> tuple[int, str]:
    path = example_config(tmp_path)
    result = CliRunner().invoke(cli, ["-c", str(path), "template", "render", *args])
    return result.exit_code, result.output


@pytest.mark.parametrize("name", ["charter", "agenda", "minutes", "invitation", "briefing"])
def test_word_documents_keep_headings_and_tables(tmp_path: Path, name: str) -> None:
    code, output = _render(tmp_path, name, "--lang", "nl", "--format", "docx", "-o",
                           str(tmp_path))
    assert code == 0, output
    (path,) = tmp_path.glob("*.docx")
    assert path.name.endswith(".nl.docx")
    document = Document(str(path))
    styles = [p.style.name for p in document.paragraphs]
    _, markdown = _render(tmp_path, name, "--lang", "nl")
    headings = [line for line in markdown.splitlines() if line.startswith("#")]
    assert styles[0] == "Title"
    assert len([s for s in styles if s == "Title" or s.startswith("Heading")]) == len(headings)
    assert "#" not in "".join(p.text for p in document.paragraphs if p.style.name == "Title")
    assert all("**" not in p.text for p in document.paragraphs)
    if name in ("charter", "agenda", "minutes", "invitation"):
        assert document.tables, name
        assert all("|" not in c.text for t in document.tables for r in t.rows for c in r.cells)


def test_the_charter_table_lists_the_members(tmp_path: Path) -> None:
    target = tmp_path / "handvest.docx"
    code, output = _render(tmp_path, "charter", "--lang", "nl", "--format", "docx", "-o",
                           str(target))
    assert code == 0 and f"wrote {target}" in output
    table = Document(str(target)).tables[-1]
    header = [c.text for c in table.rows[0].cells]
    assert header[0] == "Naam" and table.rows[0].cells[0].paragraphs[0].runs[0].bold
    assert "Anna de Vries (example)" in [row.cells[0].text for row in table.rows]


def test_docx_needs_a_file_and_a_document(tmp_path: Path) -> None:
    code, output = _render(tmp_path, "charter", "--format", "docx")
    assert code == 2 and "pass -o FILE.docx" in output
    code, output = _render(tmp_path, "stakeholders", "--format", "docx", "-o", str(tmp_path))
    assert code == 2 and "not a document" in output
