"""Time to first delta: sendMessage to the first text at the client, minus the model's own wait.

    /work/venv/bin/python bench/first_delta.py               # about 2 minutes
    /work/venv/bin/python bench/first_delta.py --chunks 20000   # quicker

The processes of bench/stream_efficiency.py (whose plumbing this imports): the fake
OpenAI-compatible model server, the server (one uvicorn worker, SQLite and LanceDB under
a temporary data directory, the default WordLlama embedder), and this process with the
client; plus a short-lived ``seed`` process.

Two workspaces, both created through the API by the same user: one stays empty, the
other gets ``--chunks`` chunks written straight into the server's LanceDB table (the
store ``domain.vectors.factory.build_vector_store`` opens for the settings and embedder
the server uses): random unit vectors of the embedder's dimension, and texts of 40 words
drawn from a synthetic vocabulary (Zipf-distributed, so BM25 has common and rare terms),
100 chunks per document, then ``optimize`` so the full-text index covers every row, as
the maintenance job would. The server sees them at once (LanceDB read consistency 0).

Each sample, alternating between the workspaces after a warm-up: a new chat session
(not timed), then the clock starts, ``sendMessage`` goes out over HTTP with a question of
three corpus words (so retrieval finds passages in the full workspace: hybrid search,
WordLlama embedding of the question, vector and BM25 search, prompt with citations), and
when the mutation answers, a ``messageStream`` subscription on a graphql-transport-ws
socket opened beforehand; the clock stops at the first frame with text. The fake model
waits ``--first-token-delay`` before its first token; its exact wait is read from its
records (response start to first token written, ``time.perf_counter`` in that process)
and subtracted. What is left is the server's own share: the mutation (two rows
committed), retrieval, prompt building, the request to the model, and the first token's
way back to the client (subscription set up meanwhile, or replayed from the stream).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.stream_efficiency import (  # noqa: E402
    SECRET_ENV,
    Api,
    Reading,
    Stack,
    bench_settings,
    follow,
    graphql_socket,
    percentile,
    run,
    running_stack,
    subscribe,
)

WORKSPACE_ENV = "RAGQL_BENCH_WORKSPACE"
DATABASE_URL_ENV = "RAGQL_BENCH_SEED_DATABASE_URL"
CHUNKS_PER_DOCUMENT = 100
WORDS_PER_CHUNK = 40
VOCABULARY = 20_000
QUESTION_WORDS = 3
ANSWER_TOKENS = 5
SYLLABLES = [consonant + vowel for consonant in "bcdfgklmnprstvz" for vowel in "aeiou"]


def vocabulary(seed: int = 7) -> list[str]:
    import numpy as np

    rng = np.random.default_rng(seed)
    words: dict[str, None] = {}
    while len(words) < VOCABULARY:
        count = int(rng.integers(2, 5))
        words["".join(SYLLABLES[i] for i in rng.integers(0, len(SYLLABLES), count))] = None
    return list(words)


# --------------------------------------------------------------------------- seeding


def seed(data_dir: Path, chunks: int) -> None:
    """Writes `chunks` chunks into the server's vector store, in this (separate) process."""
    import numpy as np

    from domain.embeddings.factory import build_embedder
    from domain.vectors.factory import build_vector_store
    from domain.vectors.port import ChunkRecord

    settings = bench_settings(
        data_dir,
        os.environ[SECRET_ENV],
        "http://127.0.0.1:9/v1",  # unused here; the embedder and store do not call it
        os.environ.get(DATABASE_URL_ENV) or None,
    )
    workspace_id = uuid.UUID(os.environ[WORKSPACE_ENV])
    embedder = build_embedder(settings)  # for its name and dimension; nothing is embedded
    store = build_vector_store(settings, embedder.dimension, embedder.name)
    rng = np.random.default_rng(11)
    words = np.array(vocabulary(), dtype=object)
    started = time.perf_counter()

    async def write() -> int:
        batch = 20_000
        for offset in range(0, chunks, batch):
            size = min(batch, chunks - offset)
            vectors = rng.standard_normal((size, embedder.dimension), dtype=np.float32)
            vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
            ranks = (rng.zipf(1.1, size=size * WORDS_PER_CHUNK) - 1) % len(words)
            texts = [" ".join(row) for row in words[ranks].reshape(size, WORDS_PER_CHUNK)]
            records = []
            document = uuid.uuid4()
            for row in range(size):
                number = offset + row
                if number % CHUNKS_PER_DOCUMENT == 0:
                    document = uuid.uuid4()
                ordinal = number % CHUNKS_PER_DOCUMENT
                records.append(
                    ChunkRecord(
                        chunk_id=f"{document}:{ordinal}",
                        workspace_id=workspace_id,
                        document_id=document,
                        ordinal=ordinal,
                        page=ordinal // 10 + 1,
                        heading="",
                        text=texts[row],
                        vector=vectors[row],
                    )
                )
            await store.add(records)
            print(f"  seed: {offset + size} chunks", file=sys.stderr, flush=True)
        await store.optimize()
        count = await store.count(workspace_id)
        await store.close()
        return count

    count = run(write())
    if count != chunks:
        raise SystemExit(f"seeded {count} chunks, not {chunks}")
    print(
        f"  seed: {count} chunks in {time.perf_counter() - started:.1f} s "
        f"({embedder.name}, {settings.vector_store})",
        file=sys.stderr,
        flush=True,
    )


