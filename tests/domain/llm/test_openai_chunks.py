"""Reading streamed chunks as plain JSON."""

from __future__ import annotations

import pytest

from domain.llm.openai_chunks import Chunk, MalformedChunk, read_chunk
from domain.llm.port import TokenUsage


def test_reads_the_first_choices_text_and_finish_reason() -> None:
    data = {
        "model": "m-2025",
        "choices": [
            {"index": 1, "delta": {"content": "other"}, "finish_reason": None},
            {"index": 0, "delta": {"content": "Hi"}, "finish_reason": "length"},
        ],
        "usage": None,
    }
    assert read_chunk(data) == Chunk(text="Hi", model="m-2025", usage=None, finish_reason="length")


def test_reads_the_usage_chunk_and_tolerates_missing_parts() -> None:
    usage = {"prompt_tokens": 7, "completion_tokens": 3, "total_tokens": 10}
    assert read_chunk({"choices": [], "usage": usage}) == Chunk(
        text="", model=None, usage=TokenUsage(7, 3), finish_reason=None
    )
    assert read_chunk({"choices": [{"index": 0, "delta": {"role": "assistant"}}]}).text == ""
    assert read_chunk({"usage": {"prompt_tokens": "7"}}).usage is None


@pytest.mark.parametrize("data", [[], "text", {"choices": "nope"}])
def test_refuses_what_is_not_a_chunk(data: object) -> None:
    with pytest.raises(MalformedChunk):
        read_chunk(data)
