"""Turning one stored file into indexed passages: parse, chunk, embed, write."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta

from domain.embeddings.port import Embedder, TokenIdEmbedder
from domain.files.port import FileStore
from domain.ingestion.chunking import DEFAULT_CHUNK_TOKENS, DEFAULT_OVERLAP_TOKENS, Chunk
from domain.ingestion.errors import ParseError
from domain.ingestion.isolation import parse_and_chunk_in_subprocess
from domain.ingestion.tokens import TOKENIZER_CONFIG
from domain.vectors.port import ChunkRecord, VectorStore

# Rows per vector-store write. A write has a fixed cost (LanceDB: a merge against the
# table and a new fragment, about 20 ms), so embedding batches are written together.
WRITE_ROWS = 512


@dataclass(frozen=True, slots=True)
class IngestionLimits:
    lease: timedelta = timedelta(seconds=60)
    poll_seconds: float = 2.0
    max_attempts: int = 5
    retry_base_seconds: float = 5.0
    parse_timeout_seconds: float = 120.0
    parse_memory_limit_bytes: int | None = 2 * 1024**3
    chunk_tokens: int = DEFAULT_CHUNK_TOKENS
    chunk_overlap_tokens: int = DEFAULT_OVERLAP_TOKENS
    embed_batch_size: int = 64


@dataclass(frozen=True, slots=True)
class StoredDocument:
    workspace_id: uuid.UUID
    document_id: uuid.UUID
    storage_key: str
    media_type: str


async def index_document(
    document: StoredDocument,
    *,
    files: FileStore,
    embedder: Embedder,
    vectors: VectorStore,
    limits: IngestionLimits,
) -> int:
    """Returns the number of chunks written. Parsing and chunking run in a child
    process (they hold the GIL for long stretches, which the event loop and the
    embedding threads need), so the event loop is never held up by a large file."""
    # An embedder sharing the chunker's tokenizer takes the chunks' token ids: the text
    # is tokenized once, in the parsing child, where it had to be counted anyway.
    by_ids = (
        embedder
        if isinstance(embedder, TokenIdEmbedder) and embedder.tokenizer_config == TOKENIZER_CONFIG
        else None
    )
    chunks = await parse_and_chunk_in_subprocess(
        files.local_path(document.storage_key),
        document.media_type,
        timeout_seconds=limits.parse_timeout_seconds,
        memory_limit_bytes=limits.parse_memory_limit_bytes,
        max_tokens=limits.chunk_tokens,
        overlap_tokens=limits.chunk_overlap_tokens,
        token_ids=by_ids is not None,
    )
    if not chunks:
        raise ParseError("The file has no text.")
    # A previous attempt may have written part of the vectors; start clean. Counting is
    # a read; a delete is a write (a commit in LanceDB, in turn with every other write),
    # and a new document, the common case, has nothing to delete.
    if await vectors.count(document.workspace_id, document.document_id):
        await vectors.delete_document(document.workspace_id, document.document_id)
    size = limits.embed_batch_size
    pending: list[ChunkRecord] = []
    for start in range(0, len(chunks), size):
        batch = chunks[start : start + size]
        if by_ids is not None:
            embedded = await by_ids.embed_token_ids([chunk.token_ids for chunk in batch])
        else:
            embedded = await embedder.embed([chunk.text for chunk in batch])
        pending.extend(_records(document, batch, embedded))
        if len(pending) >= WRITE_ROWS:
            await vectors.add(pending)
            pending = []
    if pending:
        await vectors.add(pending)
    return len(chunks)


def _records(document: StoredDocument, batch: list[Chunk], embedded: object) -> list[ChunkRecord]:
    return [
        ChunkRecord(
            # Deterministic ids: a retried batch replaces, never duplicates.
            chunk_id=f"{document.document_id}:{chunk.ordinal}",
            workspace_id=document.workspace_id,
            document_id=document.document_id,
            ordinal=chunk.ordinal,
            page=chunk.page,
            heading=" > ".join(chunk.heading_path),
            text=chunk.text,
            vector=vector,
        )
        for chunk, vector in zip(batch, embedded, strict=True)  # type: ignore[call-overload]
    ]
