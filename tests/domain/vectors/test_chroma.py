"""Chroma specifics: it can never embed by itself, cosine space, telemetry off, and
the BM25 built on its full-text filter uses the workspace's own statistics."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.domain.vectors.conftest import DIMENSION, require_chroma


@pytest.fixture
def chroma(tmp_path: Path) -> Any:
    require_chroma()
    from domain.vectors.chroma_store import ChromaStore

    return ChromaStore(path=tmp_path / "chroma", dimension=DIMENSION, embedder_name="t")


def chunk(workspace: uuid.UUID, ordinal: int, text: str) -> Any:
    from domain.vectors.port import ChunkRecord

    document = uuid.uuid4()
    return ChunkRecord(
        chunk_id=f"{document}:{ordinal}",
        workspace_id=workspace,
        document_id=document,
        ordinal=ordinal,
        page=None,
        heading="",
        text=text,
        vector=np.ones(DIMENSION, dtype=np.float32),
    )


@pytest.mark.filterwarnings("ignore:legacy embedding function:DeprecationWarning")
async def test_the_collection_cannot_embed_text_by_itself(chroma: Any) -> None:
    # given the store's collection
    await chroma.add([chunk(uuid.uuid4(), 0, "x")])
    collection = chroma._open()

    # then it is cosine, has no embedding function, and text without vectors is refused
    assert collection.configuration["hnsw"]["space"] == "cosine"
    assert collection._embedding_function is None
    with pytest.raises(ValueError, match="embedding function"):
        collection.add(ids=["plain-text"], documents=["would need a model download"])
    assert chroma._client.get_settings().anonymized_telemetry is False


async def test_bm25_statistics_are_the_workspace_s_own(chroma: Any) -> None:
    # given a workspace where "apple" is rare and "pear" common, and a neighbour where
    # it is the other way round
    mine, theirs = uuid.uuid4(), uuid.uuid4()
    await chroma.add(
        [chunk(mine, 0, "apple pear"), chunk(mine, 1, "pear")]
        + [chunk(mine, i, f"pear filler{i}") for i in range(2, 12)]
    )
    await chroma.add([chunk(theirs, i, f"apple filler{i}") for i in range(50)])

    # when searching both words
    [best, *_] = await chroma.text_search(mine, "apple pear", limit=5)

    # then the chunk with the rare word wins, scored with this workspace's counts
    assert best.ordinal == 0
    hits = await chroma.text_search(mine, "apple", limit=5)
    assert [hit.ordinal for hit in hits] == [0]


async def test_text_search_matches_whole_analysed_words_only(chroma: Any) -> None:
    workspace = uuid.uuid4()
    await chroma.add([chunk(workspace, 0, "Catalogue of cats"), chunk(workspace, 1, "A category")])
    hits = await chroma.text_search(workspace, "cat", limit=5)
    assert [hit.ordinal for hit in hits] == [0]  # "cats" stems to "cat"; "category" does not


def test_urls_and_paths_are_checked(tmp_path: Path) -> None:
    require_chroma()
    from domain.vectors.chroma_store import ChromaStore

    with pytest.raises(ValueError):
        ChromaStore(dimension=4, embedder_name="t")
    with pytest.raises(ValueError):
        ChromaStore(dimension=4, embedder_name="t", path=tmp_path, url="http://x")
    with pytest.raises(ValueError):
        ChromaStore(dimension=4, embedder_name="t", url="file:///etc")


async def test_ping_is_false_when_no_server_answers() -> None:
    require_chroma()
    from domain.vectors.chroma_store import ChromaStore
    from tests.support.server import free_port

    store = ChromaStore(dimension=4, embedder_name="t", url=f"http://127.0.0.1:{free_port()}")
    assert await store.ping() is False
