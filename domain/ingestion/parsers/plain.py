"""Plain text: one section, no structure to keep."""

from __future__ import annotations

from pathlib import Path

from domain.ingestion.decoding import decode_document
from domain.ingestion.limits import ParseLimits
from domain.ingestion.section import Section


def parse_plain(path: Path, limits: ParseLimits) -> list[Section]:
    return [Section(text=decode_document(path.read_bytes()))]
