"""Chroma (optional extra `chroma`): embedded (`PersistentClient`) or a `chroma run`
server (`HttpClient`). One collection per embedder, cosine HNSW, telemetry off.

Chroma is always handed vectors; the collection has no embedding function, so it can
never embed (or download a model) by itself.

Full text: single-node Chroma 1.x has no BM25 (`Collection.search` and sparse vectors
are Chroma Cloud only: "Search is not implemented for Local Chroma"). So each chunk's
Chroma *document* is its analysed form (Chroma's own BM25 tokenizer: lower case, stop
words out, Snowball stems), space padded; the original text is kept in the metadata.
A query term then matches with `where_document={"$contains": " term "}` (served by
Chroma's trigram full-text index) inside the workspace filter. That yields each term's
exact document frequency in the workspace, candidates are taken rarest term first up
to `candidate_cap`, and they are ranked here by Okapi BM25 (domain.vectors.bm25). N
is the workspace's chunk count (cached for `stats_ttl_seconds`, dropped when this
process writes to the workspace); avgdl is estimated from the candidates. With more
candidates than the cap, chunks holding only common terms may be missed; their BM25
would be low anyway. Cost: one filtered get() per query term, proportional to the
workspace's size (about 0.1 s per term at 20k chunks in one workspace, embedded, on
a 2-core machine).

Record ids are "<workspace>/<document>/<chunk id>", so ids alone answer counts and
document listings, and one tenant's write can never replace another tenant's row.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import chromadb
import numpy as np
from chromadb.config import Settings as ChromaSettings

from domain.vectors import analysis, bm25, checks
from domain.vectors.identifiers import uuid_text
from domain.vectors.naming import collection_name
from domain.vectors.port import ChunkRecord, VectorHit
from domain.vectors.threads import Serial, concurrent

logger = logging.getLogger(__name__)
T = TypeVar("T")

FETCH_BATCH = 1000  # ids per get() when fetching candidates


def record_id(workspace: str, document: str, chunk_id: str) -> str:
    return f"{workspace}/{document}/{chunk_id}"


def split_id(record: str) -> tuple[str, str]:
    """(workspace, document) of a record id."""
    workspace, document, _ = record.split("/", 2)
    return workspace, document


class ChromaStore:
    def __init__(
        self,
        *,
        dimension: int,
        embedder_name: str,
        path: str | Path | None = None,
        url: str | None = None,
        candidate_cap: int = 2000,
        stats_ttl_seconds: float = 30.0,
    ) -> None:
        if (path is None) == (url is None):
            raise ValueError("ChromaStore needs exactly one of path (embedded) or url (server)")
        if url is not None and urlsplit(url).scheme not in ("http", "https"):
            raise ValueError(f"CHROMA_URL must be an http(s) URL, got {url!r}")
        self._path = None if path is None else Path(path)
        self._url = url
        self._dimension = dimension
        self._embedder_name = embedder_name
        self._name = collection_name(embedder_name, dimension)
        self._candidate_cap = candidate_cap
        self._stats_ttl = stats_ttl_seconds
        self._sizes: dict[str, tuple[float, int]] = {}  # workspace -> (read at, chunks)
        self._collection: Any = None
        self._client: Any = None
        self._open_lock = threading.Lock()
        # Writes go one at a time. The embedded client (one SQLite file, HNSW files in
        # this process) also takes reads in turn; a server client is plain HTTP, and
        # reads run side by side.
        self._writes = Serial()
        self._reads = self._writes if url is None else None

    @property
    def collection_name(self) -> str:
        return self._name

    async def add(self, records: Sequence[ChunkRecord]) -> None:
        batch = checks.records(records, self._dimension)
        if batch:
            await self._writes.run(self._upsert, batch)

    async def delete_document(self, workspace_id: uuid.UUID, document_id: uuid.UUID) -> None:
        where = self._where(workspace_id, document_id)
        await self._writes.run(self._delete, where, uuid_text(workspace_id))

    async def vector_search(
        self, workspace_id: uuid.UUID, vector: np.ndarray, limit: int
    ) -> list[VectorHit]:
        where = self._where(workspace_id)
        row = checks.query_vector(vector, self._dimension)
        checks.limit(limit)
        found = await self._read(self._query, where, row, limit)
        return [
            _hit(metadata, _clamp(1.0 - float(distance)))
            for metadata, distance in zip(found["metadatas"][0], found["distances"][0], strict=True)
        ]

    async def text_search(self, workspace_id: uuid.UUID, query: str, limit: int) -> list[VectorHit]:
        where = self._where(workspace_id)
        workspace = uuid_text(workspace_id)
        checks.limit(limit)
        if not query.strip():
            return []
        return await self._read(self._bm25, workspace, where, query, limit)

    async def document_ids(self, workspace_id: uuid.UUID | None = None) -> set[uuid.UUID]:
        where = None if workspace_id is None else self._where(workspace_id)
        ids = await self._read(self._ids, where, None)
        return {uuid.UUID(split_id(record)[1]) for record in ids}

    async def workspace_ids(self) -> set[uuid.UUID]:
        ids = await self._read(self._ids, None, None)
        return {uuid.UUID(split_id(record)[0]) for record in ids}

    async def count(self, workspace_id: uuid.UUID, document_id: uuid.UUID | None = None) -> int:
        where = self._where(workspace_id, document_id)
        return len(await self._read(self._ids, where, None))

    async def optimize(self) -> None:
        # Chroma compacts its log and index on its own; nothing to schedule.
        return None

    async def ping(self) -> bool:
        try:
            await self._read(self._heartbeat)
        except Exception:
            logger.warning("Chroma (%s) is not answering", self._url or self._path, exc_info=True)
            return False
        return True

    async def close(self) -> None:
        # Chroma shares one embedded system per path among clients (another store of
        # this process may use it), so it is left to Chroma; only references go.
        with self._open_lock:
            self._collection = None
            self._client = None

    async def _read(self, function: Callable[..., T], *args: Any) -> T:
        if self._reads is not None:
            return await self._reads.run(function, *args)
        return await concurrent(function, *args)

    # Everything below runs in a worker thread.

    def _heartbeat(self) -> None:
        self._open()
        self._client.heartbeat()

    def _open(self) -> Any:
        with self._open_lock:
            if self._collection is None:
                settings = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
                if self._url is None:
                    assert self._path is not None
                    self._path.mkdir(parents=True, exist_ok=True)
                    client = chromadb.PersistentClient(path=str(self._path), settings=settings)
                else:
                    parts = urlsplit(self._url)
                    secure = parts.scheme == "https"
                    client = chromadb.HttpClient(
                        host=parts.hostname or "localhost",
                        port=parts.port or (443 if secure else 8000),
                        ssl=secure,
                        settings=settings,
                    )
                collection = client.get_or_create_collection(
                    self._name,
                    configuration={"hnsw": {"space": "cosine"}},
                    metadata={"embedder": self._embedder_name, "dimension": self._dimension},
                    embedding_function=None,
                )
                self._check(collection)
                self._client = client
                self._collection = collection
            return self._collection

    def _check(self, collection: Any) -> None:
        metadata = collection.metadata or {}
        with warnings.catch_warnings():
            # Chroma calls a collection without an embedding function "legacy"; that
            # absence is deliberate here.
            warnings.filterwarnings("ignore", "legacy embedding function", DeprecationWarning)
            space = (collection.configuration.get("hnsw") or {}).get("space")
        if metadata.get("dimension") != self._dimension or space != "cosine":
            raise RuntimeError(
                f"Chroma collection {self._name} was made for dimension "
                f"{metadata.get('dimension')} / space {space}, not {self._dimension} / cosine"
            )

    def _upsert(self, batch: list[ChunkRecord]) -> None:
        collection = self._open()
        ids = [record_id(str(r.workspace_id), str(r.document_id), r.chunk_id) for r in batch]
        self._drop_moved_chunks(collection, batch)
        step = max(1, int(self._client.get_max_batch_size()))
        for start in range(0, len(batch), step):
            part = batch[start : start + step]
            collection.upsert(
                ids=ids[start : start + step],
                embeddings=np.stack([np.asarray(r.vector, dtype=np.float32) for r in part]),
                documents=[analysis.indexed_form(r.text) for r in part],
                metadatas=[_metadata(r) for r in part],
            )
        for workspace in {str(r.workspace_id) for r in batch}:
            self._sizes.pop(workspace, None)

    def _drop_moved_chunks(self, collection: Any, batch: list[ChunkRecord]) -> None:
        """A chunk id is unique per workspace: re-added under another document, the old
        row goes (ids embed the document, so upsert alone would keep both)."""
        groups: dict[tuple[str, str], list[str]] = {}
        for r in batch:
            groups.setdefault((str(r.workspace_id), str(r.document_id)), []).append(r.chunk_id)
        for (workspace, document), chunk_ids in groups.items():
            collection.delete(
                where={
                    "$and": [
                        {"workspace_id": workspace},
                        {"chunk_id": {"$in": chunk_ids}},
                        {"document_id": {"$ne": document}},
                    ]
                }
            )

    def _delete(self, where: dict[str, Any], workspace: str) -> None:
        self._open().delete(where=where)
        self._sizes.pop(workspace, None)

    def _query(self, where: dict[str, Any], vector: np.ndarray, limit: int) -> dict[str, Any]:
        result: dict[str, Any] = self._open().query(
            query_embeddings=[vector],
            n_results=limit,
            where=where,
            include=["metadatas", "distances"],
        )
        return result

    def _ids(
        self, where: dict[str, Any] | None, where_document: dict[str, Any] | None
    ) -> list[str]:
        found = self._open().get(where=where, where_document=where_document, include=[])
        return list(found["ids"])

    def _workspace_size(self, workspace: str, where: dict[str, Any]) -> int:
        now = time.monotonic()
        cached = self._sizes.get(workspace)
        if cached is not None and now - cached[0] < self._stats_ttl:
            return cached[1]
        size = len(self._ids(where, None))
        self._sizes[workspace] = (now, size)
        return size

    def _bm25(
        self, workspace: str, where: dict[str, Any], query: str, limit: int
    ) -> list[VectorHit]:
        terms = analysis.query_terms(query)
        if not terms:
            return []
        matches = {term: self._ids(where, {"$contains": f" {term} "}) for term in terms}
        frequencies = {term: len(ids) for term, ids in matches.items()}
        candidates: dict[str, None] = {}
        for term in sorted(terms, key=lambda t: frequencies[t]):
            for record in matches[term]:
                if len(candidates) >= self._candidate_cap:
                    break
                candidates[record] = None
        if not candidates:
            return []
        documents, metadatas = self._fetch(list(candidates))
        token_lists = [document.split() for document in documents]
        corpus = bm25.Corpus(
            documents=max(self._workspace_size(workspace, where), len(token_lists)),
            average_length=sum(map(len, token_lists)) / len(token_lists),
            frequencies=frequencies,
        )
        scored = sorted(
            (
                (bm25.score(terms, tokens, corpus), metadata)
                for tokens, metadata in zip(token_lists, metadatas, strict=True)
            ),
            key=lambda pair: (-pair[0], pair[1]["chunk_id"]),
        )
        return [_hit(metadata, score) for score, metadata in scored[:limit] if score > 0]

    def _fetch(self, ids: list[str]) -> tuple[list[str], list[dict[str, Any]]]:
        documents: list[str] = []
        metadatas: list[dict[str, Any]] = []
        for start in range(0, len(ids), FETCH_BATCH):
            found = self._open().get(
                ids=ids[start : start + FETCH_BATCH], include=["documents", "metadatas"]
            )
            documents.extend(found["documents"])
            metadatas.extend(found["metadatas"])
        return documents, metadatas

    @staticmethod
    def _where(workspace_id: object, document_id: object | None = None) -> dict[str, Any]:
        workspace: dict[str, Any] = {"workspace_id": uuid_text(workspace_id)}
        if document_id is None:
            return workspace
        return {"$and": [workspace, {"document_id": uuid_text(document_id, "document id")}]}


def _metadata(record: ChunkRecord) -> dict[str, str | int | None]:
    return {
        "workspace_id": str(record.workspace_id),
        "document_id": str(record.document_id),
        "chunk_id": record.chunk_id,
        "ordinal": record.ordinal,
        # upsert merges metadata into an existing record's; None removes the key, so a
        # replaced chunk without a page does not keep the old one
        "page": record.page,
        "heading": record.heading,
        "text": record.text,
    }


def _hit(metadata: dict[str, Any], score: float) -> VectorHit:
    page = metadata.get("page")
    return VectorHit(
        chunk_id=str(metadata["chunk_id"]),
        document_id=uuid.UUID(str(metadata["document_id"])),
        ordinal=int(metadata["ordinal"]),
        page=None if page is None else int(page),
        heading=str(metadata.get("heading", "")),
        text=str(metadata.get("text", "")),
        score=score,
    )


def _clamp(similarity: float) -> float:
    return max(-1.0, min(1.0, similarity))
