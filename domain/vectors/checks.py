"""Input checks shared by the adapters: vector shape, limits, records."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from domain.vectors.identifiers import chunk_key, uuid_text
from domain.vectors.port import ChunkRecord

MAX_LIMIT = 1000


def query_vector(vector: np.ndarray, dimension: int) -> np.ndarray:
    row = np.asarray(vector, dtype=np.float32).reshape(-1)
    if row.shape[0] != dimension:
        raise ValueError(f"query vector has dimension {row.shape[0]}; the store holds {dimension}")
    if not np.all(np.isfinite(row)) or not np.any(row):
        raise ValueError("query vector must be finite and non-zero")
    return row


def limit(value: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= MAX_LIMIT:
        raise ValueError(f"limit must be an integer between 1 and {MAX_LIMIT}, got {value!r}")
    return value


def records(batch: Sequence[ChunkRecord], dimension: int) -> list[ChunkRecord]:
    """The batch, checked, with the last record kept when an id repeats in it."""
    unique: dict[tuple[str, str], ChunkRecord] = {}
    for record in batch:
        workspace = uuid_text(record.workspace_id)
        uuid_text(record.document_id, "document id")
        vector = np.asarray(record.vector)
        if vector.shape != (dimension,):
            raise ValueError(
                f"chunk {record.chunk_id!r} has a vector of shape {vector.shape}; "
                f"the store holds dimension {dimension}"
            )
        if not np.all(np.isfinite(vector)):
            raise ValueError(f"chunk {record.chunk_id!r} has a non-finite vector")
        unique[(workspace, chunk_key(record.chunk_id))] = record
    return list(unique.values())
