"""Cuts a document into sections at its headings, keeping the heading path of each."""

from __future__ import annotations

import re

from domain.ingestion.section import Section

_EXTRA_BLANK_LINES = re.compile(r"\n{3,}")


class SectionCollector:
    """Collects lines under the current heading path; a heading closes the section.

    Levels are numbers where smaller is outer (Title 0, Heading 1 = 1, h2 = 2...): a
    heading replaces every open heading at its level or deeper. The heading's own title
    opens its section's text, so the words are searchable and not only in the path.
    """

    def __init__(self) -> None:
        self._trail: list[tuple[int, str]] = []
        self._lines: list[str] = []
        self._sections: list[Section] = []

    def heading(self, level: int, title: str) -> None:
        title = " ".join(title.split())
        if not title:
            return
        self._flush()
        while self._trail and self._trail[-1][0] >= level:
            self._trail.pop()
        self._trail.append((level, title))
        self._lines.append(title)

    def line(self, text: str) -> None:
        """Adds one line; an empty line separates paragraphs."""
        self._lines.append(text)

    def drop_last_line(self) -> str | None:
        """Takes back the last line (a Markdown setext heading is known one line late)."""
        return self._lines.pop() if self._lines else None

    def finish(self) -> list[Section]:
        self._flush()
        return self._sections

    def _flush(self) -> None:
        text = _EXTRA_BLANK_LINES.sub("\n\n", "\n".join(self._lines)).strip()
        if text:
            path = tuple(title for _, title in self._trail)
            self._sections.append(Section(text=text, heading_path=path))
        self._lines = []
