"""Markdown: the text as written, cut into sections at ATX (#) and setext headings."""

from __future__ import annotations

import re
from pathlib import Path

from domain.ingestion.decoding import decode_document
from domain.ingestion.limits import ParseLimits
from domain.ingestion.parsers.collector import SectionCollector
from domain.ingestion.section import Section

# CommonMark: up to 3 spaces, 1-6 #, then a space (or nothing), optional closing #s.
_ATX = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_SETEXT = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
# Lines that cannot be the text of a setext heading (list items, quotes, tables...).
_NOT_SETEXT_TEXT = re.compile(r"^\s*([-*+>|]|\d+[.)])")
_FRONT_MATTER = "---"


def parse_markdown(path: Path, limits: ParseLimits) -> list[Section]:
    lines = decode_document(path.read_bytes()).split("\n")
    collector = SectionCollector()
    start = _front_matter_end(lines)
    # Front matter (title, tags...) is kept as text but never read as headings.
    for line in lines[:start]:
        collector.line(line)
    fence: str | None = None
    previous_is_text = False
    for line in lines[start:]:
        opening = _FENCE.match(line)
        if fence is not None:
            # Inside a code block "# comment" is code, not a heading.
            if opening and opening.group(1)[0] == fence[0] and len(opening.group(1)) >= len(fence):
                fence = None
            collector.line(line)
            previous_is_text = False
            continue
        if opening:
            fence = opening.group(1)
            collector.line(line)
            previous_is_text = False
            continue
        atx = _ATX.match(line)
        if atx:
            collector.heading(len(atx.group(1)), atx.group(2) or "")
            previous_is_text = False
            continue
        setext = _SETEXT.match(line)
        if setext and previous_is_text:
            title = collector.drop_last_line() or ""
            collector.heading(1 if setext.group(1)[0] == "=" else 2, title)
            previous_is_text = False
            continue
        collector.line(line)
        previous_is_text = bool(line.strip()) and not _NOT_SETEXT_TEXT.match(line)
    return collector.finish()


def _front_matter_end(lines: list[str]) -> int:
    """Index of the first line after a leading YAML front matter block (0 if none)."""
    if not lines or lines[0].strip() != _FRONT_MATTER:
        return 0
    for index, line in enumerate(lines[1:], start=1):
        if line.strip() in (_FRONT_MATTER, "..."):
            return index + 1
    return 0
