"""The wire format between the server and a parsing child: length-prefixed JSON.

JSON and not pickle: the child reads hostile files, so the server never unpickles
anything the child wrote.
"""

from __future__ import annotations

import dataclasses
import json
import struct
from pathlib import Path
from typing import Any, BinaryIO

from domain.ingestion.errors import ParseError
from domain.ingestion.limits import ParseLimits
from domain.ingestion.section import Section

_LENGTH = struct.Struct(">Q")
LENGTH_BYTES = _LENGTH.size
READY = {"ready": True}


def frame(message: object) -> bytes:
    body = json.dumps(message, ensure_ascii=False).encode("utf-8")
    return _LENGTH.pack(len(body)) + body


def body_length(prefix: bytes) -> int:
    (length,) = _LENGTH.unpack(prefix)
    return int(length)


def decode(body: bytes) -> Any:
    return json.loads(body)


def read_frame(stream: BinaryIO) -> Any | None:
    """The next message from a blocking stream (the child's side); None at end of input."""
    prefix = stream.read(LENGTH_BYTES)
    if len(prefix) < LENGTH_BYTES:
        return None
    return decode(stream.read(body_length(prefix)))


def request(path: Path, media_type: str, limits: ParseLimits) -> dict[str, object]:
    return {"path": str(path), "media_type": media_type, "limits": dataclasses.asdict(limits)}


def parse_request(message: dict[str, Any]) -> tuple[Path, str, ParseLimits]:
    return Path(message["path"]), message["media_type"], ParseLimits(**message["limits"])


def success(sections: list[Section]) -> dict[str, object]:
    return {
        "sections": [
            [section.text, section.page, list(section.heading_path)] for section in sections
        ]
    }


def failure(message: str) -> dict[str, object]:
    return {"error": message}


def parse_response(message: dict[str, Any]) -> list[Section]:
    """The sections of a response, or the ParseError it carries."""
    if "error" in message:
        raise ParseError(str(message["error"]))
    return [
        Section(text=str(text), page=page, heading_path=tuple(str(title) for title in headings))
        for text, page, headings in message["sections"]
    ]
