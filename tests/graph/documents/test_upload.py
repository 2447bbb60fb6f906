"""Uploading, ingesting, searching and deleting documents through the real server."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from tests.conftest import Backend
from tests.support.client import GraphQLClient, SignedIn, errors, upload

DOCUMENT = "query D($id: ID!) { document(id: $id) { id status error chunkCount } }"
SEARCH = """
query S($ws: ID!, $q: String!) {
  workspace(id: $ws) {
    search(query: $q, limit: 3) { documentId chunk snippet score document { filename } }
  }
}
"""
DELETE = "mutation Del($id: ID!) { deleteDocument(id: $id) }"
REINDEX = "mutation R($id: ID!) { reindexDocument(id: $id) { id status chunkCount } }"
REFUNDS = (
    b"# Refunds\n\nRefunds are processed within 14 days of the return arriving at our "
    b"warehouse. The money goes back to the original card.\n\n# Shipping\n\nParcels leave "
    b"the depot every weekday at noon and usually arrive within three working days.\n"
)


async def settled(client: GraphQLClient, user: SignedIn, document_id: str) -> dict[str, Any]:
    """Polls until ingestion ends; the deadline is a hang guard, not a timing assertion."""
    for _ in range(600):
        data = await client.data(DOCUMENT, {"id": document_id}, user.access_token)
        if data["document"]["status"] in {"READY", "FAILED"}:
            return dict(data["document"])
        await asyncio.sleep(0.1)
    raise AssertionError(f"document {document_id} never settled")


async def uploaded(client: GraphQLClient, user: SignedIn, ws: str, name: str, body: bytes) -> str:
    response = await upload(client, user.access_token, ws, name, body)
    payload = response.json()
    assert "errors" not in payload, payload
    return str(payload["data"]["uploadDocument"]["id"])


async def test_upload_is_pending_then_ready_and_searchable(client: GraphQLClient) -> None:
    # given an owner with a workspace
    owner = await client.register("owner")
    ws = await client.create_workspace(owner)
    # when a markdown file is uploaded
    response = await upload(client, owner.access_token, ws, "policy.md", REFUNDS)
    document = response.json()["data"]["uploadDocument"]
    # then it is recorded at once, typed from its bytes and name
    assert document["status"] == "PENDING"
    assert document["contentType"] == "text/markdown"
    assert document["sizeBytes"] == len(REFUNDS)
    # and the worker makes it READY with chunks
    final = await settled(client, owner, document["id"])
    assert final["status"] == "READY" and final["error"] is None
    assert final["chunkCount"] >= 1
    # and a paraphrase finds it
    data = await client.data(SEARCH, {"ws": ws, "q": "money back"}, owner.access_token)
    hits = data["workspace"]["search"]
    assert hits[0]["documentId"] == document["id"]
    assert "Refunds are processed" in hits[0]["snippet"]
    assert hits[0]["document"] == {"filename": "policy.md"}


async def test_viewer_cannot_upload_and_nothing_is_stored(
    backend: Backend, client: GraphQLClient
) -> None:
    owner = await client.register("owner")
    viewer = await client.register("viewer")
    stranger = await client.register("stranger")
    ws = await client.create_workspace(owner)
    await client.add_member(owner, ws, viewer, "VIEWER")
    before = await backend.container.files.keys()
    # when a VIEWER and a non-member upload
    as_viewer = (await upload(client, viewer.access_token, ws, "a.txt", b"hello there")).json()
    as_stranger = (await upload(client, stranger.access_token, ws, "a.txt", b"hello there")).json()
    # then the viewer is FORBIDDEN, the stranger sees no workspace, and no bytes stayed
    assert errors(as_viewer) == [("FORBIDDEN", None)]
    assert errors(as_stranger) == [("NOT_FOUND", None)]
    assert await backend.container.files.keys() == before


async def test_unsupported_type_is_refused_and_nothing_is_stored(
    backend: Backend, client: GraphQLClient
) -> None:
    owner = await client.register("owner")
    ws = await client.create_workspace(owner)
    before = await backend.container.files.keys()
    elf = b"\x7fELF\x02\x01\x01" + bytes(200)
    refused = (await upload(client, owner.access_token, ws, "notes.txt", elf)).json()
    garbage_pdf = (await upload(client, owner.access_token, ws, "x.pdf", bytes(range(256)))).json()
    assert errors(refused) == [("UNSUPPORTED_MEDIA_TYPE", "file")]
    assert errors(garbage_pdf) == [("UNSUPPORTED_MEDIA_TYPE", "file")]
    assert await backend.container.files.keys() == before


async def test_empty_file_is_refused(backend: Backend, client: GraphQLClient) -> None:
    owner = await client.register("owner")
    ws = await client.create_workspace(owner)
    before = await backend.container.files.keys()
    body = (await upload(client, owner.access_token, ws, "empty.txt", b"")).json()
    assert errors(body) == [("BAD_USER_INPUT", "file")]
    assert await backend.container.files.keys() == before


async def test_same_bytes_twice_conflict_naming_the_first(client: GraphQLClient) -> None:
    owner = await client.register("owner")
    ws = await client.create_workspace(owner)
    first = await uploaded(client, owner, ws, "policy.md", REFUNDS)
    again = (await upload(client, owner.access_token, ws, "copy.md", REFUNDS)).json()
    assert errors(again) == [("CONFLICT", "file")]
    assert first in again["errors"][0]["message"]
    assert '"policy.md"' in again["errors"][0]["message"]


async def test_corrupt_pdf_fails_with_a_reason(client: GraphQLClient) -> None:
    owner = await client.register("owner")
    ws = await client.create_workspace(owner)
    document_id = await uploaded(client, owner, ws, "broken.pdf", b"%PDF-1.7\n" + bytes(500))
    final = await settled(client, owner, document_id)
    assert final["status"] == "FAILED"
    assert final["error"] and "PDF" in final["error"]
    assert final["chunkCount"] == 0


async def test_delete_removes_row_file_and_vectors(backend: Backend, client: GraphQLClient) -> None:
    owner = await client.register("owner")
    ws = await client.create_workspace(owner)
    document_id = await uploaded(client, owner, ws, "policy.md", REFUNDS)
    await settled(client, owner, document_id)
    keys_with = await backend.container.files.keys()
    assert await backend.container.vectors.count(uuid.UUID(ws), uuid.UUID(document_id)) > 0
    # when it is deleted
    deleted = await client.data(DELETE, {"id": document_id}, owner.access_token)
    # then the row, the stored file and every vector are gone
    assert deleted == {"deleteDocument": document_id}
    gone = await client.execute(DOCUMENT, {"id": document_id}, owner.access_token)
    assert errors(gone) == [("NOT_FOUND", None)]
    assert len(await backend.container.files.keys()) == len(keys_with) - 1
    assert await backend.container.vectors.count(uuid.UUID(ws), uuid.UUID(document_id)) == 0


async def test_reindex_runs_ingestion_again_without_duplicates(
    backend: Backend, client: GraphQLClient
) -> None:
    owner = await client.register("owner")
    ws = await client.create_workspace(owner)
    document_id = await uploaded(client, owner, ws, "policy.md", REFUNDS)
    first = await settled(client, owner, document_id)
    data = await client.data(REINDEX, {"id": document_id}, owner.access_token)
    assert data["reindexDocument"]["status"] == "PENDING"
    second = await settled(client, owner, document_id)
    assert second["chunkCount"] == first["chunkCount"]
    count = await backend.container.vectors.count(uuid.UUID(ws), uuid.UUID(document_id))
    assert count == first["chunkCount"]


async def test_search_never_crosses_workspaces(client: GraphQLClient) -> None:
    # given two tenants holding the same text
    alice, bob = await client.register("alice"), await client.register("bob")
    ws_a, ws_b = await client.create_workspace(alice), await client.create_workspace(bob)
    doc_a = await uploaded(client, alice, ws_a, "a.md", REFUNDS)
    doc_b = await uploaded(client, bob, ws_b, "b.md", REFUNDS + b"\nBob's copy.\n")
    await settled(client, alice, doc_a)
    await settled(client, bob, doc_b)
    # when each searches, and Bob tries Alice's workspace id
    hits_a = await client.data(SEARCH, {"ws": ws_a, "q": "refunds"}, alice.access_token)
    hits_b = await client.data(SEARCH, {"ws": ws_b, "q": "refunds"}, bob.access_token)
    foreign = await client.execute(SEARCH, {"ws": ws_a, "q": "refunds"}, bob.access_token)
    # then each sees only their own documents, and Bob sees nothing of Alice's
    assert {h["documentId"] for h in hits_a["workspace"]["search"]} == {doc_a}
    assert {h["documentId"] for h in hits_b["workspace"]["search"]} == {doc_b}
    assert errors(foreign) == [("NOT_FOUND", None)]
