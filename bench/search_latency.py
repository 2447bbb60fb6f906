"""Search latency at 100k chunks in one workspace: LanceDB and Chroma, next to numpy.

    /work/venv/bin/python bench/search_latency.py                  # 4-6 min (Chroma loading)
    /work/venv/bin/python bench/search_latency.py --skip-chroma    # LanceDB only, ~1 minute
    /work/venv/bin/python bench/search_latency.py --chunks 20000   # quicker, both stores

One process, the stores embedded in a temporary directory and queried through the
application's own adapters (``domain.vectors.lancedb_store.LanceDBStore``, and
``domain.vectors.chroma_store.ChromaStore`` on an embedded ``PersistentClient``), so each
figure includes what the app pays per call: the filter on the workspace, the hop to a
worker thread, turning rows into hits.

The corpus is generated: ``--chunks`` random unit vectors of the WordLlama dimension
(256), each with a text of ``--words`` words drawn from a Zipf-distributed synthetic
vocabulary (so BM25 sees rare and common terms), 100 chunks per document, all in one
workspace. Loading is timed: LanceDB through ``add`` (batches of ``--batch``), then one
``optimize`` so that the full-text and scalar indexes cover every row, as the maintenance
job would leave them; Chroma in its adapter's stored form (ids, analysed text as the
Chroma document, metadata) written straight into the collection in batches of
``--chroma-batch`` (``ChromaStore.add`` would also run, per batch, a delete of chunks
moved between documents: a no-op for fresh ids that costs about a second per batch at
this size).

The baseline is an exact scan in numpy over the same vectors in the same run
(``matrix @ q``, then ``argpartition``). Each store's recall@10 is measured against it on
two query sets, interleaved:

* ``uniform``: random unit vectors, drawn like the data (the worst case for an ANN
  index: in 256 dimensions every point is nearly equidistant from every other);
* ``near``: a stored vector plus noise (cosine about 0.8 to it), like a question that
  resembles one passage; "near top-1" is how often that passage comes first.

Numpy, LanceDB and Chroma take turns on slices of 10 queries, so machine drift touches
them alike. Chroma's vector queries stop after ``--vector-budget`` seconds and its text
queries after ``--text-budget`` seconds (its BM25 is one filtered scan per query term).
Text search (BM25) p50/p99 is measured on 2-3 word queries. The last line gives each
store's p50 over numpy's p50, its recall@10 and its text-search p50.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

DIMENSION = 256  # WordLlama l2_supercat, the default embedder
EMBEDDER_NAME = "wordllama:l2_supercat:256"
CHUNKS_PER_DOCUMENT = 100
LIMIT = 10
SLICE = 10  # queries per turn
VOCABULARY = 20_000
SYLLABLES = [consonant + vowel for consonant in "bcdfgklmnprstvz" for vowel in "aeiou"]


# --------------------------------------------------------------------------- corpus


def vocabulary(rng: np.random.Generator) -> list[str]:
    words: dict[str, None] = {}
    while len(words) < VOCABULARY:
        count = int(rng.integers(2, 5))
        words["".join(SYLLABLES[i] for i in rng.integers(0, len(SYLLABLES), count))] = None
    return list(words)


def texts(rng: np.random.Generator, words: list[str], chunks: int, length: int) -> list[str]:
    # Zipf-like ranks (a = 1.1), folded into the vocabulary.
    ranks = (rng.zipf(1.1, size=chunks * length) - 1) % len(words)
    table = np.array(words, dtype=object)
    drawn = table[ranks].reshape(chunks, length)
    return [" ".join(row) for row in drawn]


def unit_rows(rng: np.random.Generator, rows: int) -> np.ndarray:
    matrix = rng.standard_normal((rows, DIMENSION), dtype=np.float32)
    matrix /= np.linalg.norm(matrix, axis=1, keepdims=True)
    return matrix


def near_queries(rng: np.random.Generator, matrix: np.ndarray, count: int) -> np.ndarray:
    picked = matrix[rng.choice(matrix.shape[0], size=count, replace=False)]
    # Noise of norm 0.75 on a unit vector: cosine about 0.8 to the stored row.
    noise = unit_rows(rng, count) * 0.75
    queries = picked + noise
    return queries / np.linalg.norm(queries, axis=1, keepdims=True)


def text_queries(rng: np.random.Generator, words: list[str], count: int) -> list[str]:
    # Words of middle rank: present in the corpus, neither everywhere nor nowhere.
    middle = words[20:2000]
    return [
        " ".join(middle[int(i)] for i in rng.integers(0, len(middle), int(rng.integers(2, 4))))
        for _ in range(count)
    ]


def records(workspace: uuid.UUID, matrix: np.ndarray, bodies: list[str]) -> list[Any]:
    from domain.vectors.port import ChunkRecord

    documents = [uuid.uuid4() for _ in range(-(-len(bodies) // CHUNKS_PER_DOCUMENT))]
    out = []
    for row, text in enumerate(bodies):
        document = documents[row // CHUNKS_PER_DOCUMENT]
        ordinal = row % CHUNKS_PER_DOCUMENT
        out.append(
            ChunkRecord(
                chunk_id=f"{document}:{ordinal}",
                workspace_id=workspace,
                document_id=document,
                ordinal=ordinal,
                page=None,
                heading="",
                text=text,
                vector=matrix[row],
            )
        )
    return out


# --------------------------------------------------------------------------- measuring


def exact_top(matrix: np.ndarray, query: np.ndarray, limit: int = LIMIT) -> np.ndarray:
    scores = matrix @ query
    top = np.argpartition(-scores, limit)[:limit]
    return top[np.argsort(-scores[top])]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def summary(values: list[float]) -> str:
    return (
        f"p50 {statistics.median(values) * 1000:7.2f} ms  "
        f"p99 {percentile(values, 99) * 1000:7.2f} ms  (n={len(values)})"
    )


async def load(store: Any, rows: list[Any], batch: int, label: str) -> float:
    start = time.perf_counter()
    for offset in range(0, len(rows), batch):
        await store.add(rows[offset : offset + batch])
        done = min(offset + batch, len(rows))
        if done % (batch * 10) == 0 or done == len(rows):
            rate = done / (time.perf_counter() - start)
            print(f"  {label}: {done} rows ({rate:.0f} rows/s)", file=sys.stderr, flush=True)
    return time.perf_counter() - start


def chroma_bulk_load(store: Any, rows: list[Any], batch: int) -> float:
    """The adapter's own stored form (ids, analysed text as the document, metadata),
    written straight into its collection: `ChromaStore.add` would first run a delete
    per batch for chunks moved between documents, a no-op for fresh ids that costs
    seconds per batch at this size (reported separately, see the README)."""
    from domain.vectors import analysis
    from domain.vectors.chroma_store import _metadata, record_id

    collection = store._open()
    batch = min(batch, int(store._client.get_max_batch_size()))
    start = time.perf_counter()
    for offset in range(0, len(rows), batch):
        part = rows[offset : offset + batch]
        collection.upsert(
            ids=[record_id(str(r.workspace_id), str(r.document_id), r.chunk_id) for r in part],
            embeddings=np.stack([r.vector for r in part]),
            documents=[analysis.indexed_form(r.text) for r in part],
            metadatas=[_metadata(r) for r in part],
        )
        done = offset + len(part)
        if done % (batch * 4) == 0 or done == len(rows):
            rate = done / (time.perf_counter() - start)
            print(f"  chroma: {done} rows ({rate:.0f} rows/s)", file=sys.stderr, flush=True)
    return time.perf_counter() - start


async def timed(call: Awaitable[Any]) -> tuple[float, Any]:
    """Seconds from here to the coroutine's result (it starts running when awaited)."""
    start = time.perf_counter()
    result = await call
    return time.perf_counter() - start, result


