"""Stream efficiency: tokens per second delivered through messageStream, next to a raw WebSocket.

    /work/venv/bin/python bench/stream_efficiency.py            # about 1.5 minutes
    /work/venv/bin/python bench/stream_efficiency.py --enforce  # exit 1 below the target

Three processes, so that neither the model nor the load generator steals the server's
event loop:

* ``fake``: the test suite's OpenAI-compatible streaming server
  (``tests.support.fake_openai.FakeOpenAI``) on loopback, in its own event loop, with a
  small control API (``/bench/...``) to script its answers and read what it recorded;
* ``serve``: uvicorn (uvloop, httptools, uvicorn's default WebSocket implementation, as
  ``ragql serve`` runs it) serving ``graph.app.create_app`` with OPENAI_BASE_URL pointed at
  the fake, plus one extra route mounted here only: ``/raw``, a plain FastAPI WebSocket;
* this process: the clients (the ``websockets`` library), after orchestrating.

Both paths share everything up to the edge: a ``sendMessage`` mutation over HTTP starts
the answer, the server streams it from the fake model through the openai SDK into the
in-process message stream. Then either

* ``graphql``: a ``messageStream`` subscription over graphql-transport-ws, which sends one
  coalesced frame per read of the stream (whatever arrived since the previous frame), or
* ``raw``: ``/raw`` follows the same stream and sends every delta as its own frame, with
  the same JSON payload a ``next`` message would carry (``{"id", "type": "next",
  "payload": {"data": {"messageStream": {seq, delta, done, message}}}}``), then the same
  final frame and ``complete``.

At saturation: the fake streams every answer as fast as it can (``--tokens`` tokens of
exactly TOKEN_WIDTH characters, so delivered tokens = characters received / TOKEN_WIDTH),
``--clients`` answers at once. Each client checks that the text it received is the whole
answer, in order. A phase's rate is all tokens delivered / (last client done - start);
sessions and sockets are opened before the clock starts. The two modes alternate, ABBA,
for ``--rounds`` rounds after a warm-up; the medians and their ratio are on the last line.
CPU use of each process during the measured phases is printed too (which one saturated),
with how long the server's event-loop thread was runnable but waiting for a CPU, and the
server's CPU time per token delivered: on a machine shared with other work the rates
move with everyone else's load, and the ratio of CPU per token ("per server CPU-second"
on the last line) is the steadier estimate of what the two would do on a core of their
own.

The process plumbing here (fake, server, settings, clients) is shared with
bench/stream_latency.py and bench/first_delta.py, which import it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import os
import random
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from fastapi import WebSocket, WebSocketDisconnect

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

HARNESS = Path(__file__).resolve()
TARGET_RATIO = 1.0
RAW_PATH = "/raw"
SECRET_ENV = "RAGQL_BENCH_SECRET"
MODEL_URL_ENV = "RAGQL_BENCH_MODEL_URL"
DATABASE_ENV = "RAGQL_BENCH_DATABASE_URL"
POSTGRES_ADMIN = os.environ.get(
    "RAGQL_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres"
)
TOKEN_WIDTH = 6  # "w0042 "
MAX_TOKENS = 10_000
WAITED = "server loop waiting for a CPU"
T = TypeVar("T")

REGISTER = """
mutation R($input: RegisterInput!) { register(input: $input) { accessToken user { id } } }
"""
CREATE_WORKSPACE = "mutation W($name: String!) { createWorkspace(input: {name: $name}) { id } }"
CREATE_SESSION = "mutation S($ws: ID!) { createChatSession(workspaceId: $ws) { id } }"
SEND = """
mutation Send($s: ID!, $q: String!) {
  sendMessage(sessionId: $s, content: $q) { assistantMessage { id status } }
}
"""
STREAM = """
subscription Stream($id: ID!) {
  messageStream(messageId: $id) { seq delta done message { id status content } }
}
"""


def bench_token(index: int) -> str:
    return f"w{index:04d} "


def bench_tokens(count: int) -> list[str]:
    """Distinct tokens of TOKEN_WIDTH characters: the text says which came in what order."""
    if not 0 < count <= MAX_TOKENS:
        raise ValueError(f"between 1 and {MAX_TOKENS} tokens")
    return [bench_token(index) for index in range(count)]


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    """asyncio.run on uvloop when installed (as the server gets)."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coroutine)
    return uvloop.run(coroutine)


