"""build_vector_store: VECTOR_STORE and its location settings."""

from __future__ import annotations

from pathlib import Path

import pytest

from domain.settings import Settings
from domain.vectors.factory import build_vector_store
from domain.vectors.lancedb_store import LanceDBStore
from tests.domain.vectors.conftest import require_chroma


def settings(tmp_path: Path, **values: object) -> Settings:
    return Settings(_env_file=None, data_dir=tmp_path, **values)  # type: ignore[arg-type]


async def test_lancedb_is_the_default_under_the_data_dir(tmp_path: Path) -> None:
    store = build_vector_store(settings(tmp_path), 8, "wordllama:l2_supercat:256")
    assert isinstance(store, LanceDBStore)
    assert await store.ping()
    assert (tmp_path / "lancedb" / f"{store.table_name}.lance").is_dir()


async def test_lancedb_uri_setting(tmp_path: Path) -> None:
    store = build_vector_store(settings(tmp_path, lancedb_uri=str(tmp_path / "x")), 8, "e")
    assert await store.ping()
    assert (tmp_path / "x").is_dir()


async def test_chroma_embedded_and_server(tmp_path: Path) -> None:
    require_chroma()
    from domain.vectors.chroma_store import ChromaStore

    embedded = build_vector_store(settings(tmp_path, vector_store="chroma"), 8, "e")
    assert isinstance(embedded, ChromaStore)
    assert await embedded.ping()
    assert (tmp_path / "chroma").is_dir()
    server = build_vector_store(
        settings(tmp_path, vector_store="chroma", chroma_url="http://127.0.0.1:1"), 8, "e"
    )
    assert isinstance(server, ChromaStore)
    assert server._url == "http://127.0.0.1:1"


def test_collection_names_differ_per_embedder_and_dimension() -> None:
    from domain.vectors.naming import collection_name

    names = {
        collection_name("wordllama:l2_supercat:256", 256),
        collection_name("wordllama:l2_supercat:256", 128),
        collection_name("openai:text-embedding-3-small:1536", 1536),
        collection_name("openai:text_embedding_3_small:1536", 1536),  # same slug
    }
    assert len(names) == 4
    for name in names:
        assert name.startswith("chunks_") and name[-1].isalnum() and len(name) <= 63
    with pytest.raises(ValueError):
        collection_name("x", 0)
