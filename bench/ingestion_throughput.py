"""Ingestion throughput: MB/s from upload to READY, next to the embedder alone.

    /work/venv/bin/python bench/ingestion_throughput.py              # 1-2 minutes
    /work/venv/bin/python bench/ingestion_throughput.py --enforce    # exit 1 below the target
    /work/venv/bin/python bench/ingestion_throughput.py --workers 2 --batch 256  # try knobs
    /work/venv/bin/python bench/ingestion_throughput.py --profile /tmp/ingest.txt  # py-spy

Processes, so that the client does not share the server's event loop:

* this one generates a mixed corpus (``--mb`` MB of md, txt, html, csv, json, docx
  written with python-docx, and PDFs written by hand as in the tests), migrates fresh
  SQLite databases and orchestrates;
* ``serve``: uvicorn (uvloop + httptools, as in production) on a free loopback port with
  the production app and the embedded defaults (SQLite, LanceDB, WordLlama), in-process
  ingestion workers started by the app's lifespan. ``--workers`` and ``--batch`` set
  INGESTION_WORKERS and EMBED_BATCH_SIZE (default: the settings' defaults). It also
  times every parse, chunk, embed and vector write its ingestion makes, by wrapping
  those calls (``StageTrace``), and serves the spans on ``GET /bench/trace`` (a route of
  this benchmark only).

The client (in this process) registers, warms the server up (four small documents in
a workspace of their own: parsing children started, embedder loaded, as in a server
that has ingested before), creates one workspace, uploads every file with real GraphQL
multipart requests (``--parallel`` at a time) and polls
``Workspace.documents`` until all are READY. Pipeline time runs from the first upload
request to the last READY (the documents' ``updatedAt``, written by the server when it
marked them READY; same machine, same clock).

Baseline, in the same run: the chunk texts, embedded with ``WordLlamaEmbedder.embed`` in
batches of EMBED_BATCH_SIZE, document by document, as the worker does, and nothing
else. The texts are made here with ``parse_file`` and ``chunk_sections`` and checked to
be exactly those the server wrote to LanceDB. Embedder and pipeline alternate, E P E P E
(``--rounds`` pipeline runs, each on a fresh server and data directory), and each ratio
uses the embedder runs on either side of its pipeline run, since a shared machine drifts.
Both rates are over the same bytes (the corpus files), so the ratio is the embedder's
time over the pipeline's; the summary is the median ratio.

To show where the time goes: the server's own stage times (round 0: time in calls summed
over workers, and wall time with at least one running), and each stage alone in this
process, one file after another: parsing (in-process), chunking, embedding, LanceDB
writes (``LanceDBStore.add`` into a scratch table, grouped as the worker groups them).
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import random
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

TARGET_RATIO = 0.8
WARM_UP_FILES = 4  # small documents ingested before the clock starts
MB = 1024 * 1024
# Share of the corpus bytes per format, and the size of one file of it.
MIX = {
    "md": (0.22, 450_000),
    "txt": (0.18, 450_000),
    "html": (0.15, 400_000),
    "csv": (0.10, 400_000),
    "json": (0.10, 400_000),
    "docx": (0.10, 200_000),  # compressed: about five times as much text
    "pdf": (0.15, 350_000),
}
WORDS = """
the of and to in a is that for it as was with be by on not he this are or his from at
which but have an they you were her she there been one all we their has would when if so
no will more what out up into do who about than them can only other time new some could
these two may first then any like now my such make over our even most me state after also
made many did must before back see through way where get much go well your know should
down work year because come people just say each those take day good how long own great
being customer invoice payment refund shipping warehouse policy employee holiday manager
contract supplier delivery account balance quarter revenue budget forecast schedule
meeting project deadline report review approval request ticket support incident server
network database backup security password access permission office travel expense
receipt training onboarding handbook benefit insurance pension salary overtime leave
parental medical dental vision retirement compliance audit regulation privacy consent
retention archive document record signature notice termination resignation promotion
performance objective feedback coaching mentor team department division region branch
market product service pricing discount subscription renewal cancellation warranty repair
replacement inventory stock order purchase vendor logistics carrier parcel tracking label
customs duty tax rate currency exchange transfer deposit withdrawal statement loan credit
""".split()  # noqa: SIM905
HEADINGS = """Overview Background Scope Procedure Responsibilities Exceptions Examples Appendix
Definitions Eligibility Process Timeline Costs Contacts History Summary""".split()  # noqa: SIM905


# --------------------------------------------------------------------------- corpus


class Prose:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)

    def sentence(self) -> str:
        words = self.rng.choices(WORDS, k=self.rng.randint(7, 22))
        if self.rng.random() < 0.3:
            words.insert(self.rng.randrange(len(words)), str(self.rng.randint(2, 9999)))
        return " ".join(words).capitalize() + self.rng.choice(".....?!")

    def paragraph(self) -> str:
        return " ".join(self.sentence() for _ in range(self.rng.randint(3, 8)))

    def heading(self) -> str:
        return " ".join(self.rng.sample(HEADINGS, self.rng.randint(1, 3)))


def make_md(prose: Prose, size: int) -> bytes:
    out = [f"# {prose.heading()}\n"]
    total = 0
    while total < size:
        part = f"\n## {prose.heading()}\n\n" if prose.rng.random() < 0.15 else "\n"
        part += prose.paragraph() + "\n"
        out.append(part)
        total += len(part)
    return "".join(out).encode()


def make_txt(prose: Prose, size: int) -> bytes:
    out: list[str] = []
    total = 0
    while total < size:
        paragraph = prose.paragraph()
        out.append(paragraph)
        total += len(paragraph) + 2
    return "\n\n".join(out).encode()


def make_html(prose: Prose, size: int) -> bytes:
    out = [
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>Intranet page</title>"
        "<style>body{font-family:sans-serif} .nav{display:flex}</style>"
        "<script>window.analytics = {track: function(){ return 42; }};</script></head><body>"
        "<div class='nav'><a href='/'>Home</a> <a href='/help'>Help</a></div>"
        f"<h1>{prose.heading()}</h1>"
    ]
    total = sum(map(len, out))
    while total < size:
        part = f"<h2>{prose.heading()}</h2>" if prose.rng.random() < 0.15 else ""
        part += f"<p class='body'>{prose.paragraph()}</p>\n"
        out.append(part)
        total += len(part)
    out.append("<script>console.log('footer')</script></body></html>")
    return "".join(out).encode()


def make_csv(prose: Prose, size: int) -> bytes:
    out = ["id,name,city,amount,notes\n"]
    total = len(out[0])
    row = 0
    while total < size:
        row += 1
        notes = prose.sentence().replace('"', "'")
        line = f"{row},{prose.rng.choice(WORDS).title()},{prose.rng.choice(HEADINGS)}," + (
            f'{prose.rng.randint(1, 99999) / 100},"{notes}"\n'
        )
        out.append(line)
        total += len(line)
    return "".join(out).encode()


def make_json(prose: Prose, size: int) -> bytes:
    items: list[dict[str, Any]] = []
    total = 0
    while total < size:
        item = {
            "id": len(items) + 1,
            "title": prose.heading(),
            "body": prose.paragraph(),
            "tags": prose.rng.sample(WORDS, 3),
            "owner": {"name": prose.rng.choice(WORDS).title(), "team": prose.heading()},
        }
        items.append(item)
        total += len(json.dumps(item))
    return json.dumps({"records": items}, indent=1).encode()


def make_docx(prose: Prose, size: int) -> bytes:
    import docx

    document = docx.Document()
    document.add_heading(prose.heading(), 0)
    # `size` is the file size wanted; Word XML deflates about five to one.
    text_size, total = size * 5, 0
    while total < text_size:
        if prose.rng.random() < 0.12:
            document.add_heading(prose.heading(), 1)
        paragraph = prose.paragraph()
        document.add_paragraph(paragraph)
        total += len(paragraph) + 200  # run and paragraph markup
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def make_pdf(prose: Prose, size: int) -> bytes:
    from tests.domain.ingestion.files import pdf_bytes

    pages: list[list[str]] = []
    total = 0
    while total < size:
        lines: list[str] = []
        while len(lines) < 48:
            words = prose.paragraph().split()
            for start in range(0, len(words), 13):
                lines.append(" ".join(words[start : start + 13]))
        pages.append(lines[:48])
        total += sum(len(line) + 8 for line in pages[-1]) + 250
    return pdf_bytes(pages)


MAKERS = {
    "md": make_md,
    "txt": make_txt,
    "html": make_html,
    "csv": make_csv,
    "json": make_json,
    "docx": make_docx,
    "pdf": make_pdf,
}


def corpus(total_mb: float, seed: int) -> list[tuple[str, bytes]]:
    prose = Prose(seed)
    files: list[tuple[str, bytes]] = []
    for kind, (share, size) in MIX.items():
        budget = int(total_mb * MB * share)
        made = 0
        while made < budget:
            body = MAKERS[kind](prose, min(size, budget - made + size // 4))
            files.append((f"{kind}-{len(files):03d}.{kind}", body))
            made += len(body)
    # Interleaved, as a folder of mixed files would be uploaded.
    prose.rng.shuffle(files)
    return files


# --------------------------------------------------------------------------- server


TRACE_PATH = "/bench/trace"


class StageTrace:
    """Wall time of every parse, chunk, embed and vector write the server's ingestion
    does, recorded by wrapping those calls (in the `serve` process only)."""

    def __init__(self) -> None:
        self.spans: list[tuple[str, float, float]] = []

    def wrap_async(self, stage: str, function: Any) -> Any:
        async def traced(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return await function(*args, **kwargs)
            finally:
                self.spans.append((stage, start, time.perf_counter()))

        return traced

    def wrap_sync(self, stage: str, function: Any) -> Any:
        def traced(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                self.spans.append((stage, start, time.perf_counter()))

        return traced

    def install(self, container: Any) -> None:
        from domain.documents import indexing

        # Whichever the indexing code uses: parse then chunk in the server, or both in
        # the parsing child.
        for name, stage in (
            ("parse_in_subprocess", "parse"),
            ("parse_and_chunk_in_subprocess", "parse+chunk"),
        ):
            if hasattr(indexing, name):
                setattr(indexing, name, self.wrap_async(stage, getattr(indexing, name)))
        if hasattr(indexing, "chunk_sections"):
            indexing.chunk_sections = self.wrap_sync("chunk", indexing.chunk_sections)
        embedder, vectors = container.embedder, container.vectors
        embedder.embed = self.wrap_async("embed", embedder.embed)
        if hasattr(embedder, "embed_token_ids"):  # what the worker calls for WordLlama
            embedder.embed_token_ids = self.wrap_async("embed", embedder.embed_token_ids)
        vectors.add = self.wrap_async("write", vectors.add)
        vectors.delete_document = self.wrap_async("delete", vectors.delete_document)
        vectors.count = self.wrap_async("count", vectors.count)


def serve(data_dir: Path, port: int) -> None:
    import uvicorn
    from fastapi.responses import JSONResponse

    from domain.container import Container
    from domain.settings import Settings
    from graph.app import create_app

    settings = Settings(_env_file=None, data_dir=data_dir)
    container = Container.build(settings)
    trace = StageTrace()
    trace.install(container)
    app = create_app(container=container)

    @app.get(TRACE_PATH, include_in_schema=False)
    async def spans() -> JSONResponse:  # mounted here, never in production
        return JSONResponse({"spans": trace.spans})

    uvicorn.run(
        app,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        access_log=False,
        lifespan="on",
        loop="auto",  # uvloop when installed, as `ragql serve` gets
        http="auto",
    )


def busy(spans: list[tuple[str, float, float]]) -> float:
    """Seconds during which at least one of the spans was running."""
    total, end = 0.0, float("-inf")
    for _, start, stop in sorted(spans, key=lambda span: span[1]):
        if stop > end:
            total += stop - max(start, end)
            end = stop
    return total


def server_environment(data_dir: Path, args: argparse.Namespace) -> dict[str, str]:
    env = {
        **os.environ,
        "DATA_DIR": str(data_dir),
        "JWT_SECRET": secrets.token_urlsafe(48),
        "ARGON2_MEMORY_KIB": "1024",
        "ARGON2_TIME_COST": "1",
        "LOG_LEVEL": "WARNING",
    }
    if args.workers is not None:
        env["INGESTION_WORKERS"] = str(args.workers)
    if args.batch is not None:
        env["EMBED_BATCH_SIZE"] = str(args.batch)
    return env


def py_spy() -> str:
    beside = Path(sys.executable).with_name("py-spy")
    found = str(beside) if beside.exists() else shutil.which("py-spy")
    if found is None:
        raise SystemExit("--profile needs py-spy (pip install py-spy)")
    return found


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def wait_until_up(port: int, server: subprocess.Popen[bytes]) -> None:
    import httpx

    deadline = time.monotonic() + 60
    async with httpx.AsyncClient() as client:
        while time.monotonic() < deadline:
            if server.poll() is not None:
                raise SystemExit(f"server exited with {server.returncode}")
            try:
                response = await client.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
                if response.status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.1)
    raise SystemExit("server did not start")


# --------------------------------------------------------------------------- client

DOCUMENTS = """
query Docs($ws: ID!, $after: String) {
  workspace(id: $ws) {
    documents(first: 100, after: $after) {
      edges { node { id filename status error chunkCount updatedAt } }
      pageInfo { hasNextPage endCursor }
    }
  }
}
"""


async def all_documents(client: Any, token: str, workspace: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    after = None
    while True:
        data = await client.data(DOCUMENTS, {"ws": workspace, "after": after}, token)
        page = data["workspace"]["documents"]
        found.extend(edge["node"] for edge in page["edges"])
        if not page["pageInfo"]["hasNextPage"]:
            return found
        after = page["pageInfo"]["endCursor"]


@dataclass
class PipelineRun:
    seconds: float
    upload_seconds: float
    documents: list[dict[str, Any]]
    workspace_id: str
    cpu_seconds: float | None  # the server and its parsing children, upload to READY
    started: float  # perf_counter (CLOCK_MONOTONIC: the server's clock too) at the first upload


def tree_cpu_seconds(pid: int) -> float | None:
    """CPU time of a process (all its threads) and of its live children (Linux /proc)."""
    ticks = os.sysconf("SC_CLK_TCK")

    def cpu(stat: str) -> tuple[int, float]:
        fields = stat.rsplit(")", 1)[1].split()
        # after the name: state ppid ... utime(12) stime(13) cutime(14) cstime(15)
        return int(fields[1]), sum(int(value) for value in fields[11:15]) / ticks

    try:
        _, total = cpu(Path(f"/proc/{pid}/stat").read_text())
    except OSError:
        return None
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent, seconds = cpu((entry / "stat").read_text())
            except (OSError, ValueError, IndexError):
                continue
            if parent == pid:
                total += seconds
    return total


async def run_pipeline(
    port: int, files: list[tuple[str, bytes]], parallel: int, give_up_after: float, pid: int
) -> PipelineRun:
    from tests.support.client import GraphQLClient, upload

    client = GraphQLClient(f"127.0.0.1:{port}")
    client.http.timeout = 120
    try:
        owner = await client.register("bench")
        # Warm-up, in a workspace of its own: a server that has ingested before has its
        # parsing children running and the embedder loaded, as one in service would.
        warm = await client.create_workspace(owner, "Warm-up")
        prose = Prose(0)
        await asyncio.gather(
            *(
                upload(client, owner.access_token, warm, f"warm-{n}.txt", make_txt(prose, 100_000))
                for n in range(WARM_UP_FILES)
            )
        )
        while True:
            warm_states = {
                d["status"] for d in await all_documents(client, owner.access_token, warm)
            }
            if warm_states <= {"READY", "FAILED"}:
                break
            await asyncio.sleep(0.2)
        workspace = await client.create_workspace(owner, "Bench")
        queue: asyncio.Queue[tuple[str, bytes]] = asyncio.Queue()
        for item in files:
            queue.put_nowait(item)

        async def uploader() -> None:
            while not queue.empty():
                name, body = queue.get_nowait()
                response = await upload(client, owner.access_token, workspace, name, body)
                payload = response.json()
                if "errors" in payload:
                    raise SystemExit(f"upload of {name} failed: {payload['errors']}")

        cpu_before = tree_cpu_seconds(pid)
        started_wall = time.time()
        started = time.perf_counter()
        await asyncio.gather(*(uploader() for _ in range(parallel)))
        uploaded = time.perf_counter() - started
        while True:
            documents = await all_documents(client, owner.access_token, workspace)
            states = [d["status"] for d in documents]
            if all(state in ("READY", "FAILED") for state in states):
                observed = time.perf_counter() - started
                cpu_after = tree_cpu_seconds(pid)
                break
            if time.perf_counter() - started > give_up_after:
                raise SystemExit(f"not all READY after {give_up_after:.0f} s: {sorted(states)}")
            # The end time comes from `updatedAt`; polling seldom keeps its cost small.
            await asyncio.sleep(0.5)
        failed = [d for d in documents if d["status"] == "FAILED"]
        if failed:
            raise SystemExit(f"{len(failed)} documents FAILED: {failed[:3]}")
        last = max(datetime.fromisoformat(d["updatedAt"]).timestamp() for d in documents)
        seconds = last - started_wall
        if not 0 < seconds <= observed + 0.05:  # clocks disagree: fall back to the poll
            seconds = observed
        cpu_seconds = None
        if cpu_before is not None and cpu_after is not None:
            cpu_seconds = cpu_after - cpu_before
        return PipelineRun(seconds, uploaded, documents, workspace, cpu_seconds, started)
    finally:
        await client.close()


async def fetch_trace(port: int) -> list[tuple[str, float, float]]:
    import httpx

    async with httpx.AsyncClient() as client:
        response = await client.get(f"http://127.0.0.1:{port}{TRACE_PATH}", timeout=30)
    response.raise_for_status()
    return [(stage, start, stop) for stage, start, stop in response.json()["spans"]]


# --------------------------------------------------------------------------- baseline


def stored_chunks(data_dir: Path, workspace_id: str) -> list[str]:
    """The chunk texts the server wrote (what it embedded)."""
    import lancedb

    from domain.embeddings.wordllama import WordLlamaEmbedder
    from domain.vectors.naming import collection_name

    embedder = WordLlamaEmbedder()
    db = lancedb.connect(str(data_dir / "lancedb"))
    table = db.open_table(collection_name(embedder.name, embedder.dimension))
    column = (
        table.search()
        .where(f"workspace_id = '{workspace_id}'")
        .select(["text"])
        .limit(None)
        .to_arrow()
        .column("text")
    )
    return [str(text) for text in column.to_pylist()]


async def embed_alone(
    embedder: Any, chunks: list[list[str]], batch: int, cpu: list[float]
) -> float:
    """The worker's embedding calls and nothing else: document by document, `batch`
    texts per `embed`. Returns wall seconds; appends the CPU seconds to `cpu`."""
    cpu_start = time.process_time()  # every thread of this process
    start = time.perf_counter()
    for texts in chunks:
        for offset in range(0, len(texts), batch):
            await embedder.embed(texts[offset : offset + batch])
    cpu.append(time.process_time() - cpu_start)
    return time.perf_counter() - start


@dataclass
class Stages:
    chunks: list[list[str]]  # per file, in order
    totals: dict[str, float]
    parse_by_kind: dict[str, float]
    bytes_by_kind: dict[str, int]
    text_bytes: int
    writes: int


async def stages(files: list[tuple[str, bytes]], tmp: Path, embedder: Any, batch: int) -> Stages:
    """Each stage alone, in this process, one file after another, with the server's
    settings; the chunk texts are kept for the baseline."""
    import uuid

    from domain.documents import indexing
    from domain.ingestion.chunking import chunk_sections
    from domain.ingestion.detect import detect_file_media_type
    from domain.ingestion.parsing import parse_file
    from domain.settings import Settings
    from domain.vectors.lancedb_store import LanceDBStore
    from domain.vectors.port import ChunkRecord

    settings = Settings(_env_file=None, data_dir=tmp)
    # The worker's grouping of rows per write (one write per embedding batch before it).
    write_rows = getattr(indexing, "WRITE_ROWS", 1)
    store = LanceDBStore(
        tmp / "stages-lancedb", dimension=embedder.dimension, embedder_name=embedder.name
    )
    workspace = uuid.uuid4()
    out = Stages(
        [],
        {"parse": 0.0, "chunk": 0.0, "delete": 0.0, "embed": 0.0, "write": 0.0},
        defaultdict(float),
        defaultdict(int),
        0,
        0,
    )

    def clock(stage: str, start: float) -> float:
        seconds = time.perf_counter() - start
        out.totals[stage] += seconds
        return seconds

    for name, body in files:
        path = tmp / "stage-file"
        path.write_bytes(body)
        media_type = detect_file_media_type(path, name)
        assert media_type is not None, name
        kind = name.rsplit(".", 1)[1]
        start = time.perf_counter()
        sections = parse_file(path, media_type)
        out.parse_by_kind[kind] += clock("parse", start)
        out.bytes_by_kind[kind] += len(body)
        out.text_bytes += sum(len(section.text.encode()) for section in sections)
        start = time.perf_counter()
        # As the parsing child chunks for WordLlama: with each chunk's token ids.
        chunks = chunk_sections(
            sections,
            max_tokens=settings.chunk_tokens,
            overlap_tokens=settings.chunk_overlap_tokens,
            token_ids=True,
        )
        clock("chunk", start)
        out.chunks.append([chunk.text for chunk in chunks])
        document = uuid.uuid4()
        start = time.perf_counter()
        await store.delete_document(workspace, document)
        clock("delete", start)
        pending: list[Any] = []
        for offset in range(0, len(chunks), batch):
            part = chunks[offset : offset + batch]
            start = time.perf_counter()
            vectors = await embedder.embed_token_ids([chunk.token_ids for chunk in part])
            clock("embed", start)
            pending += [
                ChunkRecord(
                    chunk_id=f"{document}:{chunk.ordinal}",
                    workspace_id=workspace,
                    document_id=document,
                    ordinal=chunk.ordinal,
                    page=chunk.page,
                    heading=" > ".join(chunk.heading_path),
                    text=chunk.text,
                    vector=vector,
                )
                for chunk, vector in zip(part, vectors, strict=True)
            ]
            # Written as the worker writes: every `write_rows` rows, then the rest.
            last = offset + batch >= len(chunks)
            if len(pending) >= write_rows or (last and pending):
                start = time.perf_counter()
                await store.add(pending)
                clock("write", start)
                out.writes += 1
                pending = []
    await store.close()
    return out


# --------------------------------------------------------------------------- orchestration


async def pipeline_round(
    args: argparse.Namespace, files: list[tuple[str, bytes]], data_dir: Path, profile: Path | None
) -> tuple[PipelineRun, list[tuple[str, float, float]], list[str]]:
    """A fresh server on a fresh data directory ingests the whole corpus once."""
    from domain.db.migrate import migrate
    from domain.settings import Settings

    data_dir.mkdir()  # noqa: ASYNC240 (orchestration, not the measured process)
    await migrate(Settings(_env_file=None, data_dir=data_dir).resolved_database_url)
    port = free_port()
    script = str(Path(__file__).resolve())  # noqa: ASYNC240
    server = subprocess.Popen(  # noqa: ASYNC220 (this process only orchestrates)
        [sys.executable, script, "serve", "--data-dir", str(data_dir), "--port", str(port)],
        env=server_environment(data_dir, args),
        cwd=ROOT,
    )
    profiler = None
    try:
        await wait_until_up(port, server)
        if profile is not None:
            # Sampling profile of the server (and its parsing children) while it ingests.
            profiler = subprocess.Popen(  # noqa: ASYNC220
                [
                    py_spy(),
                    "record",
                    "--pid",
                    str(server.pid),
                    "--subprocesses",
                    "--threads",
                    "--format",
                    "raw",
                    "--rate",
                    "200",
                    "--output",
                    str(profile),
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            await asyncio.sleep(1.0)  # let it attach
        run = await run_pipeline(port, files, args.parallel, args.timeout, server.pid)
        spans = await fetch_trace(port)
    finally:
        if profiler is not None:
            profiler.send_signal(signal.SIGINT)
            profiler.wait(timeout=60)
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
    return run, spans, stored_chunks(data_dir, run.workspace_id)


async def orchestrate(args: argparse.Namespace, tmp: Path) -> int:
    from domain.embeddings.wordllama import WordLlamaEmbedder
    from domain.settings import Settings

    began = time.perf_counter()
    load_before = os.getloadavg()[0]
    files = corpus(args.mb, args.seed)
    corpus_bytes = sum(len(body) for _, body in files)
    counts: dict[str, int] = defaultdict(int)
    for name, _ in files:
        counts[name.rsplit(".", 1)[1]] += 1
    described = ", ".join(f"{n} {kind}" for kind, n in sorted(counts.items()))
    print(
        f"corpus: {len(files)} files, {corpus_bytes / MB:.1f} MB ({described}), generated in "
        f"{time.perf_counter() - began:.1f} s",
        file=sys.stderr,
        flush=True,
    )
    server_settings = Settings(_env_file=None, **_knobs(args))
    batch = server_settings.embed_batch_size
    embedder = WordLlamaEmbedder()
    embedder.load()
    await embedder.embed(["warm up"])

    breakdown = await stages(files, tmp, embedder, batch)
    local = sorted(text for texts in breakdown.chunks for text in texts)
    chunk_bytes = sum(len(text.encode()) for text in local)

    # Embedder alone and pipeline alternate (E P E P ... E), so drift on a shared
    # machine touches both; each ratio uses the embedder runs on either side.
    embed_cpu: list[float] = []
    embed_runs = [await embed_alone(embedder, breakdown.chunks, batch, embed_cpu)]
    pipeline_runs: list[PipelineRun] = []
    all_spans: list[list[tuple[str, float, float]]] = []
    for round_number in range(args.rounds):
        profile = args.profile if round_number == 0 else None
        run, spans, stored = await pipeline_round(
            args, files, tmp / f"data-{round_number}", profile
        )
        spans = [span for span in spans if span[1] >= run.started]  # not the warm-up's
        if sorted(stored) != local:
            raise SystemExit("the server's chunks differ from parse_file + chunk_sections here")
        pipeline_runs.append(run)
        all_spans.append(spans)
        print(f"  round {round_number}: pipeline {run.seconds:.2f} s", file=sys.stderr, flush=True)
        embed_runs.append(await embed_alone(embedder, breakdown.chunks, batch, embed_cpu))

    # ---------------------------------------------------------------- report
    mb = corpus_bytes / MB
    ratios = [
        (embed_runs[n] + embed_runs[n + 1]) / 2 / run.seconds for n, run in enumerate(pipeline_runs)
    ]
    ratio = statistics.median(ratios)
    pipeline_seconds = statistics.median(run.seconds for run in pipeline_runs)
    embed_seconds = statistics.median(embed_runs)
    pipeline_rate = mb / pipeline_seconds
    embed_rate = mb / embed_seconds
    print(
        f"corpus: {len(files)} files, {mb:.1f} MB ({described}); {len(local)} chunks, "
        f"{chunk_bytes / MB:.1f} MB of chunk text; INGESTION_WORKERS "
        f"{server_settings.ingestion_workers}, EMBED_BATCH_SIZE {batch}; {os.cpu_count()} CPUs, "
        f"load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after"
    )
    runs = ", ".join(f"{run.seconds:.2f}" for run in pipeline_runs)
    print(
        f"  pipeline  {pipeline_seconds:6.2f} s first upload -> all READY (runs {runs}; "
        f"uploads {pipeline_runs[0].upload_seconds:.2f} s, {args.parallel} at a time): "
        f"{pipeline_rate:.2f} MB/s"
    )
    runs = ", ".join(f"{seconds:.2f}" for seconds in embed_runs)
    print(
        f"  embedder  {embed_seconds:6.2f} s alone on the same chunk texts (runs {runs}): "
        f"{embed_rate:.2f} MB/s of corpus, {chunk_bytes / MB / embed_seconds:.2f} MB/s of "
        "chunk text"
    )
    server_cpu = [run.cpu_seconds for run in pipeline_runs if run.cpu_seconds is not None]
    if server_cpu:
        # Steadier than wall time on a shared machine: the work each side did.
        pipeline_cpu, alone_cpu = statistics.median(server_cpu), statistics.median(embed_cpu)
        work = pipeline_cpu / alone_cpu
        cpus = os.cpu_count() or 1
        # The embedder alone may keep more than one CPU busy (its tokenizer encodes a batch
        # on several threads); the pipeline has `cpus` for `work` times as much.
        alone_busy = alone_cpu / embed_seconds
        print(
            f"  CPU time  pipeline {pipeline_cpu:.2f} s (server and parsing children), embedder "
            f"alone {alone_cpu:.2f} s: the pipeline does {work:.2f}x the embedder's work, so on "
            f"{cpus} CPUs, with the embedder alone keeping {alone_busy:.1f} busy, the ratio is at most "
            f"~{min(1.0, cpus / (work * alone_busy)):.2f}x"
        )
    spans = all_spans[0]
    if spans:
        first = min(start for _, start, _ in spans)
        last = max(stop for _, _, stop in spans)
        print(
            f"  inside the server (round 0), first parse to last write {last - first:.2f} s; "
            "per stage, time in calls summed over workers, and wall time with >= 1 running:"
        )
        for stage in ("parse", "chunk", "parse+chunk", "count", "delete", "embed", "write"):
            mine = [span for span in spans if span[0] == stage]
            if not mine:
                continue
            summed = sum(stop - start for _, start, stop in mine)
            print(
                f"    {stage:<7} {summed:6.2f} s in {len(mine):4d} calls, "
                f"busy {busy(mine):6.2f} s ({100 * busy(mine) / (last - first):3.0f}% of the wall)"
            )
    serial = sum(breakdown.totals.values())
    print(
        f"  each stage alone here, one file after another ({breakdown.text_bytes / MB:.1f} MB "
        f"of extracted text, {breakdown.writes} LanceDB writes), total {serial:.2f} s:"
    )
    for stage, seconds in breakdown.totals.items():
        print(f"    {stage:<7} {seconds:6.2f} s  {100 * seconds / serial:5.1f}%")
    for kind, seconds in sorted(breakdown.parse_by_kind.items()):
        size = breakdown.bytes_by_kind[kind] / MB
        print(
            f"      parse {kind:<5} {seconds:5.2f} s for {size:4.1f} MB "
            f"({size / seconds:6.1f} MB/s of file)"
        )
    print(f"  (whole run {time.perf_counter() - began:.0f} s)")
    print(
        f"ingestion_throughput: pipeline {pipeline_rate:.2f} MB/s, embedder alone "
        f"{embed_rate:.2f} MB/s, ratio {ratio:.2f}x (target >= {TARGET_RATIO}x)",
        flush=True,
    )
    return 1 if args.enforce and ratio < TARGET_RATIO else 0


def _knobs(args: argparse.Namespace) -> dict[str, Any]:
    knobs: dict[str, Any] = {}
    if args.workers is not None:
        knobs["ingestion_workers"] = args.workers
    if args.batch is not None:
        knobs["embed_batch_size"] = args.batch
    return knobs


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--mb", type=float, default=12.0, help="corpus size (default 12 MB)")
    parser.add_argument("--rounds", type=int, default=2, help="pipeline runs (fresh server each)")
    parser.add_argument("--parallel", type=int, default=4, help="uploads at a time")
    parser.add_argument("--workers", type=int, help="INGESTION_WORKERS for the server")
    parser.add_argument("--batch", type=int, help="EMBED_BATCH_SIZE for the server")
    parser.add_argument("--timeout", type=float, default=600.0, help="give up after (s)")
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument(
        "--profile",
        type=Path,
        help="py-spy the server in round 0; collapsed stacks (per thread) to this file",
    )
    parser.add_argument(
        "--enforce", action="store_true", help=f"exit 1 when the ratio is below {TARGET_RATIO}"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="ragql-bench-") as tmp:
        return asyncio.run(orchestrate(args, Path(tmp)))


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "serve":
        sub = argparse.ArgumentParser()
        sub.add_argument("role")
        sub.add_argument("--port", type=int, required=True)
        sub.add_argument("--data-dir", type=Path, required=True)
        ns = sub.parse_args()
        serve(ns.data_dir, ns.port)
        sys.exit(0)
    sys.exit(main())
