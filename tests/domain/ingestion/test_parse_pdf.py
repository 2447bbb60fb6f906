"""PDFs: one section per page with its number; encrypted, textless and corrupt files
are refused with a reason the user can act on."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from domain.ingestion.detect import APPLICATION_PDF
from domain.ingestion.parsing import ParseError, Section, parse_file
from tests.domain.ingestion.files import encrypted_pdf_bytes, pdf_bytes


def write(tmp_path: Path, content: bytes, name: str = "doc.pdf") -> Path:
    path = tmp_path / name
    path.write_bytes(content)
    return path


def test_each_page_is_a_section_with_its_number(tmp_path: Path) -> None:
    # given a three-page PDF whose second page is blank
    path = write(tmp_path, pdf_bytes([["Hello world", "Second line"], [], ["Page (three)"]]))
    # when it is parsed
    sections = parse_file(path, APPLICATION_PDF)
    # then pages with text are sections numbered from 1
    assert sections == [
        Section(text="Hello world\nSecond line", page=1, heading_path=()),
        Section(text="Page (three)", page=3, heading_path=()),
    ]


def test_an_encrypted_pdf_is_refused(tmp_path: Path) -> None:
    # given a PDF that needs a password to open
    content = encrypted_pdf_bytes([["Secret"]], user_password="open-me", owner_password="own")
    path = write(tmp_path, content)
    # when it is parsed
    # then the user is told it is encrypted
    with pytest.raises(ParseError, match=r"^The PDF is encrypted"):
        parse_file(path, APPLICATION_PDF)


def test_a_pdf_locked_only_against_editing_is_read(tmp_path: Path) -> None:
    # given a PDF with an owner password but an empty user password (opens anywhere)
    content = encrypted_pdf_bytes([["Readable"]], user_password="", owner_password="own")
    path = write(tmp_path, content)
    # when it is parsed
    sections = parse_file(path, APPLICATION_PDF)
    # then its text is there
    assert [section.text for section in sections] == ["Readable"]


def test_a_pdf_without_text_needs_ocr(tmp_path: Path) -> None:
    # given a PDF whose pages draw nothing (as a scan without a text layer)
    path = write(tmp_path, pdf_bytes([[], []]))
    # when it is parsed
    # then the user is told why and what to do
    with pytest.raises(
        ParseError, match=r"^The PDF has no extractable text \(scanned images need OCR\)"
    ):
        parse_file(path, APPLICATION_PDF)


@pytest.mark.parametrize(
    "content",
    [
        os.urandom(4096),
        b"%PDF-1.4\n" + os.urandom(4096),
        pdf_bytes([["Cut short"]])[:200],
        b"",
    ],
    ids=["random", "pdf-header-then-garbage", "truncated", "empty"],
)
def test_a_corrupt_pdf_is_refused_with_a_reason(tmp_path: Path, content: bytes) -> None:
    # given garbage named x.pdf
    path = write(tmp_path, content, "x.pdf")
    # when it is parsed
    # then a ParseError explains it, and no library exception escapes raw
    with pytest.raises(ParseError) as caught:
        parse_file(path, APPLICATION_PDF)
    assert "PDF" in caught.value.message
