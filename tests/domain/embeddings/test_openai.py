"""The OpenAI-compatible adapter against a real HTTP server on loopback."""

from __future__ import annotations

import time

import numpy as np
import pytest

from domain.embeddings.backoff import Backoff
from domain.embeddings.openai import OpenAIEmbedder, parse_retry_after
from domain.embeddings.port import EmbeddingRejected, EmbeddingUnavailable
from tests.domain.embeddings.fake_openai import DIMENSION, Script, fake_openai, vector_for
from tests.support.server import free_port

FAST = Backoff(attempts=4, base_seconds=0.01, cap_seconds=0.05)


def embedder(base_url: str, **options: object) -> OpenAIEmbedder:
    values: dict[str, object] = {
        "model": "test-model",
        "dimension": DIMENSION,
        "base_url": base_url,
        "api_key": "sk-test",
        "backoff": FAST,
        **options,
    }
    return OpenAIEmbedder(**values)  # type: ignore[arg-type]


def expected(texts: list[str]) -> np.ndarray:
    rows = np.stack([vector_for(text) for text in texts])
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


async def test_batches_texts_and_keeps_their_order() -> None:
    # given a server and an embedder sending batches of four
    script = Script()
    texts = [f"text number {i}" for i in range(10)]
    async with fake_openai(script) as url:
        model = embedder(url, batch_size=4)

        # when ten texts are embedded
        vectors = await model.embed(texts)
        await model.close()

    # then three requests went out, and each row is its text's vector, normalised
    assert [len(batch) for batch in script.requests] == [4, 4, 2]
    assert [text for batch in script.requests for text in batch] == texts
    assert script.models == ["test-model"] * 3
    assert script.authorization == ["Bearer sk-test"] * 3
    assert vectors.dtype == np.float32
    assert vectors.shape == (10, DIMENSION)
    assert np.allclose(vectors, expected(texts), atol=1e-6)
    assert model.name == f"openai:test-model:{DIMENSION}"


async def test_retries_503_then_succeeds() -> None:
    script = Script(failures=[503, 503])
    async with fake_openai(script) as url:
        vectors = await embedder(url).embed(["a", "b"])
    assert len(script.requests) == 3
    assert np.allclose(vectors, expected(["a", "b"]), atol=1e-6)


async def test_retries_429_and_500() -> None:
    script = Script(failures=[429, 500], retry_after="0")
    async with fake_openai(script) as url:
        await embedder(url).embed(["a"])
    assert len(script.requests) == 3


async def test_gives_up_as_unavailable_after_the_attempts() -> None:
    script = Script(failures=[503] * 10)
    async with fake_openai(script) as url:
        with pytest.raises(EmbeddingUnavailable, match="503"):
            await embedder(url).embed(["a"])
    assert len(script.requests) == FAST.attempts


@pytest.mark.parametrize("status", [400, 401, 404, 422])
async def test_a_refusal_is_rejected_without_retrying(status: int) -> None:
    script = Script(failures=[status])
    async with fake_openai(script) as url:
        with pytest.raises(EmbeddingRejected, match=str(status)):
            await embedder(url).embed(["a"])
    assert len(script.requests) == 1


async def test_connection_refused_is_unavailable() -> None:
    # given a port nobody listens on
    url = f"http://127.0.0.1:{free_port()}/v1"
    started = time.monotonic()
    with pytest.raises(EmbeddingUnavailable, match="unreachable"):
        await embedder(url).embed(["a"])
    assert time.monotonic() - started < 5


async def test_a_slow_server_times_out_as_unavailable() -> None:
    script = Script(delay_seconds=0.5)
    async with fake_openai(script) as url:
        model = embedder(url, timeout_seconds=0.1, backoff=Backoff(attempts=2, base_seconds=0.01))
        with pytest.raises(EmbeddingUnavailable):
            await model.embed(["a"])
    assert len(script.requests) == 2


async def test_a_wrong_dimension_is_rejected() -> None:
    script = Script(dimension=DIMENSION // 2)
    async with fake_openai(script) as url:
        with pytest.raises(EmbeddingRejected, match="dimension"):
            await embedder(url).embed(["a"])
    assert len(script.requests) == 1


async def test_empty_and_blank_inputs_never_reach_the_server() -> None:
    script = Script()
    async with fake_openai(script) as url:
        model = embedder(url)
        assert (await model.embed([])).shape == (0, DIMENSION)
        with pytest.raises(EmbeddingRejected):
            await model.embed(["ok", ""])
    assert script.requests == []


def test_configuration_is_checked() -> None:
    with pytest.raises(ValueError, match="EMBEDDING_DIMENSION"):
        OpenAIEmbedder(model="unknown-model", base_url="http://127.0.0.1:1/v1")
    with pytest.raises(ValueError, match="OPENAI_API_KEY"):
        OpenAIEmbedder(model="text-embedding-3-small")
    known = OpenAIEmbedder(model="text-embedding-3-small", api_key="sk-x")
    assert known.dimension == 1536
    keyless = OpenAIEmbedder(model="nomic-embed-text", base_url="http://127.0.0.1:1/v1")
    assert keyless.name == "openai:nomic-embed-text:768"


def test_retry_after_and_backoff() -> None:
    assert parse_retry_after("2") == 2.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") is None
    assert parse_retry_after("-1") is None
    backoff = Backoff(attempts=3, base_seconds=1.0, cap_seconds=4.0)
    assert backoff.delay(1, retry_after=60.0) == 4.0
    assert 0.5 <= backoff.delay(1) <= 1.0
    assert 2.0 <= backoff.delay(10) <= 4.0