def add_paced_stream_arguments(
    parser: argparse.ArgumentParser, *, streams: int, tokens: int, stagger: float
) -> None:
    """The options of the benchmarks that stream answers at a model's pace."""
    parser.add_argument(
        "--streams", type=int, default=streams, help=f"concurrent streams ({streams})"
    )
    parser.add_argument("--rate", type=float, default=50.0, help="tokens/s per stream (50)")
    parser.add_argument("--tokens", type=int, default=tokens, help=f"tokens per answer ({tokens})")
    parser.add_argument(
        "--stagger",
        type=float,
        default=stagger,
        help=f"questions spread over this long ({stagger} s)",
    )
    parser.add_argument(
        "--settle", type=float, default=1.0, help="pause between set-up and release (1.0 s)"
    )


def machine_wide_clock() -> str | None:
    """None when perf_counter reads one clock for every process (CLOCK_MONOTONIC on
    Linux), so times read in two processes can be subtracted; else what it reads."""
    clock = time.get_clock_info("perf_counter").implementation
    if sys.platform.startswith("linux") and "CLOCK_MONOTONIC" in clock:
        return None
    return clock


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def bench_settings(
    data_dir: Path, secret: str, model_url: str, database_url: str | None = None
) -> Any:
    from domain.settings import Settings

    values: dict[str, Any] = {
        "data_dir": data_dir,
        "database_url": database_url,
        "jwt_secret": secret,
        "argon2_memory_kib": 1024,
        "argon2_time_cost": 1,
        "openai_base_url": model_url,
        "chat_model": "fake-model",
        # Nothing else runs in the server: no scheduled jobs (the maintenance job would
        # also remove chunks seeded without documents), no ingestion workers polling.
        "enable_background_jobs": False,
        "ingestion_workers": 0,
    }
    return Settings(_env_file=None, **values)


# --------------------------------------------------------------------------- fake model


def fake() -> None:
    """The fake model server, until SIGTERM; prints its base URL first."""
    from tests.support.fake_openai import FakeOpenAI, Reply

    class BenchFake(FakeOpenAI):
        """FakeOpenAI with a control API and exact pacing.

        POST /bench/script {"tokens": n, "tokens_per_second": r|null,
                            "first_token_delay_seconds": s, "jitter_seconds": j,
                            "hold": true|false}
            forget what was recorded; every streaming request from now on gets n bench
            tokens at r per second (null: as fast as possible), the first s + a random
            0..j seconds after the response starts (or, with "hold", after the release).
        POST /bench/release
            the held responses start (all of them, and any held later).
        GET /bench/requests
            per streaming request: the question (last user message), `started_at` (when
            the response began), per token `written_at` (just before it was handed to
            the transport) and `emitted_at` (just after), all time.perf_counter() in
            this process: CLOCK_MONOTONIC on Linux, the same clock in every process.
        """

        release = asyncio.Event()
        jitter = 0.0

        def _next_reply(self, stream: bool) -> Any:
            reply = super()._next_reply(stream)
            if stream and self.jitter:
                delay = reply.first_token_delay_seconds + random.uniform(0, self.jitter)
                reply = dataclasses.replace(reply, first_token_delay_seconds=delay)
            return reply

        async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
            if scope["type"] == "http" and scope["path"].startswith("/bench/"):
                await self._control(scope, receive, send)
                return
            await super().__call__(scope, receive, send)

        async def _control(self, scope: Any, receive: Any, send: Any) -> None:
            raw = b""
            while True:
                message = await receive()
                raw += message.get("body", b"")
                if not message.get("more_body"):
                    break
            body: Any = {"ok": True}
            if scope["path"] == "/bench/script":
                spec = json.loads(raw)
                self.reset()
                self.release = asyncio.Event()
                self.jitter = float(spec.get("jitter_seconds", 0))
                hold = bool(spec.get("hold"))
                self.default = Reply(
                    tokens=bench_tokens(int(spec["tokens"])),
                    tokens_per_second=spec.get("tokens_per_second"),
                    first_token_delay_seconds=float(spec.get("first_token_delay_seconds", 0)),
                    stall_after=0 if hold else None,
                    resume=self.release if hold else None,
                )
            elif scope["path"] == "/bench/release":
                self.release.set()
            else:
                body = [
                    {
                        "question": _last_user_message(received.body),
                        "prompt_chars": _prompt_chars(received.body),
                        "started_at": getattr(received, "started_at", None),
                        "emitted_at": received.emitted_at,
                        # the events are: the role, one per token, then the end
                        "written_at": getattr(received, "written_at", [])[
                            1 : 1 + received.tokens_sent
                        ],
                        "tokens_sent": received.tokens_sent,
                        "finished": received.finished,
                        "disconnected": received.disconnected,
                    }
                    for received in self.requests
                    if received.stream
                ]
            data = json.dumps(body).encode()
            headers = [(b"content-type", b"application/json")]
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            await send({"type": "http.response.body", "body": data})

        async def _stream(self, send: Any, received: Any) -> None:
            # When each SSE event was handed to the transport: taken before the write
            # (`emitted_at` is taken after it, which a busy process can delay).
            received.started_at = time.perf_counter()
            received.written_at = []

            async def timed(message: Any) -> None:
                if message["type"] == "http.response.body":
                    received.written_at.append(time.perf_counter())
                await send(message)

            await super()._stream(timed, received)

        async def _pause(self, received: Any, seconds: float | None) -> None:
            # The original polls every 10 ms, so 50 tokens/s came out near 35. This keeps
            # an absolute schedule instead (due times first delay + k / rate), still
            # noticing a hang-up within 50 ms.
            if seconds is None:  # held until released (the original polls every 10 ms)
                resume = received.reply.resume
                while not (received.disconnected or self._closing or resume.is_set()):
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(resume.wait(), 0.2)
                return
            due = getattr(received, "due", None)
            due = (time.perf_counter() if due is None else due) + seconds
            received.due = due
            while not (received.disconnected or self._closing):
                remaining = due - time.perf_counter()
                if remaining <= 0:
                    return
                await asyncio.sleep(min(remaining, 0.05))

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGTERM, stop.set)
        loop.add_signal_handler(signal.SIGINT, stop.set)
        async with BenchFake() as server:
            print(server.base_url, flush=True)
            await stop.wait()

    run(main())


