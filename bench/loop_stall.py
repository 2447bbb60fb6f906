"""Event-loop stalls while a 20 MB upload ingests, next to the same loop idle.

    /work/venv/bin/python bench/loop_stall.py                 # about 1 minute
    /work/venv/bin/python bench/loop_stall.py --enforce       # exit 1 at or over 50 ms
    /work/venv/bin/python bench/loop_stall.py --asyncio-debug # stdlib loop, slow callbacks logged

The server runs in this process (uvicorn on a free loopback port, uvloop as in
production, the production app with the embedded defaults: SQLite, LanceDB,
WordLlama, in-process ingestion workers), so its own event loop can be watched:

* a ticker task sleeps ``asyncio.sleep(0.005)`` in a loop and records how late each
  wake-up is: that lateness is time the loop could not run anything (a stall);
* a watchdog thread notices a tick overdue by more than ``--catch-ms`` and takes the
  stacks of every thread of the process at that moment, so a report can name the
  blocking call (on the loop thread itself, or a thread holding the GIL).

The client is a separate process (this script, role ``client``), so its own work
(building a 20 MB multipart body) never runs on the measured loop: it registers,
creates a workspace, uploads a small warm-up document (the first upload of a cold
server imports the multipart parser and starts a parsing child: one-off costs, not
what this measures), then one generated Markdown document of ``--mb`` MB through a
real GraphQL multipart request, and polls until it is READY.

Baseline, in the same run: the same ticker with the server idle for ``--idle``
seconds, after the warm-up and before the big upload. On a shared machine the idle
figure shows how much of a stall is the operating system's scheduling alone, and the
kernel's own accounting of the loop thread (``/proc/self/task/<tid>/schedstat``) says
for each long stall how much of it the loop thread was running, how much it was
runnable but waiting for a CPU (the machine is oversubscribed), and how much it was
asleep (waiting for the GIL, or a blocking call). The last line gives the longest
stall and the p99 of both, and the target (longest under 50 ms while ingesting).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import secrets
import statistics
import sys
import tempfile
import threading
import time
import traceback
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

TARGET_MS = 50.0
TICK = 0.005
MB = 1024 * 1024
WORDS = """
the of and to in a is that for it as was with be by on not this are or from at which but
have an they you were she there been one all we their has would when if so no will more
what out up into do who about than them can only other time new some could these two may
first then any like now such make over even most after also made many did must before
back through way where get much well work year because come people just each those take
day good how long great customer invoice payment refund shipping warehouse policy
employee holiday manager contract supplier delivery account balance quarter revenue
budget forecast schedule meeting project deadline report review approval request ticket
support incident server network database backup security password access permission
""".split()  # noqa: SIM905


# --------------------------------------------------------------------------- the document


def markdown(size: int, seed: int) -> bytes:
    import random

    rng = random.Random(seed)
    parts = ["# Operations manual\n"]
    total = 0
    while total < size:
        if rng.random() < 0.05:
            part = f"\n## Section {len(parts)}\n"
        else:
            sentences = (
                " ".join(rng.choices(WORDS, k=rng.randint(7, 20))).capitalize() + "."
                for _ in range(rng.randint(3, 7))
            )
            part = "\n" + " ".join(sentences) + "\n"
        parts.append(part)
        total += len(part)
    return "".join(parts).encode()


# --------------------------------------------------------------------------- client


DOCUMENT = "query D($id: ID!) { document(id: $id) { status error chunkCount updatedAt } }"


async def client_main(address: str, mb: float, seed: int) -> None:
    from tests.support.client import GraphQLClient, upload

    body = markdown(int(mb * MB), seed)
    client = GraphQLClient(address)
    client.http.timeout = 300
    try:
        owner = await client.register("bench")
        workspace = await client.create_workspace(owner, "Bench")

        async def ingest(name: str, content: bytes) -> dict[str, Any]:
            response = await upload(client, owner.access_token, workspace, name, content)
            payload = response.json()
            if "errors" in payload:
                raise SystemExit(f"upload failed: {payload['errors']}")
            document_id = payload["data"]["uploadDocument"]["id"]
            print(json.dumps({"event": "uploaded", "at": time.time()}), flush=True)
            while True:
                data = await client.data(DOCUMENT, {"id": document_id}, owner.access_token)
                document: dict[str, Any] = data["document"]
                if document["status"] in ("READY", "FAILED"):
                    return document
                await asyncio.sleep(0.25)

        # Warm-up: the first upload imports the multipart parser and starts a parsing
        # child (one-off costs of a cold server), then the server measures its idle loop.
        await ingest("warm-up.md", markdown(20_000, seed + 1))
        print(json.dumps({"event": "warm", "at": time.time()}), flush=True)
        await asyncio.to_thread(sys.stdin.readline)
        print(json.dumps({"event": "upload", "at": time.time(), "bytes": len(body)}), flush=True)
        document = await ingest("manual.md", body)
        print(json.dumps({"event": "settled", "at": time.time(), **document}), flush=True)
    finally:
        await client.close()


# --------------------------------------------------------------------------- watching the loop


@dataclass
class Stall:
    at: float  # perf_counter when the late tick finally ran
    lag: float  # seconds late
    stacks: list[str] = field(default_factory=list)  # taken while it was overdue
    # The loop thread during the stall, per the kernel: seconds on a CPU, seconds
    # runnable but waiting for one (None when /proc has no schedstat).
    on_cpu: float | None = None
    waiting_for_cpu: float | None = None


class LoopWatch:
    """Ticker (on the loop) plus watchdog (a thread) for one event loop."""

    def __init__(self, catch_seconds: float) -> None:
        self.lags: list[tuple[float, float]] = []  # (perf_counter at wake-up, lag)
        self.catch = catch_seconds
        self._last_tick = time.perf_counter()
        self._tick_started = self._last_tick
        self._caught: list[tuple[float, list[str]]] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._loop_thread_id = threading.get_ident()
        self._loop_native_id = threading.get_native_id()
        self._schedstat = Path(f"/proc/self/task/{self._loop_native_id}/schedstat")
        self._sched: list[tuple[float, int, int]] = []  # (perf_counter, cpu ns, wait ns)

    async def ticker(self) -> None:
        while True:
            start = time.perf_counter()
            self._tick_started = start
            await asyncio.sleep(TICK)
            now = time.perf_counter()
            self.lags.append((now, max(0.0, now - start - TICK)))
            self._last_tick = now

    def start_watchdog(self) -> None:
        self._thread = threading.Thread(target=self._watch, name="stall-watchdog", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def _watch(self) -> None:
        reported_for = -1.0
        while not self._stop.wait(0.002):
            self._sample_sched()
            started = self._tick_started
            overdue = time.perf_counter() - started - TICK
            if overdue > self.catch and started != reported_for:
                reported_for = started
                self._caught.append((started, self._stacks()))

    def _stacks(self) -> list[str]:
        names = {thread.ident: thread.name for thread in threading.enumerate()}
        out = []
        for ident, frame in sys._current_frames().items():
            if ident == threading.get_ident():
                continue
            stack = traceback.extract_stack(frame)
            if ident != self._loop_thread_id and _waiting(stack):
                continue
            where = _interesting(stack)
            if ident == self._loop_thread_id:
                label = f"LOOP [{self._loop_state()}]"
                if stack and stack[-1].filename.endswith("asyncio/runners.py"):
                    where = "inside the loop's C code (polling, or waiting for the GIL)"
            else:
                label = names.get(ident, str(ident))
            out.append(f"{label}: {where}")
        return out

    def _sample_sched(self) -> None:
        try:
            cpu, wait, _ = self._schedstat.read_text().split()
        except (OSError, ValueError):
            return
        self._sched.append((time.perf_counter(), int(cpu), int(wait)))

    def _sched_between(self, start: float, end: float) -> tuple[float, float] | None:
        before = [sample for sample in self._sched if sample[0] <= start]
        after = [sample for sample in self._sched if sample[0] >= end]
        if not before or not after:
            return None
        (_, cpu0, wait0), (_, cpu1, wait1) = before[-1], after[0]
        return (cpu1 - cpu0) / 1e9, (wait1 - wait0) / 1e9

    def _loop_state(self) -> str:
        """The kernel's view of the loop thread: R = running or waiting for a CPU (the
        machine is oversubscribed, or the loop itself is busy), S = asleep (a stalled
        loop thread asleep is waiting for the GIL)."""
        try:
            stat = Path(f"/proc/self/task/{self._loop_native_id}/stat").read_text()
        except OSError:
            return "?"
        return stat.rsplit(")", 1)[1].split()[0]

    def stalls(self, since: float, until: float) -> list[Stall]:
        out = []
        for at, lag in self.lags:
            if since <= at <= until:
                stall = Stall(at, lag)
                for started, stacks in self._caught:
                    if at - lag - TICK - 0.001 <= started <= at:
                        stall.stacks = stacks
                if lag >= self.catch:
                    sched = self._sched_between(at - lag, at)
                    if sched is not None:
                        stall.on_cpu, stall.waiting_for_cpu = sched
                out.append(stall)
        return out


# Innermost frames of a thread that is only waiting for work (not a suspect).
_IDLE = (
    ("threading.py", "wait"),
    ("selectors.py", "select"),
    ("concurrent/futures/thread.py", "_worker"),
    ("queue.py", "get"),
    ("aiosqlite/core.py", "_connection_worker_thread"),
)


def _waiting(stack: traceback.StackSummary) -> bool:
    if not stack:
        return True
    last = stack[-1]
    return any(last.filename.endswith(name) and last.name == function for name, function in _IDLE)


def _interesting(stack: traceback.StackSummary) -> str:
    """The innermost frames that are this project's, with the library call they make."""
    frames = list(stack)
    ours = [n for n, f in enumerate(frames) if "/domain/" in f.filename or "/graph/" in f.filename]
    if not ours:
        last = frames[-1] if frames else None
        return f"{_short(last.filename)}:{last.lineno} {last.name}" if last else "?"
    mine = frames[ours[-1]]
    text = f"{_short(mine.filename)}:{mine.lineno} {mine.name}"
    if ours[-1] + 1 < len(frames):
        below = frames[-1]
        text += f" -> {_short(below.filename)}:{below.lineno} {below.name}"
    return text


