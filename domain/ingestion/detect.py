"""Which supported type a file is, decided from its bytes and its name.

The client's content type is never consulted: it is whatever the client says. The name
states what the user means and the bytes must agree; when the bytes are unmistakably a
PDF they win over the name.
"""

from __future__ import annotations

import zipfile
from pathlib import Path, PurePath
from types import MappingProxyType

from domain.ingestion.decoding import decode_prefix, looks_like_text

TEXT_PLAIN = "text/plain"
TEXT_MARKDOWN = "text/markdown"
TEXT_HTML = "text/html"
TEXT_CSV = "text/csv"
APPLICATION_JSON = "application/json"
APPLICATION_PDF = "application/pdf"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"

MEDIA_TYPE_BY_EXTENSION = MappingProxyType(
    {
        ".txt": TEXT_PLAIN,
        ".md": TEXT_MARKDOWN,
        ".markdown": TEXT_MARKDOWN,
        ".html": TEXT_HTML,
        ".htm": TEXT_HTML,
        ".csv": TEXT_CSV,
        ".json": APPLICATION_JSON,
        ".pdf": APPLICATION_PDF,
        ".docx": DOCX,
    }
)
SUPPORTED_EXTENSIONS = frozenset(MEDIA_TYPE_BY_EXTENSION)
SUPPORTED_MEDIA_TYPES = frozenset(MEDIA_TYPE_BY_EXTENSION.values())
TEXT_MEDIA_TYPES = frozenset({TEXT_PLAIN, TEXT_MARKDOWN, TEXT_HTML, TEXT_CSV, APPLICATION_JSON})

# How many leading bytes detection looks at (the file store keeps this many as `head`).
HEAD_BYTES = 8192
PDF_MAGIC = b"%PDF-"
# Acrobat accepts a PDF header anywhere in the first KiB; so do we, for .pdf names only.
_PDF_HEADER_WINDOW = 1024
ZIP_MAGIC = b"PK\x03\x04"
DOCX_MAIN_PART = "word/document.xml"

# Formats we refuse outright even if a lucky prefix happened to decode as text.
_REFUSED_MAGIC: tuple[bytes, ...] = (
    b"\x7fELF",  # Linux executables and libraries
    b"\xfe\xed\xfa\xce",  # Mach-O 32-bit
    b"\xfe\xed\xfa\xcf",  # Mach-O 64-bit
    b"\xce\xfa\xed\xfe",  # Mach-O 32-bit, little-endian
    b"\xcf\xfa\xed\xfe",  # Mach-O 64-bit, little-endian
    b"\xca\xfe\xba\xbe",  # Mach-O universal binary (and Java classes)
    b"\x89PNG\r\n\x1a\n",
    b"\xff\xd8\xff",  # JPEG
    b"GIF87a",
    b"GIF89a",
    b"II*\x00",  # TIFF, little-endian
    b"MM\x00*",  # TIFF, big-endian
)


def detect_media_type(head: bytes, filename: str) -> str | None:
    """The media type of a file from its first bytes (at least `HEAD_BYTES` of them when
    the file is that long) and its name; None when it is not a supported type."""
    if _is_refused_binary(head):
        return None
    claimed = MEDIA_TYPE_BY_EXTENSION.get(PurePath(filename).suffix.lower())
    if head.startswith(PDF_MAGIC):
        return APPLICATION_PDF
    if claimed == APPLICATION_PDF:
        # A .pdf name on other bytes is garbage or a disguise; either way not a PDF.
        return APPLICATION_PDF if PDF_MAGIC in head[:_PDF_HEADER_WINDOW] else None
    if head.startswith(ZIP_MAGIC):
        # Other zips (xlsx, pptx, jar, plain archives) are not supported.
        return DOCX if claimed == DOCX else None
    if claimed == DOCX:
        return None
    text = decode_prefix(head)
    if text is None or not looks_like_text(text):
        return None
    # Text under an unknown name (README, notes.log) is indexed as plain text.
    return claimed or TEXT_PLAIN


def detect_file_media_type(path: Path, filename: str) -> str | None:
    """Like `detect_media_type` for a stored file, and a DOCX must also be a zip holding
    the Word main part (only the zip's directory is read; nothing is inflated)."""
    with path.open("rb") as file:
        head = file.read(HEAD_BYTES)
    media_type = detect_media_type(head, filename)
    if media_type == DOCX and not _is_word_package(path):
        return None
    return media_type


def _is_refused_binary(head: bytes) -> bool:
    if head.startswith(_REFUSED_MAGIC):
        return True
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return True
    # "MZ" alone could start a sentence; a DOS/Windows executable header has NULs.
    return head.startswith(b"MZ") and b"\x00" in head[:64]


def _is_word_package(path: Path) -> bool:
    try:
        with zipfile.ZipFile(path) as archive:
            archive.getinfo(DOCX_MAIN_PART)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError):
        return False
    return True
