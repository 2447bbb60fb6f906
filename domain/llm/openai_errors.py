"""How OpenAI SDK failures become the port's errors: messages for users, retry hints.

Transient (a fresh request may succeed): no connection, SDK timeouts, 408/409/425/429,
5xx and error events inside the stream. Permanent: any other status (400, 401, 404,
422...). A stall is transient in nature but is not retried: waiting out the stall
timeout again would double an already long wait.
"""

from __future__ import annotations

import socket

from openai import APIConnectionError, APIError, APIStatusError, APITimeoutError

from domain.llm.port import LLMError, LLMRejected, LLMUnavailable

TRANSIENT_STATUS = frozenset({408, 409, 425, 429})
MAX_DETAIL_CHARS = 300


class Stalled(Exception):
    """No chunk arrived within the stall timeout."""


def classify(error: Exception, *, answered: bool) -> tuple[LLMError, bool, float | None]:
    """The user-facing error, whether a fresh request may succeed, and Retry-After."""
    if isinstance(error, Stalled):
        return LLMUnavailable("The model stopped responding."), False, None
    if isinstance(error, APITimeoutError) and not _refused(error):
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


def _refused(error: BaseException) -> bool:
    """True when the cause is a refused connection or an unknown host. The SDK's aiohttp
    transport reports those as a connect *timeout*, which would tell users to wait."""
    cause: BaseException | None = error
    while cause is not None:
        if isinstance(cause, ConnectionError | socket.gaierror):
            return True
        cause = cause.__cause__ or cause.__context__
    return False


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
