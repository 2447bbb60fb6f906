"""Stream latency: 200 answers at 50 tokens per second each on one server worker.

    /work/venv/bin/python bench/stream_latency.py                      # about 45 seconds
    /work/venv/bin/python bench/stream_latency.py --enforce            # exit 1 if a check fails
    /work/venv/bin/python bench/stream_latency.py --database postgres  # on RAGQL_TEST_POSTGRES
    /work/venv/bin/python bench/stream_latency.py --profile /tmp/s.txt # py-spy while streaming

The processes of bench/stream_efficiency.py (whose plumbing this imports): the fake
OpenAI-compatible model server, the server (one uvicorn worker, uvloop and httptools,
SQLite by default), and this process with the clients (``websockets``).

Every stream is a real client: a ``sendMessage`` mutation over HTTP, then a
``messageStream`` subscription over graphql-transport-ws on a socket opened (and
acknowledged) beforehand. The ``--streams`` questions go out spread evenly over
``--stagger`` seconds. The fake model holds every answer before its first token until
all of them have reached it, every client has subscribed and ``--settle`` more seconds
have passed; then it releases them: each answer streams ``--tokens`` distinct tokens of
the same width ("w0000 w0001 ..."), one every 1/``--rate`` seconds on an absolute
schedule, starting at a random phase within the first interval (independent users are
not in lockstep). So what is measured is the streaming itself with all the streams
live; the cost of starting 200 answers at once is reported beside it (set-up time,
``sendMessage`` round trips), and bench/first_delta.py measures a question's start.

Checks, per stream: the text received is exactly the tokens, in order, nothing lost or
repeated, and the last frame says COMPLETE with the same content.

Latency, per token: the time its frame arrived at the client minus the time the fake
model handed it to its socket. Both are ``time.perf_counter()`` read in two processes:
on Linux that is ``clock_gettime(CLOCK_MONOTONIC)``, one clock for the whole machine, so
the difference is meaningful (the script refuses to run on another clock, and a token
received before it was written is reported as an error). The fixed token width tells
which tokens a coalesced frame completed: token k has arrived once the stream has
delivered (k + 1) x TOKEN_WIDTH characters. The client's own event loop is part of the
measured path (a slow client adds to the figure; it never flatters it).

The same is measured with one stream first, as the baseline, in the same run. Beside
the percentiles the script prints the server's CPU time per token and how long its
event-loop thread was runnable but waiting for a CPU (/proc): on a machine shared with
other work, that wait, not the code, can be what the latency is made of.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.stream_efficiency import (  # noqa: E402
    CLOCK_SLACK,
    Api,
    Reading,
    Stack,
    add_paced_stream_arguments,
    bench_tokens,
    check_answer,
    cpu_report,
    follow,
    graphql_socket,
    machine_wide_clock,
    percentile,
    run,
    running_stack,
    subscribe,
    token_latencies,
)

TARGET_P99_MS = 150.0


async def _phase(
    api: Api, label: str, streams: int, args: argparse.Namespace, workspace_id: str
) -> dict[str, Any]:
    # Every answer is held before its first token until all the streams are set up, then
    # each starts within one token interval (a random phase, as independent users have).
    await api.script(
        args.tokens, args.rate, 0.0, jitter=1 / args.rate if streams > 1 else 0.0, hold=True
    )
    expected = "".join(bench_tokens(args.tokens))
    token = api.token
    sessions = await asyncio.gather(*(api.session(workspace_id) for _ in range(streams)))
    sockets = []
    for offset in range(0, streams, 50):  # connect in waves; the server is not under test here
        count = min(50, streams - offset)
        sockets += await asyncio.gather(
            *(graphql_socket(api.stack.address, token) for _ in range(count))
        )
    questions = [f"{label} question {index}" for index in range(streams)]
    spacing = args.stagger / streams if streams > 1 else 0.0
    mutation_seconds: list[float] = []
    subscribed = asyncio.Semaphore(0)
    setup_started = time.perf_counter()

    async def one(index: int) -> Reading:
        await asyncio.sleep(max(0.0, setup_started + index * spacing - time.perf_counter()))
        sent_at = time.perf_counter()
        message_id = await api.send(sessions[index], questions[index])
        mutation_seconds.append(time.perf_counter() - sent_at)
        reading = Reading()
        reading.subscribed_at = await subscribe(sockets[index], "graphql", "1", message_id, token)
        subscribed.release()
        return await follow(sockets[index], reading)

    clients = [asyncio.create_task(one(index)) for index in range(streams)]
    try:
        for _ in range(streams):
            await subscribed.acquire()
        # every answer has reached the model (polling the fake over HTTP)
        while len(await api.model_requests()) < streams:  # noqa: ASYNC110
            await asyncio.sleep(0.1)
        await asyncio.sleep(args.settle)  # subscriptions set up, first writes done
        setup = time.perf_counter() - setup_started
        profiler = _profile(api.stack, args.profile) if streams > 1 and args.profile else None
        cpu_before = api.stack.cpu_seconds()
        start = time.perf_counter()
        await api.release()
        readings = await asyncio.gather(*clients)
    finally:
        if profiler is not None:
            profiler.send_signal(signal.SIGINT)
            profiler.wait(timeout=60)
        for client in clients:
            client.cancel()
        await asyncio.gather(*clients, return_exceptions=True)
        await asyncio.gather(*(ws.close() for ws in sockets), return_exceptions=True)
    elapsed = time.perf_counter() - start
    cpu_after = api.stack.cpu_seconds()
    cpu = cpu_report(cpu_before, cpu_after, elapsed)
    server_cpu = cpu_after.get("server", 0.0) - cpu_before.get("server", 0.0)

    records = {r["question"]: r for r in await api.model_requests()}
    broken = replayed = impossible = 0
    latencies: list[float] = []
    # where in the answers the slow tokens are: the first tenth, the middle, the last tenth
    parts: dict[str, list[float]] = {"start": [], "middle": [], "end": []}
    tenth = max(1, args.tokens // 10)
    rates = []
    for question, reading in zip(questions, readings, strict=True):
        record = records.get(question)  # None: the server never asked the model
        emitted = record["written_at"] if record else []
        try:
            check_answer(reading, expected)
            if len(emitted) != args.tokens:
                raise AssertionError(f"the model wrote {len(emitted)} tokens")
        except AssertionError as error:
            broken += 1
            print(f"  {label} {question!r}: {error}", file=sys.stderr)
            continue
        rates.append((len(emitted) - 1) / (emitted[-1] - emitted[0]) if len(emitted) > 1 else 0)
        timed, skipped = token_latencies(reading, emitted)
        replayed += skipped
        for index, latency in timed:
            impossible += latency < -CLOCK_SLACK
            latencies.append(latency)
            part = "start" if index < tenth else "end" if index >= args.tokens - tenth else "middle"
            parts[part].append(latency)
    frames_total = sum(len(r.frames) for r in readings)
    return {
        "label": label,
        "streams": streams,
        "broken": broken,
        "latencies": latencies,
        "parts": parts,
        "replayed": replayed,
        "impossible": impossible,
        "model_rate": statistics.median(rates) if rates else 0.0,
        "tokens_per_frame": streams * args.tokens / max(1, frames_total),
        "cpu": cpu,
        "server_us_per_token": 1e6 * server_cpu / (streams * args.tokens),
        "mutation": mutation_seconds,
        "setup": setup,
        "seconds": elapsed,
    }


def _profile(stack: Stack, output: Path) -> subprocess.Popen[bytes]:
    """py-spy sampling the server's threads while the streams run (raw stacks)."""
    beside = Path(sys.executable).with_name("py-spy")
    found = str(beside) if beside.exists() else shutil.which("py-spy")
    if found is None:
        raise SystemExit("--profile needs py-spy (pip install py-spy)")
    command = [found, "record", "--pid", str(stack.server.pid), "--threads", "--nonblocking"]
    command += ["--format", "raw", "--rate", "200", "--output", str(output)]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _by_part(parts: dict[str, list[float]]) -> str:
    return ", ".join(
        f"{name} {percentile(values, 99) * 1000:.0f} ms" for name, values in parts.items() if values
    )


