"""search(): the fusion rule wired to the rankers, the threshold and the modes."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import cast

import numpy as np
import pytest

from domain.retrieval.fusion import RRF_K
from domain.retrieval.search import SearchMode, search
from domain.vectors.port import VectorHit, VectorStore
from domain.workspaces.access import WorkspaceAccess
from domain.workspaces.models import Workspace, WorkspaceRole

DOCUMENT = uuid.uuid4()


def hit(chunk_id: str, score: float, text: str = "some words") -> VectorHit:
    return VectorHit(chunk_id, DOCUMENT, 0, None, "", text, score)


class FakeEmbedder:
    name = "fake:2"
    dimension = 2

    async def embed(self, texts: Sequence[str]) -> np.ndarray:
        return np.ones((len(texts), 2), dtype=np.float32) / np.sqrt(2)


class FakeStore:
    """Answers every query with the hits it was given, best first, up to the limit."""

    def __init__(self, vector: list[VectorHit], text: list[VectorHit]) -> None:
        self.vector, self.text = vector, text
        self.calls: list[str] = []

    async def vector_search(
        self, workspace_id: uuid.UUID, vector: np.ndarray, limit: int
    ) -> list[VectorHit]:
        self.calls.append("vector")
        return self.vector[:limit]

    async def text_search(self, workspace_id: uuid.UUID, query: str, limit: int) -> list[VectorHit]:
        self.calls.append("text")
        return self.text[:limit]


def ranked(vector: list[VectorHit], text: list[VectorHit]) -> tuple[VectorStore, FakeStore]:
    """The fake, typed as the port for `search`, and as itself for the assertions."""
    store = FakeStore(vector, text)
    return cast(VectorStore, store), store


def access(threshold: float = 0.0) -> WorkspaceAccess:
    workspace = Workspace(id=uuid.uuid4(), name="w", top_k=5, similarity_threshold=threshold)
    return WorkspaceAccess(workspace=workspace, user_id=uuid.uuid4(), role=WorkspaceRole.VIEWER)


def rrf(*ranks: int) -> float:
    return sum(1.0 / (RRF_K + rank) for rank in ranks)


async def test_without_a_literal_term_the_vectors_rank_and_bm25_follows() -> None:
    # given the vectors' ranking and BM25 matching their second passage and one more
    vectors, _ = ranked(
        vector=[hit("a", 0.8), hit("b", 0.6)],
        text=[hit("b", 7.0), hit("x", 5.0)],
    )
    # when a question without a literal term is searched
    passages = await search(
        access(), "How long until I see my money?", embedder=FakeEmbedder(), vectors=vectors
    )
    # then the vectors' order stands, BM25's own match follows, and scores say so
    assert [(p.hit.chunk_id, p.score, p.similarity) for p in passages] == [
        ("a", pytest.approx(rrf(1)), 0.8),
        ("b", pytest.approx(rrf(2)), 0.6),
        ("x", 0.0, None),
    ]


async def test_a_passage_holding_the_code_is_lifted_to_the_top() -> None:
    # given BM25 ranking first a match on "mean", then the passage with the code
    vectors, _ = ranked(
        vector=[hit("a", 0.3), hit("b", 0.2), hit("e17", 0.1, "Error E17: the kettle is dry.")],
        text=[hit("noise", 6.0, "What do the lights mean?"), hit("e17", 5.0, "Error E17: dry.")],
    )
    # when the code is searched
    passages = await search(
        access(), "What does E17 mean?", embedder=FakeEmbedder(), vectors=vectors
    )
    # then the passage holding it comes first, fused from both rankers
    assert [p.hit.chunk_id for p in passages] == ["e17", "a", "b", "noise"]
    assert passages[0].score == pytest.approx(rrf(3, 1))
    assert passages[0].similarity == 0.1


async def test_the_threshold_drops_weak_vector_matches() -> None:
    # given a vector match under the workspace's threshold, not found by BM25
    vectors, _ = ranked(vector=[hit("a", 0.8), hit("weak", 0.2)], text=[hit("x", 3.0)])
    # when searched
    passages = await search(access(0.5), "anything", embedder=FakeEmbedder(), vectors=vectors)
    # then it is gone, and BM25's match is kept
    assert [p.hit.chunk_id for p in passages] == ["a", "x"]


async def test_when_every_vector_match_is_too_weak_bm25_still_answers() -> None:
    vectors, _ = ranked(
        vector=[hit("weak", 0.1)],
        text=[hit("n", 4.0, "order it here"), hit("p", 3.0, "Order BR-5530 here")],
    )
    passages = await search(
        access(0.5), "Where can I order BR-5530?", embedder=FakeEmbedder(), vectors=vectors
    )
    assert [(p.hit.chunk_id, p.similarity) for p in passages] == [("p", None), ("n", None)]


async def test_text_mode_and_a_missing_embedder_keep_bm25_order() -> None:
    # given BM25 ranking a passage without the literal term above the one holding it
    vectors, store = ranked(
        vector=[hit("a", 0.9)],
        text=[hit("n", 6.0, "how does it work"), hit("p", 4.0, "Spendwise works so")],
    )
    query = "How does Spendwise work?"
    # when searched as TEXT, and without an embedder
    as_text = await search(
        access(), query, embedder=FakeEmbedder(), vectors=vectors, mode=SearchMode.TEXT
    )
    without = await search(access(), query, embedder=None, vectors=vectors)
    # then BM25's own order stands, with RRF scores, and the vectors are not asked
    for passages in (as_text, without):
        assert [(p.hit.chunk_id, p.score) for p in passages] == [
            ("n", pytest.approx(rrf(1))),
            ("p", pytest.approx(rrf(2))),
        ]
    assert store.calls == ["text", "text"]


async def test_vector_mode_ignores_bm25_and_limit_trims() -> None:
    vectors, store = ranked(vector=[hit(c, 0.9 - i / 10) for i, c in enumerate("abc")], text=[])
    passages = await search(
        access(), "E17", embedder=FakeEmbedder(), vectors=vectors, limit=2, mode=SearchMode.VECTOR
    )
    assert [p.hit.chunk_id for p in passages] == ["a", "b"]
    assert store.calls == ["vector"]