def seed_in_process(stack: Stack, workspace_id: str, chunks: int) -> None:
    env = {
        **os.environ,
        SECRET_ENV: stack.secret,
        WORKSPACE_ENV: workspace_id,
        DATABASE_URL_ENV: stack.database_url or "",
    }
    command = [sys.executable, str(Path(__file__).resolve()), "seed"]
    command += ["--data-dir", str(stack.data_dir), "--chunks", str(chunks)]
    subprocess.run(command, cwd=ROOT, env=env, check=True)


# --------------------------------------------------------------------------- measuring


async def _sample(api: Api, ws: Any, op: int, workspace_id: str, question: str) -> float:
    """Seconds from sendMessage to the first text at the client."""
    session_id = await api.session(workspace_id)
    started = time.perf_counter()
    message_id = await api.send(session_id, question)
    reading = Reading()
    await subscribe(ws, "graphql", str(op), message_id, api.token)
    await follow(ws, reading, first_only=True)
    first = reading.frames[0][0]
    await follow(ws, reading)  # the rest of the (short) answer, then `complete`
    if reading.final is None or reading.final.get("status") != "COMPLETE":
        raise RuntimeError(f"the answer did not complete: {reading.final}")
    return first - started


async def _bench(stack: Stack, args: argparse.Namespace) -> Any:
    api = Api(stack, connections=10)
    try:
        await api.sign_up()
        workspaces = {"empty": await api.workspace("Empty"), "full": await api.workspace("Full")}
        seed_in_process(stack, workspaces["full"], args.chunks)
        await api.script(ANSWER_TOKENS, None, args.first_token_delay)
        import numpy as np

        rng = np.random.default_rng(3)
        middle = vocabulary()[20:2000]  # present in the corpus, neither everywhere nor rare
        ws = await graphql_socket(stack.address, api.token)
        asked: dict[str, list[tuple[str, float]]] = {"empty": [], "full": []}
        op = 0
        try:
            for number in range(args.warmup + args.samples):
                order = ("empty", "full") if number % 2 == 0 else ("full", "empty")
                for kind in order:
                    words = [middle[int(i)] for i in rng.integers(0, len(middle), QUESTION_WORDS)]
                    question = f"{' '.join(words)} ({kind} {number})"
                    op += 1
                    elapsed = await _sample(api, ws, op, workspaces[kind], question)
                    if number >= args.warmup:
                        asked[kind].append((question, elapsed))
                    await asyncio.sleep(0.02)  # let the session title request finish
        finally:
            await ws.close()
        records = {r["question"]: r for r in await api.model_requests()}
        results = {}
        for kind, samples in asked.items():
            overheads, waits, prompts = [], [], []
            for question, elapsed in samples:
                record = records[question]
                prompts.append(record["prompt_chars"])
                model_wait = record["written_at"][0] - record["started_at"]
                waits.append(model_wait)
                overheads.append(elapsed - model_wait)
            results[kind] = {"overheads": overheads, "waits": waits, "prompts": prompts}
        return results
    finally:
        await api.close()


def _summary(values: list[float]) -> str:
    return (
        f"p50 {statistics.median(values) * 1000:6.1f} ms  "
        f"p99 {percentile(values, 99) * 1000:6.1f} ms"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--chunks", type=int, default=100_000, help="in the full workspace")
    parser.add_argument("--samples", type=int, default=150, help="per workspace (150)")
    parser.add_argument("--warmup", type=int, default=5, help="per workspace, not counted")
    parser.add_argument(
        "--first-token-delay", type=float, default=0.1, help="the model's own wait (0.1 s)"
    )
    parser.add_argument(
        "--database", choices=("sqlite", "postgres"), default="sqlite", help="(sqlite)"
    )
    args = parser.parse_args()

    with running_stack(database_kind=args.database) as stack:
        results = run(_bench(stack, args))
    for kind, label in (("empty", "empty workspace"), ("full", f"{args.chunks} chunks")):
        waits = results[kind]["waits"]
        print(
            f"  {label:<16} {_summary(results[kind]['overheads'])}  "
            f"(model's own wait p50 {statistics.median(waits) * 1000:.1f} ms, prompt "
            f"{statistics.median(results[kind]['prompts']):.0f} characters, n={len(waits)})",
            file=sys.stderr,
        )
    # Retrieval must have found passages in the full workspace and none in the empty one.
    if statistics.median(results["full"]["prompts"]) <= max(results["empty"]["prompts"]):
        print("first_delta: the full workspace's prompts carry no passages", file=sys.stderr)
        return 2
    full = results["full"]["overheads"]
    empty = results["empty"]["overheads"]
    print(
        f"first_delta: sendMessage to first delta minus the model's time to first token: "
        f"{args.chunks} chunks {_summary(full)}; empty workspace {_summary(empty)}; "
        f"p50 difference {(statistics.median(full) - statistics.median(empty)) * 1000:+.1f} ms",
        flush=True,
    )
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "seed":
        sub = argparse.ArgumentParser()
        sub.add_argument("role")
        sub.add_argument("--data-dir", type=Path, required=True)
        sub.add_argument("--chunks", type=int, required=True)
        ns = sub.parse_args()
        seed(ns.data_dir, ns.chunks)
        sys.exit(0)
    sys.exit(main())
