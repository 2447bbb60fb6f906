"""documentEvents seen by a real graphql-transport-ws client while real uploads ingest."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from domain.container import Container
from domain.events.memory import InProcessEventBus
from domain.events.port import document_topic
from tests.conftest import Backend
from tests.graph.documents.helpers import (
    dedicated_server,
    embeddings_endpoint,
    settled,
    uploaded,
)
from tests.support.client import GraphQLClient, TransportWsClient, errors

DOCUMENT_EVENTS = """
subscription DocumentEvents($ws: ID!) {
  documentEvents(workspaceId: $ws) { id status chunkCount error }
}
"""
POLICY = (
    b"# Refunds\n\nRefunds are processed within 14 days of the return arriving at the "
    b"warehouse.\n\n# Shipping\n\nParcels leave the depot every weekday at noon.\n"
)
ORDER = {"PENDING": 0, "PROCESSING": 1, "READY": 2}
# A guard against hanging on a broken server, never an assertion about speed.
PATIENCE = 30


@asynccontextmanager
async def socket(address: str, token: str) -> AsyncIterator[TransportWsClient]:
    ws = await TransportWsClient.connect(address)
    try:
        assert (await ws.init(token))["type"] == "connection_ack"
        yield ws
    finally:
        await ws.close()


async def receive(ws: TransportWsClient) -> dict[str, Any]:
    return await asyncio.wait_for(ws.receive(), PATIENCE)


async def next_event(ws: TransportWsClient, op_id: str) -> dict[str, Any]:
    """The document carried by the next `next` message, which must belong to `op_id`."""
    message = await receive(ws)
    assert (message["id"], message["type"]) == (op_id, "next"), message
    assert "errors" not in message["payload"], message
    event: dict[str, Any] = message["payload"]["data"]["documentEvents"]
    return event


async def until_subscribers(container: Container, workspace_id: str, count: int) -> None:
    """Subscribing is asynchronous: wait until the bus has `count` listeners."""
    bus = container.bus
    assert isinstance(bus, InProcessEventBus)
    topic = document_topic(uuid.UUID(workspace_id))
    async with asyncio.timeout(PATIENCE):
        while True:
            if bus.subscriber_count(topic) == count:
                return
            await asyncio.sleep(0.01)


async def test_an_upload_is_seen_going_from_pending_to_ready(
    client: GraphQLClient, backend: Backend
) -> None:
    # given an owner watching the events of their workspace
    owner = await client.register("owner")
    ws = await client.create_workspace(owner)
    async with socket(backend.address, owner.access_token) as events:
        await events.subscribe("docs", DOCUMENT_EVENTS, {"ws": ws})
        await until_subscribers(backend.container, ws, 1)

        # when a file is uploaded over HTTP and ingested by the worker
        document_id = await uploaded(client, owner, ws, "policy.md", POLICY)
        # (three publications: the upload, the worker's claim, the worker's completion)
        received = [await next_event(events, "docs") for _ in range(3)]

    # then every event is that document, read as it was when delivered: never going
    # backwards, ending READY with its passages counted
    assert [event["id"] for event in received] == [document_id] * 3
    statuses = [event["status"] for event in received]
    assert statuses == sorted(statuses, key=ORDER.__getitem__)
    final = await settled(client, owner, document_id)
    assert received[-1] == {
        "id": document_id,
        "status": "READY",
        "chunkCount": final["chunkCount"],
        "error": None,
    }
    assert final["chunkCount"] >= 1


async def test_processing_is_seen_while_the_embedder_works(tmp_path: Path) -> None:
    # given a server embedding through an endpoint that holds its answers for now
    async with (
        embeddings_endpoint() as endpoint,
        dedicated_server(tmp_path, **endpoint.settings()) as server,
    ):
        graphql = GraphQLClient(server.address)
        try:
            owner = await graphql.register("owner")
            ws = await graphql.create_workspace(owner)
            endpoint.gate.clear()
            async with socket(server.address, owner.access_token) as events:
                await events.subscribe("docs", DOCUMENT_EVENTS, {"ws": ws})
                await until_subscribers(server.container, ws, 1)

                # when a file is uploaded and the worker claims it
                document_id = await uploaded(graphql, owner, ws, "policy.md", POLICY)
                uploaded_event = await next_event(events, "docs")
                claimed_event = await next_event(events, "docs")

                # then, the embedder still working, the claim shows it PROCESSING
                # (the upload's own event is PENDING, or PROCESSING if the worker was quick)
                assert uploaded_event["id"] == document_id
                assert uploaded_event["status"] in {"PENDING", "PROCESSING"}
                assert claimed_event == {
                    "id": document_id,
                    "status": "PROCESSING",
                    "chunkCount": 0,
                    "error": None,
                }

                # and once the embedder answers, READY follows
                endpoint.gate.set()
                ready_event = await next_event(events, "docs")
            assert ready_event["id"] == document_id
            assert ready_event["status"] == "READY"
            assert ready_event["chunkCount"] >= 1
            assert endpoint.requests and set(endpoint.requests) == {"ok"}
        finally:
            await graphql.close()


async def test_a_member_of_another_workspace_sees_none_of_its_events(
    client: GraphQLClient, backend: Backend
) -> None:
    # given Alice and Bob, each owning a workspace
    alice, bob = await client.register("alice"), await client.register("bob")
    ws_alice = await client.create_workspace(alice)
    ws_bob = await client.create_workspace(bob)

    async with socket(backend.address, bob.access_token) as events:
        # when Bob subscribes to Alice's workspace
        await events.subscribe("theirs", DOCUMENT_EVENTS, {"ws": ws_alice})

        # then it is NOT_FOUND, and the operation ends
        refused = await receive(events)
        assert (refused["id"], refused["type"]) == ("theirs", "next")
        assert refused["payload"]["data"] is None
        assert errors(refused["payload"]) == [("NOT_FOUND", None)]
        assert await receive(events) == {"id": "theirs", "type": "complete"}

        # and when Bob watches his own workspace while Alice's upload ingests, then his
        await events.subscribe("mine", DOCUMENT_EVENTS, {"ws": ws_bob})
        await until_subscribers(backend.container, ws_bob, 1)
        alices = await uploaded(client, alice, ws_alice, "alice.md", POLICY)
        assert (await settled(client, alice, alices))["status"] == "READY"
        bobs = await uploaded(client, bob, ws_bob, "bob.md", POLICY + b"\nBob's copy.\n")
        received = [await next_event(events, "mine") for _ in range(3)]

        # the socket carried only Bob's own document, never Alice's
        assert [event["id"] for event in received] == [bobs] * 3
        assert received[-1]["status"] == "READY"
    await until_subscribers(backend.container, ws_alice, 0)
