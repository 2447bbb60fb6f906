"""The wire format between the server and a parsing child: length-prefixed JSON.

JSON and not pickle: the child reads hostile files, so the server never unpickles
anything the child wrote.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import struct
from pathlib import Path
from typing import Any, BinaryIO

from domain.ingestion.chunking import Chunk
from domain.ingestion.errors import ParseError
from domain.ingestion.limits import ParseLimits
from domain.ingestion.section import Section

_LENGTH = struct.Struct(">Q")
LENGTH_BYTES = _LENGTH.size
READY = {"ready": True}
# Chunks come back in several frames of about this much text each, so the server
# decodes them a piece at a time (one large json.loads would hold the event loop).
CHUNK_FRAME_CHARS = 256 * 1024


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


def request(
    path: Path,
    media_type: str,
    limits: ParseLimits,
    chunking: tuple[int, int] | None = None,
    *,
    token_ids: bool = False,
) -> dict[str, object]:
    """A parse request; with `chunking` (max tokens, overlap tokens) the child also
    chunks the sections and answers with chunk frames (see `chunk_frames`), with each
    chunk's token ids when `token_ids`."""
    message: dict[str, object] = {
        "path": str(path),
        "media_type": media_type,
        "limits": dataclasses.asdict(limits),
    }
    if chunking is not None:
        message["chunking"] = list(chunking)
        if token_ids:
            message["token_ids"] = True
    return message


def parse_request(message: dict[str, Any]) -> tuple[Path, str, ParseLimits]:
    return Path(message["path"]), message["media_type"], ParseLimits(**message["limits"])


def chunking_of(message: dict[str, Any]) -> tuple[int, int] | None:
    """(max tokens, overlap tokens) when the request asks for chunks."""
    chunking = message.get("chunking")
    if chunking is None:
        return None
    max_tokens, overlap_tokens = chunking
    return int(max_tokens), int(overlap_tokens)


def wants_token_ids(message: dict[str, Any]) -> bool:
    return message.get("token_ids") is True


def chunk_frames(chunks: list[Chunk]) -> list[dict[str, object]]:
    """The reply to a chunking request: frames of about CHUNK_FRAME_CHARS of text, the
    last one marked `"more": false` (a file without chunks is one empty frame)."""
    frames: list[dict[str, object]] = []
    current: list[list[object]] = []
    size = 0
    for chunk in chunks:
        row: list[object] = [chunk.text, chunk.ordinal, chunk.page, list(chunk.heading_path)]
        if chunk.token_ids:
            row.append(base64.b64encode(chunk.token_ids).decode("ascii"))
        current.append(row)
        size += len(chunk.text)
        if size >= CHUNK_FRAME_CHARS:
            frames.append({"chunks": current, "more": True})
            current, size = [], 0
    frames.append({"chunks": current, "more": False})
    return frames


def parse_chunk_frame(message: dict[str, Any]) -> tuple[list[Chunk], bool]:
    """The chunks of one frame and whether more follow, or the ParseError it carries."""
    if "error" in message:
        raise ParseError(str(message["error"]))
    chunks = [
        Chunk(
            text=str(text),
            ordinal=int(ordinal),
            page=None if page is None else int(page),
            heading_path=tuple(str(title) for title in headings),
            token_ids=_token_ids(ids[0]) if ids else b"",
        )
        for text, ordinal, page, headings, *ids in message["chunks"]
    ]
    return chunks, bool(message["more"])


def _token_ids(encoded: object) -> bytes:
    try:
        raw = base64.b64decode(str(encoded), validate=True)
    except ValueError as error:
        raise ParseError("The parser sent token ids that could not be read.") from error
    if len(raw) % 2:
        raise ParseError("The parser sent token ids that could not be read.")
    return raw


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
