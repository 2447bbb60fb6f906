"""Ids on their way into filter expressions: only canonical UUID text gets through."""

from __future__ import annotations

import uuid


class InvalidIdentifier(ValueError):
    """An id that is not a UUID reached a store; a bug upstream, never user input."""


def uuid_text(value: object, what: str = "workspace id") -> str:
    """The canonical form (32 hex digits and 4 dashes), which is inert in any filter
    language. Accepts a UUID, or a string that is exactly a canonical UUID."""
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, str) and len(value) == 36:
        try:
            parsed = uuid.UUID(value)
        except ValueError:
            pass
        else:
            if str(parsed) == value.lower():
                return str(parsed)
    raise InvalidIdentifier(f"{what} must be a UUID, got {value!r:.80}")


def chunk_key(chunk_id: object) -> str:
    """Chunk ids are data, never spliced into filters; they still must be sane."""
    if not isinstance(chunk_id, str) or not chunk_id or len(chunk_id) > 512:
        raise InvalidIdentifier(f"chunk id must be a non-empty string, got {chunk_id!r:.80}")
    if not chunk_id.isprintable():
        raise InvalidIdentifier("chunk id must be printable text")
    return chunk_id
