"""The LLM port: what chat generation needs from any model, and the events it streams.

A call is `llm.stream(turns, context=..., model=..., temperature=..., max_tokens=...)`,
an async generator of events: zero or more `Delta`s (text to append, in order), then
exactly one `Usage` when the answer is complete. Failures raise an `LLMError` whose
message is safe to show to users; deltas yielded before a failure stand (the caller
keeps the partial text). Close the generator (`aclose()`, or `contextlib.aclosing`)
or cancel the task consuming it to stop generation: the adapter then closes its HTTP
stream at once, so the model server sees the client go and stops spending tokens.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol, TypeAlias

Role: TypeAlias = Literal["system", "user", "assistant"]


@dataclass(frozen=True, slots=True)
class ChatTurn:
    """One message of the prompt, in the order the model should read them."""

    role: Role
    content: str


@dataclass(frozen=True, slots=True)
class ContextPassage:
    """A retrieved passage that went into the prompt.

    `marker` is the bare citation label ("1"); answers cite it as "[1]". `source` names
    where it came from for people ("handbook.pdf, page 4"). Adapters that call a model
    ignore passages (the caller has already written them into the prompt); the
    extractive answerer answers from them.
    """

    marker: str
    text: str
    source: str


@dataclass(frozen=True, slots=True)
class TokenUsage:
    prompt_tokens: int
    completion_tokens: int

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@dataclass(frozen=True, slots=True)
class Delta:
    """Text to append to the answer."""

    text: str


@dataclass(frozen=True, slots=True)
class Usage:
    """The last event of a complete answer.

    `usage` is what the server reported, or None when it reported nothing (estimating
    is the caller's business). `model` is the model that answered, as the server names
    it. `finish_reason` is "stop", or "length" when `max_tokens` cut the answer short.
    """

    usage: TokenUsage | None
    model: str
    finish_reason: str | None = None


LLMEvent: TypeAlias = Delta | Usage


class LLMError(Exception):
    """Generation failed; the message is written for users and leaks no internals."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class LLMUnavailable(LLMError):
    """Transient: no connection, a timeout, a stall, 5xx or 429. Adapters have already
    retried where that was safe (before the first delta); never after."""


class LLMRejected(LLMError):
    """Permanent: the provider refused the request (bad model, bad key, bad input)."""


class LLM(Protocol):
    """A chat model. Implementations: `OpenAIChat`, `ExtractiveAnswerer`."""

    @property
    def name(self) -> str:
        """The provider kind, e.g. "openai" or "extractive"."""
        ...

    def stream(
        self,
        turns: Sequence[ChatTurn],
        *,
        context: Sequence[ContextPassage] = (),
        model: str | None = None,
        temperature: float | None = None,
        max_tokens: int | None = None,
    ) -> AsyncGenerator[LLMEvent, None]:
        """Deltas, then one `Usage`; `None` options mean the adapter's defaults."""
        ...

    async def title(self, question: str, *, model: str | None = None) -> str:
        """A short session title for a first question; never raises `LLMError` (falls
        back to the trimmed question)."""
        ...

    async def aclose(self) -> None:
        """Releases connections; call once at shutdown."""
        ...
