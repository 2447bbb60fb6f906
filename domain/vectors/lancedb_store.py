"""LanceDB: the embedded default. One table per embedder, exact (flat) cosine search,
native BM25 full-text index, scalar indexes on the ids, periodic `optimize`.

Facts this relies on (lancedb 0.40, checked against its source and by the contract
tests): rows appended after the FTS index was built are searched too, by a flat scan
of the unindexed fragments, so a chunk is found by `text_search` as soon as `add`
returns; `optimize` folds them into the index. Filters are applied before ranking
(`prefilter=True`, the default, passed explicitly). Writes from another process are
seen after `read_consistency_interval` (0 = checked on every read). The library runs
its own background event loop: do not fork a process after using it.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

import lancedb
import numpy as np
import pyarrow as pa
from lancedb.index import FTS, BTree

from domain.vectors import checks
from domain.vectors.identifiers import uuid_text
from domain.vectors.naming import collection_name
from domain.vectors.port import ChunkRecord, VectorHit
from domain.vectors.threads import Serial, concurrent

logger = logging.getLogger(__name__)

HIT_COLUMNS = ["chunk_id", "document_id", "ordinal", "page", "heading", "text"]
SCALAR_INDEXED = ("workspace_id", "document_id", "chunk_id")


def chunk_schema(dimension: int, embedder_name: str) -> pa.Schema:
    return pa.schema(
        [
            pa.field("chunk_id", pa.string(), nullable=False),
            pa.field("workspace_id", pa.string(), nullable=False),
            pa.field("document_id", pa.string(), nullable=False),
            pa.field("ordinal", pa.int32(), nullable=False),
            pa.field("page", pa.int32(), nullable=True),
            pa.field("heading", pa.string(), nullable=False),
            pa.field("text", pa.string(), nullable=False),
            pa.field("vector", pa.list_(pa.float32(), dimension), nullable=False),
        ],
        metadata={"embedder": embedder_name, "dimension": str(dimension)},
    )


# Tries at creating the indexes of a new table that other writers are creating too.
INDEX_ATTEMPTS = 5


class LanceDBStore:
    def __init__(
        self,
        uri: str | Path,
        *,
        dimension: int,
        embedder_name: str,
        read_consistency_interval: timedelta | None = timedelta(0),
        cleanup_older_than: timedelta = timedelta(hours=1),
        optimize_every_writes: int = 200,
        optimize_every_rows: int = 12_800,
    ) -> None:
        """`optimize_every_writes`: after that many writes, or `optimize_every_rows` rows
        added, whichever comes first, `add` compacts the small fragments each write
        leaves and indexes the new rows (0 writes: only when `optimize` is called, e.g.
        by the maintenance job). Rows count too because writes vary in size, and the
        full-text search scans rows not yet indexed one by one (about 2 s at 50k)."""
        self._uri = str(uri)
        self._dimension = dimension
        self._embedder_name = embedder_name
        self._table_name = collection_name(embedder_name, dimension)
        self._schema = chunk_schema(dimension, embedder_name)
        self._consistency = read_consistency_interval
        self._retention = cleanup_older_than
        self._optimize_every = optimize_every_writes
        self._optimize_every_rows = optimize_every_rows
        self._writes = 0
        self._rows = 0
        self._table: Any = None
        self._open_lock = threading.Lock()
        # LanceDB is safe for concurrent reads; writes in one process go one at a time
        # (concurrent commits would only conflict and retry).
        self._writer = Serial()

    @property
    def table_name(self) -> str:
        return self._table_name

    async def add(self, records: Sequence[ChunkRecord]) -> None:
        # Checking and converting are per-row work: in a thread too, not on the loop.
        data = await concurrent(self._prepared, records)
        if data is not None:
            await self._writer.run(self._upsert, data)

    async def delete_document(self, workspace_id: uuid.UUID, document_id: uuid.UUID) -> None:
        where = self._where(workspace_id, document_id)
        await self._writer.run(self._delete, where)

    async def vector_search(
        self, workspace_id: uuid.UUID, vector: np.ndarray, limit: int
    ) -> list[VectorHit]:
        where = self._where(workspace_id)
        row = checks.query_vector(vector, self._dimension)
        checks.limit(limit)
        rows = await concurrent(self._vector_rows, where, row, limit)
        # cosine distance is 1 - similarity
        return [_hit(item, _clamp(1.0 - float(item["_distance"]))) for item in rows]

    async def text_search(self, workspace_id: uuid.UUID, query: str, limit: int) -> list[VectorHit]:
        where = self._where(workspace_id)
        checks.limit(limit)
        if not query.strip():
            return []
        rows = await concurrent(self._text_rows, where, query, limit)
        return [_hit(item, float(item["_score"])) for item in rows]

    async def document_ids(self, workspace_id: uuid.UUID | None = None) -> set[uuid.UUID]:
        where = None if workspace_id is None else self._where(workspace_id)
        values = await concurrent(self._distinct, "document_id", where)
        return {uuid.UUID(value) for value in values}

    async def workspace_ids(self) -> set[uuid.UUID]:
        values = await concurrent(self._distinct, "workspace_id", None)
        return {uuid.UUID(value) for value in values}

    async def count(self, workspace_id: uuid.UUID, document_id: uuid.UUID | None = None) -> int:
        where = self._where(workspace_id, document_id)
        return await concurrent(self._count, where)

    async def optimize(self) -> None:
        await self._writer.run(self._optimize)

    async def ping(self) -> bool:
        try:
            await concurrent(self._count, None)
        except Exception:
            logger.warning("LanceDB at %s is not answering", self._uri, exc_info=True)
            return False
        return True

    async def close(self) -> None:
        # The connection holds no server resources; dropping it lets files be closed.
        with self._open_lock:
            self._table = None

    # Everything below runs in a worker thread.

    def _open(self) -> Any:
        with self._open_lock:
            if self._table is None:
                Path(self._uri).mkdir(parents=True, exist_ok=True)
                db = lancedb.connect(self._uri, read_consistency_interval=self._consistency)
                table = db.create_table(self._table_name, schema=self._schema, exist_ok=True)
                self._check_schema(table.schema)
                self._ensure_indexes(table)
                self._table = table
            return self._table

    def _check_schema(self, found: pa.Schema) -> None:
        vector = found.field("vector").type
        size = getattr(vector, "list_size", None)
        if size != self._dimension:
            raise RuntimeError(
                f"LanceDB table {self._table_name} holds vectors of dimension {size}, "
                f"not {self._dimension}"
            )

    def _ensure_indexes(self, table: Any) -> None:
        # Replicas starting together on a new table race to create the same indexes, and
        # Lance refuses the losers ("Retryable commit conflict", or "already exists" when
        # the winner committed after the loser looked): look again at what exists and
        # create what is still missing.
        for attempt in range(1, INDEX_ATTEMPTS + 1):
            try:
                self._create_missing_indexes(table)
                return
            except Exception as error:  # lance raises a plain RuntimeError
                message = str(error).lower()
                raced = "commit conflict" in message or "already exists" in message
                if attempt == INDEX_ATTEMPTS or not raced:
                    raise
                logger.info("index creation raced another writer; looking again (%s)", error)
                time.sleep(0.05 * attempt)
                table.checkout_latest()

    def _create_missing_indexes(self, table: Any) -> None:
        present = {tuple(index.columns) for index in table.list_indices()}
        if ("text",) not in present:
            # Native (Lance) BM25 index; stemmed, lower-cased, English stop words removed.
            table.create_index("text", config=FTS(), replace=False)
        for column in SCALAR_INDEXED:
            if (column,) not in present:
                table.create_index(column, config=BTree(), replace=False)

    def _upsert(self, data: pa.Table) -> None:
        table = self._open()
        (
            table.merge_insert(["workspace_id", "chunk_id"])
            .when_matched_update_all()
            .when_not_matched_insert_all()
            .execute(data)
        )
        self._wrote(data.num_rows)

    def _delete(self, where: str) -> None:
        self._open().delete(where)
        self._wrote()

    def _wrote(self, rows: int = 0) -> None:
        self._writes += 1
        self._rows += rows
        if self._optimize_every and (
            self._writes >= self._optimize_every or self._rows >= self._optimize_every_rows
        ):
            self._optimize()

    def _optimize(self) -> None:
        self._open().optimize(cleanup_older_than=self._retention)
        self._writes = 0
        self._rows = 0

    def _vector_rows(self, where: str, vector: np.ndarray, limit: int) -> list[dict[str, Any]]:
        query = (
            self._open()
            .search(vector, vector_column_name="vector")
            .distance_type("cosine")
            .where(where, prefilter=True)
            .select([*HIT_COLUMNS, "_distance"])
            .limit(limit)
        )
        rows: list[dict[str, Any]] = query.to_arrow().to_pylist()
        return rows

    def _text_rows(self, where: str, text: str, limit: int) -> list[dict[str, Any]]:
        query = (
            self._open()
            .search(text, query_type="fts", fts_columns="text")
            .where(where, prefilter=True)
            .select([*HIT_COLUMNS, "_score"])
            .limit(limit)
        )
        rows: list[dict[str, Any]] = query.to_arrow().to_pylist()
        return rows

    def _distinct(self, column: str, where: str | None) -> set[str]:
        query = self._open().search().select([column]).limit(None)
        if where is not None:
            query = query.where(where)
        values = query.to_arrow().column(column)
        return {str(value) for value in values.unique().to_pylist()}

    def _count(self, where: str | None) -> int:
        return int(self._open().count_rows(where))

    def _prepared(self, records: Sequence[ChunkRecord]) -> pa.Table | None:
        batch = checks.records(records, self._dimension)
        return self._arrow(batch) if batch else None

    def _arrow(self, batch: list[ChunkRecord]) -> pa.Table:
        vectors = np.stack([np.asarray(r.vector, dtype=np.float32) for r in batch]).reshape(-1)
        columns = {
            "chunk_id": [r.chunk_id for r in batch],
            "workspace_id": [str(r.workspace_id) for r in batch],
            "document_id": [str(r.document_id) for r in batch],
            "ordinal": [r.ordinal for r in batch],
            "page": [r.page for r in batch],
            "heading": [r.heading for r in batch],
            "text": [r.text for r in batch],
            "vector": pa.FixedSizeListArray.from_arrays(pa.array(vectors), self._dimension),
        }
        return pa.table(columns, schema=self._schema)

    @staticmethod
    def _where(workspace_id: object, document_id: object | None = None) -> str:
        # Only canonical UUID text is ever spliced into the filter.
        where = f"workspace_id = '{uuid_text(workspace_id)}'"
        if document_id is not None:
            where += f" AND document_id = '{uuid_text(document_id, 'document id')}'"
        return where


def _hit(row: dict[str, Any], score: float) -> VectorHit:
    page = row["page"]
    return VectorHit(
        chunk_id=row["chunk_id"],
        document_id=uuid.UUID(row["document_id"]),
        ordinal=int(row["ordinal"]),
        page=None if page is None else int(page),
        heading=row["heading"],
        text=row["text"],
        score=score,
    )


def _clamp(similarity: float) -> float:
    return max(-1.0, min(1.0, similarity))
