"""DOCX: paragraphs and tables in reading order, cut into sections at Heading styles."""

from __future__ import annotations

import re
from pathlib import Path

import docx
from docx.document import Document
from docx.styles.style import ParagraphStyle
from docx.table import Table
from docx.text.paragraph import Paragraph

from domain.ingestion.errors import ParseError
from domain.ingestion.limits import ParseLimits
from domain.ingestion.parsers.collector import SectionCollector
from domain.ingestion.parsers.zip_guard import check_zip
from domain.ingestion.section import Section

CORRUPT = "The DOCX could not be read; it is corrupt or not a Word document."
# Built-in style names are stored in English whatever the Word UI language.
_HEADING_STYLE = re.compile(r"^heading (\d)$", re.IGNORECASE)
_TITLE_LEVEL = 0  # above Heading 1
# Custom heading styles are usually based on a built-in one; follow a few links.
_MAX_STYLE_DEPTH = 8


def parse_docx(path: Path, limits: ParseLimits) -> list[Section]:
    # Before python-docx reads a byte of content: it inflates every part into memory.
    check_zip(path, limits)
    try:
        document = docx.Document(str(path))
    except Exception as error:
        raise ParseError(CORRUPT) from error
    return _read(document)


def _read(document: Document) -> list[Section]:
    collector = SectionCollector()
    # Paragraph.style scans every style of the document on each call (quadratic on
    # long documents); a paragraph's style id is cheap, so levels are cached by id.
    levels: dict[str | None, int | None] = {}
    for block in document.iter_inner_content():
        if isinstance(block, Paragraph):
            style_id = block._p.style
            if style_id not in levels:
                levels[style_id] = _heading_level(block.style)
            level = levels[style_id]
            if level is None:
                collector.line(block.text)
                collector.line("")
            else:
                collector.heading(level, block.text)
        else:
            _add_table(collector, block)
    return collector.finish()


def _heading_level(style: ParagraphStyle | None) -> int | None:
    for _ in range(_MAX_STYLE_DEPTH):
        if style is None:
            return None
        name = (style.name or "").strip()
        if name.lower() == "title":
            return _TITLE_LEVEL
        match = _HEADING_STYLE.match(name)
        if match:
            return int(match.group(1))
        style = style.base_style
    return None


def _add_table(collector: SectionCollector, table: Table) -> None:
    for row in table.rows:
        cells: list[str] = []
        previous = None
        for cell in row.cells:
            # A merged cell comes back once per grid column it spans; keep it once.
            if cell._tc is previous:
                continue
            previous = cell._tc
            cells.append(" ".join(cell.text.split()))
        line = " | ".join(text for text in cells if text)
        if line:
            collector.line(line)
    collector.line("")
