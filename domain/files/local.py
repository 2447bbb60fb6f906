"""Uploaded files in a local directory (the embedded default, or a shared volume)."""

from __future__ import annotations

import asyncio
import hashlib
import os
from collections.abc import AsyncIterator
from pathlib import Path

from uuid_utils.compat import uuid7

from domain.errors import BadUserInput, PayloadTooLarge
from domain.files.port import StoredFile

HEAD_BYTES = 8192


class LocalFileStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.root.mkdir(parents=True, exist_ok=True)

    async def save(self, chunks: AsyncIterator[bytes], *, max_bytes: int) -> StoredFile:
        key = uuid7().hex
        final = self.local_path(key)
        await asyncio.to_thread(final.parent.mkdir, exist_ok=True)
        partial = final.with_suffix(".part")
        digest = hashlib.sha256()
        size = 0
        head = b""
        handle = await asyncio.to_thread(open, partial, "wb")
        try:
            async for chunk in chunks:
                size += len(chunk)
                # Counted while reading: a lying Content-Length cannot get past the limit.
                if size > max_bytes:
                    raise PayloadTooLarge(
                        f"The file is larger than the limit of {max_bytes} bytes.", field="file"
                    )
                if len(head) < HEAD_BYTES:
                    head += chunk[: HEAD_BYTES - len(head)]
                digest.update(chunk)
                await asyncio.to_thread(handle.write, chunk)
            await asyncio.to_thread(handle.close)
            if size == 0:
                raise BadUserInput("The file is empty.", field="file")
            await asyncio.to_thread(os.replace, partial, final)
        except BaseException:
            handle.close()
            partial.unlink(missing_ok=True)
            raise
        return StoredFile(key=key, size_bytes=size, sha256=digest.hexdigest(), head=head)

    async def delete(self, key: str) -> None:
        await asyncio.to_thread(self.local_path(key).unlink, missing_ok=True)

    def local_path(self, key: str) -> Path:
        if not key.isalnum():  # keys are ours (hex); anything else is a bug or an attack
            raise ValueError(f"invalid file key {key!r}")
        return self.root / key[:2] / key

    async def keys(self) -> set[str]:
        def scan() -> set[str]:
            return {p.name for p in self.root.glob("*/*") if p.is_file() and p.suffix == ""}

        return await asyncio.to_thread(scan)
