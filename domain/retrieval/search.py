"""Retrieval for a workspace: vector similarity and BM25, fused by reciprocal rank, with
BM25 voting only where the query holds a literal term (see `domain.retrieval.fusion`)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from domain.embeddings.port import Embedder
from domain.errors import BadUserInput
from domain.retrieval.fusion import hybrid_fusion, literal_matcher, literal_terms
from domain.vectors.port import VectorHit, VectorStore
from domain.workspaces.access import WorkspaceAccess

MAX_QUERY_CHARS = 2000
MAX_LIMIT = 50
# Each ranker looks deeper than the final limit, so fusion has candidates to agree on.
CANDIDATE_FACTOR = 4


class SearchMode(StrEnum):
    HYBRID = "HYBRID"
    VECTOR = "VECTOR"
    TEXT = "TEXT"


@dataclass(frozen=True, slots=True)
class Passage:
    hit: VectorHit
    score: float
    similarity: float | None  # cosine similarity when the vector ranker found it


async def search(
    access: WorkspaceAccess,
    query: str,
    *,
    embedder: Embedder | None,
    vectors: VectorStore,
    limit: int | None = None,
    mode: SearchMode = SearchMode.HYBRID,
) -> list[Passage]:
    """`access` is the proof of membership: the workspace filter comes from it, never
    from the client. The workspace's similarity threshold drops weak vector matches;
    BM25 matches share words with the query and are kept. In HYBRID mode BM25 ranks,
    alongside the vectors, only the passages holding a literal term of the query (a
    code, a number, a name); its other matches follow the fused ones (`hybrid_fusion`).
    Without an embedder (the one that made the vectors is unavailable here) only full
    text is searched, in BM25 order."""
    query = query.strip()
    if not query:
        raise BadUserInput("The query is empty.", field="query")
    if len(query) > MAX_QUERY_CHARS:
        raise BadUserInput(f"The query is longer than {MAX_QUERY_CHARS} characters.", field="query")
    workspace = access.workspace
    limit = workspace.top_k if limit is None else limit
    if not 1 <= limit <= MAX_LIMIT:
        raise BadUserInput(f"limit must be between 1 and {MAX_LIMIT}.", field="limit")
    depth = limit * CANDIDATE_FACTOR
    vector_hits: list[VectorHit] = []
    text_hits: list[VectorHit] = []
    if embedder is None:
        mode = SearchMode.TEXT
    if mode is not SearchMode.TEXT:
        assert embedder is not None
        [query_vector] = await embedder.embed([query])
        vector_hits = await vectors.vector_search(access.workspace_id, query_vector, depth)
        threshold = workspace.similarity_threshold
        vector_hits = [hit for hit in vector_hits if hit.score >= threshold]
    if mode is not SearchMode.VECTOR:
        text_hits = await vectors.text_search(access.workspace_id, query, depth)
    by_id = {hit.chunk_id: hit for hit in text_hits}
    similarity = {hit.chunk_id: hit.score for hit in vector_hits}
    by_id.update({hit.chunk_id: hit for hit in vector_hits})
    if mode is SearchMode.HYBRID:
        holds_literal = literal_matcher(literal_terms(query))
        literal = {hit.chunk_id for hit in text_hits if holds_literal(hit.text)}
    else:  # a ranker alone keeps its own order
        literal = {hit.chunk_id for hit in text_hits}
    fused = hybrid_fusion(
        [hit.chunk_id for hit in vector_hits], [hit.chunk_id for hit in text_hits], literal
    )
    return [
        Passage(hit=by_id[chunk_id], score=score, similarity=similarity.get(chunk_id))
        for chunk_id, score in fused[:limit]
    ]
