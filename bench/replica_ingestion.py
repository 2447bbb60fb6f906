"""Ingestion throughput with two replicas next to one: MB/s from first upload to all READY.

    /work/venv/bin/python bench/replica_ingestion.py              # about 2 minutes
    /work/venv/bin/python bench/replica_ingestion.py --rounds 12  # one more ABBA block
    /work/venv/bin/python bench/replica_ingestion.py --workers 2  # INGESTION_WORKERS per replica

Each round starts from nothing: a temporary PostgreSQL database (created, then dropped),
a temporary DATA_DIR (files and LanceDB, shared by the replicas), a Redis key prefix of
its own (its keys deleted afterwards), and real ``python -m graph.cli serve`` processes
(tests/scale/replicas.py's environment: PostgreSQL, Redis, LANCEDB_READ_CONSISTENCY_SECONDS
0, with the leases and heartbeats the tests shorten back at their defaults and the
scheduled jobs off, so that nothing but ingestion runs). Either one replica, A, or two,
A and B, each running its in-process ingestion workers (INGESTION_WORKERS, 4 by
default): the workers claim PENDING documents from PostgreSQL with leases, so either
replica may ingest any document. Rounds alternate 1, 2, 2, 1 (ABBA), ``--rounds`` in
all.

The client (this process) registers, warms every replica up (small documents uploaded
to each, until each has a parsing child running: the embedder loaded and a child
started, as in a replica that has ingested before), then uploads the same corpus as
bench/ingestion_throughput.py (``--mb`` MB of md, txt, html, csv, json, docx and pdf,
generated once) into one workspace with real GraphQL multipart requests, ``--parallel``
at a time, spread over the replicas' HTTP endpoints in turn, and polls until every
document has settled. Time: first upload request to the last document's ``updatedAt``
(written when it became READY). Rate: corpus MB / time; the summary has the medians and
their ratio.

Checks, per round: every document READY, claimed exactly once (``attempts`` 1 in
PostgreSQL: no lease expired and was taken over), and LanceDB holds exactly
``chunkCount`` rows for it, with no chunk id twice.

Beside the rates: the CPU seconds of each replica (its process and its parsing children,
from /proc/<pid>/stat), of PostgreSQL and Redis, and how busy the whole machine was, so
that a reader sees whether the CPUs, not the replicas, were the limit: on 2 CPUs one
replica already keeps both nearly busy, so a second one cannot add throughput here.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.ingestion_throughput import (  # noqa: E402
    MB,
    WARM_UP_FILES,
    Prose,
    all_documents,
    corpus,
    make_txt,
    tree_cpu_seconds,
)
from bench.replica_stream_latency import (  # noqa: E402
    cpu_shares,
    delete_redis_keys,
    log_findings,
    machine_busy_seconds,
    replica_environment,
    require_redis,
    services_cpu,
    start_replicas,
)
from bench.stream_efficiency import database  # noqa: E402
from tests.scale.replicas import Cluster, Replica  # noqa: E402

NAMES = ["a", "b"]
# No chat in this benchmark; the model URL is never called.
NO_MODEL = "http://127.0.0.1:9/v1"
WARM_UP_TRIES = 3


@dataclass
class Round:
    replicas: int
    seconds: float  # first upload to the last READY
    upload_seconds: float
    documents: int
    chunks: int
    # CPU seconds from the first upload until all settled was seen ("window" seconds): "a",
    # "b" (with their parsing children), postgres, redis, "clients" (this process), machine
    cpu: dict[str, float]
    problems: list[str] = field(default_factory=list)
    log: list[str] = field(default_factory=list)  # warnings and errors the replicas logged


# --------------------------------------------------------------------------- the client


def children(pid: int) -> list[int]:
    """Live child processes of `pid` (its parsing children)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, ValueError, IndexError):
                stat = (entry / "stat").read_text()
                if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                    found.append(int(entry.name))
    return found


def snapshot(replicas: list[Replica]) -> dict[str, float]:
    out: dict[str, float] = {
        "machine": machine_busy_seconds(),
        "clients": time.process_time(),
        "window": time.perf_counter(),
    }
    for replica in replicas:
        seconds = tree_cpu_seconds(replica.process.pid)
        if seconds is None:
            raise SystemExit(f"replica {replica.name} is gone")
        out[replica.name] = seconds
    return out | services_cpu()