def _last_user_message(body: dict[str, Any]) -> str | None:
    for message in reversed(body.get("messages") or []):
        if isinstance(message, dict) and message.get("role") == "user":
            return str(message.get("content"))
    return None


def _prompt_chars(body: dict[str, Any]) -> int:
    return sum(
        len(message["content"])
        for message in body.get("messages") or []
        if isinstance(message, dict) and isinstance(message.get("content"), str)
    )


# --------------------------------------------------------------------------- server


def mount_raw(app: Any) -> None:
    """``/raw``: the same stream as messageStream, one frame per delta (bench only).

    The client sends {"token": <access token>, "messageId": <id>}; the same sign-in and
    ownership checks as the subscription run, then every delta goes out as its own
    frame. Individual deltas are read from the in-process stream's log (the port only
    hands out joined batches): that is the point of the comparison.
    """
    from domain.auth.tokens import TokenType
    from domain.chat.messages import get_own_message
    from domain.chat.models import ChatMessage
    from domain.errors import DomainError
    from graph.ids import parse_id

    def frame(seq: int, delta: str, done: bool, message: dict[str, Any] | None) -> str:
        event = {"seq": seq, "delta": delta, "done": done, "message": message}
        return json.dumps(
            {"id": "1", "type": "next", "payload": {"data": {"messageStream": event}}}
        )

    @app.websocket(RAW_PATH)
    async def raw(websocket: WebSocket) -> None:
        await websocket.accept()
        container = websocket.app.state.container
        try:
            hello = json.loads(await websocket.receive_text())
            viewer_id = container.tokens.decode(hello["token"], TokenType.ACCESS).user_id
            message_id = parse_id(hello["messageId"], "Message", "messageId")
            async with container.sessionmaker() as session:
                await get_own_message(session, message_id=message_id, user_id=viewer_id)
        except (DomainError, KeyError, ValueError):
            await websocket.close(4403)
            return
        except WebSocketDisconnect:
            return
        streams = container.streams
        stream = streams._streams.get(message_id)  # the in-process adapter's log
        if stream is None:
            await websocket.close(4404)
            return
        sent = 0
        try:
            async for batch in streams.read(message_id):
                for seq in range(sent, batch.last_seq):
                    await websocket.send_text(frame(seq + 1, stream.deltas[seq], False, None))
                sent = batch.last_seq
                if batch.done:
                    async with container.sessionmaker() as session:
                        final = await session.get(ChatMessage, message_id)
                    assert final is not None
                    stored = {
                        "id": str(final.id),
                        "status": final.status.value,
                        "content": final.content,
                    }
                    await websocket.send_text(frame(sent, "", True, stored))
                    await websocket.send_text(json.dumps({"id": "1", "type": "complete"}))
                    break
            await websocket.close()
        except WebSocketDisconnect:
            pass