async def run(args: argparse.Namespace, tmp: Path) -> int:
    from domain.vectors.lancedb_store import LanceDBStore

    began = time.perf_counter()
    load_before = os.getloadavg()[0]
    rng = np.random.default_rng(args.seed)
    print(f"generating {args.chunks} chunks of {args.words} words...", file=sys.stderr)
    words = vocabulary(rng)
    matrix = unit_rows(rng, args.chunks)
    bodies = texts(rng, words, args.chunks, args.words)
    workspace = uuid.uuid4()
    rows = records(workspace, matrix, bodies)
    index_of = {row.chunk_id: n for n, row in enumerate(rows)}
    query_sets = {
        "uniform": unit_rows(rng, args.queries // 2),
        "near": near_queries(rng, matrix, args.queries - args.queries // 2),
    }
    words_queries = text_queries(rng, words, args.queries)

    stores: dict[str, Any] = {
        "lancedb": LanceDBStore(
            tmp / "lancedb",
            dimension=DIMENSION,
            embedder_name=EMBEDDER_NAME,
            optimize_every_writes=0,  # optimised once, after loading (the maintenance job)
        )
    }
    load_seconds: dict[str, float] = {}
    load_seconds["lancedb"] = await load(stores["lancedb"], rows, args.batch, "lancedb")
    optimized = time.perf_counter()
    await stores["lancedb"].optimize()
    optimize_seconds = time.perf_counter() - optimized
    load_seconds["lancedb"] += optimize_seconds
    if not args.skip_chroma:
        from domain.vectors.chroma_store import ChromaStore

        stores["chroma"] = ChromaStore(
            path=tmp / "chroma", dimension=DIMENSION, embedder_name=EMBEDDER_NAME
        )
        load_seconds["chroma"] = await asyncio.to_thread(
            chroma_bulk_load, stores["chroma"], rows, args.chroma_batch
        )
    for name, store in stores.items():
        counted = await store.count(workspace)
        assert counted == args.chunks, f"{name} holds {counted} rows, not {args.chunks}"

    # Warm-up: first queries open files, load indexes and fill caches.
    warm = unit_rows(rng, 5)
    for query in warm:
        exact_top(matrix, query)
        for store in stores.values():
            await store.vector_search(workspace, query, LIMIT)
            await store.text_search(workspace, words_queries[0], LIMIT)

    latency: dict[str, list[float]] = {"numpy": [], **{name: [] for name in stores}}
    recall: dict[str, dict[str, list[float]]] = {
        name: {kind: [] for kind in query_sets} for name in stores
    }
    top1: dict[str, list[bool]] = {name: [] for name in stores}
    # Both sets interleaved, then taken in slices: numpy, LanceDB and Chroma take turns.
    plan: list[tuple[str, np.ndarray]] = []
    for position in range(max(len(qs) for qs in query_sets.values())):
        plan.extend((kind, qs[position]) for kind, qs in query_sets.items() if position < len(qs))
    budget_start: dict[str, float] = {}
    for offset in range(0, len(plan), SLICE):
        part = plan[offset : offset + SLICE]
        truths: list[list[int]] = []
        for _, query in part:
            start = time.perf_counter()
            exact = exact_top(matrix, query)
            latency["numpy"].append(time.perf_counter() - start)
            truths.append([int(i) for i in exact])
        for name, store in stores.items():
            started = budget_start.setdefault(name, time.perf_counter())
            if name != "lancedb" and time.perf_counter() - started > args.vector_budget:
                continue
            for (kind, query), truth in zip(part, truths, strict=True):
                seconds, hits = await timed(store.vector_search(workspace, query, LIMIT))
                latency[name].append(seconds)
                found = [index_of[hit.chunk_id] for hit in hits]
                recall[name][kind].append(len(set(found) & set(truth)) / LIMIT)
                if kind == "near":
                    top1[name].append(bool(found) and found[0] == truth[0])

    text_latency: dict[str, list[float]] = {name: [] for name in stores}
    text_hits: dict[str, int] = {name: 0 for name in stores}
    for name, store in stores.items():
        started = time.perf_counter()
        for query in words_queries:
            if name != "lancedb" and time.perf_counter() - started > args.text_budget:
                break
            seconds, hits = await timed(store.text_search(workspace, query, LIMIT))
            text_latency[name].append(seconds)
            text_hits[name] += bool(hits)

    for store in stores.values():
        await store.close()

    # ---------------------------------------------------------------- report
    numpy_p50 = statistics.median(latency["numpy"])
    print(
        f"corpus: {args.chunks} chunks x {DIMENSION} dims, {args.words} words each, "
        f"one workspace; {args.queries} vector queries, limit {LIMIT}"
    )
    print(
        f"  load  lancedb {load_seconds['lancedb']:6.1f} s "
        f"({args.chunks / load_seconds['lancedb']:.0f} rows/s, of which optimize "
        f"{optimize_seconds:.1f} s), batches of {args.batch}"
    )
    if "chroma" in load_seconds:
        print(
            f"  load  chroma  {load_seconds['chroma']:6.1f} s "
            f"({args.chunks / load_seconds['chroma']:.0f} rows/s), embedded PersistentClient, "
            f"batches of {args.chroma_batch}"
        )
    print(f"  vector numpy exact scan   {summary(latency['numpy'])}")
    for name in stores:
        ratio = statistics.median(latency[name]) / numpy_p50
        recalls = ", ".join(
            f"{kind} {statistics.fmean(values):.3f}" for kind, values in recall[name].items()
        )
        print(
            f"  vector {name:<18} {summary(latency[name])}  {ratio:5.1f}x numpy; "
            f"recall@10 {recalls}; near top-1 {statistics.fmean(top1[name]):.2f}"
        )
    for name in stores:
        print(
            f"  text   {name:<18} {summary(text_latency[name])}  "
            f"({text_hits[name]}/{len(text_latency[name])} queries found something)"
        )
    parts = []
    for name in stores:
        ratio = statistics.median(latency[name]) / numpy_p50
        near = statistics.fmean(recall[name]["near"])
        uniform = statistics.fmean(recall[name]["uniform"])
        parts.append(
            f"{name} p50 {ratio:.1f}x numpy, recall@10 {near:.2f} near / {uniform:.2f} uniform, "
            f"text p50 {statistics.median(text_latency[name]) * 1000:.0f} ms"
        )
    print(
        f"  (whole run {time.perf_counter() - began:.0f} s; {os.cpu_count()} CPUs, load average "
        f"{load_before:.1f} before, {os.getloadavg()[0]:.1f} after)"
    )
    print(
        f"search_latency: numpy p50 {numpy_p50 * 1000:.2f} ms; " + "; ".join(parts),
        flush=True,
    )
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--chunks", type=int, default=100_000, help="rows (default 100000)")
    parser.add_argument("--words", type=int, default=80, help="words per chunk text")
    parser.add_argument("--queries", type=int, default=200, help="vector and text queries")
    parser.add_argument("--batch", type=int, default=2000, help="rows per LanceDB add()")
    parser.add_argument("--chroma-batch", type=int, default=5000, help="rows per Chroma upsert")
    parser.add_argument(
        "--vector-budget", type=float, default=45.0, help="seconds of Chroma vector queries"
    )
    parser.add_argument(
        "--text-budget", type=float, default=20.0, help="seconds of Chroma text queries"
    )
    parser.add_argument("--skip-chroma", action="store_true", help="LanceDB and numpy only")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    if not args.skip_chroma:
        try:
            import chromadb  # noqa: F401
        except ImportError:
            print("chromadb is not installed (pip install 'ragql[chroma]'); use --skip-chroma")
            return 2
    with tempfile.TemporaryDirectory(prefix="ragql-bench-") as tmp:
        return asyncio.run(run(args, Path(tmp)))


if __name__ == "__main__":
    sys.exit(main())
