"""Client ids are UUIDs; a malformed one names nothing, so it is simply not found."""

from __future__ import annotations

import uuid

from domain.errors import NotFound


def parse_id(value: str, what: str, field: str = "id") -> uuid.UUID:
    try:
        return uuid.UUID(str(value))
    except ValueError as error:
        raise NotFound(f"{what} not found.", field=field) from error
