"""Any OpenAI-compatible `/chat/completions` endpoint, streamed: OpenAI, vLLM, Ollama, LiteLLM...

Retries happen only before the first delta, while nothing has reached the caller: no
connection, an SDK timeout, 408/409/425/429 and 5xx are tried again with backoff (the
server's Retry-After wins, within the cap). Once a delta has been yielded a failure is
raised at once as `LLMUnavailable`, never retried (a second answer would not continue
the first); the caller keeps the partial text. A gap longer than `stall_timeout_seconds`
between chunks raises `LLMUnavailable("The model stopped responding.")`. Anything else
the server refuses (400, 401, 404, 422...) is `LLMRejected` without retrying. Closing
the generator or cancelling its task closes the HTTP response, so the server sees the
client go.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, Sequence
from contextlib import aclosing
from dataclasses import dataclass

from openai import (
    APIConnectionError,
    APIError,
    APIStatusError,
    APITimeoutError,
    AsyncOpenAI,
    OpenAIError,
    omit,
)
from openai.types.chat import ChatCompletionMessageParam

from domain.embeddings.backoff import Backoff
from domain.llm.port import (
    ChatTurn,
    ContextPassage,
    Delta,
    LLMError,
    LLMEvent,
    LLMRejected,
    LLMUnavailable,
    TokenUsage,
    Usage,
)
from domain.llm.titles import clean_title, fallback_title

logger = logging.getLogger(__name__)

TRANSIENT_STATUS = frozenset({408, 409, 425, 429})
MAX_DETAIL_CHARS = 300
TITLE_INSTRUCTIONS = (
    "Write a title of at most six words for a conversation that starts with the user's "
    "message below. Answer with the title only: no quotes, no trailing period."
)


class _Stalled(Exception):
    """No chunk arrived within the stall timeout."""


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
        self._stall_timeout = stall_timeout_seconds
        self._backoff = backoff or Backoff(attempts=3, base_seconds=0.5, cap_seconds=8.0)
        self._title_max_tokens = title_max_tokens
        self._title_timeout = title_timeout_seconds
        # Retries are ours: the SDK's would also retry after the stream has started.
        self._client = AsyncOpenAI(
            api_key=api_key, base_url=base_url, timeout=timeout_seconds, max_retries=0
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
            except (OpenAIError, _Stalled) as raw:
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
        response = await self._client.chat.completions.create(
            model=request.model,
            messages=request.messages,
            stream=True,
            stream_options={"include_usage": True},
            temperature=omit if request.temperature is None else request.temperature,
            max_tokens=omit if request.max_tokens is None else request.max_tokens,
        )
        try:
            model = request.model
            usage: TokenUsage | None = None
            finish_reason: str | None = None
            while True:
                try:
                    async with asyncio.timeout(self._stall_timeout) as deadline:
                        chunk = await anext(response)
                except StopAsyncIteration:
                    break
                except TimeoutError as error:
                    if deadline.expired():
                        raise _Stalled from error
                    raise
                model = chunk.model or model
                if chunk.usage is not None:
                    usage = TokenUsage(
                        prompt_tokens=chunk.usage.prompt_tokens,
                        completion_tokens=chunk.usage.completion_tokens,
                    )
                for choice in chunk.choices:
                    if choice.index != 0:
                        continue
                    finish_reason = choice.finish_reason or finish_reason
                    if choice.delta.content:
                        yield Delta(choice.delta.content)
            yield Usage(usage=usage, model=model, finish_reason=finish_reason)
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


def classify(error: Exception, *, answered: bool) -> tuple[LLMError, bool, float | None]:
    """The user-facing error, whether a fresh request may succeed, and Retry-After."""
    if isinstance(error, _Stalled):
        return LLMUnavailable("The model stopped responding."), False, None
    if isinstance(error, APITimeoutError):
        return LLMUnavailable("The model took too long to answer."), True, None
    if isinstance(error, APIConnectionError):
        if answered:
            return LLMUnavailable("The connection to the model was lost."), True, None
        return LLMUnavailable("The model service is unreachable."), True, None
    if isinstance(error, APIStatusError):
        return _classify_status(error)
    if isinstance(error, APIError):  # an error event inside the stream
        return LLMUnavailable(f"The model service failed: {_detail(error)}"), True, None
    return LLMUnavailable("The model service sent an answer that could not be read."), False, None


def _classify_status(error: APIStatusError) -> tuple[LLMError, bool, float | None]:
    status = error.status_code
    retry_after = parse_retry_after(error.response.headers.get("retry-after"))
    if status == 429:
        message = "The model service is busy (rate limited); try again shortly."
        return LLMUnavailable(message), True, retry_after
    if status >= 500 or status in TRANSIENT_STATUS:
        message = f"The model service failed ({status}); try again shortly."
        return LLMUnavailable(message), True, retry_after
    if status in (401, 403):
        return LLMRejected("The model service refused the server's credentials."), False, None
    if status == 404:
        message = f"The model service does not know this model: {_detail(error)}"
        return LLMRejected(message), False, None
    message = f"The model service rejected the request ({status}): {_detail(error)}"
    return LLMRejected(message), False, None


def _detail(error: APIError) -> str:
    body = error.body
    text = body.get("message") if isinstance(body, dict) else None
    if not isinstance(text, str) or not text.strip():
        text = "no details given"
    text = " ".join(text.split())
    if len(text) > MAX_DETAIL_CHARS:
        text = text[: MAX_DETAIL_CHARS - 1] + "…"
    return text


def parse_retry_after(value: str | None) -> float | None:
    """Retry-After in seconds; the HTTP-date form is ignored (exponential backoff applies)."""
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        return None
    return seconds if seconds >= 0 else None
