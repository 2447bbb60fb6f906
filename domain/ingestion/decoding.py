"""Bytes to text for the text formats: UTF-8, or UTF-8/16/32 announced by a BOM."""

from __future__ import annotations

import codecs
import re

from domain.ingestion.errors import ParseError

# Longest BOMs first: the UTF-32 LE BOM starts with the UTF-16 LE one.
_BOMS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
# C0 controls that never appear in real text (tab, newlines and form feed do).
_BINARY_CONTROLS = re.compile(r"[\x00-\x08\x0e-\x1a\x1c-\x1f\x7f]")
# Past this share of control characters, a "text" is really binary data.
_MAX_CONTROL_SHARE = 0.01
NOT_TEXT = "The file is not UTF-8 text (nor UTF-16/32 with a byte-order mark)."


def encoding_of(data: bytes) -> str:
    """The codec a file's first bytes announce; UTF-8 when there is no BOM."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return encoding
    return "utf-8"


def decode_prefix(head: bytes) -> str | None:
    """Decodes the first bytes of a file, which may end inside a character; None if
    they are not text in the announced encoding."""
    decoder = codecs.getincrementaldecoder(encoding_of(head))()
    try:
        # final=False: a character cut at the end of the head is not an error.
        return decoder.decode(head, final=False)
    except UnicodeDecodeError:
        return None


def looks_like_text(text: str) -> bool:
    """No NUL and (almost) no other control characters: what binary data always has."""
    if "\x00" in text:
        return False
    controls = len(_BINARY_CONTROLS.findall(text))
    return controls <= len(text) * _MAX_CONTROL_SHARE


def decode_document(data: bytes) -> str:
    """The whole file as text with newlines normalised to \\n; ParseError if it is not."""
    try:
        text = data.decode(encoding_of(data))
    except UnicodeDecodeError:
        raise ParseError(NOT_TEXT) from None
    return text.replace("\r\n", "\n").replace("\r", "\n")
