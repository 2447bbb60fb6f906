"""Answers from an OpenAI-compatible model: a real loopback server speaking its protocol."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from domain.container import Container
from domain.db.migrate import migrate
from graph.app import create_app
from tests.conftest import make_settings
from tests.graph.documents.test_upload import REFUNDS, settled, uploaded
from tests.support.chat import ask, new_session, read_stream
from tests.support.client import GraphQLClient, SignedIn, TransportWsClient, errors
from tests.support.fake_openai import FakeOpenAI, Reply, tokens
from tests.support.server import running_server

CANCEL = "mutation C($id: ID!) { cancelGeneration(messageId: $id) { id status content } }"
REGENERATE = """
mutation R($id: ID!) {
  regenerateMessage(messageId: $id) { userMessage { id } assistantMessage { id status } }
}
"""
UPDATE = """
mutation U($id: ID!, $input: UpdateWorkspaceInput!) {
  updateWorkspace(id: $id, input: $input) { id }
}
"""
SESSION = "query S($id: ID!) { chatSession(id: $id) { title } }"


@dataclass
class ModelServer:
    fake: FakeOpenAI
    address: str
    client: GraphQLClient
    owner: SignedIn
    workspace_id: str
    session_id: str


@pytest.fixture
async def model(tmp_path: Path) -> AsyncIterator[ModelServer]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'ragql.sqlite3'}"
    await migrate(url)
    async with FakeOpenAI() as fake:
        settings = make_settings(
            tmp_path,
            url,
            openai_base_url=fake.base_url,
            chat_model="fake-model",
            chat_save_every_seconds=0.05,
            llm_stall_timeout_seconds=1.0,
        )
        container = Container.build(settings)
        async with running_server(create_app(container=container)) as address:
            client = GraphQLClient(address)
            owner = await client.register("owner")
            ws = await client.create_workspace(owner)
            await settled(client, owner, await uploaded(client, owner, ws, "policy.md", REFUNDS))
            session_id = await new_session(client, owner, ws)
            yield ModelServer(fake, address, client, owner, ws, session_id)
            await client.close()
        await container.close()


async def test_model_answer_streams_in_order_with_usage(model: ModelServer) -> None:
    model.fake.enqueue(Reply(tokens=tokens(30), tokens_per_second=500))
    sent = await ask(model.client, model.owner, model.session_id, "How are refunds paid?")
    frames = await read_stream(
        model.address, model.owner.access_token, sent["assistantMessage"]["id"]
    )
    final = frames[-1]["message"]
    assert final["status"] == "COMPLETE"
    assert final["content"] == "".join(tokens(30))
    assert "".join(f["delta"] for f in frames) == final["content"]
    assert final["model"] == "fake-model"
    assert final["usage"]["completionTokens"] > 0
    assert final["sources"][0]["filename"] == "policy.md"
    # and the model was asked with the sources, the question, streaming with usage
    body = model.fake.requests[0].body
    assert body["model"] == "fake-model" and body["stream"] is True
    assert body["stream_options"] == {"include_usage": True}
    assert body["messages"][0]["role"] == "system"
    assert "Refunds are processed" in body["messages"][0]["content"]
    assert body["messages"][-1] == {"role": "user", "content": "How are refunds paid?"}


async def test_history_and_workspace_settings_reach_the_model(model: ModelServer) -> None:
    await model.client.data(
        UPDATE,
        {
            "id": model.workspace_id,
            "input": {"systemPrompt": "Be brief.", "temperature": 0.2, "maxTokens": 77},
        },
        model.owner.access_token,
    )
    model.fake.enqueue(Reply(tokens=["first answer"]), Reply(tokens=["second answer"]))
    first = await ask(model.client, model.owner, model.session_id, "first question")
    await read_stream(model.address, model.owner.access_token, first["assistantMessage"]["id"])
    second = await ask(model.client, model.owner, model.session_id, "second question")
    await read_stream(model.address, model.owner.access_token, second["assistantMessage"]["id"])
    body = model.fake.requests[-1].body
    assert body["temperature"] == 0.2 and body["max_tokens"] == 77
    assert body["messages"][0]["content"].startswith("Be brief.")
    assert [m["content"] for m in body["messages"][1:]] == [
        "first question",
        "first answer",
        "second question",
    ]


async def test_cancel_closes_the_provider_stream_and_keeps_the_partial_text(
    model: ModelServer,
) -> None:
    # given an answer that the model writes slowly
    model.fake.enqueue(Reply(tokens=tokens(1000), tokens_per_second=50))
    sent = await ask(model.client, model.owner, model.session_id, "refunds")
    message_id = sent["assistantMessage"]["id"]
    reader = asyncio.create_task(read_stream(model.address, model.owner.access_token, message_id))
    await model.fake.wait_requests(1)
    while model.fake.requests[0].tokens_sent < 3:  # noqa: ASYNC110 (polling the fake's count)
        await asyncio.sleep(0.02)
    # when it is cancelled
    data = await model.client.data(CANCEL, {"id": message_id}, model.owner.access_token)
    # then the model server sees the client hang up, and the partial text is kept
    await model.fake.wait_went_away()
    cancelled = data["cancelGeneration"]
    assert cancelled["status"] == "CANCELLED"
    assert cancelled["content"] and cancelled["content"] in "".join(tokens(1000))
    frames = await asyncio.wait_for(reader, 10)
    assert frames[-1]["done"] is True
    assert frames[-1]["message"]["status"] == "CANCELLED"
    assert frames[-1]["message"]["content"] == cancelled["content"]
    # and cancelling again changes nothing
    again = await model.client.data(CANCEL, {"id": message_id}, model.owner.access_token)
    assert again["cancelGeneration"] == cancelled


async def test_a_subscriber_leaving_does_not_stop_the_answer(model: ModelServer) -> None:
    model.fake.enqueue(Reply(tokens=tokens(40), tokens_per_second=200))
    sent = await ask(model.client, model.owner, model.session_id, "refunds")
    message_id = sent["assistantMessage"]["id"]
    ws = await TransportWsClient.connect(model.address)
    await ws.init(model.owner.access_token)
    await ws.subscribe(
        "1",
        "subscription S($id: ID!) { messageStream(messageId: $id) { seq } }",
        {"id": message_id},
    )
    await ws.receive()
    await ws.close()
    frames = await read_stream(model.address, model.owner.access_token, message_id)
    assert frames[-1]["message"]["status"] == "COMPLETE"
    assert frames[-1]["message"]["content"] == "".join(tokens(40))
    assert model.fake.disconnects == []


async def test_model_failure_mid_stream_fails_with_partial_text(model: ModelServer) -> None:
    model.fake.enqueue(Reply(tokens=tokens(20), drop_after=5))
    sent = await ask(model.client, model.owner, model.session_id, "refunds")
    frames = await read_stream(
        model.address, model.owner.access_token, sent["assistantMessage"]["id"]
    )
    final = frames[-1]["message"]
    assert final["status"] == "FAILED"
    assert final["content"] == "".join(tokens(5))
    assert final["error"]
    assert len(model.fake.requests) == 1  # no retry after the first token


async def test_model_errors_before_the_first_token_are_retried(model: ModelServer) -> None:
    model.fake.enqueue(Reply(status=503), Reply(tokens=["fine"]))
    sent = await ask(model.client, model.owner, model.session_id, "refunds")
    frames = await read_stream(
        model.address, model.owner.access_token, sent["assistantMessage"]["id"]
    )
    assert frames[-1]["message"]["status"] == "COMPLETE"
    assert frames[-1]["message"]["content"] == "fine"
    assert len([r for r in model.fake.requests if r.stream]) == 2


async def test_a_rejected_request_fails_with_a_readable_error(model: ModelServer) -> None:
    model.fake.enqueue(Reply(status=400, error_message="model not found"))
    sent = await ask(model.client, model.owner, model.session_id, "refunds")
    frames = await read_stream(
        model.address, model.owner.access_token, sent["assistantMessage"]["id"]
    )
    final = frames[-1]["message"]
    assert final["status"] == "FAILED"
    assert final["error"] and "Internal" not in final["error"]
    assert len(model.fake.requests) == 1


async def test_query_only_refuses_without_calling_the_model(model: ModelServer) -> None:
    await model.client.data(
        UPDATE,
        {
            "id": model.workspace_id,
            "input": {
                "queryOnly": True,
                "refusalText": "Not in the docs.",
                "similarityThreshold": 0.99,
            },
        },
        model.owner.access_token,
    )
    sent = await ask(model.client, model.owner, model.session_id, "zebra migration patterns")
    frames = await read_stream(
        model.address, model.owner.access_token, sent["assistantMessage"]["id"]
    )
    # BM25 finds nothing either: the words are not in the document
    assert frames[-1]["message"]["content"] == "Not in the docs."
    assert frames[-1]["message"]["status"] == "COMPLETE"
    assert model.fake.requests == []


async def test_regenerate_replaces_the_latest_answer(model: ModelServer) -> None:
    model.fake.enqueue(Reply(tokens=["one"]), Reply(tokens=["two"]))
    sent = await ask(model.client, model.owner, model.session_id, "refunds")
    first_id = sent["assistantMessage"]["id"]
    await read_stream(model.address, model.owner.access_token, first_id)
    data = await model.client.data(REGENERATE, {"id": first_id}, model.owner.access_token)
    payload = data["regenerateMessage"]
    assert payload["userMessage"]["id"] == sent["userMessage"]["id"]
    frames = await read_stream(
        model.address, model.owner.access_token, payload["assistantMessage"]["id"]
    )
    assert frames[-1]["message"]["content"] == "two"
    gone = await model.client.execute(REGENERATE, {"id": first_id}, model.owner.access_token)
    assert errors(gone) == [("NOT_FOUND", None)]


async def test_first_question_gets_a_model_written_title(model: ModelServer) -> None:
    model.fake.enqueue(Reply(tokens=["answer"]))
    model.fake.enqueue_plain(Reply(tokens=["Refund timing"]))
    sent = await ask(model.client, model.owner, model.session_id, "how long do refunds take?")
    await read_stream(model.address, model.owner.access_token, sent["assistantMessage"]["id"])
    for _ in range(100):
        title = await model.client.data(SESSION, {"id": model.session_id}, model.owner.access_token)
        if title["chatSession"]["title"] == "Refund timing":
            break
        await asyncio.sleep(0.05)
    assert title["chatSession"]["title"] == "Refund timing"
