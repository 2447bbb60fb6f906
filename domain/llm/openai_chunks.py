"""Reads `chat.completion.chunk` objects as plain JSON.

The SDK can build a pydantic model per chunk, but that costs about 100 µs of CPU each
(measured: ~125 µs against ~27 µs per chunk when read as dicts), which at hundreds of
concurrent streams is most of a core; the few fields chat needs are read here instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from domain.llm.port import TokenUsage


class MalformedChunk(Exception):
    """A chunk that is not a chat-completion chunk."""


@dataclass(frozen=True, slots=True)
class Chunk:
    text: str
    model: str | None
    usage: TokenUsage | None
    finish_reason: str | None


def read_chunk(data: object) -> Chunk:
    """The first choice's text, the model, the usage (if sent) and the finish reason."""
    if not isinstance(data, dict):
        raise MalformedChunk(f"expected a JSON object, got {type(data).__name__}")
    text = ""
    finish_reason: str | None = None
    choices = data.get("choices")
    if choices is None:
        choices = []
    if not isinstance(choices, list):
        raise MalformedChunk("choices is not a list")
    for choice in choices:
        if not isinstance(choice, dict) or choice.get("index", 0) != 0:
            continue
        delta = choice.get("delta")
        content = delta.get("content") if isinstance(delta, dict) else None
        if isinstance(content, str):
            text += content
        reason = choice.get("finish_reason")
        if isinstance(reason, str):
            finish_reason = reason
    model = data.get("model")
    return Chunk(
        text=text,
        model=model if isinstance(model, str) and model else None,
        usage=_usage(data.get("usage")),
        finish_reason=finish_reason,
    )


def _usage(value: Any) -> TokenUsage | None:
    if not isinstance(value, dict):
        return None
    prompt = value.get("prompt_tokens")
    completion = value.get("completion_tokens")
    if not isinstance(prompt, int) or not isinstance(completion, int):
        return None
    return TokenUsage(prompt_tokens=prompt, completion_tokens=completion)