def _short(path: str) -> str:
    for marker in ("/site-packages/", "/main/", "/lib/python3"):
        if marker in path:
            return path.split(marker, 1)[1]
    return path


# --------------------------------------------------------------------------- the run


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


async def run(args: argparse.Namespace, data_dir: Path) -> int:
    import uvicorn

    from domain.container import Container
    from domain.db.migrate import migrate
    from domain.settings import Settings
    from graph.app import create_app
    from tests.support.server import free_port

    loop = asyncio.get_running_loop()
    if args.asyncio_debug:
        loop.set_debug(True)
        loop.slow_callback_duration = args.catch_ms / 1000
        logging.getLogger("asyncio").setLevel(logging.WARNING)
    settings = Settings(
        _env_file=None,
        data_dir=data_dir,
        jwt_secret=secrets.token_urlsafe(48),
        argon2_memory_kib=1024,
        argon2_time_cost=1,
    )
    await migrate(settings.resolved_database_url)
    container = Container.build(settings)
    # Loaded now as a real server would have by the time an upload comes (lazily, on the
    # first embedding, it is a one-off stall of its own, reported apart below).
    loaded = time.perf_counter()
    await asyncio.to_thread(getattr(container.embedder, "load", lambda: None))
    load_seconds = time.perf_counter() - loaded
    app = create_app(container=container)
    port = free_port()
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        access_log=False,
        lifespan="on",
        loop="none",  # this loop: uvloop or asyncio, chosen in main()
    )
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve())
    while not server.started:
        if serving.done():
            serving.result()
        await asyncio.sleep(0.02)

    watch = LoopWatch(args.catch_ms / 1000)
    ticker = asyncio.create_task(watch.ticker())
    watch.start_watchdog()
    idle_from = idle_to = 0.0
    try:
        events: dict[str, dict[str, Any]] = {}
        wall_to_perf = time.perf_counter() - time.time()
        client = await asyncio.create_subprocess_exec(
            sys.executable,
            str(Path(__file__).resolve()),  # noqa: ASYNC240 (before the measurement)
            "client",
            "--address",
            f"127.0.0.1:{port}",
            "--mb",
            str(args.mb),
            "--seed",
            str(args.seed),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            cwd=ROOT,
        )
        assert client.stdin is not None and client.stdout is not None
        async for raw in client.stdout:
            event = json.loads(raw)
            if event["event"] == "uploaded" and "upload" not in events:
                continue  # the warm-up's
            events[event["event"]] = event
            if event["event"] == "warm":
                await asyncio.sleep(0.5)  # settle
                idle_from = time.perf_counter()
                await asyncio.sleep(args.idle)
                idle_to = time.perf_counter()
                client.stdin.write(b"go\n")
                await client.stdin.drain()
        if await client.wait() != 0:
            raise SystemExit("the client failed")
        busy_to = time.perf_counter()
    finally:
        ticker.cancel()
        watch.stop()
        server.should_exit = True
        await serving
        await container.close()

    settled = events["settled"]
    if settled["status"] != "READY":
        raise SystemExit(f"the document ended {settled['status']}: {settled['error']}")
    upload_at = events["upload"]["at"] + wall_to_perf
    uploaded_at = events["uploaded"]["at"] + wall_to_perf
    idle = [stall.lag for stall in watch.stalls(idle_from, idle_to)]
    busy_stalls = watch.stalls(upload_at, busy_to)
    busy = [stall.lag for stall in busy_stalls]
    upload_part = [s.lag for s in busy_stalls if s.at <= uploaded_at]
    ingest_part = [s.lag for s in busy_stalls if s.at > uploaded_at]

    def ms(value: float) -> str:
        return f"{value * 1000:6.1f} ms"

    print(
        f"loop: {'asyncio (debug)' if args.asyncio_debug else type(loop).__module__}; "
        f"tick {TICK * 1000:.0f} ms; {os.cpu_count()} CPUs, load average "
        f"{os.getloadavg()[0]:.1f}; embedder loaded before the run in {load_seconds:.2f} s"
    )
    print(
        f"document: {events['upload']['bytes'] / MB:.1f} MB Markdown, "
        f"{settled['chunkCount']} chunks; upload {uploaded_at - upload_at:.2f} s, "
        f"then READY after {busy_to - uploaded_at:.2f} s"
    )
    print(
        f"  idle       ({len(idle):5d} ticks)  longest {ms(max(idle))}  "
        f"p99 {ms(percentile(idle, 99))}"
    )
    for label, values in (("uploading", upload_part), ("ingesting", ingest_part)):
        if values:
            print(
                f"  {label:<10} ({len(values):5d} ticks)  longest {ms(max(values))}  "
                f"p99 {ms(percentile(values, 99))}  median {ms(statistics.median(values))}"
            )
    worst = sorted(busy_stalls, key=lambda stall: -stall.lag)[: args.show]
    culprits: Counter[str] = Counter()
    for stall in busy_stalls:
        if stall.lag * 1000 >= args.catch_ms:
            for line in stall.stacks:
                culprits[line] += 1
    if worst:
        print("  longest stalls (at seconds after the upload started):")
        for stall in worst:
            kernel = ""
            if stall.on_cpu is not None and stall.waiting_for_cpu is not None:
                asleep = max(0.0, stall.lag - stall.on_cpu - stall.waiting_for_cpu)
                kernel = (
                    f"  (loop thread: on a CPU {stall.on_cpu * 1000:.0f} ms, waiting for a CPU "
                    f"{stall.waiting_for_cpu * 1000:.0f} ms, asleep {asleep * 1000:.0f} ms)"
                )
            print(f"    {ms(stall.lag)} at {stall.at - upload_at:6.2f} s{kernel}")
            for line in stall.stacks:
                print(f"        {line}")
    if culprits:
        print(f"  where threads were during stalls over {args.catch_ms:.0f} ms (count):")
        for line, count in culprits.most_common(args.show):
            print(f"    {count:4d}  {line}")
    longest = max(busy)
    print(
        f"loop_stall: while ingesting {args.mb:g} MB longest {longest * 1000:.1f} ms, "
        f"p99 {percentile(busy, 99) * 1000:.1f} ms; idle longest {max(idle) * 1000:.1f} ms, "
        f"p99 {percentile(idle, 99) * 1000:.1f} ms (target: longest < {TARGET_MS:.0f} ms)",
        flush=True,
    )
    return 1 if args.enforce and longest * 1000 >= TARGET_MS else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--mb", type=float, default=20.0, help="document size (default 20 MB)")
    parser.add_argument("--idle", type=float, default=5.0, help="seconds of idle baseline")
    parser.add_argument(
        "--catch-ms", type=float, default=20.0, help="take stacks when a tick is this late"
    )
    parser.add_argument("--show", type=int, default=6, help="stalls and culprits listed")
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument(
        "--asyncio-debug",
        action="store_true",
        help="stdlib loop in debug mode; callbacks slower than --catch-ms are logged",
    )
    parser.add_argument(
        "--enforce", action="store_true", help=f"exit 1 when the longest stall >= {TARGET_MS} ms"
    )
    args = parser.parse_args()
    if args.asyncio_debug:
        logging.basicConfig(level=logging.WARNING)
    with tempfile.TemporaryDirectory(prefix="ragql-bench-") as tmp:
        factory = None
        if not args.asyncio_debug:
            try:
                import uvloop

                factory = uvloop.new_event_loop
            except ImportError:
                pass
        with asyncio.Runner(loop_factory=factory) as runner:
            return runner.run(run(args, Path(tmp)))


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "client":
        sub = argparse.ArgumentParser()
        sub.add_argument("role")
        sub.add_argument("--address", required=True)
        sub.add_argument("--mb", type=float, required=True)
        sub.add_argument("--seed", type=int, required=True)
        ns = sub.parse_args()
        asyncio.run(client_main(ns.address, ns.mb, ns.seed))
        sys.exit(0)
    sys.exit(main())
