"""graphql-transport-ws over a real socket: sign-in, limits, and a live documentEvents."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import websockets
from sqlalchemy import update

from domain.auth.tokens import TokenIssuer, TokenType
from domain.container import Container
from domain.db.migrate import migrate
from domain.documents.models import DocumentStatus, WorkspaceDocument
from domain.events.memory import InProcessEventBus
from domain.events.port import document_topic
from graph.app import create_app
from tests.conftest import TEST_SECRET, Backend, make_settings
from tests.support.client import GraphQLClient, SignedIn, TransportWsClient, errors
from tests.support.server import running_server

DOCUMENT_EVENTS = """
subscription DocumentEvents($ws: ID!) {
  documentEvents(workspaceId: $ws) { id status filename }
}
"""
VIEWER = "query { viewer { id } }"
# A guard against hanging forever on a broken server, never an assertion about speed.
PATIENCE = 10
CAP = 2

FORBIDDEN = 4403
UNAUTHORIZED = 4401
BAD_REQUEST = 4400
TIMED_OUT = 4408
SUBPROTOCOL_NOT_ACCEPTABLE = 4406
TOO_MANY_INITIALISATIONS = 4429


# --- helpers ---------------------------------------------------------------------------------


@dataclass
class Server:
    container: Container
    address: str


@asynccontextmanager
async def dedicated_server(
    tmp_path_factory: pytest.TempPathFactory, **overrides: object
) -> AsyncIterator[Server]:
    """A SQLite-backed server of its own, for settings the shared backend does not have."""
    data_dir = tmp_path_factory.mktemp("ws-server")
    url = f"sqlite+aiosqlite:///{data_dir / 'ragql.sqlite3'}"
    await migrate(url)
    container = Container.build(make_settings(data_dir, url, **overrides))
    try:
        async with running_server(create_app(container=container)) as address:
            yield Server(container, address)
    finally:
        await container.close()


@pytest.fixture(scope="module")
async def capped_server(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Server]:
    async with dedicated_server(tmp_path_factory, ws_max_subscriptions=CAP) as server:
        yield server


@pytest.fixture(scope="module")
async def impatient_server(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Server]:
    async with dedicated_server(tmp_path_factory, ws_connection_init_timeout_seconds=0.3) as server:
        yield server


@asynccontextmanager
async def socket(address: str) -> AsyncIterator[TransportWsClient]:
    ws = await TransportWsClient.connect(address)
    try:
        yield ws
    finally:
        await ws.close()


async def receive(ws: TransportWsClient) -> dict[str, Any]:
    return await asyncio.wait_for(ws.receive(), PATIENCE)


async def close_code(ws: TransportWsClient) -> int:
    """The code the server closed the socket with; fails if a message came instead."""
    with pytest.raises(websockets.ConnectionClosed) as closed:
        message = await receive(ws)
        pytest.fail(f"expected the socket to close, got {message}")
    assert closed.value.rcvd is not None
    return closed.value.rcvd.code


def bus_of(container: Container) -> InProcessEventBus:
    bus = container.bus
    assert isinstance(bus, InProcessEventBus)
    return bus


async def until_subscribers(container: Container, topic: str, count: int) -> None:
    """Waits until `count` subscriptions listen on `topic` (subscribing is asynchronous)."""
    bus = bus_of(container)
    for _ in range(PATIENCE * 100):
        if bus.subscriber_count(topic) == count:
            return
        await asyncio.sleep(0.01)
    pytest.fail(f"{topic} has {bus.subscriber_count(topic)} subscribers, expected {count}")


async def add_document(container: Container, workspace_id: str, user: SignedIn) -> uuid.UUID:
    document_id = uuid.uuid4()
    async with container.sessionmaker.begin() as session:
        session.add(
            WorkspaceDocument(
                id=document_id,
                workspace_id=uuid.UUID(workspace_id),
                uploaded_by_id=uuid.UUID(user.user_id),
                filename="notes.txt",
                content_type="text/plain",
                size_bytes=5,
                sha256=hashlib.sha256(document_id.bytes).hexdigest(),
                storage_key=document_id.hex,
                status=DocumentStatus.PENDING,
                # Not for the live ingestion worker: a far lease keeps it unclaimed.
                lease_expires_at=datetime.now(UTC) + timedelta(days=1),
            )
        )
    return document_id


async def set_status(container: Container, document_id: uuid.UUID, status: DocumentStatus) -> None:
    async with container.sessionmaker.begin() as session:
        await session.execute(
            update(WorkspaceDocument)
            .where(WorkspaceDocument.id == document_id)
            .values(status=status)
        )


async def publish(container: Container, workspace_id: str, document_id: uuid.UUID) -> None:
    await container.bus.publish(
        document_topic(uuid.UUID(workspace_id)), {"document_id": str(document_id)}
    )


def expired_access_token(user: SignedIn) -> str:
    issuer = TokenIssuer(
        TEST_SECRET, access_ttl=timedelta(seconds=-60), refresh_ttl=timedelta(days=1)
    )
    return issuer.issue(uuid.UUID(user.user_id), TokenType.ACCESS)[0]


def forged_access_token(user: SignedIn) -> str:
    issuer = TokenIssuer(
        "not-the-server-secret-0123456789-0123456789",
        access_ttl=timedelta(minutes=5),
        refresh_ttl=timedelta(days=1),
    )
    return issuer.issue(uuid.UUID(user.user_id), TokenType.ACCESS)[0]


def alg_none_token(user: SignedIn) -> str:
    # The user's own valid claims, re-sent unsigned: header {"alg":"none"}, empty signature.
    header = base64.urlsafe_b64encode(b'{"alg":"none","typ":"JWT"}').rstrip(b"=").decode()
    payload = user.access_token.split(".")[1]
    return f"{header}.{payload}."


# --- signing in ------------------------------------------------------------------------------


async def test_valid_access_token_is_acknowledged(client: GraphQLClient, backend: Backend) -> None:
    # given a signed-in user
    user = await client.register()

    async with socket(backend.address) as ws:
        # when the socket opens with its access token
        ack = await ws.init(user.access_token)

        # then it is acknowledged as that user
        assert ack == {"type": "connection_ack", "payload": {"viewerId": user.user_id}}
        assert ws.socket.subprotocol == "graphql-transport-ws"


async def test_capitalised_authorization_key_is_accepted(
    client: GraphQLClient, backend: Backend
) -> None:
    user = await client.register()
    async with socket(backend.address) as ws:
        payload = {"Authorization": f"Bearer {user.access_token}"}
        await ws.send({"type": "connection_init", "payload": payload})
        assert await receive(ws) == {
            "type": "connection_ack",
            "payload": {"viewerId": user.user_id},
        }


async def test_operations_on_the_socket_run_as_the_signed_in_user(
    client: GraphQLClient, backend: Backend
) -> None:
    user = await client.register()
    async with socket(backend.address) as ws:
        await ws.init(user.access_token)

        await ws.subscribe("q", VIEWER, {})

        assert await receive(ws) == {
            "id": "q",
            "type": "next",
            "payload": {"data": {"viewer": {"id": user.user_id}}},
        }
        assert await receive(ws) == {"id": "q", "type": "complete"}


BAD_TOKENS = {
    "garbage": lambda user: "garbage",
    "forged signature": forged_access_token,
    "expired": expired_access_token,
    "refresh token instead of access": lambda user: user.refresh_token,
    "alg none": alg_none_token,
}


@pytest.mark.parametrize("make_token", BAD_TOKENS.values(), ids=BAD_TOKENS.keys())
async def test_bad_token_closes_the_socket_with_4403(
    client: GraphQLClient, backend: Backend, make_token: Any
) -> None:
    # given a token with a defect
    user = await client.register()
    token = make_token(user)

    async with socket(backend.address) as ws:
        # when the socket opens with it
        await ws.send({"type": "connection_init", "payload": {"authorization": f"Bearer {token}"}})

        # then the server closes it: Forbidden
        assert await close_code(ws) == FORBIDDEN


@pytest.mark.parametrize(
    "init",
    [
        {"type": "connection_init"},
        {"type": "connection_init", "payload": {}},
        {"type": "connection_init", "payload": {"authorization": ""}},
        {"type": "connection_init", "payload": {"authorization": 42}},
        {"type": "connection_init", "payload": {"authorization": ["Bearer x"]}},
        {"type": "connection_init", "payload": {"authorization": "Basic eHl6Onh5eg=="}},
        {"type": "connection_init", "payload": {"authorization": "Bearer"}},
        {"type": "connection_init", "payload": {"token": "Bearer x"}},
    ],
    ids=["no payload", "empty", "empty string", "number", "list", "basic", "no token", "other key"],
)
async def test_missing_or_malformed_authorization_closes_with_4403(
    backend: Backend, init: dict[str, Any]
) -> None:
    async with socket(backend.address) as ws:
        await ws.send(init)
        assert await close_code(ws) == FORBIDDEN


async def test_connection_init_payload_must_be_an_object(backend: Backend) -> None:
    async with socket(backend.address) as ws:
        await ws.send({"type": "connection_init", "payload": "Bearer x"})
        assert await close_code(ws) == BAD_REQUEST


async def test_subscribing_before_connection_init_closes_with_4401(backend: Backend) -> None:
    async with socket(backend.address) as ws:
        await ws.subscribe("1", VIEWER, {})
        assert await close_code(ws) == UNAUTHORIZED


async def test_a_second_connection_init_closes_the_socket(
    client: GraphQLClient, backend: Backend
) -> None:
    # A signed-in socket cannot be switched to another user mid-way.
    user, other = await client.register(), await client.register()
    async with socket(backend.address) as ws:
        await ws.init(user.access_token)
        await ws.send(
            {
                "type": "connection_init",
                "payload": {"authorization": f"Bearer {other.access_token}"},
            }
        )
        assert await close_code(ws) == TOO_MANY_INITIALISATIONS


@pytest.mark.parametrize("subprotocols", [["graphql-ws"], []], ids=["graphql-ws", "none"])
async def test_only_graphql_transport_ws_is_spoken(
    backend: Backend, subprotocols: list[str]
) -> None:
    # given a client offering the legacy subscriptions-transport-ws protocol, or none
    ws = await websockets.connect(
        f"ws://{backend.address}/graphql",
        subprotocols=[websockets.Subprotocol(name) for name in subprotocols] or None,
    )
    try:
        # then no subprotocol is agreed and the server closes: not acceptable
        assert ws.subprotocol is None
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), PATIENCE)
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.code == SUBPROTOCOL_NOT_ACCEPTABLE
    finally:
        await ws.close()


async def test_no_connection_init_in_time_closes_with_4408(impatient_server: Server) -> None:
    # given a socket that opens and then says nothing
    async with socket(impatient_server.address) as ws:
        # then the server gives up on it
        assert await close_code(ws) == TIMED_OUT


async def test_a_signed_in_socket_outlives_the_init_timeout(impatient_server: Server) -> None:
    # given a socket on the impatient server that signed in at once
    graphql = GraphQLClient(impatient_server.address)
    try:
        user = await graphql.register()
    finally:
        await graphql.close()
    async with socket(impatient_server.address) as ws:
        assert (await ws.init(user.access_token))["type"] == "connection_ack"

        # when it stays quiet for longer than the init timeout
        await asyncio.sleep(0.6)

        # then it is still open and serving
        await ws.subscribe("q", VIEWER, {})
        assert (await receive(ws))["payload"] == {"data": {"viewer": {"id": user.user_id}}}


# --- documentEvents --------------------------------------------------------------------------


async def test_subscriber_receives_a_published_document_event(
    client: GraphQLClient, backend: Backend
) -> None:
    # given a workspace with a pending document, and its owner subscribed to its events
    owner = await client.register("owner")
    workspace_id = await client.create_workspace(owner)
    document_id = await add_document(backend.container, workspace_id, owner)
    topic = document_topic(uuid.UUID(workspace_id))

    async with socket(backend.address) as ws:
        await ws.init(owner.access_token)
        await ws.subscribe("docs", DOCUMENT_EVENTS, {"ws": workspace_id})
        await until_subscribers(backend.container, topic, 1)

        # when the document's events are published
        await publish(backend.container, workspace_id, document_id)
        first = await receive(ws)
        await set_status(backend.container, document_id, DocumentStatus.READY)
        await publish(backend.container, workspace_id, document_id)
        second = await receive(ws)

        # then each arrives with the document as it is now
        expected = {"id": str(document_id), "filename": "notes.txt"}
        assert first == {
            "id": "docs",
            "type": "next",
            "payload": {"data": {"documentEvents": {**expected, "status": "PENDING"}}},
        }
        assert second == {
            "id": "docs",
            "type": "next",
            "payload": {"data": {"documentEvents": {**expected, "status": "READY"}}},
        }

        # and completing the subscription lets go of the bus
        await ws.send({"id": "docs", "type": "complete"})
        await until_subscribers(backend.container, topic, 0)


async def test_closing_the_socket_ends_its_subscriptions(
    client: GraphQLClient, backend: Backend
) -> None:
    owner = await client.register("owner")
    workspace_id = await client.create_workspace(owner)
    topic = document_topic(uuid.UUID(workspace_id))

    async with socket(backend.address) as ws:
        await ws.init(owner.access_token)
        await ws.subscribe("docs", DOCUMENT_EVENTS, {"ws": workspace_id})
        await until_subscribers(backend.container, topic, 1)

    await until_subscribers(backend.container, topic, 0)


async def test_a_viewer_member_receives_events_too(client: GraphQLClient, backend: Backend) -> None:
    # given a workspace with a document, shared read-only with a second user
    owner, viewer = await client.register("owner"), await client.register("viewer")
    workspace_id = await client.create_workspace(owner)
    await client.add_member(owner, workspace_id, viewer, "VIEWER")
    document_id = await add_document(backend.container, workspace_id, owner)

    async with socket(backend.address) as ws:
        # when the VIEWER subscribes and an event is published
        await ws.init(viewer.access_token)
        await ws.subscribe("docs", DOCUMENT_EVENTS, {"ws": workspace_id})
        await until_subscribers(backend.container, document_topic(uuid.UUID(workspace_id)), 1)
        await publish(backend.container, workspace_id, document_id)

        # then it arrives
        assert await receive(ws) == {
            "id": "docs",
            "type": "next",
            "payload": {
                "data": {
                    "documentEvents": {
                        "id": str(document_id),
                        "status": "PENDING",
                        "filename": "notes.txt",
                    }
                }
            },
        }


async def test_someone_elses_workspace_is_not_found(
    client: GraphQLClient, backend: Backend
) -> None:
    # given a workspace of another user
    owner, stranger = await client.register("owner"), await client.register("stranger")
    workspace_id = await client.create_workspace(owner)

    async with socket(backend.address) as ws:
        await ws.init(stranger.access_token)

        # when a stranger subscribes to its events
        await ws.subscribe("docs", DOCUMENT_EVENTS, {"ws": workspace_id})

        # then the resolver's error comes as a `next` with errors (NOT_FOUND), then complete
        message = await receive(ws)
        assert (message["id"], message["type"]) == ("docs", "next")
        assert message["payload"]["data"] is None
        assert errors(message["payload"]) == [("NOT_FOUND", None)]
        assert await receive(ws) == {"id": "docs", "type": "complete"}
        # and nothing was subscribed on the bus
        topic = document_topic(uuid.UUID(workspace_id))
        assert bus_of(backend.container).subscriber_count(topic) == 0

        # and the socket is still usable
        await ws.subscribe("q", VIEWER, {})
        assert (await receive(ws))["payload"] == {"data": {"viewer": {"id": stranger.user_id}}}


async def test_a_malformed_workspace_id_is_not_found(
    client: GraphQLClient, backend: Backend
) -> None:
    user = await client.register()
    async with socket(backend.address) as ws:
        await ws.init(user.access_token)

        await ws.subscribe("docs", DOCUMENT_EVENTS, {"ws": "not-a-uuid"})

        message = await receive(ws)
        assert message["type"] == "next"
        assert errors(message["payload"]) == [("NOT_FOUND", "workspaceId")]
        assert await receive(ws) == {"id": "docs", "type": "complete"}


async def test_an_invalid_subscription_is_an_error_message(
    client: GraphQLClient, backend: Backend
) -> None:
    # Errors before execution (validation) come as an `error` message, with a code.
    user = await client.register()
    async with socket(backend.address) as ws:
        await ws.init(user.access_token)

        await ws.subscribe("docs", "subscription { documentEvents { id } }", {})

        message = await receive(ws)
        assert (message["id"], message["type"]) == ("docs", "error")
        assert errors({"errors": message["payload"]}) == [("GRAPHQL_VALIDATION_FAILED", None)]


# --- the per-socket cap ----------------------------------------------------------------------


async def test_subscriptions_past_the_cap_are_refused(capped_server: Server) -> None:
    # given a socket on a server that allows CAP operations per socket, with CAP open
    graphql = GraphQLClient(capped_server.address)
    try:
        owner = await graphql.register("owner")
        workspace_id = await graphql.create_workspace(owner)
    finally:
        await graphql.close()
    document_id = await add_document(capped_server.container, workspace_id, owner)
    topic = document_topic(uuid.UUID(workspace_id))

    async with socket(capped_server.address) as ws:
        await ws.init(owner.access_token)
        for op_id in ("1", "2"):
            await ws.subscribe(op_id, DOCUMENT_EVENTS, {"ws": workspace_id})
        await until_subscribers(capped_server.container, topic, CAP)

        # when one more is asked for
        await ws.subscribe("3", DOCUMENT_EVENTS, {"ws": workspace_id})

        # then it is refused with an `error` message that has a code
        message = await receive(ws)
        assert (message["id"], message["type"]) == ("3", "error")
        assert errors({"errors": message["payload"]}) == [("RATE_LIMITED", None)]

        # and once one completes, a new one is accepted and receives events with the other
        await ws.send({"id": "1", "type": "complete"})
        await until_subscribers(capped_server.container, topic, CAP - 1)
        await ws.subscribe("4", DOCUMENT_EVENTS, {"ws": workspace_id})
        await until_subscribers(capped_server.container, topic, CAP)
        await publish(capped_server.container, workspace_id, document_id)
        delivered = [await receive(ws), await receive(ws)]
        assert sorted((m["id"], m["type"]) for m in delivered) == [("2", "next"), ("4", "next")]
