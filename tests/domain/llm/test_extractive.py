"""The model-free answerer: quotes the best passages, cites them, streams like a model."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import aclosing

import pytest

from domain.llm.extractive import INTRODUCTION, NOTHING_FOUND, ExtractiveAnswerer
from domain.llm.port import ChatTurn, ContextPassage, Delta, LLMEvent, Usage

HANDBOOK = ContextPassage(
    "1",
    "The office opens at eight. Parking is free for staff on weekdays. "
    "Visitors must sign in at reception. The cafeteria serves lunch until two.",
    "handbook.pdf, page 3",
)
POLICY = ContextPassage(
    "2",
    "Remote work is allowed two days a week.\n\nStaff parking permits are renewed every January.",
    "policy.docx",
)
QUESTION = [
    ChatTurn("system", "Answer from the context."),
    ChatTurn("user", "Is staff parking free?"),
]


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the extractive answerer must not touch the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(asyncio.BaseEventLoop, "create_connection", refuse)


async def collect(events: AsyncIterator[LLMEvent]) -> list[LLMEvent]:
    return [event async for event in events]


def answer_of(events: list[LLMEvent]) -> str:
    return "".join(event.text for event in events if isinstance(event, Delta))


@pytest.mark.usefixtures("no_network")
async def test_streams_the_relevant_sentences_word_by_word_with_their_markers() -> None:
    # given two retrieved passages
    llm = ExtractiveAnswerer()

    # when the question is answered
    events = await collect(llm.stream(QUESTION, context=[HANDBOOK, POLICY]))
    answer = answer_of(events)

    # then it quotes the parking sentences of each passage (in passage order) and cites them
    assert answer.startswith(INTRODUCTION + "\n\n")
    assert "Parking is free for staff on weekdays." in answer
    assert "Staff parking permits are renewed every January." in answer
    assert answer.index("[1]") < answer.index("[2]")
    assert "cafeteria" not in answer
    # in many small deltas, each one word with the space before it
    deltas = [event for event in events if isinstance(event, Delta)]
    assert len(deltas) > 20
    assert all(len(delta.text.split()) == 1 for delta in deltas)
    # and ends with the usage of a model named "extractive"
    usage = events[-1]
    assert isinstance(usage, Usage)
    assert usage.model == "extractive" and usage.finish_reason == "stop"
    assert usage.usage is not None
    assert usage.usage.completion_tokens == len(deltas)
    assert usage.usage.prompt_tokens > len(HANDBOOK.text.split())


@pytest.mark.usefixtures("no_network")
async def test_keeps_sentences_in_their_original_order() -> None:
    # given a passage whose most relevant sentence comes second
    passage = ContextPassage("7", "Alpha beta. Parking rules: staff only. Gamma delta.", "x")

    # when it is quoted
    answer = ExtractiveAnswerer().answer("Who may use the parking?", [passage])

    # then the two chosen sentences keep the passage's order
    assert answer.endswith("Alpha beta. Parking rules: staff only. [7]")


@pytest.mark.usefixtures("no_network")
async def test_without_context_it_says_it_found_nothing() -> None:
    events = await collect(ExtractiveAnswerer().stream(QUESTION))
    assert answer_of(events) == NOTHING_FOUND
    assert isinstance(events[-1], Usage) and events[-1].model == "extractive"


@pytest.mark.usefixtures("no_network")
async def test_quotes_at_most_the_first_passages_and_accepts_bracketed_markers() -> None:
    # given four passages, markers already in brackets
    passages = [ContextPassage(f"[{n}]", f"Fact number {n}.", "s") for n in range(1, 5)]

    # when answered with the default limit of three passages
    answer = ExtractiveAnswerer().answer("facts?", passages)

    # then the first three are cited once each, without doubled brackets
    assert "[1]" in answer and "[2]" in answer and "[3]" in answer
    assert "[4]" not in answer and "[[" not in answer


@pytest.mark.usefixtures("no_network")
async def test_max_tokens_cuts_the_answer() -> None:
    events = await collect(ExtractiveAnswerer().stream(QUESTION, context=[HANDBOOK], max_tokens=4))
    assert len([event for event in events if isinstance(event, Delta)]) == 4
    last = events[-1]
    assert isinstance(last, Usage) and last.finish_reason == "length"
    assert last.usage is not None and last.usage.completion_tokens == 4


@pytest.mark.usefixtures("no_network")
async def test_yields_to_the_event_loop_between_deltas() -> None:
    # given another task that counts its turns on the loop
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0)

    ticker = asyncio.create_task(tick())
    await asyncio.sleep(0)

    # when an answer is streamed, noting the ticks seen at each delta
    seen: list[int] = []
    async for event in ExtractiveAnswerer().stream(QUESTION, context=[HANDBOOK, POLICY]):
        if isinstance(event, Delta):
            seen.append(ticks)
    ticker.cancel()

    # then the other task ran between deltas (the stream does not hog the loop)
    assert len(set(seen)) > len(seen) // 2


@pytest.mark.usefixtures("no_network")
async def test_closing_early_is_clean_and_titles_are_the_trimmed_question() -> None:
    llm = ExtractiveAnswerer()
    async with aclosing(llm.stream(QUESTION, context=[HANDBOOK])) as events:
        async for _ in events:
            break
    assert await llm.title("  Is staff\n parking free?  ") == "Is staff parking free?"
    assert llm.name == "extractive"
    await llm.aclose()
