"""Stream latency across replicas: the subscriber on another replica than the writer.

    /work/venv/bin/python bench/replica_stream_latency.py                 # about 1.5 minutes
    /work/venv/bin/python bench/replica_stream_latency.py --streams 100   # other options: --help

Processes:

* the fake OpenAI-compatible model of bench/stream_efficiency.py (``BenchFake``: answers
  scripted and held over its control API, the time it wrote every token recorded);
* two real replicas, A and B: ``python -m graph.cli serve`` (tests/scale/replicas.py)
  sharing a temporary PostgreSQL database (created here, dropped afterwards), Redis with
  a key prefix of this run's own (its keys are deleted afterwards), a temporary
  DATA_DIR and the fake model. Scheduled jobs and ingestion workers are off (nothing to
  ingest, nothing else running), heartbeats and leases at their defaults;
* this process: the clients (``websockets``, graphql-transport-ws by hand) and HTTP.

Every question goes to replica A (``sendMessage`` over HTTP), so A calls the model and
writes the answer's deltas to its Redis Stream. The clients follow the answer with the
``messageStream`` subscription either on A ("same": the baseline) or on B ("other":
B's reader XREADs the stream A writes). With REDIS_URL set both replicas read answers
through Redis, so the difference measured is what it costs to deliver from the replica
that is not writing: the other process's reader, and the load spread over two
processes rather than one.

Each phase: ``--streams`` sessions and sockets (opened and acknowledged beforehand on
the subscriber's replica); the questions go out spread over ``--stagger`` seconds,
each client subscribing as soon as its mutation answers. The fake holds every answer
before its first token until all have reached it, every client has subscribed and
``--settle`` seconds have passed, then releases them: each streams ``--tokens``
distinct tokens of one width at ``--rate`` tokens/s on an absolute schedule, from a
random phase within the first interval. Same and other alternate, ABBA, for
``--rounds`` rounds after a warm-up; the medians of the phases' figures are on the
last line, with the ratio of the p99s.

Checks, per stream: the text received is exactly the tokens, in order, nothing lost or
repeated, and the last frame has done, status COMPLETE and the same content.

Latency, per token: the time its frame arrived at the client minus the time the fake
handed it to its socket, both ``time.perf_counter()`` (CLOCK_MONOTONIC, one clock for
the machine; the script refuses another). A coalesced frame's length says which tokens
it completed. messageStream sends at most one frame per 50 ms per subscription
(graph/chat/streaming.py), so even one idle stream has a p50 of ~25 ms: both sides of
the ratio carry it.

Beside the figures: the CPU use of every process during the streaming, and how long
each replica's event-loop thread was runnable but waiting for a CPU (/proc); on a
shared machine that wait can be most of a figure.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.stream_efficiency import (  # noqa: E402
    CLOCK_SLACK,
    HARNESS,
    Api,
    Reading,
    Stack,
    add_paced_stream_arguments,
    bench_tokens,
    check_answer,
    database,
    follow,
    graphql_socket,
    machine_wide_clock,
    percentile,
    run,
    subscribe,
    token_latencies,
)
from tests.scale.replicas import Cluster, Replica, cluster_environment  # noqa: E402

REDIS_URL = os.environ.get("RAGQL_TEST_REDIS", "redis://127.0.0.1:6379/0")
# A token's write time is read just before the fake hands it to its transport.
# cluster_environment shortens these for the tests (a killed replica noticed in seconds);
# a benchmark runs with the defaults of domain/settings.py.
TEST_ONLY = (
    "INGESTION_LEASE_SECONDS",
    "MESSAGE_HEARTBEAT_SECONDS",
    "MESSAGE_STALE_SECONDS",
    "RECOVERY_INTERVAL_SECONDS",
)
MODES = ("same", "other")


# --------------------------------------------------------------------------- processes


def stop_process(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def require_redis() -> None:
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        client.ping()
    except (OSError, redis.RedisError) as error:
        raise SystemExit(f"Redis at {REDIS_URL} is unreachable ({error})") from error
    finally:
        client.close()


def delete_redis_keys(prefix: str) -> int:
    """Every key of this run (finished answer streams would expire on their own)."""
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        keys = list(client.scan_iter(match=f"{prefix}:*", count=1000))
        for offset in range(0, len(keys), 500):
            client.delete(*keys[offset : offset + 500])
        return len(keys)
    finally:
        client.close()


def replica_environment(
    data_dir: Path, database_url: str, redis_prefix: str, model_url: str, **extra: str
) -> dict[str, str]:
    """tests/scale/replicas.py's environment, with the test-only timings at their defaults."""
    environment = cluster_environment(
        data_dir=data_dir,
        database_url=database_url,
        redis_prefix=redis_prefix,
        model_url=model_url,
    )
    for key in TEST_ONLY:
        environment.pop(key, None)
    environment.update(extra)
    return environment


