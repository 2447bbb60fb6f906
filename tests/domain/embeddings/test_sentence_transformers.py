"""The sentence-transformers adapter's wiring, with a stand-in for the library (the
extra pulls torch, which the test environment does not carry)."""

from __future__ import annotations

import sys
import types
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from domain.embeddings.port import EmbeddingRejected
from domain.embeddings.sentence_transformers import SentenceTransformerEmbedder


class FakeModel:
    opened: list[tuple[str, dict[str, Any]]] = []

    def __init__(self, path: str, **options: Any) -> None:
        FakeModel.opened.append((path, options))

    def get_sentence_embedding_dimension(self) -> int:
        return 4

    def encode(self, texts: list[str], **options: Any) -> np.ndarray:
        assert options["normalize_embeddings"] is True
        return np.array([[len(text), 1.0, 0.0, 0.0] for text in texts])


@pytest.fixture
def fake_library(monkeypatch: pytest.MonkeyPatch) -> None:
    module = types.ModuleType("sentence_transformers")
    module.SentenceTransformer = FakeModel  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "sentence_transformers", module)
    FakeModel.opened.clear()


@pytest.mark.usefixtures("fake_library")
async def test_opens_the_local_directory_without_downloads(tmp_path: Path) -> None:
    model_dir = tmp_path / "all-MiniLM-L6-v2"
    model_dir.mkdir()
    embedder = SentenceTransformerEmbedder(model_dir)

    assert FakeModel.opened == [(str(model_dir), {"device": "cpu", "local_files_only": True})]
    assert (embedder.name, embedder.dimension) == ("sentence-transformers:all-MiniLM-L6-v2:4", 4)
    vectors = await embedder.embed(["abc", "a"])
    assert vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0)
    with pytest.raises(EmbeddingRejected):
        await embedder.embed([" "])


@pytest.mark.usefixtures("fake_library")
def test_a_model_name_is_not_a_directory(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="never downloaded"):
        SentenceTransformerEmbedder("sentence-transformers/all-MiniLM-L6-v2")
    assert FakeModel.opened == []