async def settle(client: Any, token: str, workspace: str, give_up_after: float) -> None:
    deadline = time.monotonic() + give_up_after
    while True:
        states = {d["status"] for d in await all_documents(client, token, workspace)}
        if states <= {"READY", "FAILED"}:
            return
        if time.monotonic() > deadline:
            raise SystemExit(f"warm-up documents not settled after {give_up_after:.0f} s")
        await asyncio.sleep(0.2)


async def warm_up(clients: list[Any], replicas: list[Replica], token: str, workspace: str) -> None:
    """Small documents uploaded to each replica (an upload wakes that replica's workers
    at once; the others poll), until each has its parsing child running."""
    from tests.support.client import upload

    prose = Prose(0)
    cold = list(range(len(replicas)))
    for _ in range(WARM_UP_TRIES):
        await asyncio.gather(
            *(
                upload(
                    clients[index],
                    token,
                    workspace,
                    f"warm-{uuid.uuid4().hex[:8]}.txt",
                    make_txt(prose, 100_000),
                )
                for index in cold
                for _ in range(WARM_UP_FILES)
            )
        )
        await settle(clients[0], token, workspace, 120)
        cold = [index for index in cold if not children(replicas[index].process.pid)]
        if not cold:
            return
    names = ", ".join(replicas[index].name for index in cold)
    print(f"  warning: replica(s) {names} ingested none of the warm-up", file=sys.stderr)


async def drive(
    replicas: list[Replica], files: list[tuple[str, bytes]], args: argparse.Namespace
) -> tuple[Round, str, list[dict[str, Any]]]:
    from tests.support.client import GraphQLClient, upload

    clients = [GraphQLClient(replica.address) for replica in replicas]
    for client in clients:
        client.http.timeout = 120
    try:
        owner = await clients[0].register("bench")
        token = owner.access_token
        await warm_up(clients, replicas, token, await clients[0].create_workspace(owner, "Warm"))
        workspace = await clients[0].create_workspace(owner, "Bench")
        queue: asyncio.Queue[tuple[str, bytes]] = asyncio.Queue()
        for item in files:
            queue.put_nowait(item)

        async def uploader(client: Any) -> None:
            while not queue.empty():
                name, body = queue.get_nowait()
                response = await upload(client, token, workspace, name, body)
                payload = response.json()
                if "errors" in payload:
                    raise SystemExit(f"upload of {name} failed: {payload['errors']}")

        before = snapshot(replicas)
        started_wall = time.time()
        started = time.perf_counter()
        # Uploaders take the replicas' endpoints in turn.
        await asyncio.gather(
            *(uploader(clients[index % len(clients)]) for index in range(args.parallel))
        )
        uploaded = time.perf_counter() - started
        while True:
            documents = await all_documents(clients[0], token, workspace)
            if all(d["status"] in ("READY", "FAILED") for d in documents):
                observed = time.perf_counter() - started
                after = snapshot(replicas)
                break
            if time.perf_counter() - started > args.timeout:
                states = Counter(d["status"] for d in documents)
                raise SystemExit(f"not all settled after {args.timeout:.0f} s: {dict(states)}")
            await asyncio.sleep(0.5)  # the end time is `updatedAt`: polling seldom is enough
        last = max(datetime.fromisoformat(d["updatedAt"]).timestamp() for d in documents)
        seconds = last - started_wall
        if not 0 < seconds <= observed + 0.05:  # clocks disagree: fall back to the poll
            seconds = observed
        cpu = cpu_shares(before, after)
        chunks = sum(d["chunkCount"] for d in documents)
        result = Round(len(replicas), seconds, uploaded, len(documents), chunks, cpu)
        return result, workspace, documents
    finally:
        for client in clients:
            await client.close()


# --------------------------------------------------------------------------- checks


async def claims(database_url: str, workspace: str) -> dict[str, int]:
    """attempts per document id (how many times a worker claimed it)."""
    import asyncpg

    connection = await asyncpg.connect(database_url.replace("+asyncpg", ""))
    try:
        rows = await connection.fetch(
            "SELECT id, attempts FROM workspace_documents WHERE workspace_id = $1",
            uuid.UUID(workspace),
        )
    finally:
        await connection.close()
    return {str(row["id"]): int(row["attempts"]) for row in rows}