def log_findings(cluster: Cluster) -> list[str]:
    """Warnings, errors and tracebacks in the replicas' logs (LOG_LEVEL=WARNING), counted
    by their first line."""
    found: dict[str, int] = {}
    for replica in cluster.replicas:
        with contextlib.suppress(OSError):
            for line in replica.log.read_text(errors="replace").splitlines():
                if any(word in line for word in ("WARNING", "ERROR", "CRITICAL", "Traceback")):
                    key = f"{replica.name}: {line.strip()[:160]}"
                    found[key] = found.get(key, 0) + 1
    return [f"{key} (x{count})" if count > 1 else key for key, count in found.items()]


def start_replicas(cluster: Cluster, names: list[str]) -> list[Replica]:
    """Started together (migrations run once, as the replica tests check)."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(len(names)) as pool:
        return list(pool.map(cluster.start, names))


def process_cpu(pid: int) -> float:
    """utime + stime of a process, all its threads (Linux /proc; OSError when gone)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_busy_seconds() -> float:
    """CPU seconds every CPU of the machine spent on anything but idling (/proc/stat)."""
    fields = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")  # up to steal, no guest


def services_cpu() -> dict[str, float]:
    """CPU so far of every PostgreSQL and Redis server process on the machine, keyed
    "postgres:<pid>" / "redis:<pid>" (shared services: other users' work counts too)."""
    out = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            name = (entry / "comm").read_text().strip()
            if name in ("postgres", "redis-server"):
                out[f"{name.split('-')[0]}:{entry.name}"] = process_cpu(int(entry.name))
        except (OSError, ValueError, IndexError):
            continue
    return out


def cpu_snapshot(processes: dict[str, int], loops: dict[str, int]) -> dict[str, float]:
    """CPU time so far of `processes` (name: pid), of this process ("clients"), of the
    machine ("machine") and of the database and Redis; for `loops` (name: pid) how long
    the main (event-loop) thread was runnable but waited for a CPU ("<name> waited")."""
    try:
        out = {"clients": time.process_time(), "machine": machine_busy_seconds()}
        for name, pid in processes.items():
            out[name] = process_cpu(pid)
        for name, pid in loops.items():
            schedstat = Path(f"/proc/{pid}/schedstat").read_text().split()
            out[f"{name} waited"] = int(schedstat[1]) / 1e9
    except OSError:
        return {}
    return out | services_cpu()


