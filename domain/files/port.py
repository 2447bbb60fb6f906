"""The file store port: where uploaded bytes live until their document is deleted."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol


@dataclass(frozen=True, slots=True)
class StoredFile:
    key: str
    size_bytes: int
    sha256: str
    head: bytes  # the first bytes, for type detection


class FileStore(Protocol):
    async def save(self, chunks: AsyncIterator[bytes], *, max_bytes: int) -> StoredFile:
        """Store the stream; over `max_bytes` raises PayloadTooLarge and keeps nothing."""

    async def delete(self, key: str) -> None:
        """Remove the file; a missing file is not an error."""

    def local_path(self, key: str) -> Path:
        """A path parsers can open (the store is local or has cached the file)."""

    async def keys(self) -> set[str]:
        """Every stored key (for the retention job)."""
