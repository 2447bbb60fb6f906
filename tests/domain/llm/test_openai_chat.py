"""The OpenAI-compatible adapter, through the real SDK, against a real HTTP server on loopback."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import aclosing

import pytest

from domain.embeddings.backoff import Backoff
from domain.llm.openai_chat import OpenAIChat
from domain.llm.port import (
    ChatTurn,
    ContextPassage,
    Delta,
    LLMEvent,
    LLMRejected,
    LLMUnavailable,
    TokenUsage,
    Usage,
)
from tests.support.fake_openai import FakeOpenAI, Reply, tokens
from tests.support.server import free_port

FAST = Backoff(attempts=3, base_seconds=0.01, cap_seconds=0.05)
TURNS = (
    ChatTurn("system", "You answer from the context."),
    ChatTurn("user", "What is in the handbook?"),
)
HANG_GUARD = 5.0


@pytest.fixture
async def fake() -> AsyncIterator[FakeOpenAI]:
    async with FakeOpenAI() as server:
        yield server


@pytest.fixture
async def llm(fake: FakeOpenAI) -> AsyncIterator[OpenAIChat]:
    adapter = chat(fake.base_url)
    yield adapter
    await adapter.aclose()


def chat(base_url: str, **options: object) -> OpenAIChat:
    values: dict[str, object] = {
        "default_model": "default-model",
        "base_url": base_url,
        "api_key": "sk-test",
        "backoff": FAST,
        "stall_timeout_seconds": 5.0,
        "timeout_seconds": 5.0,
        **options,
    }
    return OpenAIChat(**values)  # type: ignore[arg-type]


async def collect(events: AsyncIterator[LLMEvent], into: list[str] | None = None) -> list[LLMEvent]:
    seen: list[LLMEvent] = []
    async for event in events:
        seen.append(event)
        if into is not None and isinstance(event, Delta):
            into.append(event.text)
    return seen


def texts(events: Sequence[LLMEvent]) -> list[str]:
    return [event.text for event in events if isinstance(event, Delta)]


async def test_streams_every_token_in_order_then_usage_and_model(
    fake: FakeOpenAI, llm: OpenAIChat
) -> None:
    # given a server streaming 50 tokens at 2000 per second, reporting a dated model name
    words = tokens(50)
    fake.enqueue(Reply(tokens=words, tokens_per_second=2000, model="gpt-test-2025-01-01"))

    # when the adapter streams an answer
    events = await collect(llm.stream(TURNS, model="gpt-test"))

    # then every token arrives once, in order, and the last event is the usage
    assert texts(events) == words
    last = events[-1]
    assert isinstance(last, Usage)
    assert last.usage == TokenUsage(prompt_tokens=10, completion_tokens=50)
    assert last.model == "gpt-test-2025-01-01"
    assert last.finish_reason == "stop"
    assert [type(event) for event in events[:-1]] == [Delta] * 50
    assert fake.requests[0].finished and not fake.disconnects


async def test_the_request_carries_the_options_and_asks_for_usage(
    fake: FakeOpenAI, llm: OpenAIChat
) -> None:
    # when a turn list is streamed with explicit options (and passages, which are not sent)
    passages = [ContextPassage("1", "secret passage text", "doc.pdf")]
    await collect(llm.stream(TURNS, context=passages, model="m-1", temperature=0.3, max_tokens=128))

    # then the server received them all, as OpenAI's API names them
    body = fake.requests[0].body
    assert body["model"] == "m-1"
    assert body["temperature"] == 0.3
    assert body["max_tokens"] == 128
    assert body["stream"] is True
    assert body["stream_options"] == {"include_usage": True}
    assert body["messages"] == [
        {"role": "system", "content": "You answer from the context."},
        {"role": "user", "content": "What is in the handbook?"},
    ]
    assert "secret passage text" not in str(body)
    assert fake.requests[0].headers["authorization"] == "Bearer sk-test"


async def test_unset_options_use_the_default_model_and_are_left_out(
    fake: FakeOpenAI, llm: OpenAIChat
) -> None:
    # when nothing but the turns is given
    await collect(llm.stream([ChatTurn("user", "hi"), ChatTurn("assistant", "hello")]))

    # then the default model is asked and the server's own defaults apply
    body = fake.requests[0].body
    assert body["model"] == "default-model"
    assert "temperature" not in body and "max_tokens" not in body
    assert body["messages"][1] == {"role": "assistant", "content": "hello"}


async def test_no_usage_from_the_server_is_reported_as_none(
    fake: FakeOpenAI, llm: OpenAIChat
) -> None:
    # given a server that ignores include_usage
    fake.enqueue(Reply(tokens=["a", "b"], usage=False))

    # when an answer is streamed
    events = await collect(llm.stream(TURNS))

    # then the answer completes with no usage (estimating is not the adapter's job)
    assert texts(events) == ["a", "b"]
    assert events[-1] == Usage(usage=None, model="default-model", finish_reason="stop")


async def test_retries_503_and_429_before_the_first_token_then_succeeds(
    fake: FakeOpenAI, llm: OpenAIChat
) -> None:
    # given a server that is down, then rate limited, then answers
    fake.enqueue(Reply(status=503), Reply(status=429, retry_after="0"), Reply(tokens=["ok"]))

    # when an answer is streamed
    events = await collect(llm.stream(TURNS))

    # then the caller sees one clean answer, and the server saw three requests
    assert texts(events) == ["ok"]
    assert len(fake.requests) == 3
    assert [r.body for r in fake.requests[1:]] == [fake.requests[0].body] * 2


async def test_a_connection_dropped_before_the_first_token_is_retried(
    fake: FakeOpenAI, llm: OpenAIChat
) -> None:
    # given a server that cuts the first response before any token
    fake.enqueue(Reply(tokens=["x"], drop_after=0), Reply(tokens=["fine"]))

    # when an answer is streamed
    events = await collect(llm.stream(TURNS))

    # then the retry's answer is all the caller sees
    assert texts(events) == ["fine"]
    assert len(fake.requests) == 2


async def test_gives_up_after_the_last_attempt(fake: FakeOpenAI, llm: OpenAIChat) -> None:
    # given a server that keeps failing
    fake.enqueue(*[Reply(status=502)] * 5)

    # when an answer is streamed, then it fails after three attempts with a readable error
    with pytest.raises(LLMUnavailable, match=r"failed \(502\); try again shortly"):
        await collect(llm.stream(TURNS))
    assert len(fake.requests) == 3


async def test_400_is_rejected_at_once_with_the_providers_reason(
    fake: FakeOpenAI, llm: OpenAIChat
) -> None:
    # given a server that refuses the model
    fake.enqueue(Reply(status=400, error_message="The model `nope` does not exist."))

    # when an answer is streamed
    with pytest.raises(LLMRejected) as caught:
        await collect(llm.stream(TURNS, model="nope"))

    # then the error says why, and nothing was retried
    assert caught.value.message == (
        "The model service rejected the request (400): The model `nope` does not exist."
    )
    assert len(fake.requests) == 1


async def test_a_bad_key_is_rejected_without_echoing_the_providers_text(
    fake: FakeOpenAI, llm: OpenAIChat
) -> None:
    # given a server that refuses the key, quoting part of it back
    fake.enqueue(Reply(status=401, error_message="Incorrect API key provided: sk-te***st"))

    # when an answer is streamed
    with pytest.raises(LLMRejected) as caught:
        await collect(llm.stream(TURNS))

    # then users get a fixed message, and nothing was retried
    assert "sk-" not in caught.value.message
    assert "credentials" in caught.value.message
    assert len(fake.requests) == 1


async def test_a_drop_mid_stream_fails_after_the_partial_text_and_is_not_retried(
    fake: FakeOpenAI, llm: OpenAIChat
) -> None:
    # given a server that dies after three tokens (and would answer a retry)
    fake.enqueue(Reply(tokens=tokens(10), drop_after=3), Reply(tokens=["again"]))
    seen: list[str] = []

    # when an answer is streamed
    with pytest.raises(LLMUnavailable) as caught:
        await collect(llm.stream(TURNS), into=seen)

    # then the caller got the three tokens first, then the failure; no second request
    assert seen == tokens(3)
    assert caught.value.message == "The connection to the model was lost."
    assert len(fake.requests) == 1


async def test_a_stall_mid_stream_fails_after_the_stall_timeout(fake: FakeOpenAI) -> None:
    # given a server that stops sending after two tokens, and a short stall timeout
    fake.enqueue(Reply(tokens=tokens(10), stall_after=2))
    llm = chat(fake.base_url, stall_timeout_seconds=0.3)
    seen: list[str] = []

    # when an answer is streamed
    with pytest.raises(LLMUnavailable, match=r"^The model stopped responding\.$"):
        await asyncio.wait_for(collect(llm.stream(TURNS), into=seen), HANG_GUARD)
    await llm.aclose()

    # then the partial text came first, nothing was retried, and the stream was closed
    assert seen == tokens(2)
    assert len(fake.requests) == 1
    await fake.wait_went_away(HANG_GUARD)


async def test_a_stall_before_the_first_token_is_not_retried(fake: FakeOpenAI) -> None:
    # given a server that sends headers, then nothing
    fake.enqueue(Reply(tokens=["late"], stall_after=0), Reply(tokens=["never"]))
    llm = chat(fake.base_url, stall_timeout_seconds=0.3)

    # when an answer is streamed, then it fails once (retrying would double the wait)
    with pytest.raises(LLMUnavailable, match="stopped responding"):
        await asyncio.wait_for(collect(llm.stream(TURNS)), HANG_GUARD)
    await llm.aclose()
    assert len(fake.requests) == 1


async def test_closing_the_stream_mid_answer_hangs_up_on_the_server(
    fake: FakeOpenAI, llm: OpenAIChat
) -> None:
    # given a long answer streaming at a steady pace
    fake.enqueue(Reply(tokens=tokens(1000), tokens_per_second=200))

    # when the consumer reads three deltas and closes the stream
    seen: list[str] = []
    async with aclosing(llm.stream(TURNS)) as events:
        async for event in events:
            assert isinstance(event, Delta)
            seen.append(event.text)
            if len(seen) == 3:
                break

    # then the server sees the client go and stops generating
    await fake.wait_went_away(HANG_GUARD)
    assert fake.disconnects == [fake.requests[0]]
    assert fake.requests[0].tokens_sent < 1000
    assert seen == tokens(3)


async def test_cancelling_the_consumer_hangs_up_on_the_server(
    fake: FakeOpenAI, llm: OpenAIChat
) -> None:
    # given an answer that streams two tokens and then waits (the model is thinking)
    fake.enqueue(Reply(tokens=tokens(10), stall_after=2))
    seen: list[str] = []
    consumer = asyncio.create_task(collect(llm.stream(TURNS), into=seen))
    await fake.wait_requests(1)
    await asyncio.wait_for(fake.requests[0].stalled.wait(), HANG_GUARD)

    # when the task consuming the stream is cancelled while it waits for a chunk
    consumer.cancel()
    with pytest.raises(asyncio.CancelledError):
        await consumer

    # then the server sees the hang-up
    await fake.wait_went_away(HANG_GUARD)
    assert fake.requests[0].disconnected


async def test_cancelling_while_tokens_flow_hangs_up_on_the_server(
    fake: FakeOpenAI, llm: OpenAIChat
) -> None:
    # given a long answer streaming fast
    fake.enqueue(Reply(tokens=tokens(5000), tokens_per_second=1000))
    five_seen = asyncio.Event()

    async def consume() -> None:
        count = 0
        async for _ in llm.stream(TURNS):
            count += 1
            if count == 5:
                five_seen.set()

    consumer = asyncio.create_task(consume())
    await asyncio.wait_for(five_seen.wait(), HANG_GUARD)

    # when the consuming task is cancelled mid-stream
    consumer.cancel()
    with pytest.raises(asyncio.CancelledError):
        await consumer

    # then the server sees the hang-up long before the end
    await fake.wait_went_away(HANG_GUARD)
    assert fake.requests[0].tokens_sent < 5000


async def test_an_unreachable_server_is_unavailable_after_the_retries() -> None:
    # given nothing listening on the port
    llm = chat(f"http://127.0.0.1:{free_port()}/v1")

    # when an answer is streamed, then it fails as unavailable
    with pytest.raises(LLMUnavailable, match="unreachable"):
        await collect(llm.stream(TURNS))
    await llm.aclose()


async def test_an_unknown_host_is_unavailable_not_slow() -> None:
    # given a host name that never resolves (.invalid is reserved for that)
    llm = chat("http://ragql-model.invalid/v1")

    # when an answer is streamed, then it fails as unreachable (not as a timeout)
    with pytest.raises(LLMUnavailable, match="unreachable"):
        await collect(llm.stream(TURNS))
    await llm.aclose()


async def test_title_asks_for_a_short_non_streamed_answer_and_cleans_it(
    fake: FakeOpenAI, llm: OpenAIChat
) -> None:
    # given a server that answers with a quoted title
    fake.enqueue_plain(Reply(tokens=['"Quarterly', " revenue", ' summary."']))

    # when a title is asked for
    title = await llm.title("  What did we earn\nlast quarter? ")

    # then it is cleaned, and the request was short and not streamed
    assert title == "Quarterly revenue summary"
    body = fake.requests[0].body
    assert "stream" not in body or body["stream"] is False
    assert body["max_tokens"] == 24
    assert body["model"] == "default-model"
    assert body["messages"][-1] == {"role": "user", "content": "  What did we earn\nlast quarter? "}


async def test_title_falls_back_to_the_question_when_the_model_fails(
    fake: FakeOpenAI, llm: OpenAIChat
) -> None:
    # given a server that fails
    fake.enqueue_plain(Reply(status=500))

    # when a title is asked for, then the question serves, without retrying
    assert await llm.title("What did we earn last quarter?") == "What did we earn last quarter?"
    assert len(fake.requests) == 1


def test_api_openai_com_needs_a_key() -> None:
    # a self-hosted server needs no key; api.openai.com does
    with pytest.raises(ValueError, match="OPENAI_API_KEY"):
        OpenAIChat(default_model="m")


async def test_a_pause_shorter_than_the_stall_timeout_is_waited_out(
    fake: FakeOpenAI, llm: OpenAIChat
) -> None:
    # given an answer that pauses after two tokens until the test resumes it
    resume = asyncio.Event()
    fake.enqueue(Reply(tokens=tokens(5), stall_after=2, resume=resume))
    seen: list[str] = []
    consumer = asyncio.create_task(collect(llm.stream(TURNS), into=seen))
    await fake.wait_requests(1)
    await asyncio.wait_for(fake.requests[0].stalled.wait(), HANG_GUARD)
    assert fake.open_streams == 1

    # when the model resumes
    resume.set()
    events = await asyncio.wait_for(consumer, HANG_GUARD)

    # then the whole answer arrives and the stream ends normally
    assert texts(events) == tokens(5) == seen
    assert fake.requests[0].finished and not fake.disconnects
    assert len(fake.requests[0].emitted_at) == 5
    assert fake.open_streams == 0