def serve(data_dir: Path, port: int, raw: bool) -> None:
    import uvicorn

    from domain.db.migrate import migrate
    from graph.app import create_app

    settings = bench_settings(
        data_dir,
        os.environ[SECRET_ENV],
        os.environ[MODEL_URL_ENV],
        os.environ.get(DATABASE_ENV) or None,
    )
    asyncio.run(migrate(settings.resolved_database_url))
    app = create_app(settings)
    if raw:
        mount_raw(app)
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        access_log=False,
        lifespan="on",
        loop="auto",  # uvloop when installed, as `ragql serve` gets
        http="auto",  # httptools when installed
    )


# --------------------------------------------------------------------------- orchestration


@dataclass
class Stack:
    data_dir: Path
    secret: str
    model_url: str  # the fake's base URL, ".../v1"
    address: str  # the server, "127.0.0.1:<port>"
    fake: subprocess.Popen[bytes]
    server: subprocess.Popen[bytes]
    database_url: str | None = None  # None: SQLite under data_dir

    @property
    def control(self) -> str:
        return self.model_url.rsplit("/v1", 1)[0] + "/bench"

    def cpu_seconds(self) -> dict[str, float]:
        """CPU time used so far by each process, and how long the server's event-loop
        thread has waited for a CPU while runnable (Linux /proc; empty elsewhere)."""
        out = {"clients": time.process_time()}
        try:
            for name, process in (("server", self.server), ("fake", self.fake)):
                fields = Path(f"/proc/{process.pid}/stat").read_text().rsplit(")", 1)[1].split()
                ticks = os.sysconf("SC_CLK_TCK")
                out[name] = (int(fields[11]) + int(fields[12])) / ticks  # utime + stime
            # the main thread's schedstat: time on a CPU, time runnable but waiting (ns)
            schedstat = Path(f"/proc/{self.server.pid}/schedstat").read_text().split()
            out[WAITED] = int(schedstat[1]) / 1e9
        except OSError:
            return {}
        return out


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _wait_until_up(url: str, process: subprocess.Popen[bytes], timeout: float = 90) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"{url}: the process exited with {process.returncode}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise SystemExit(f"{url} did not come up")


async def _postgres(action: str, name: str) -> None:
    import asyncpg

    admin = await asyncpg.connect(POSTGRES_ADMIN, timeout=5)
    try:
        if action == "create":
            await admin.execute(f'CREATE DATABASE "{name}"')
        else:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@contextmanager
def database(kind: str) -> Iterator[str | None]:
    """None (SQLite under the data directory, the embedded default), or the URL of a
    temporary PostgreSQL database on RAGQL_TEST_POSTGRES's server, dropped afterwards."""
    if kind == "sqlite":
        yield None
        return
    name = f"ragql_bench_{uuid.uuid4().hex[:12]}"
    asyncio.run(_postgres("create", name))
    base = POSTGRES_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1)
    try:
        yield f"{base}/{name}"
    finally:
        asyncio.run(_postgres("drop", name))


@contextmanager
def running_stack(raw: bool = False, database_kind: str = "sqlite") -> Iterator[Stack]:
    """A temporary data directory, the fake model and the server, each in its process."""
    with (
        tempfile.TemporaryDirectory(prefix="ragql-bench-") as tmp,
        database(database_kind) as database_url,
    ):
        data_dir = Path(tmp)
        secret = secrets.token_urlsafe(48)
        fake_process = subprocess.Popen(
            [sys.executable, str(HARNESS), "fake"], cwd=ROOT, stdout=subprocess.PIPE
        )
        server_process: subprocess.Popen[bytes] | None = None
        try:
            assert fake_process.stdout is not None
            model_url = fake_process.stdout.readline().decode().strip()
            if not model_url.startswith("http"):
                raise SystemExit("the fake model server did not start")
            port = free_port()
            command = [sys.executable, str(HARNESS), "serve", "--port", str(port)]
            command += ["--data-dir", str(data_dir)] + (["--raw"] if raw else [])
            env = {
                **os.environ,
                SECRET_ENV: secret,
                MODEL_URL_ENV: model_url,
                DATABASE_ENV: database_url or "",
            }
            server_process = subprocess.Popen(command, cwd=ROOT, env=env)
            _wait_until_up(f"http://127.0.0.1:{port}/healthz", server_process)
            yield Stack(
                data_dir,
                secret,
                model_url,
                f"127.0.0.1:{port}",
                fake_process,
                server_process,
                database_url,
            )
        finally:
            if server_process is not None:
                _stop(server_process)
            _stop(fake_process)


