"""Builds the chat model the settings name: an OpenAI-compatible server, or no model at all.

OPENAI_API_KEY or OPENAI_BASE_URL selects the OpenAI-compatible adapter (CHAT_MODEL is
its default model); with neither, the extractive answerer makes chat work offline.
"""

from __future__ import annotations

from typing import Any

from domain.embeddings.backoff import Backoff
from domain.llm.extractive import ExtractiveAnswerer
from domain.llm.port import LLM
from domain.settings import Settings


def build_llm(settings: Settings) -> LLM:
    key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else None
    if not key and not settings.openai_base_url:
        return ExtractiveAnswerer()
    from domain.llm.openai_chat import OpenAIChat

    return OpenAIChat(
        default_model=settings.chat_model,
        api_key=key,
        base_url=settings.openai_base_url,
        timeout_seconds=_optional(settings, "llm_timeout_seconds", 60.0),
        stall_timeout_seconds=_optional(settings, "llm_stall_timeout_seconds", 60.0),
        backoff=Backoff(
            attempts=_optional(settings, "llm_max_attempts", 3),
            base_seconds=0.5,
            cap_seconds=8.0,
        ),
    )


def _optional(settings: Settings, name: str, default: Any) -> Any:
    # Settings this package proposes; read with defaults until settings.py declares them.
    value = getattr(settings, name, None)
    return default if value is None else value
