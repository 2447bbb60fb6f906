"""`parse_file`: a stored file to sections, or a ParseError a user can read.

This is what runs inside the parsing child process (see isolation.py); whatever a
parsing library raises becomes a ParseError here, so nothing raw crosses back.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from types import MappingProxyType

from domain.ingestion import detect
from domain.ingestion.errors import ParseError
from domain.ingestion.limits import DEFAULT_LIMITS, ParseLimits
from domain.ingestion.parsers.csv_rows import parse_csv
from domain.ingestion.parsers.docx import parse_docx
from domain.ingestion.parsers.html_page import parse_html
from domain.ingestion.parsers.json_paths import parse_json
from domain.ingestion.parsers.markdown import parse_markdown
from domain.ingestion.parsers.pdf import parse_pdf
from domain.ingestion.parsers.plain import parse_plain
from domain.ingestion.section import Section

__all__ = ["NO_TEXT", "ParseError", "Section", "parse_file"]

logger = logging.getLogger(__name__)

Parser = Callable[[Path, ParseLimits], list[Section]]
_PARSERS: Mapping[str, Parser] = MappingProxyType(
    {
        detect.TEXT_PLAIN: parse_plain,
        detect.TEXT_MARKDOWN: parse_markdown,
        detect.TEXT_HTML: parse_html,
        detect.TEXT_CSV: parse_csv,
        detect.APPLICATION_JSON: parse_json,
        detect.APPLICATION_PDF: parse_pdf,
        detect.DOCX: parse_docx,
    }
)
_LABELS: Mapping[str, str] = MappingProxyType(
    {
        detect.TEXT_PLAIN: "text",
        detect.TEXT_MARKDOWN: "Markdown",
        detect.TEXT_HTML: "HTML",
        detect.TEXT_CSV: "CSV",
        detect.APPLICATION_JSON: "JSON",
        detect.APPLICATION_PDF: "PDF",
        detect.DOCX: "DOCX",
    }
)
NO_TEXT = "The file has no text."
TOO_MUCH_MEMORY = "The file needs more memory to parse than is allowed; it was skipped."
TOO_DEEP = "The file is nested too deeply to parse."
# Characters no text needs and some stores reject (PostgreSQL refuses NUL in text):
# C0 controls other than tab/newlines/form feed, DEL, and lone UTF-16 surrogates.
_UNWANTED = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f\ud800-\udfff]")


def parse_file(
    path: Path, media_type: str, *, limits: ParseLimits = DEFAULT_LIMITS
) -> list[Section]:
    """The sections of a file of a detected media type (see detect.py)."""
    parser = _PARSERS.get(media_type)
    if parser is None:
        raise ParseError(f"Files of type {media_type} are not supported.")
    try:
        sections = parser(path, limits)
    except ParseError:
        raise
    except MemoryError:
        raise ParseError(TOO_MUCH_MEMORY) from None
    except RecursionError:
        raise ParseError(TOO_DEEP) from None
    except Exception as error:
        # A library bug or an input it chokes on: the user gets the gist, the log the rest.
        logger.warning("parsing a %s file failed", media_type, exc_info=True)
        label = _LABELS[media_type]
        raise ParseError(
            f"The {label} file could not be read ({type(error).__name__}); it may be corrupt."
        ) from error
    cleaned = [section for section in map(_clean, sections) if section.text]
    if not cleaned:
        raise ParseError(NO_TEXT)
    return cleaned


def _clean(section: Section) -> Section:
    text = _UNWANTED.sub("", section.text).strip()
    return Section(text=text, page=section.page, heading_path=section.heading_path)