def stored(data_dir: Path, workspace: str) -> tuple[Counter[str], int]:
    """Rows per document in the shared LanceDB table, and how many distinct chunk ids."""
    import lancedb

    from domain.embeddings.wordllama import WordLlamaEmbedder
    from domain.vectors.naming import collection_name

    embedder = WordLlamaEmbedder()
    table = lancedb.connect(str(data_dir / "lancedb")).open_table(
        collection_name(embedder.name, embedder.dimension)
    )
    rows = (
        table.search()
        .where(f"workspace_id = '{uuid.UUID(workspace)}'")
        .select(["document_id", "chunk_id"])
        .limit(None)
        .to_arrow()
    )
    per_document = Counter(str(value) for value in rows.column("document_id").to_pylist())
    return per_document, len(set(rows.column("chunk_id").to_pylist()))


def check(
    result: Round,
    documents: list[dict[str, Any]],
    attempts: dict[str, int],
    per_document: Counter[str],
    distinct_chunks: int,
    expected_files: int,
) -> list[str]:
    problems = []
    if len(documents) != expected_files:
        problems.append(f"{len(documents)} documents, {expected_files} uploaded")
    failed = [d for d in documents if d["status"] != "READY"]
    if failed:
        problems.append(
            f"{len(failed)} not READY: {[(d['filename'], d['error']) for d in failed[:3]]}"
        )
    again = {k: v for k, v in attempts.items() if v != 1}
    if again:
        problems.append(
            f"{len(again)} documents claimed more than once: {list(again.values())[:5]}"
        )
    wrong = [
        (d["filename"], d["chunkCount"], per_document.get(str(uuid.UUID(d["id"])), 0))
        for d in documents
        if per_document.get(str(uuid.UUID(d["id"])), 0) != d["chunkCount"]
    ]
    if wrong:
        problems.append(f"{len(wrong)} documents' LanceDB rows != chunkCount: {wrong[:3]}")
    rows = sum(per_document.values())
    if distinct_chunks != rows:
        problems.append(f"{rows - distinct_chunks} duplicate chunk ids in LanceDB")
    if rows != result.chunks:
        problems.append(f"LanceDB holds {rows} rows, the documents say {result.chunks} chunks")
    return problems


# --------------------------------------------------------------------------- one round


def one_round(count: int, files: list[tuple[str, bytes]], args: argparse.Namespace) -> Round:
    """A fresh database, data directory and Redis prefix; `count` replicas ingest the corpus."""
    prefix = f"ragql-bench-{uuid.uuid4().hex[:10]}"
    extra = {"ENABLE_BACKGROUND_JOBS": "false"}
    if args.workers is not None:
        extra["INGESTION_WORKERS"] = str(args.workers)
    with (
        tempfile.TemporaryDirectory(prefix="ragql-bench-") as tmp,
        database("postgres") as database_url,
    ):
        assert database_url is not None
        data_dir, logs = Path(tmp) / "data", Path(tmp) / "logs"
        data_dir.mkdir()
        logs.mkdir()
        cluster = Cluster(
            replica_environment(data_dir, database_url, prefix, NO_MODEL, **extra), logs
        )
        result: Round | None = None
        try:
            replicas = start_replicas(cluster, NAMES[:count])
            result, workspace, documents = asyncio.run(drive(replicas, files, args))
            attempts = asyncio.run(claims(database_url, workspace))
            per_document, distinct = stored(data_dir, workspace)
            result.problems = check(result, documents, attempts, per_document, distinct, len(files))
            if result.problems:
                for replica in replicas:
                    tail = replica.log.read_text(errors="replace")[-2000:]
                    print(f"  --- {replica.name}'s log, the end:\n{tail}", file=sys.stderr)
        finally:
            cluster.stop()
            findings = log_findings(cluster)
            if result is None:  # failed: now, since there will be no round to print them with
                for line in findings:
                    print(f"  replica log: {line}", file=sys.stderr)
            with contextlib.suppress(Exception):
                delete_redis_keys(prefix)
        result.log = findings
        return result


# --------------------------------------------------------------------------- report


