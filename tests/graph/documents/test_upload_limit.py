"""MAX_UPLOAD_BYTES on a real server: the limit itself is accepted, anything over it is
PAYLOAD_TOO_LARGE, and a refusal leaves no file (not even a partial one) and no row.

Two places refuse. A body larger than the limit plus room for the multipart envelope
is stopped by the ASGI middleware while it arrives (HTTP 413, before any resolver); a
file over the limit inside that room reaches the resolver, whose file store counts the
bytes as it writes them (a GraphQL error on the `file` field).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest

from graph.body_limit import ENVELOPE_BYTES
from tests.graph.documents.helpers import Server, dedicated_server, stored_paths
from tests.support.client import UPLOAD, GraphQLClient, SignedIn, errors, upload

KIB = 1024
LIMIT = 64 * KIB
DOCUMENTS = "query Docs($ws: ID!) { workspace(id: $ws) { documents { edges { node { id } } } } }"
FILE_TOO_LARGE = f"The file is larger than the limit of {LIMIT} bytes."
REQUEST_TOO_LARGE = {
    "data": None,
    "errors": [
        {
            "message": f"The request is larger than the limit of {LIMIT + ENVELOPE_BYTES} bytes.",
            "extensions": {"code": "PAYLOAD_TOO_LARGE"},
        }
    ],
}
BOUNDARY = "ragql-test-boundary"


@pytest.fixture(scope="module")
async def server(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Server]:
    async with dedicated_server(
        tmp_path_factory.mktemp("upload-limit"), max_upload_bytes=LIMIT
    ) as running:
        yield running


@pytest.fixture
async def graphql(server: Server) -> AsyncIterator[GraphQLClient]:
    client = GraphQLClient(server.address)
    yield client
    await client.close()


async def documents(graphql: GraphQLClient, user: SignedIn, ws: str) -> list[str]:
    data = await graphql.data(DOCUMENTS, {"ws": ws}, user.access_token)
    return [edge["node"]["id"] for edge in data["workspace"]["documents"]["edges"]]


def text_of(size: int) -> bytes:
    line = b"All work and no play makes a dull upload.\n"
    return (line * (size // len(line) + 1))[:size]


async def streamed_multipart(ws: str, filename: str, size: int) -> AsyncIterator[bytes]:
    """A GraphQL multipart request sent in pieces (chunked, no Content-Length)."""
    operations = json.dumps({"query": UPLOAD, "variables": {"ws": ws, "file": None}})
    yield (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="operations"\r\n\r\n'
        f"{operations}\r\n"
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="map"\r\n\r\n'
        f'{{"0": ["variables.file"]}}\r\n'
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="0"; '
        f'filename="{filename}"\r\nContent-Type: text/plain\r\n\r\n'
    ).encode()
    piece = text_of(64 * KIB)
    for _ in range(size // len(piece)):
        yield piece
    yield f"\r\n--{BOUNDARY}--\r\n".encode()


async def test_a_file_of_exactly_the_limit_is_accepted(
    server: Server, graphql: GraphQLClient
) -> None:
    owner = await graphql.register("owner")
    ws = await graphql.create_workspace(owner)

    body = (await upload(graphql, owner.access_token, ws, "limit.txt", text_of(LIMIT))).json()

    assert "errors" not in body, body
    document = body["data"]["uploadDocument"]
    assert (document["status"], document["sizeBytes"]) == ("PENDING", LIMIT)
    assert await documents(graphql, owner, ws) == [document["id"]]


@pytest.mark.parametrize("size", [LIMIT + 1, LIMIT + ENVELOPE_BYTES // 2], ids=["+1", "+32KiB"])
async def test_a_file_over_the_limit_is_refused_by_the_file_store(
    server: Server, graphql: GraphQLClient, size: int
) -> None:
    # given a file over the limit, small enough for the body to pass the middleware
    owner = await graphql.register("owner")
    ws = await graphql.create_workspace(owner)
    before = stored_paths(server.data_dir / "files")

    # when it is uploaded
    response = await upload(graphql, owner.access_token, ws, "big.txt", text_of(size))

    # then the resolver refuses it, naming the file and the limit
    assert response.status_code == 200
    body = response.json()
    assert body["data"] is None
    assert errors(body) == [("PAYLOAD_TOO_LARGE", "file")]
    assert body["errors"][0]["message"] == FILE_TOO_LARGE
    # and neither the bytes (not even a .part file) nor a row stayed
    assert stored_paths(server.data_dir / "files") == before
    assert await documents(graphql, owner, ws) == []


async def test_a_body_over_the_limit_and_envelope_is_refused_before_any_resolver(
    server: Server, graphql: GraphQLClient
) -> None:
    # given a 200 KiB file, whose request declares its length
    owner = await graphql.register("owner")
    ws = await graphql.create_workspace(owner)
    before = stored_paths(server.data_dir / "files")

    # when it is uploaded
    response = await upload(graphql, owner.access_token, ws, "big.txt", text_of(200 * KIB))

    # then the middleware answers 413 with a GraphQL-shaped error the client can read
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/json"
    assert response.json() == REQUEST_TOO_LARGE
    assert errors(response.json()) == [("PAYLOAD_TOO_LARGE", None)]
    # and nothing stayed
    assert stored_paths(server.data_dir / "files") == before
    assert await documents(graphql, owner, ws) == []


async def test_a_huge_streamed_body_is_refused_while_it_arrives(
    server: Server, graphql: GraphQLClient
) -> None:
    # given a 5 MB file sent chunked, so the server cannot know its size in advance
    owner = await graphql.register("owner")
    ws = await graphql.create_workspace(owner)
    before = stored_paths(server.data_dir / "files")

    # when it is uploaded
    response = await graphql.http.post(
        "/graphql",
        content=streamed_multipart(ws, "huge.txt", 5 * 1024 * KIB),
        headers={
            "authorization": f"Bearer {owner.access_token}",
            "content-type": f"multipart/form-data; boundary={BOUNDARY}",
        },
    )

    # then it is refused once the bytes received pass the limit
    assert "content-length" not in response.request.headers
    assert response.status_code == 413
    assert response.json() == REQUEST_TOO_LARGE
    # and nothing stayed, and the server (and this very connection) carries on
    assert stored_paths(server.data_dir / "files") == before
    assert await documents(graphql, owner, ws) == []
    health = await graphql.http.get("/healthz")
    assert (health.status_code, health.json()) == (200, {"status": "ok"})
