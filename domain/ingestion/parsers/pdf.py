"""PDF: the text of each page (pypdf), one section per page for page citations."""

from __future__ import annotations

from pathlib import Path

from pypdf import PasswordType, PdfReader

from domain.ingestion.errors import ParseError
from domain.ingestion.limits import ParseLimits
from domain.ingestion.section import Section

ENCRYPTED = "The PDF is encrypted; upload a copy without a password."
NO_TEXT = (
    "The PDF has no extractable text (scanned images need OCR); upload a PDF with a text layer."
)
CORRUPT = "The PDF could not be read; it is corrupt or not really a PDF."


def parse_pdf(path: Path, limits: ParseLimits) -> list[Section]:
    try:
        reader = PdfReader(path)
    except Exception as error:
        raise ParseError(CORRUPT) from error
    if reader.is_encrypted and not _opens_without_password(reader):
        raise ParseError(ENCRYPTED)
    sections: list[Section] = []
    try:
        pages = list(reader.pages)
    except Exception as error:
        raise ParseError(CORRUPT) from error
    for number, page in enumerate(pages, start=1):
        try:
            text = page.extract_text()
        except Exception as error:
            # Failing loudly beats indexing the document with a page silently missing.
            raise ParseError(
                f"Page {number} of the PDF could not be read; it may be corrupt."
            ) from error
        if text.strip():
            sections.append(Section(text=text, page=number))
    if not sections:
        raise ParseError(NO_TEXT)
    return sections


def _opens_without_password(reader: PdfReader) -> bool:
    # Many PDFs are "encrypted" only with an owner password (no printing, no copying)
    # and open for anyone with the empty user password, as in every viewer.
    try:
        return reader.decrypt("") != PasswordType.NOT_DECRYPTED
    except Exception:
        return False