def _summary(result: dict[str, Any]) -> str:
    values = result["latencies"]
    if not values:
        return "no live tokens measured"
    return (
        f"p50 {statistics.median(values) * 1000:6.1f} ms  "
        f"p95 {percentile(values, 95) * 1000:6.1f} ms  "
        f"p99 {percentile(values, 99) * 1000:6.1f} ms  "
        f"max {max(values) * 1000:6.1f} ms"
    )


async def _bench(stack: Stack, args: argparse.Namespace) -> list[dict[str, Any]]:
    api = Api(stack, connections=min(args.streams, 200) + 10)
    try:
        await api.sign_up()
        workspace_id = await api.workspace()
        # Warm-up: the embedder, the pools, the first subscription.
        await api.script(20, None)
        warm = await api.send(await api.session(workspace_id), "warm-up")
        ws = await graphql_socket(stack.address, api.token)
        await subscribe(ws, "graphql", "1", warm, api.token)
        await follow(ws, Reading())
        await ws.close()
        results = []
        for label, streams in (("baseline", 1), ("load", args.streams)):
            result = await _phase(api, label, streams, args, workspace_id)
            results.append(result)
            mutation = result["mutation"]
            print(
                f"  {label:<8} {streams:>4} stream(s): {_summary(result)}\n"
                f"           set-up {result['setup']:.1f} s (sendMessage round trip p50 "
                f"{statistics.median(mutation) * 1000:.0f} ms, max {max(mutation) * 1000:.0f} ms)"
                f"; then model {result['model_rate']:.1f} tokens/s per stream, "
                f"{result['tokens_per_frame']:.2f} tokens/frame, server CPU "
                f"{result['server_us_per_token']:.0f} us/token\n"
                f"           p99 by part of the answer: {_by_part(result['parts'])}\n"
                f"           cpu {result['cpu']}",
                file=sys.stderr,
                flush=True,
            )
        return results
    finally:
        await api.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    add_paced_stream_arguments(parser, streams=200, tokens=400, stagger=2.0)
    parser.add_argument(
        "--database", choices=("sqlite", "postgres"), default="sqlite", help="(sqlite)"
    )
    parser.add_argument("--enforce", action="store_true", help="exit 1 if a check fails")
    parser.add_argument(
        "--profile", type=Path, help="py-spy the server while the streams run (raw stacks)"
    )
    args = parser.parse_args()
    clock = machine_wide_clock()
    if clock is not None:
        print(f"stream_latency: needs one machine-wide clock; perf_counter is {clock}")
        return 2

    load_before = os.getloadavg()[0]
    with running_stack(database_kind=args.database) as stack:
        baseline, loaded = run(_bench(stack, args))
    load_after = os.getloadavg()[0]
    errors = []
    for result in (baseline, loaded):
        if result["broken"]:
            errors.append(f"{result['broken']} {result['label']} stream(s) out of order or short")
        if result["impossible"]:
            errors.append(f"{result['impossible']} tokens arrived before they were written")
    if loaded["replayed"]:
        print(
            f"  {loaded['replayed']} tokens were written before their client subscribed "
            "(left out of the figures)",
            file=sys.stderr,
        )
    for error in errors:
        print(f"  ERROR: {error}", file=sys.stderr)
    print(
        f"  load average {load_before:.1f} before, {load_after:.1f} after ({os.cpu_count()} CPUs)",
        file=sys.stderr,
    )
    p99 = percentile(loaded["latencies"], 99) * 1000 if loaded["latencies"] else float("inf")
    passed = not errors and p99 < TARGET_P99_MS
    in_order = "yes" if not errors else "NO"
    print(
        f"stream_latency: {args.streams} streams x {args.rate:g} tokens/s: {_summary(loaded)}; "
        f"1 stream: {_summary(baseline)}; all in order: {in_order}; "
        f"p99 < {TARGET_P99_MS:g} ms: {'PASS' if passed else 'FAIL'}",
        flush=True,
    )
    return 1 if args.enforce and not passed else 0


if __name__ == "__main__":
    sys.exit(main())
