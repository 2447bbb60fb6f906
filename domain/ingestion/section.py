"""The unit a parser produces: text with the location a citation needs."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Section:
    """A run of text from one place of a document.

    `page` is 1-based and only set by formats that have pages (PDF); `heading_path` is
    the chain of headings above the text (outermost first), empty when there is none.
    """

    text: str
    page: int | None = None
    heading_path: tuple[str, ...] = ()