def describe(result: Round, mb: float) -> str:
    cpus = os.cpu_count() or 1
    cpu = result.cpu
    servers = " + ".join(f"{name} {cpu[name]:.1f}" for name in NAMES if name in cpu)
    total = sum(cpu[name] for name in NAMES if name in cpu)
    ours = total + cpu.get("postgres", 0.0) + cpu.get("redis", 0.0)
    window = cpu["window"]
    ours += cpu.get("clients", 0.0)
    busy = cpu["machine"] / (window * cpus)
    return (
        f"{result.seconds:6.2f} s, {mb / result.seconds:5.2f} MB/s (uploads {result.upload_seconds:.1f} s); "
        f"CPU s: replicas {servers} = {total:.1f} ({total / window:.2f} CPUs), "
        f"postgres {cpu.get('postgres', 0.0):.1f}, redis {cpu.get('redis', 0.0):.1f}, "
        f"client {cpu.get('clients', 0.0):.1f}; over those {window:.1f} s the machine was busy "
        f"{100 * busy:.0f}% of {cpus} CPUs "
        f"(other work {100 * max(0.0, cpu['machine'] - ours) / (window * cpus):.0f}%)"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--mb", type=float, default=12.0, help="corpus size (12 MB)")
    parser.add_argument("--rounds", type=int, default=8, help="rounds, alternating 1,2,2,1 (8)")
    parser.add_argument("--parallel", type=int, default=4, help="uploads at a time (4)")
    parser.add_argument("--workers", type=int, help="INGESTION_WORKERS per replica (default 4)")
    parser.add_argument("--timeout", type=float, default=600.0, help="give up after (600 s)")
    parser.add_argument("--seed", type=int, default=3)
    args = parser.parse_args()
    require_redis()

    began = time.perf_counter()
    load_before = os.getloadavg()
    files = corpus(args.mb, args.seed)
    mb = sum(len(body) for _, body in files) / MB
    kinds = Counter(name.rsplit(".", 1)[1] for name, _ in files)
    described = ", ".join(f"{n} {kind}" for kind, n in sorted(kinds.items()))
    print(f"corpus: {len(files)} files, {mb:.1f} MB ({described})", file=sys.stderr, flush=True)

    pattern = (1, 2, 2, 1)
    results: list[Round] = []
    for round_number in range(args.rounds):
        count = pattern[round_number % len(pattern)]
        result = one_round(count, files, args)
        results.append(result)
        label = "two replicas" if count == 2 else "one replica "
        print(
            f"  round {round_number}, {label}: {describe(result, mb)}; "
            f"{result.documents} documents, {result.chunks} chunks"
            + (
                f"; PROBLEMS: {'; '.join(result.problems)}"
                if result.problems
                else ", all checks passed"
            ),
            file=sys.stderr,
            flush=True,
        )
        for line in result.log:
            print(f"    replica log: {line}", file=sys.stderr)

    rate = {
        count: statistics.median(mb / r.seconds for r in results if r.replicas == count)
        for count in (1, 2)
        if any(r.replicas == count for r in results)
    }
    if len(rate) < 2:
        raise SystemExit("needs at least 2 rounds (one of each)")
    cpu = {
        count: statistics.median(
            sum(r.cpu[name] for name in NAMES if name in r.cpu)
            for r in results
            if r.replicas == count
        )
        for count in (1, 2)
    }
    problems = [p for r in results for p in r.problems]
    print(
        f"  median replica CPU per round: one replica {cpu[1]:.1f} s, two replicas {cpu[2]:.1f} s "
        f"(CPU seconds per MB: {cpu[1] / mb:.2f} and {cpu[2] / mb:.2f})\n"
        f"  {os.cpu_count()} CPUs; load average {load_before[0]:.2f} before, "
        f"{os.getloadavg()[0]:.2f} after; whole run {time.perf_counter() - began:.0f} s",
        file=sys.stderr,
    )
    print(
        f"replica_ingestion: two replicas {rate[2]:.2f} MB/s, one replica {rate[1]:.2f} MB/s, "
        f"ratio {rate[2] / rate[1]:.2f}x ({mb:.1f} MB, {len(results)} rounds; "
        f"every document READY once: {'yes' if not problems else 'NO'})",
        flush=True,
    )
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
