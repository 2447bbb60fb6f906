"""HTML: the text a reader sees, cut into sections at h1-h6.

Scripts, styles and other never-rendered elements are skipped, as are comments. The
tree is walked with an explicit stack, so a hostile page nested thousands of levels
deep cannot exhaust Python's recursion limit.
"""

from __future__ import annotations

from pathlib import Path

from bs4 import BeautifulSoup, CData, NavigableString, PageElement, Tag

from domain.ingestion.decoding import decode_document
from domain.ingestion.limits import ParseLimits
from domain.ingestion.parsers.collector import SectionCollector
from domain.ingestion.section import Section

_HEADINGS = {"h1": 1, "h2": 2, "h3": 3, "h4": 4, "h5": 5, "h6": 6}
# Never shown to a reader (head holds the title, metadata and more scripts).
_INVISIBLE = frozenset(
    {"head", "script", "style", "noscript", "template", "iframe", "object", "svg", "canvas"}
)
# Elements that start a new line of text; everything else flows inline.
_BLOCKS = frozenset(
    {
        "address", "article", "aside", "blockquote", "body", "br", "caption", "dd",
        "details", "dialog", "div", "dl", "dt", "fieldset", "figcaption", "figure",
        "footer", "form", "header", "hr", "li", "main", "nav", "ol", "p", "pre",
        "section", "summary", "table", "tbody", "tfoot", "thead", "tr", "ul",
    }
)  # fmt: skip
_CELLS = frozenset({"td", "th"})
_CELL_SEPARATOR = " | "


def parse_html(path: Path, limits: ParseLimits) -> list[Section]:
    soup = BeautifulSoup(decode_document(path.read_bytes()), "lxml")
    return _VisibleText().read(soup)


class _VisibleText:
    def __init__(self) -> None:
        self._collector = SectionCollector()
        self._parts: list[str] = []

    def read(self, root: Tag) -> list[Section]:
        # (node, leaving): a block is visited twice, to break the line before and after.
        stack: list[tuple[PageElement, bool]] = [(root, False)]
        while stack:
            node, leaving = stack.pop()
            if leaving:
                self._end_element(node)
                continue
            if not isinstance(node, Tag):
                # Comments, doctypes and processing instructions are NavigableString
                # subclasses: only plain strings (and CDATA) are visible text.
                if type(node) in (NavigableString, CData):
                    self._parts.append(str(node))
                continue
            if node.name in _INVISIBLE or _is_hidden(node):
                continue
            level = _HEADINGS.get(node.name)
            if level is not None:
                self._break_line()
                self._collector.heading(level, node.get_text(" ", strip=True))
                continue
            if node.name in _BLOCKS:
                self._break_line()
            if node.name in _BLOCKS or node.name in _CELLS:
                stack.append((node, True))
            stack.extend((child, False) for child in reversed(node.contents))
        self._break_line()
        return self._collector.finish()

    def _end_element(self, node: PageElement) -> None:
        if isinstance(node, Tag) and node.name in _CELLS:
            self._parts.append(_CELL_SEPARATOR)
        else:
            self._break_line()

    def _break_line(self) -> None:
        line = " ".join("".join(self._parts).split()).strip(" |")
        self._parts = []
        if line:
            self._collector.line(line)
            self._collector.line("")


def _is_hidden(tag: Tag) -> bool:
    if tag.has_attr("hidden"):
        return True
    style = str(tag.get("style") or "").replace(" ", "").lower()
    return "display:none" in style or "visibility:hidden" in style
