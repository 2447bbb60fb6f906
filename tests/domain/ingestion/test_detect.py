"""Type detection trusts the bytes and the name, never a client's content type."""

from __future__ import annotations

import codecs
import os
import zipfile
from pathlib import Path

import pytest

from domain.ingestion.detect import (
    APPLICATION_JSON,
    APPLICATION_PDF,
    DOCX,
    SUPPORTED_EXTENSIONS,
    TEXT_CSV,
    TEXT_HTML,
    TEXT_MARKDOWN,
    TEXT_PLAIN,
    detect_file_media_type,
    detect_media_type,
)
from tests.domain.ingestion.files import ELF_HEAD, pdf_bytes, write_docx


@pytest.mark.parametrize(
    ("filename", "head", "expected"),
    [
        ("notes.txt", b"Hello, world.\n", TEXT_PLAIN),
        ("README.MD", b"# Title\n\nBody\n", TEXT_MARKDOWN),
        ("guide.markdown", b"Title\n=====\n", TEXT_MARKDOWN),
        ("page.html", b"<!doctype html><p>Hi</p>", TEXT_HTML),
        ("page.htm", b"<p>Hi</p>", TEXT_HTML),
        ("table.csv", b"name,age\nAda,36\n", TEXT_CSV),
        ("data.json", b'{"a": 1}', APPLICATION_JSON),
        ("report.pdf", pdf_bytes([["Hello"]]), APPLICATION_PDF),
        ("unicode.txt", "Grüße, 東京 🎉".encode(), TEXT_PLAIN),
        ("bom.txt", codecs.BOM_UTF8 + b"with a BOM", TEXT_PLAIN),
        ("utf16.txt", "UTF-16 text".encode("utf-16"), TEXT_PLAIN),
        ("empty.txt", b"", TEXT_PLAIN),
        # Text under an unknown or missing extension is still text.
        ("README", b"Plain words", TEXT_PLAIN),
        ("server.log", b"INFO started\n", TEXT_PLAIN),
        # The bytes of a PDF win over a name that says otherwise.
        ("misnamed.txt", b"%PDF-1.7\n\x00\x01binary", APPLICATION_PDF),
    ],
)
def test_supported_files_are_recognised(filename: str, head: bytes, expected: str) -> None:
    # when a file's first bytes and name are inspected
    detected = detect_media_type(head, filename)
    # then its type is the supported one
    assert detected == expected


@pytest.mark.parametrize(
    ("filename", "head"),
    [
        ("tool", ELF_HEAD),
        ("tool.txt", ELF_HEAD),
        ("setup.exe", b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff" + b"\x00" * 50),
        ("app", b"\xcf\xfa\xed\xfe\x07\x00\x00\x01" + b"\x00" * 24),
        ("photo.png", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"),
        ("photo.txt", b"\xff\xd8\xff\xe0\x00\x10JFIF"),
        ("anim.gif", b"GIF89a\x01\x00\x01\x00"),
        ("noise.txt", os.urandom(4096)),
        ("garbage.pdf", b"this is not a pdf at all"),
        ("garbage.pdf", os.urandom(2048)),
        ("nul.txt", b"text with a \x00 NUL"),
        ("controls.txt", bytes(range(1, 9)) * 100),
        ("latin1.txt", "café au lait".encode("latin-1")),
        ("archive.zip", b"PK\x03\x04" + b"\x00" * 30),
        ("sheet.xlsx", b"PK\x03\x04" + b"\x00" * 30),
        ("fake.docx", b"I am not a zip"),
    ],
)
def test_unsupported_or_disguised_files_are_refused(filename: str, head: bytes) -> None:
    # when binary, executable or disguised bytes are inspected
    detected = detect_media_type(head, filename)
    # then they are not a supported type
    assert detected is None


def test_a_character_cut_at_the_end_of_the_head_is_still_text() -> None:
    # given a head that ends in the middle of a multi-byte character
    head = ("é" * 10).encode()[:-1]
    # then it is text all the same
    assert detect_media_type(head, "cut.txt") == TEXT_PLAIN


def test_sentences_starting_like_magic_numbers_are_text() -> None:
    # given text whose first letters happen to be the DOS executable magic
    # then it is text, since a real executable header holds NUL bytes
    assert detect_media_type(b"MZ is a postcode prefix.", "notes.txt") == TEXT_PLAIN


def test_supported_extensions_list_every_format() -> None:
    assert {".txt", ".md", ".html", ".pdf", ".docx", ".csv", ".json"} <= SUPPORTED_EXTENSIONS


def test_a_stored_docx_must_hold_the_word_main_part(tmp_path: Path) -> None:
    # given a real DOCX and a zip named .docx without word/document.xml
    real = write_docx(tmp_path / "real.docx")
    fake = tmp_path / "fake.docx"
    with zipfile.ZipFile(fake, "w") as archive:
        archive.writestr("hello.txt", "not Word")
    # when the stored files are inspected
    # then only the real one is a DOCX (both look alike from the first bytes)
    assert detect_media_type(fake.read_bytes()[:8192], "fake.docx") == DOCX
    assert detect_file_media_type(real, "real.docx") == DOCX
    assert detect_file_media_type(fake, "fake.docx") is None


def test_a_stored_text_file_is_detected_from_disk(tmp_path: Path) -> None:
    path = tmp_path / "stored-under-a-key"
    path.write_text("a,b\n1,2\n")
    assert detect_file_media_type(path, "original.csv") == TEXT_CSV
