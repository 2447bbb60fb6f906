"""Builds the chat model the settings name: an OpenAI-compatible server, or no model at all.

OPENAI_API_KEY or OPENAI_BASE_URL selects the OpenAI-compatible adapter (CHAT_MODEL is
its default model; LLM_TIMEOUT_SECONDS, LLM_STALL_TIMEOUT_SECONDS, LLM_MAX_ATTEMPTS tune
it); with neither, the extractive answerer makes chat work offline.
"""

from __future__ import annotations

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
        timeout_seconds=settings.llm_timeout_seconds,
        stall_timeout_seconds=settings.llm_stall_timeout_seconds,
        backoff=Backoff(attempts=settings.llm_max_attempts, base_seconds=0.5, cap_seconds=8.0),
    )
