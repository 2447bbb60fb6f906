"""A real OpenAI-compatible chat-completions server on loopback, scriptable per test.

It is an ASGI app served by uvicorn in the test's event loop (no mocks of the SDK: the
client under test speaks real HTTP to it). It answers `POST .../chat/completions`:
streaming requests with Server-Sent Events the way OpenAI does (a role chunk, one
chunk per token with `choices[0].delta.content`, a chunk with `finish_reason`, then,
when the request asked `stream_options.include_usage`, a chunk with `choices: []` and
`usage`, then `data: [DONE]`), and non-streaming requests (session titles) with one
`chat.completion` JSON body.

    from tests.support.fake_openai import FakeOpenAI, Reply, tokens

    async with FakeOpenAI() as fake:
        fake.enqueue(Reply(status=503), Reply(tokens=tokens(20), tokens_per_second=200))
        llm = OpenAIChat(default_model="m", base_url=fake.base_url, api_key="sk-test")
        ...
        assert len(fake.requests) == 2
        assert fake.requests[-1].body["temperature"] == 0.2
        await fake.wait_went_away()          # the client hung up before the end

Scripting (`Reply`, one per request):
    status                 200, or an HTTP error answered as OpenAI does ({"error": {...}})
                           with `error_message` and, if set, a `retry_after` header
    tokens                 the texts streamed, one chunk each (`tokens(n)` makes n of them)
    tokens_per_second      pace between tokens (None: as fast as possible)
    first_token_delay_seconds  pause before the first token (the model's own latency)
    header_delay_seconds   pause before the response starts
    stall_after=K          after K tokens send nothing more until the client goes, the
                           server closes, or `resume` (an asyncio.Event) is set
    drop_after=K           after K tokens close the connection mid-body (chunked encoding
                           left unfinished, as a crashed upstream does)
    usage                  False: never send the usage chunk
    model                  the model name the server reports (default: the requested one)
    finish_reason          "stop" by default

Queues and defaults: `fake.enqueue(*replies)` feeds streaming requests in arrival order,
`fake.enqueue_plain(*replies)` feeds non-streaming ones; when a queue is empty the
`default` (streaming) or `default_plain` reply given to the constructor answers.

What it records:
    fake.base_url          "http://127.0.0.1:<port>/v1", for AsyncOpenAI(base_url=...)
    fake.requests          every request, in arrival order, as `Received`: `body` (the
                           JSON), `headers` (lower-case names), `stream`, `reply`,
                           `tokens_sent`, `started_at` (perf_counter when the stream
                           began), `emitted_at` (perf_counter per token; pacing follows
                           an absolute schedule, so 50 tokens/s is 50 tokens/s),
                           `finished` (the whole response went out), `disconnected` (the
                           client hung up before the end), `dropped` (we cut it),
                           `stalled` and `went_away` (asyncio.Events)
    fake.disconnects       the requests whose client hung up before the end
    fake.client_went_away  asyncio.Event set at the first such hang-up
    fake.open_streams      streaming responses in progress right now
    await fake.wait_went_away(guard_seconds=5)    hang-guarded wait for a hang-up
    await fake.wait_requests(n, guard_seconds=5)  hang-guarded wait for n requests
    fake.reset()           forgets requests and queued replies

A hang-up is seen through ASGI's `http.disconnect` (uvicorn sends it when the socket
closes); a streaming response then stops at once, as a real model server would.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import uvicorn

from tests.support.server import free_port

Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

DEFAULT_TOKENS = ("Hello", " from", " the", " fake", " model.")
_POLL_SECONDS = 0.01
_WAKE_SECONDS = 0.05
_ids = itertools.count(1)


def tokens(count: int, word: str = "tok") -> list[str]:
    """`count` distinct tokens that join into "tok0 tok1 tok2 ..."."""
    return [f"{word}{index} " for index in range(count)]


@dataclass
class Reply:
    status: int = 200
    tokens: Sequence[str] = DEFAULT_TOKENS
    tokens_per_second: float | None = None
    first_token_delay_seconds: float = 0.0
    header_delay_seconds: float = 0.0
    stall_after: int | None = None
    resume: asyncio.Event | None = None
    drop_after: int | None = None
    usage: bool = True
    model: str | None = None
    finish_reason: str = "stop"
    error_message: str = "scripted error"
    retry_after: str | None = None


@dataclass
class Received:
    body: dict[str, Any]
    headers: dict[str, str]
    stream: bool
    reply: Reply
    tokens_sent: int = 0
    started_at: float | None = None
    emitted_at: list[float] = field(default_factory=list)
    finished: bool = False
    disconnected: bool = False
    dropped: bool = False
    stalled: asyncio.Event = field(default_factory=asyncio.Event)
    went_away: asyncio.Event = field(default_factory=asyncio.Event)


class _Drop(Exception):
    """Raised inside the app so uvicorn closes the connection mid-response."""


class _HideDrops(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and record.exc_info[0] is _Drop)


_HIDE_DROPS = _HideDrops()


class FakeOpenAI:
    def __init__(self, default: Reply | None = None, default_plain: Reply | None = None) -> None:
        self.default = default or Reply()
        self.default_plain = default_plain or Reply(tokens=("A fake title",))
        self.requests: list[Received] = []
        self.client_went_away = asyncio.Event()
        self._arrived = asyncio.Event()
        self.open_streams = 0
        self.base_url = ""
        self._queue: deque[Reply] = deque()
        self._plain_queue: deque[Reply] = deque()
        self._closing = False
        self._server: uvicorn.Server | None = None
        self._task: asyncio.Task[None] | None = None

    # --- scripting and inspection ---------------------------------------------------

    def enqueue(self, *replies: Reply) -> None:
        self._queue.extend(replies)

    def enqueue_plain(self, *replies: Reply) -> None:
        self._plain_queue.extend(replies)

    @property
    def disconnects(self) -> list[Received]:
        return [received for received in self.requests if received.disconnected]

    def reset(self) -> None:
        self.requests.clear()
        self._queue.clear()
        self._plain_queue.clear()
        self.client_went_away = asyncio.Event()

    async def wait_went_away(self, guard_seconds: float = 5.0) -> None:
        """Until a client hangs up mid-response; TimeoutError after `guard_seconds`."""
        await asyncio.wait_for(self.client_went_away.wait(), guard_seconds)

    async def wait_requests(self, count: int, guard_seconds: float = 5.0) -> list[Received]:
        """Until `count` requests have arrived; TimeoutError after `guard_seconds`."""
        async with asyncio.timeout(guard_seconds):
            while len(self.requests) < count:
                self._arrived.clear()
                await self._arrived.wait()
        return self.requests

    # --- lifecycle ------------------------------------------------------------------

    async def __aenter__(self) -> FakeOpenAI:
        port = free_port()
        config = uvicorn.Config(
            self,
            host="127.0.0.1",
            port=port,
            lifespan="off",
            log_config=None,
            log_level="warning",
            timeout_graceful_shutdown=2,
        )
        uvicorn_error = logging.getLogger("uvicorn.error")
        if _HIDE_DROPS not in uvicorn_error.filters:
            uvicorn_error.addFilter(_HIDE_DROPS)
        self._server = uvicorn.Server(config)
        self._task = asyncio.create_task(self._server.serve())
        while not self._server.started:
            if self._task.done():
                self._task.result()
            await asyncio.sleep(_POLL_SECONDS)
        self.base_url = f"http://127.0.0.1:{port}/v1"
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self._closing = True  # stalled streams give up and drop their connection
        if self._server is not None and self._task is not None:
            self._server.should_exit = True
            await self._task

    # --- the ASGI app ---------------------------------------------------------------

    async def __call__(self, scope: Message, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        raw = await _read_body(receive)
        if scope["method"] != "POST" or not scope["path"].endswith("/chat/completions"):
            await _json(send, 404, _error_body("Not found.", 404))
            return
        try:
            body = json.loads(raw)
        except ValueError:
            await _json(send, 400, _error_body("The body is not JSON.", 400))
            return
        stream = bool(body.get("stream"))
        reply = self._next_reply(stream)
        headers = {name.decode().lower(): value.decode() for name, value in scope["headers"]}
        received = Received(body=body, headers=headers, stream=stream, reply=reply)
        self.requests.append(received)
        self._arrived.set()
        watcher = asyncio.create_task(self._watch(receive, received))
        try:
            if reply.header_delay_seconds:
                await self._pause(received, reply.header_delay_seconds)
            if received.disconnected:
                return
            if reply.status != 200:
                received.finished = True
                extra = {"retry-after": reply.retry_after} if reply.retry_after else {}
                await _json(
                    send, reply.status, _error_body(reply.error_message, reply.status), extra
                )
            elif stream:
                self.open_streams += 1
                try:
                    await self._stream(send, received)
                finally:
                    self.open_streams -= 1
            else:
                received.finished = True
                await _json(send, 200, _completion(received))
        finally:
            watcher.cancel()

    def _next_reply(self, stream: bool) -> Reply:
        queue = self._queue if stream else self._plain_queue
        if queue:
            return queue.popleft()
        return self.default if stream else self.default_plain

    async def _watch(self, receive: Receive, received: Received) -> None:
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                if not received.finished and not received.dropped:
                    received.disconnected = True
                    received.went_away.set()
                    self.client_went_away.set()
                return

    async def _pause(self, received: Received, seconds: float | None) -> None:
        """Sleeps `seconds` (None: until resumed), waking early if the client goes."""
        deadline = None if seconds is None else time.perf_counter() + seconds
        resume = received.reply.resume
        while not (received.disconnected or self._closing):
            if deadline is None:
                if resume is not None and resume.is_set():
                    return
                await asyncio.sleep(_POLL_SECONDS)
                continue
            remaining = deadline - time.perf_counter()
            if remaining <= 0:
                return
            # Exact for short gaps; long ones still notice a hang-up within the cap.
            await asyncio.sleep(min(remaining, _WAKE_SECONDS))

    async def _stream(self, send: Send, received: Received) -> None:
        reply = received.reply
        body = received.body
        model = reply.model or str(body.get("model", "fake-model"))
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        base = {
            "id": f"chatcmpl-fake{next(_ids)}",
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": model,
        }
        if include_usage:
            base["usage"] = None

        def chunk(delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
            choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
            return {**base, "choices": [choice]}

        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-type", b"text/event-stream"),
                    (b"cache-control", b"no-cache"),
                ],
            }
        )
        received.started_at = time.perf_counter()
        await _event(send, chunk({"role": "assistant", "content": ""}))
        # An absolute schedule (first delay, then one token every interval), so the pace
        # does not drift with the time each send takes; a stall restarts it.
        interval = 1 / reply.tokens_per_second if reply.tokens_per_second else 0.0
        due = received.started_at + reply.first_token_delay_seconds
        for index, token in enumerate([*reply.tokens, None]):
            if await self._maybe_interrupt(received, index):
                due = time.perf_counter()
            if received.disconnected:
                return
            if token is None:
                break
            if index > 0:
                due += interval
            wait = due - time.perf_counter()
            if wait > 0:
                await self._pause(received, wait)
            else:
                await asyncio.sleep(0)  # lets a hang-up be noticed between tokens
            if received.disconnected:
                return
            if self._closing:
                raise _Drop
            await _event(send, chunk({"content": token}))
            received.tokens_sent += 1
            received.emitted_at.append(time.perf_counter())
        await _event(send, chunk({}, reply.finish_reason))
        if include_usage and reply.usage:
            usage = {
                "prompt_tokens": _prompt_tokens(body),
                "completion_tokens": received.tokens_sent,
                "total_tokens": _prompt_tokens(body) + received.tokens_sent,
            }
            await _event(send, {**base, "choices": [], "usage": usage})
        received.finished = True
        await send({"type": "http.response.body", "body": b"data: [DONE]\n\n", "more_body": False})

    async def _maybe_interrupt(self, received: Received, index: int) -> bool:
        """Stalls or drops if the script says so at `index`; True after a stall."""
        reply = received.reply
        stalled = reply.stall_after == index
        if stalled:
            received.stalled.set()
            await self._pause(received, None)
            if self._closing and not received.disconnected:
                received.dropped = True
                raise _Drop
        if reply.drop_after == index and not received.disconnected:
            received.dropped = True
            raise _Drop
        return stalled


async def _read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


async def _event(send: Send, data: dict[str, Any]) -> None:
    payload = b"data: " + json.dumps(data).encode() + b"\n\n"
    await send({"type": "http.response.body", "body": payload, "more_body": True})


async def _json(
    send: Send, status: int, body: dict[str, Any], extra_headers: dict[str, str] | None = None
) -> None:
    payload = json.dumps(body).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(payload)).encode()),
    ]
    headers += [(name.encode(), value.encode()) for name, value in (extra_headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload, "more_body": False})


def _error_body(message: str, status: int) -> dict[str, Any]:
    kind = "invalid_request_error" if status < 500 and status != 429 else "server_error"
    return {"error": {"message": message, "type": kind, "param": None, "code": str(status)}}


def _completion(received: Received) -> dict[str, Any]:
    reply = received.reply
    text = "".join(reply.tokens)
    prompt = _prompt_tokens(received.body)
    completion = len(reply.tokens)
    return {
        "id": f"chatcmpl-fake{next(_ids)}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": reply.model or str(received.body.get("model", "fake-model")),
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text, "refusal": None},
                "logprobs": None,
                "finish_reason": reply.finish_reason,
            }
        ],
        "usage": {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
        },
    }


def _prompt_tokens(body: dict[str, Any]) -> int:
    messages = body.get("messages") or []
    return sum(
        len(message["content"].split())
        for message in messages
        if isinstance(message, dict) and isinstance(message.get("content"), str)
    )


@asynccontextmanager
async def fake_openai(
    default: Reply | None = None, default_plain: Reply | None = None
) -> AsyncIterator[FakeOpenAI]:
    """`async with fake_openai() as fake:`, the same as `async with FakeOpenAI() as fake:`."""
    async with FakeOpenAI(default, default_plain) as fake:
        yield fake
