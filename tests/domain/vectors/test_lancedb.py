"""LanceDB specifics: FTS freshness after appends, optimize, one table per embedder,
cross-process visibility, persistence."""

from __future__ import annotations

import asyncio
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import lancedb
import numpy as np

from domain.vectors.lancedb_store import LanceDBStore
from domain.vectors.port import ChunkRecord
from tests.domain.vectors.conftest import DIMENSION


def chunk(workspace: uuid.UUID, text: str, dimension: int = DIMENSION) -> ChunkRecord:
    document = uuid.uuid4()
    return ChunkRecord(
        chunk_id=f"{document}:0",
        workspace_id=workspace,
        document_id=document,
        ordinal=0,
        page=None,
        heading="",
        text=text,
        vector=np.ones(dimension, dtype=np.float32),
    )


def open_table(path: Path, store: LanceDBStore) -> lancedb.table.Table:
    return lancedb.connect(str(path)).open_table(store.table_name)


def unindexed_text_rows(path: Path, store: LanceDBStore) -> int:
    stats = open_table(path, store).index_stats("text_idx")
    assert stats is not None
    return int(stats.num_unindexed_rows)


async def test_appended_rows_are_searched_before_optimize_folds_them_in(tmp_path: Path) -> None:
    # given a table whose FTS index was built, then rows appended (auto-optimize off)
    store = LanceDBStore(tmp_path, dimension=DIMENSION, embedder_name="t", optimize_every_writes=0)
    workspace = uuid.uuid4()
    await store.add([chunk(workspace, "albatross")])
    await store.add([chunk(workspace, "cormorant")])

    # then the appended rows are not in the index yet, yet full text search finds them
    assert unindexed_text_rows(tmp_path, store) == 2
    assert len(await store.text_search(workspace, "cormorant", limit=5)) == 1

    # when optimize runs, they are folded into the index, and still found
    await store.optimize()
    assert unindexed_text_rows(tmp_path, store) == 0
    assert len(await store.text_search(workspace, "cormorant", limit=5)) == 1


async def test_the_indexes_exist_on_text_and_the_ids(tmp_path: Path) -> None:
    store = LanceDBStore(tmp_path, dimension=DIMENSION, embedder_name="t")
    await store.add([chunk(uuid.uuid4(), "x")])
    indexes = {tuple(i.columns): i.index_type for i in open_table(tmp_path, store).list_indices()}
    assert indexes == {
        ("text",): "FTS",
        ("workspace_id",): "BTree",
        ("document_id",): "BTree",
        ("chunk_id",): "BTree",
    }


async def test_writes_trigger_optimize_every_n_writes(tmp_path: Path) -> None:
    store = LanceDBStore(tmp_path, dimension=DIMENSION, embedder_name="t", optimize_every_writes=3)
    workspace = uuid.uuid4()
    await store.add([chunk(workspace, "one")])
    await store.add([chunk(workspace, "two")])
    assert unindexed_text_rows(tmp_path, store) == 2
    await store.add([chunk(workspace, "three")])
    assert unindexed_text_rows(tmp_path, store) == 0


async def test_optimize_removes_old_versions_past_the_retention(tmp_path: Path) -> None:
    store = LanceDBStore(
        tmp_path,
        dimension=DIMENSION,
        embedder_name="t",
        cleanup_older_than=timedelta(milliseconds=1),
        optimize_every_writes=0,
    )
    workspace = uuid.uuid4()
    for word in ("one", "two", "three"):
        await store.add([chunk(workspace, word)])
    before = len(open_table(tmp_path, store).list_versions())
    await asyncio.sleep(0.01)
    await store.optimize()
    # optimize adds commits of its own (compaction, index; how many varies with timing),
    # yet fewer versions are left than before: the old ones went
    assert len(open_table(tmp_path, store).list_versions()) < before
    assert await store.count(workspace) == 3


async def test_each_embedder_has_its_own_table(tmp_path: Path) -> None:
    # given stores for two embedders of different dimensions on one database
    small = LanceDBStore(tmp_path, dimension=4, embedder_name="model-a")
    large = LanceDBStore(tmp_path, dimension=16, embedder_name="model-b")
    same_size = LanceDBStore(tmp_path, dimension=4, embedder_name="model-c")
    workspace = uuid.uuid4()

    # when each is written
    await small.add([chunk(workspace, "a", 4)])
    await large.add([chunk(workspace, "b", 16)])
    await same_size.add([chunk(workspace, "c", 4)])

    # then their vectors never mix
    assert len({small.table_name, large.table_name, same_size.table_name}) == 3
    for store, text, dimension in ((small, "a", 4), (large, "b", 16), (same_size, "c", 4)):
        hits = await store.vector_search(workspace, np.ones(dimension), limit=5)
        assert [hit.text for hit in hits] == [text]


async def test_another_connection_sees_new_writes_at_once(tmp_path: Path) -> None:
    # given two stores on one directory, as two processes would have
    writer = LanceDBStore(tmp_path, dimension=DIMENSION, embedder_name="t")
    reader = LanceDBStore(tmp_path, dimension=DIMENSION, embedder_name="t")
    workspace = uuid.uuid4()
    await writer.add([chunk(workspace, "first")])
    assert await reader.count(workspace) == 1

    # when one writes again, the other sees it on its next read (consistency interval 0)
    await writer.add([chunk(workspace, "second")])
    assert await reader.count(workspace) == 2
    assert len(await reader.text_search(workspace, "second", limit=5)) == 1


async def test_data_survives_closing_and_reopening(tmp_path: Path) -> None:
    workspace = uuid.uuid4()
    store = LanceDBStore(tmp_path, dimension=DIMENSION, embedder_name="t")
    await store.add([chunk(workspace, "persistent")])
    await store.close()
    again = LanceDBStore(tmp_path, dimension=DIMENSION, embedder_name="t")
    assert await again.count(workspace) == 1


async def test_ping_is_false_when_the_directory_cannot_be_used(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    store = LanceDBStore(blocker / "lancedb", dimension=DIMENSION, embedder_name="t")
    assert await store.ping() is False


def test_defaults_read_other_writers_at_once_and_keep_an_hour_of_versions(tmp_path: Path) -> None:
    store = LanceDBStore(tmp_path, dimension=DIMENSION, embedder_name="t")
    assert store._consistency == timedelta(0)
    assert store._retention == timedelta(hours=1)


def test_stores_opening_a_new_table_at_once_all_come_up(tmp_path: Path) -> None:
    # given four stores (replicas starting together) on one empty directory, five times
    for attempt in range(5):
        path = tmp_path / f"attempt-{attempt}"
        stores = [LanceDBStore(path, dimension=DIMENSION, embedder_name="test") for _ in range(4)]
        start = threading.Barrier(len(stores))

        def first_count(store: LanceDBStore, start: threading.Barrier = start) -> int:
            start.wait()
            return asyncio.run(store.count(uuid.uuid4()))

        # when they open the table and create its indexes at the same moment
        with ThreadPoolExecutor(len(stores)) as pool:
            counts = list(pool.map(first_count, stores))

        # then every one of them answers (a lost race to create an index is retried)
        assert counts == [0, 0, 0, 0]
        present = {tuple(index.columns) for index in open_table(path, stores[0]).list_indices()}
        assert ("text",) in present
