"""Indexing one stored file: the vectors written are the embedder's vectors of the chunks,
whether the embedder read the chunks' texts or their token ids from the parsing child."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import lancedb
import numpy as np
import pytest

from domain.documents.indexing import IngestionLimits, StoredDocument, index_document
from domain.embeddings.wordllama import WordLlamaEmbedder
from domain.files.local import LocalFileStore
from domain.ingestion.detect import TEXT_MARKDOWN
from domain.vectors.lancedb_store import LanceDBStore

TEXT = "\n\n".join(
    f"# Part {n}\n\nRefunds for order {n} take {n % 7 + 2} days. "
    "Shipping to Zürich and 東京 is tracked; 😀 replies come within a day.  Really."
    for n in range(40)
)
LIMITS = IngestionLimits(chunk_tokens=60, chunk_overlap_tokens=10)


class TextsOnly:
    """WordLlama seen only through the `Embedder` port: it takes texts, never ids."""

    def __init__(self, inner: WordLlamaEmbedder) -> None:
        self._inner = inner

    @property
    def name(self) -> str:
        return self._inner.name

    @property
    def dimension(self) -> int:
        return self._inner.dimension

    async def embed(self, texts: Sequence[str]) -> np.ndarray:
        return await self._inner.embed(texts)


@pytest.fixture
async def stored(tmp_path: Path) -> AsyncIterator[tuple[LocalFileStore, StoredDocument]]:
    files = LocalFileStore(tmp_path / "files")

    async def body() -> AsyncIterator[bytes]:
        yield TEXT.encode()

    saved = await files.save(body(), max_bytes=1 << 20)
    yield files, StoredDocument(uuid.uuid4(), uuid.uuid4(), saved.key, TEXT_MARKDOWN)


def written(path: Path, store: LanceDBStore) -> dict[str, np.ndarray]:
    rows = lancedb.connect(str(path)).open_table(store.table_name).to_arrow().to_pylist()
    return {row["text"]: np.asarray(row["vector"], dtype=np.float32) for row in rows}


@pytest.mark.parametrize("by_token_ids", [True, False])
async def test_the_vectors_written_are_the_embedders_vectors_of_the_chunks(
    tmp_path: Path, stored: tuple[LocalFileStore, StoredDocument], by_token_ids: bool
) -> None:
    # given a stored Markdown file and WordLlama, taking token ids or texts only
    files, document = stored
    wordllama = WordLlamaEmbedder()
    embedder = wordllama if by_token_ids else TextsOnly(wordllama)
    vectors = LanceDBStore(tmp_path / "lance", dimension=256, embedder_name=wordllama.name)

    # when it is indexed
    count = await index_document(
        document, files=files, embedder=embedder, vectors=vectors, limits=LIMITS
    )

    # then every chunk was written with exactly the vector of its text
    rows = written(tmp_path / "lance", vectors)
    assert count == len(rows) > 10
    expected = await wordllama.embed(list(rows))
    assert np.array_equal(np.stack(list(rows.values())), expected)
    await vectors.close()
