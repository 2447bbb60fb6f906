"""Any OpenAI-compatible `/chat/completions` endpoint, streamed: OpenAI, vLLM, Ollama, LiteLLM...

Retries happen only before the first delta, while nothing has reached the caller: no
connection, an SDK timeout, 408/409/425/429 and 5xx are tried again with backoff (the
server's Retry-After wins, within the cap). Once a delta has been yielded a failure is
raised at once as `LLMUnavailable`, never retried (a second answer would not continue
the first); the caller keeps the partial text. A silence longer than
`stall_timeout_seconds` once the response has started raises
`LLMUnavailable("The model stopped responding.")`; waiting that long for the response
headers is a timeout like any other (retried). Anything else
the server refuses (400, 401, 404, 422...) is `LLMRejected` without retrying. Closing
the generator or cancelling its task closes the HTTP response, so the server sees the
client go.

Streams go through the SDK's own client (auth, status errors, SSE decoding, closing) as
`client.post("/chat/completions", stream=True)` with chunks read as JSON, which costs a
third of the CPU of `chat.completions.create` building a model per chunk (openai_chunks).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, Sequence
from contextlib import aclosing
from dataclasses import dataclass

from openai import (
    APITimeoutError,
    AsyncOpenAI,
    AsyncStream,
    DefaultAioHttpClient,
    OpenAIError,
    Timeout,
)
from openai.types.chat import ChatCompletionMessageParam

from domain.embeddings.backoff import Backoff
from domain.llm.openai_chunks import MalformedChunk, read_chunk
from domain.llm.openai_errors import Stalled, classify
from domain.llm.port import ChatTurn, ContextPassage, Delta, LLMEvent, TokenUsage, Usage
from domain.llm.titles import clean_title, fallback_title

logger = logging.getLogger(__name__)

TITLE_INSTRUCTIONS = (
    "Write a title of at most six words for a conversation that starts with the user's "
    "message below. Answer with the title only: no quotes, no trailing period."
)


@dataclass(frozen=True, slots=True)
class _Request:
    model: str
    messages: list[ChatCompletionMessageParam]
    temperature: float | None
    max_tokens: int | None


class OpenAIChat:
    def __init__(
        self,
        *,
        default_model: str,
        api_key: str | None = None,
        base_url: str | None = None,
        timeout_seconds: float = 60.0,
        stall_timeout_seconds: float = 60.0,
        backoff: Backoff | None = None,
        title_max_tokens: int = 24,
        title_timeout_seconds: float = 20.0,
    ) -> None:
        if not api_key:
            if base_url is None:
                raise ValueError("OPENAI_API_KEY is required to use api.openai.com.")
            api_key = "unused"  # self-hosted servers usually ignore it; the SDK wants one
        if stall_timeout_seconds <= 0 or timeout_seconds <= 0:
            raise ValueError("timeouts must be positive")
        self._default_model = default_model
        # The stall limit is the HTTP read timeout: no byte for that long, response
        # headers included. One timer per read that the HTTP client keeps anyway, where an
        # `asyncio.timeout` per chunk cost ~10% of the CPU of a streamed token (measured
        # with 200 streams); SSE keep-alive comments count as the server being there.
        self._stream_timeout = Timeout(timeout_seconds, read=stall_timeout_seconds)
        self._backoff = backoff or Backoff(attempts=3, base_seconds=0.5, cap_seconds=8.0)
        self._title_max_tokens = title_max_tokens
        self._title_timeout = title_timeout_seconds
        # Retries are ours: the SDK's would also retry after the stream has started.
        # The SDK's aiohttp transport: reading a streamed token cost 44 us of CPU against
        # 70-78 us through its default httpx2 one (100 streams at 50 tokens/s, both in one
        # process; bench/README.md), and tokens are most of a server's work.
        self._client = AsyncOpenAI(
            api_key=api_key,
            base_url=base_url,
            timeout=timeout_seconds,
            max_retries=0,
            http_client=DefaultAioHttpClient(),
        )

    @property
    def name(self) -> str:
        return "openai"

    @property
    def default_model(self) -> str:
        return self._default_model

    async def stream(
        self,
        turns: Sequence[ChatTurn],
        *,
        context: Sequence[ContextPassage] = (),
        model: str | None = None,
        temperature: float | None = None,
        max_tokens: int | None = None,
    ) -> AsyncGenerator[LLMEvent, None]:
        del context  # the caller has written the passages into the prompt
        request = _Request(
            model=model or self._default_model,
            messages=[_message(turn) for turn in turns],
            temperature=temperature,
            max_tokens=max_tokens,
        )
        failures = 0
        answered = False
        while True:
            try:
                async with aclosing(self._attempt(request)) as events:
                    async for event in events:
                        answered = answered or isinstance(event, Delta)
                        yield event
                return
            except (OpenAIError, Stalled, MalformedChunk) as raw:
                error, transient, retry_after = classify(raw, answered=answered)
                failures += 1
                if answered or not transient or failures >= self._backoff.attempts:
                    raise error from raw
                delay = self._backoff.delay(failures, retry_after)
                logger.warning(
                    "chat request failed before the first token (%s); attempt %d of %d in %.2fs",
                    raw,
                    failures + 1,
                    self._backoff.attempts,
                    delay,
                )
                await asyncio.sleep(delay)

    async def _attempt(self, request: _Request) -> AsyncGenerator[LLMEvent, None]:
        body: dict[str, object] = {
            "model": request.model,
            "messages": request.messages,
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        if request.temperature is not None:
            body["temperature"] = request.temperature
        if request.max_tokens is not None:
            body["max_tokens"] = request.max_tokens
        # `chat.completions.create` would build a pydantic model per chunk (see
        # openai_chunks); the SDK's generic post keeps its auth, errors and SSE decoding.
        response = await self._client.post(
            "/chat/completions",
            body=body,
            cast_to=object,
            options={"security": {"bearer_auth": True}, "timeout": self._stream_timeout},
            stream=True,
            stream_cls=AsyncStream[object],
        )
        try:
            model = request.model
            usage: TokenUsage | None = None
            finish_reason: str | None = None
            while True:
                try:
                    data = await anext(response)
                except StopAsyncIteration:
                    break
                chunk = read_chunk(data)
                model = chunk.model or model
                usage = chunk.usage or usage
                finish_reason = chunk.finish_reason or finish_reason
                if chunk.text:
                    yield Delta(chunk.text)
            yield Usage(usage=usage, model=model, finish_reason=finish_reason)
        except APITimeoutError as error:
            # Past the response headers, a read timeout is the stall timeout running out.
            raise Stalled from error
        except ValueError as error:  # an event whose data is not JSON
            raise MalformedChunk(str(error)) from error
        finally:
            # Closing before the body ends drops the connection: the server sees us go.
            await response.close()

    async def title(self, question: str, *, model: str | None = None) -> str:
        if not question.strip():
            return fallback_title(question)
        try:
            completion = await self._client.chat.completions.create(
                model=model or self._default_model,
                messages=[
                    {"role": "system", "content": TITLE_INSTRUCTIONS},
                    {"role": "user", "content": question[:2000]},
                ],
                max_tokens=self._title_max_tokens,
                temperature=0.2,
                timeout=self._title_timeout,
            )
        except OpenAIError as error:
            logger.info("title generation failed, using the question: %s", error)
            return fallback_title(question)
        text = completion.choices[0].message.content if completion.choices else None
        return clean_title(text, question)

    async def aclose(self) -> None:
        await self._client.close()


def _message(turn: ChatTurn) -> ChatCompletionMessageParam:
    if turn.role == "system":
        return {"role": "system", "content": turn.content}
    if turn.role == "user":
        return {"role": "user", "content": turn.content}
    return {"role": "assistant", "content": turn.content}