def cpu_shares(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    """CPU seconds used between two snapshots; PostgreSQL and Redis processes summed
    (those alive at both)."""
    used: dict[str, float] = {}
    for name, value in after.items():
        if name not in before:
            continue
        key = name.split(":", 1)[0]
        used[key] = used.get(key, 0.0) + value - before[name]
    return used


def cpu_report(
    before: dict[str, float], after: dict[str, float], seconds: float, names: list[str]
) -> str:
    """Each process's share of one CPU over `seconds`, the machine's busy share of all
    its CPUs (so what none of these used was other work), and the loops' waits."""
    if not before or not after or seconds <= 0:
        return ""
    share = {name: 100 * used / seconds for name, used in cpu_shares(before, after).items()}
    cpus = os.cpu_count() or 1
    shown = [name for name in [*names, "clients", "postgres", "redis"] if name in share]
    ours = sum(share[name] for name in shown)
    text = ", ".join(f"{name} {share[name]:.0f}%" for name in shown)
    text += (
        f"; machine busy {share['machine'] / cpus:.0f}% of {cpus} CPUs "
        f"(other work {max(0.0, share['machine'] - ours) / cpus:.0f}%)"
    )
    waits = [
        f"{name} {share[name + ' waited']:.0f}%" for name in names if name + " waited" in share
    ]
    if waits:
        text += f"; loops waited for a CPU: {', '.join(waits)} of the time"
    return text


@dataclass
class Replicas:
    a: Replica
    b: Replica
    fake: subprocess.Popen[bytes]
    stack: Stack  # for Api: the fake's control API, and replica A's address
    redis_prefix: str

    def cpu_seconds(self) -> dict[str, float]:
        return cpu_snapshot(
            {"A": self.a.process.pid, "B": self.b.process.pid, "fake": self.fake.pid},
            {"A": self.a.process.pid, "B": self.b.process.pid},
        )


@contextmanager
def running_replicas() -> Iterator[Replicas]:
    require_redis()
    redis_prefix = f"ragql-bench-{uuid.uuid4().hex[:10]}"
    with (
        tempfile.TemporaryDirectory(prefix="ragql-bench-") as tmp,
        database("postgres") as database_url,
    ):
        assert database_url is not None
        data_dir, logs = Path(tmp) / "data", Path(tmp) / "logs"
        data_dir.mkdir()
        logs.mkdir()
        fake = subprocess.Popen(
            [sys.executable, str(HARNESS), "fake"], cwd=ROOT, stdout=subprocess.PIPE
        )
        cluster: Cluster | None = None
        try:
            assert fake.stdout is not None
            model_url = fake.stdout.readline().decode().strip()
            if not model_url.startswith("http"):
                raise SystemExit("the fake model server did not start")
            environment = replica_environment(
                data_dir,
                database_url,
                redis_prefix,
                model_url,
                ENABLE_BACKGROUND_JOBS="false",
                INGESTION_WORKERS="0",
            )
            cluster = Cluster(environment, logs)
            a, b = start_replicas(cluster, ["a", "b"])
            stack = Stack(
                data_dir,
                environment["JWT_SECRET"],
                model_url,
                a.address,
                fake,
                a.process,
                database_url,
            )
            yield Replicas(a, b, fake, stack, redis_prefix)
        finally:
            if cluster is not None:
                cluster.stop()
                for line in log_findings(cluster):
                    print(f"  replica log: {line}", file=sys.stderr)
            stop_process(fake)
            with contextlib.suppress(Exception):
                delete_redis_keys(redis_prefix)


# --------------------------------------------------------------------------- one phase


async def _phase(
    api: Api,
    replicas: Replicas,
    mode: str,
    args: argparse.Namespace,
    workspace_id: str,
    round_number: int,
) -> dict[str, Any]:
    streams = args.streams
    address = replicas.a.address if mode == "same" else replicas.b.address
    await api.script(
        args.tokens, args.rate, 0.0, jitter=1 / args.rate if streams > 1 else 0.0, hold=True
    )
    expected = "".join(bench_tokens(args.tokens))
    token = api.token
    sessions = await asyncio.gather(*(api.session(workspace_id) for _ in range(streams)))
    sockets = []
    for offset in range(0, streams, 50):  # in waves; connecting is not what is measured
        count = min(50, streams - offset)
        sockets += await asyncio.gather(*(graphql_socket(address, token) for _ in range(count)))
    questions = [f"{mode} {round_number} question {index}" for index in range(streams)]
    spacing = args.stagger / streams if streams > 1 else 0.0
    subscribed = asyncio.Semaphore(0)
    setup_started = time.perf_counter()

    async def one(index: int) -> Reading:
        await asyncio.sleep(max(0.0, setup_started + index * spacing - time.perf_counter()))
        message_id = await api.send(sessions[index], questions[index])  # on replica A
        reading = Reading()
        reading.subscribed_at = await subscribe(sockets[index], "graphql", "1", message_id, token)
        subscribed.release()
        return await follow(sockets[index], reading)

    clients = [asyncio.create_task(one(index)) for index in range(streams)]
    try:
        for _ in range(streams):
            await subscribed.acquire()
        while len(await api.model_requests()) < streams:  # noqa: ASYNC110
            await asyncio.sleep(0.1)
        await asyncio.sleep(args.settle)
        cpu_before = replicas.cpu_seconds()
        start = time.perf_counter()
        await api.release()
        readings = await asyncio.wait_for(
            asyncio.gather(*clients), timeout=args.tokens / args.rate + 120
        )
    finally:
        for client in clients:
            client.cancel()
        await asyncio.gather(*clients, return_exceptions=True)
        await asyncio.gather(*(ws.close() for ws in sockets), return_exceptions=True)
    elapsed = time.perf_counter() - start
    cpu_after = replicas.cpu_seconds()

    records = {r["question"]: r for r in await api.model_requests()}
    broken = replayed = impossible = 0
    latencies: list[float] = []
    for question, reading in zip(questions, readings, strict=True):
        record = records.get(question)
        emitted = record["written_at"] if record else []
        try:
            check_answer(reading, expected)
            if len(emitted) != args.tokens:
                raise AssertionError(f"the model wrote {len(emitted)} tokens")
        except AssertionError as error:
            broken += 1
            print(f"  {mode} {question!r}: {error}", file=sys.stderr)
            continue
        timed, skipped = token_latencies(reading, emitted)
        replayed += skipped
        for _, latency in timed:
            impossible += latency < -CLOCK_SLACK
            latencies.append(latency)
    frames_total = sum(len(r.frames) for r in readings)
    server_cpu = sum(cpu_after.get(n, 0.0) - cpu_before.get(n, 0.0) for n in ("A", "B"))
    return {
        "mode": mode,
        "round": round_number,
        "broken": broken,
        "replayed": replayed,
        "impossible": impossible,
        "latencies": latencies,
        "p50": statistics.median(latencies) if latencies else float("inf"),
        "p95": percentile(latencies, 95) if latencies else float("inf"),
        "p99": percentile(latencies, 99) if latencies else float("inf"),
        "max": max(latencies) if latencies else float("inf"),
        "tokens_per_frame": streams * args.tokens / max(1, frames_total),
        "server_us_per_token": 1e6 * server_cpu / (streams * args.tokens),
        "cpu": cpu_report(cpu_before, cpu_after, elapsed, ["A", "B", "fake"]),
        "seconds": elapsed,
    }


def _figures(result: dict[str, Any]) -> str:
    return (
        f"p50 {result['p50'] * 1000:6.1f} ms  p95 {result['p95'] * 1000:6.1f} ms  "
        f"p99 {result['p99'] * 1000:6.1f} ms  max {result['max'] * 1000:6.1f} ms"
    )


async def _bench(replicas: Replicas, args: argparse.Namespace) -> list[dict[str, Any]]:
    api = Api(replicas.stack, connections=min(args.streams, 200) + 10)
    try:
        await api.sign_up()
        workspace_id = await api.workspace()
        # Warm-up on both replicas: the embedder (retrieval), pools, each replica's
        # Redis stream reader and first subscription.
        await api.script(20, None)
        for replica in (replicas.a, replicas.b):
            for _ in range(2):
                warm = await api.send(await api.session(workspace_id), "warm-up")
                ws = await graphql_socket(replica.address, api.token)
                await subscribe(ws, "graphql", "1", warm, api.token)
                await follow(ws, Reading())
                await ws.close()
        # And one short phase of each at full scale, not counted: the replicas' database
        # pools filled, PostgreSQL's backends started, Redis scripts loaded.
        short = argparse.Namespace(**{**vars(args), "tokens": min(args.tokens, 50)})
        for mode in MODES:
            warm_up = await _phase(api, replicas, mode, short, workspace_id, -1)
            print(f"  {mode:<5} warm-up: {_figures(warm_up)}", file=sys.stderr, flush=True)
        results = []
        for round_number in range(args.rounds):
            order = MODES if round_number % 2 == 0 else MODES[::-1]
            for mode in order:
                result = await _phase(api, replicas, mode, args, workspace_id, round_number)
                results.append(result)
                print(
                    f"  {mode:<5} round {round_number}: {_figures(result)}; "
                    f"{result['tokens_per_frame']:.2f} tokens/frame, server CPU "
                    f"{result['server_us_per_token']:.0f} us/token\n"
                    f"        cpu {result['cpu']}",
                    file=sys.stderr,
                    flush=True,
                )
        return results
    finally:
        await api.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    add_paced_stream_arguments(parser, streams=50, tokens=200, stagger=1.0)
    parser.add_argument("--rounds", type=int, default=6, help="ABBA rounds (6)")
    args = parser.parse_args()
    clock = machine_wide_clock()
    if clock is not None:
        print(f"replica_stream_latency: needs one machine-wide clock; perf_counter is {clock}")
        return 2

    began = time.perf_counter()
    load_before = os.getloadavg()
    with running_replicas() as replicas:
        results = run(_bench(replicas, args))
    load_after = os.getloadavg()

    errors = []
    for result in results:
        label = f"{result['mode']} round {result['round']}"
        if result["broken"]:
            errors.append(
                f"{label}: {result['broken']} stream(s) out of order, short or not COMPLETE"
            )
        if result["impossible"]:
            errors.append(
                f"{label}: {result['impossible']} tokens arrived before they were written"
            )
        if result["replayed"]:
            print(
                f"  {label}: {result['replayed']} tokens written before their client subscribed "
                "(left out of the figures)",
                file=sys.stderr,
            )
    for error in errors:
        print(f"  ERROR: {error}", file=sys.stderr)

    median = {
        mode: {
            key: statistics.median(r[key] for r in results if r["mode"] == mode)
            for key in ("p50", "p95", "p99", "max", "server_us_per_token")
        }
        for mode in MODES
    }
    for mode in MODES:
        figures = median[mode]
        print(
            f"  median over {args.rounds} phases, {mode:<5}: "
            f"p50 {figures['p50'] * 1000:.1f} ms, p95 {figures['p95'] * 1000:.1f} ms, "
            f"p99 {figures['p99'] * 1000:.1f} ms, max {figures['max'] * 1000:.1f} ms; "
            f"server CPU {figures['server_us_per_token']:.0f} us/token (A + B)",
            file=sys.stderr,
        )
    print(
        f"  {args.streams} streams x {args.tokens} tokens at {args.rate:g} tokens/s per phase; "
        f"load average {load_before[0]:.2f} before, {load_after[0]:.2f} after "
        f"({os.cpu_count()} CPUs); whole run {time.perf_counter() - began:.0f} s",
        file=sys.stderr,
    )
    other, same = median["other"], median["same"]
    print(
        f"replica_stream_latency: other replica p50 {other['p50'] * 1000:.1f} ms "
        f"p99 {other['p99'] * 1000:.1f} ms, same replica p50 {same['p50'] * 1000:.1f} ms "
        f"p99 {same['p99'] * 1000:.1f} ms, ratio p99 {other['p99'] / same['p99']:.2f}x "
        f"({args.streams} streams x {args.rate:g} tokens/s; all in order: "
        f"{'yes' if not errors else 'NO'})",
        flush=True,
    )
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