# --------------------------------------------------------------------------- clients


class Api:
    """GraphQL over HTTP, and the fake's control API."""

    def __init__(self, stack: Stack, connections: int = 100) -> None:
        import httpx

        self.stack = stack
        # Idle keep-alives expire before uvicorn's (5 s) would close them under a request.
        limits = httpx.Limits(
            max_connections=connections,
            max_keepalive_connections=connections,
            keepalive_expiry=2.0,
        )
        self.http = httpx.AsyncClient(timeout=60, limits=limits)
        self.token = ""

    async def data(self, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        headers = {"authorization": f"Bearer {self.token}"} if self.token else {}
        response = await self.http.post(
            f"http://{self.stack.address}/graphql",
            json={"query": query, "variables": variables},
            headers=headers,
        )
        body = response.json()
        if response.status_code != 200 or body.get("errors"):
            raise RuntimeError(f"GraphQL failed: {response.status_code} {body}")
        return dict(body["data"])

    async def sign_up(self) -> str:
        email = f"bench-{uuid.uuid4().hex[:10]}@example.com"
        data = await self.data(
            REGISTER,
            {"input": {"email": email, "password": "correct horse battery", "displayName": "B"}},
        )
        self.token = data["register"]["accessToken"]
        return self.token

    async def workspace(self, name: str = "Bench") -> str:
        return str((await self.data(CREATE_WORKSPACE, {"name": name}))["createWorkspace"]["id"])

    async def session(self, workspace_id: str) -> str:
        data = await self.data(CREATE_SESSION, {"ws": workspace_id})
        return str(data["createChatSession"]["id"])

    async def send(self, session_id: str, question: str) -> str:
        data = await self.data(SEND, {"s": session_id, "q": question})
        return str(data["sendMessage"]["assistantMessage"]["id"])

    async def script(
        self,
        tokens: int,
        tokens_per_second: float | None,
        first_token_delay: float = 0.0,
        *,
        jitter: float = 0.0,
        hold: bool = False,
    ) -> None:
        response = await self.http.post(
            f"{self.stack.control}/script",
            json={
                "tokens": tokens,
                "tokens_per_second": tokens_per_second,
                "first_token_delay_seconds": first_token_delay,
                "jitter_seconds": jitter,
                "hold": hold,
            },
        )
        response.raise_for_status()

    async def release(self) -> None:
        (await self.http.post(f"{self.stack.control}/release")).raise_for_status()

    async def model_requests(self) -> list[dict[str, Any]]:
        response = await self.http.get(f"{self.stack.control}/requests")
        response.raise_for_status()
        return list(response.json())

    async def close(self) -> None:
        await self.http.aclose()


@dataclass
class Reading:
    """What one client received on one stream: (perf_counter, characters) per frame."""

    frames: list[tuple[float, int]] = field(default_factory=list)
    parts: list[str] = field(default_factory=list)
    final: dict[str, Any] | None = None
    subscribed_at: float = 0.0
    done_at: float = 0.0

    @property
    def text(self) -> str:
        return "".join(self.parts)


async def graphql_socket(address: str, token: str) -> Any:
    """A graphql-transport-ws connection, acknowledged."""
    import websockets

    ws = await websockets.connect(
        f"ws://{address}/graphql",
        subprotocols=[websockets.Subprotocol("graphql-transport-ws")],
        max_size=None,
    )
    init = {"type": "connection_init", "payload": {"authorization": f"Bearer {token}"}}
    await ws.send(json.dumps(init))
    ack = json.loads(await ws.recv())
    if ack.get("type") != "connection_ack":
        raise RuntimeError(f"no connection_ack: {ack}")
    return ws


async def raw_socket(address: str) -> Any:
    import websockets

    return await websockets.connect(f"ws://{address}{RAW_PATH}", max_size=None)


async def subscribe(ws: Any, mode: str, op_id: str, message_id: str, token: str) -> float:
    hello: dict[str, Any]
    if mode == "raw":
        hello = {"token": token, "messageId": message_id}
    else:
        payload = {"query": STREAM, "variables": {"id": message_id}}
        hello = {"id": op_id, "type": "subscribe", "payload": payload}
    subscribed_at = time.perf_counter()
    await ws.send(json.dumps(hello))
    return subscribed_at


async def follow(ws: Any, reading: Reading, *, first_only: bool = False) -> Reading:
    """Reads `next` frames until `complete` (or the first non-empty delta)."""
    while True:
        data = await ws.recv()
        now = time.perf_counter()
        message = json.loads(data)
        kind = message.get("type")
        if kind == "next":
            payload = message["payload"]
            if payload.get("errors"):
                raise RuntimeError(f"stream error: {payload['errors']}")
            event = payload["data"]["messageStream"]
            delta = event["delta"]
            reading.frames.append((now, len(delta)))
            reading.parts.append(delta)
            if event["done"]:
                reading.final = event["message"]
                reading.done_at = now
            if first_only and delta:
                return reading
        elif kind == "complete":
            return reading
        elif kind == "error":
            raise RuntimeError(f"subscription refused: {message}")


def check_answer(reading: Reading, expected: str) -> None:
    if reading.text != expected:
        raise AssertionError(
            f"received {len(reading.text)} characters, not the {len(expected)} expected in order"
        )
    final = reading.final or {}
    if final.get("status") != "COMPLETE" or final.get("content") != expected:
        raise AssertionError(f"the final frame is wrong: {str(final)[:200]}")


# A token's write time is read just before the fake hands it to its transport: a client
# cannot have it earlier, beyond clock reading noise.
CLOCK_SLACK = 0.001


def token_latencies(reading: Reading, written: list[float]) -> tuple[list[tuple[int, float]], int]:
    """Per token k of the answer, written by the fake at `written[k]`: (k, arrival of the
    frame that completed it - written[k]), for the tokens written after the client
    subscribed; and how many were written before (replayed, left out). The fixed token
    width tells which tokens a coalesced frame completed."""
    latencies: list[tuple[int, float]] = []
    replayed = received = 0
    frames = iter(reading.frames)
    arrived_at = 0.0
    for index, written_at in enumerate(written):
        while received < (index + 1) * TOKEN_WIDTH:
            arrived_at, size = next(frames)
            received += size
        if written_at < reading.subscribed_at:
            replayed += 1
        else:
            latencies.append((index, arrived_at - written_at))
    return latencies, replayed


def cpu_report(before: dict[str, float], after: dict[str, float], seconds: float) -> str:
    """Each process's CPU use over `seconds`, and the server loop's wait for a CPU: on a
    shared machine that wait, not the code, can be what holds the figures back."""
    if not before or not after or seconds <= 0:
        return ""
    share = {name: 100 * (after[name] - before[name]) / seconds for name in after}
    used = ", ".join(f"{name} {share[name]:.0f}%" for name in after if name != WAITED)
    return f"{used}; the server's loop waited for a CPU {share[WAITED]:.0f}% of the time"


# --------------------------------------------------------------------------- this benchmark


async def _phase(
    api: Api, mode: str, clients: int, workspace_id: str, expected: str, round_number: int
) -> dict[str, Any]:
    address, token = api.stack.address, api.token
    sessions = await asyncio.gather(*(api.session(workspace_id) for _ in range(clients)))
    if mode == "raw":
        sockets = await asyncio.gather(*(raw_socket(address) for _ in range(clients)))
    else:
        sockets = await asyncio.gather(*(graphql_socket(address, token) for _ in range(clients)))

    async def one(index: int) -> Reading:
        message_id = await api.send(sessions[index], f"{mode} {round_number} question {index}")
        reading = Reading()
        reading.subscribed_at = await subscribe(sockets[index], mode, "1", message_id, token)
        return await follow(sockets[index], reading)

    cpu_before = api.stack.cpu_seconds()
    start = time.perf_counter()
    try:
        readings = await asyncio.gather(*(one(i) for i in range(clients)))
    finally:
        await asyncio.gather(*(ws.close() for ws in sockets), return_exceptions=True)
    elapsed = max(r.done_at for r in readings) - start
    cpu_after = api.stack.cpu_seconds()
    for reading in readings:
        check_answer(reading, expected)
    delivered = sum(len(r.text) for r in readings) / TOKEN_WIDTH
    frames = sum(len(r.frames) for r in readings)
    return {
        "mode": mode,
        "round": round_number,
        "tokens": delivered,
        "frames": frames,
        "seconds": elapsed,
        "rate": delivered / elapsed,
        "tokens_per_frame": delivered / frames,
        "cpu": cpu_report(cpu_before, cpu_after, elapsed),
        "server_us_per_token": 1e6
        * (cpu_after.get("server", 0.0) - cpu_before.get("server", 0.0))
        / delivered,
    }


async def _bench(stack: Stack, args: argparse.Namespace) -> list[dict[str, Any]]:
    api = Api(stack, connections=args.clients + 10)
    try:
        await api.sign_up()
        workspace_id = await api.workspace()
        await api.script(args.tokens, None)  # as fast as possible
        expected = "".join(bench_tokens(args.tokens))
        for mode in ("graphql", "raw"):  # warm-up: model loading, pools, caches
            await _phase(api, mode, args.clients, workspace_id, expected, -1)
        out = []
        for round_number in range(args.rounds):
            order = ("graphql", "raw") if round_number % 2 == 0 else ("raw", "graphql")
            for mode in order:
                await api.script(args.tokens, None)  # forget the previous phase's records
                result = await _phase(api, mode, args.clients, workspace_id, expected, round_number)
                out.append(result)
                print(
                    f"  {mode:<8} round {round_number}: {result['rate']:8.0f} tokens/s, "
                    f"{result['tokens_per_frame']:6.1f} tokens/frame, server CPU "
                    f"{result['server_us_per_token']:4.0f} us/token; cpu {result['cpu']}",
                    file=sys.stderr,
                    flush=True,
                )
        return out
    finally:
        await api.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--clients", type=int, default=50, help="concurrent streams (50)")
    parser.add_argument("--tokens", type=int, default=2000, help="tokens per answer (2000)")
    parser.add_argument("--rounds", type=int, default=3, help="ABBA rounds (3)")
    parser.add_argument(
        "--database", choices=("sqlite", "postgres"), default="sqlite", help="(sqlite)"
    )
    parser.add_argument(
        "--enforce", action="store_true", help=f"exit 1 when the ratio is below {TARGET_RATIO}"
    )
    args = parser.parse_args()

    with running_stack(raw=True, database_kind=args.database) as stack:
        phases = run(_bench(stack, args))
    rates = {
        mode: statistics.median(p["rate"] for p in phases if p["mode"] == mode)
        for mode in ("graphql", "raw")
    }
    per_frame = statistics.median(p["tokens_per_frame"] for p in phases if p["mode"] == "graphql")
    cost = {
        mode: statistics.median(p["server_us_per_token"] for p in phases if p["mode"] == mode)
        for mode in ("graphql", "raw")
    }
    ratio = rates["graphql"] / rates["raw"]
    print(
        f"  server CPU per token delivered: graphql {cost['graphql']:.0f} us, raw "
        f"{cost['raw']:.0f} us (load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)",
        file=sys.stderr,
    )
    print(
        f"stream_efficiency: {args.clients} clients x {args.tokens} tokens; "
        f"graphql {rates['graphql']:.0f} tokens/s ({per_frame:.1f} tokens/frame), "
        f"raw {rates['raw']:.0f} tokens/s (1 token/frame), "
        f"ratio {ratio:.2f}x (target >= {TARGET_RATIO}x); "
        f"per server CPU-second {cost['raw'] / cost['graphql']:.2f}x",
        flush=True,
    )
    return 1 if args.enforce and ratio < TARGET_RATIO else 0


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] in ("fake", "serve"):
        sub = argparse.ArgumentParser()
        sub.add_argument("role")
        sub.add_argument("--port", type=int)
        sub.add_argument("--data-dir", type=Path)
        sub.add_argument("--raw", action="store_true")
        ns = sub.parse_args()
        if ns.role == "fake":
            fake()
        else:
            serve(ns.data_dir, ns.port, ns.raw)
        sys.exit(0)
    sys.exit(main())
