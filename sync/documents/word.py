"""Word documents of the rendered templates (python-docx): ``template render NAME --format docx``.

The charter, invitation, briefing, agenda and minutes are Word documents in an NGO's daily life:
printed, signed, e-mailed. The templates render Markdown of a small, known shape (headings,
paragraphs, bullet and numbered lists, quotes, tables, ``**bold**`` and ``*italic*``); this
module lays that shape out with python-docx: headings stay headings (Word's navigation pane
shows them), tables stay tables (with a header row), lists use Word's list styles.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator

from docx import Document
from docx.document import Document as DocxDocument
from docx.text.paragraph import Paragraph

_HEADING = re.compile(r"^(#{1,6})\s+(.*)$")
_NUMBERED = re.compile(r"^\d+\.\s+(.*)$")
_RULE = re.compile(r"^\|?\s*:?-{3,}")
_INLINE = re.compile(r"(\*\*[^*]+\*\*|\*[^*\s][^*]*\*|`[^`]+`)")
_CELL_SPLIT = re.compile(r"(?<!\\)\|")


def _runs(paragraph: Paragraph, text: str) -> None:
    """``text`` into ``paragraph`` with **bold**, *italic* and `code` as Word runs."""
    for part in _INLINE.split(text.replace("<br>", "\n")):
        if not part:
            continue
        if part.startswith("**") and part.endswith("**"):
            paragraph.add_run(part[2:-2]).bold = True
        elif part.startswith("`") and part.endswith("`"):
            paragraph.add_run(part[1:-1]).font.name = "Consolas"
        elif part.startswith("*") and part.endswith("*") and len(part) > 2:
            paragraph.add_run(part[1:-1]).italic = True
        else:
            paragraph.add_run(part.replace("\\|", "|").replace("\\\\", "\\"))


def _cells(line: str) -> list[str]:
    inner = line.strip()
    inner = inner[1:] if inner.startswith("|") else inner
    inner = inner[:-1] if inner.endswith("|") and not inner.endswith("\\|") else inner
    return [cell.strip() for cell in _CELL_SPLIT.split(inner)]


def _blocks(markdown: str) -> Iterator[tuple[str, list[str]]]:
    """The Markdown as (kind, lines) blocks: heading, table, bullet, number, quote, paragraph;
    an indented list item is ``bullet 2`` / ``number 2`` (``3`` deeper), Word's list styles."""
    lines = markdown.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i].rstrip()
        if not line.strip():
            i += 1
            continue
        if line.lstrip().startswith("|"):
            table = []
            while i < len(lines) and lines[i].lstrip().startswith("|"):
                table.append(lines[i])
                i += 1
            yield "table", table
            continue
        i += 1
        text = line.lstrip()
        # A list item indented under another (the agenda's "   - Planned: ...") is a list
        # item one level down, not a paragraph that starts with "- ".
        level = "" if len(line) - len(text) < 2 else " 2" if len(line) - len(text) < 6 else " 3"
        if _HEADING.match(line):
            yield "heading", [line]
        elif text.startswith(("- ", "* ")):
            yield "bullet" + level, [text[2:]]
        elif _NUMBERED.match(text):
            yield "number" + level, [_NUMBERED.match(text)[1]]  # type: ignore[index]  # the line was matched above
        elif line.startswith(">"):
            yield "quote", [line.lstrip("> ")]
        else:
            paragraph = [line]
            while i < len(lines) and lines[i].strip() and not _starts_block(lines[i]):
                paragraph.append(lines[i].rstrip())
                i += 1
            yield "paragraph", [" ".join(part.strip() for part in paragraph)]


def _starts_block(line: str) -> bool:
    text = line.lstrip()
    return bool(_HEADING.match(text) or _NUMBERED.match(text)
                or text.startswith(("- ", "* ", ">", "|")))


def _table(document: DocxDocument, lines: list[str]) -> None:
    rows = [_cells(line) for line in lines if not _RULE.match(line.strip())]
    if not rows:
        return
    width = max(len(row) for row in rows)
    table = document.add_table(rows=len(rows), cols=width)
    table.style = "Table Grid"
    for r, row in enumerate(rows):
        for c in range(width):
            paragraph = table.cell(r, c).paragraphs[0]
            _runs(paragraph, row[c] if c < len(row) else "")
            if r == 0 and len(lines) > 1 and _RULE.match(lines[1].strip()):
                for run in paragraph.runs:
                    run.bold = True


def markdown_to_docx(markdown: str, *, title: str = "", language: str = "en") -> bytes:
    """The rendered Markdown of a template as the bytes of a .docx file."""
    document = Document()
    document.core_properties.title = title
    document.core_properties.language = language
    for kind, lines in _blocks(markdown):
        if kind == "heading":
            match = _HEADING.match(lines[0])
            assert match is not None
            # "#" is the document's title (level 0), "##" a heading 1, and so on.
            document.add_heading(match[2].replace("**", ""), level=min(len(match[1]) - 1, 4))
        elif kind == "table":
            _table(document, lines)
        elif kind.startswith("bullet"):
            text = lines[0]
            if text.startswith("[ ] "):
                text = "☐ " + text[4:]
            _runs(document.add_paragraph(style="List Bullet" + kind[6:]), text)
        elif kind.startswith("number"):
            _runs(document.add_paragraph(style="List Number" + kind[6:]), lines[0])
        elif kind == "quote":
            _runs(document.add_paragraph(style="Quote"), lines[0])
        else:
            _runs(document.add_paragraph(), lines[0])
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()
