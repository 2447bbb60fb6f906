"""Deleting and reindexing someone else's document: a stranger finds nothing, a VIEWER
is forbidden, and the document, its file and its vectors are untouched afterwards."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import pytest

from tests.conftest import Backend
from tests.graph.documents.helpers import DOCUMENT, settled, uploaded
from tests.support.client import GraphQLClient, SignedIn, errors

DELETE = "mutation Delete($id: ID!) { deleteDocument(id: $id) }"
REINDEX = "mutation Reindex($id: ID!) { reindexDocument(id: $id) { id status } }"
POLICY = (
    b"# Refunds\n\nRefunds are processed within 14 days of the return arriving at the "
    b"warehouse.\n\n# Shipping\n\nParcels leave the depot every weekday at noon.\n"
)


@dataclass
class Tenancy:
    alice: SignedIn  # OWNER of the workspace holding the document
    viewer: SignedIn  # VIEWER of that workspace
    bob: SignedIn  # OWNER of a workspace of his own, not a member of Alice's
    workspace_id: str
    document_id: str
    ready: dict[str, object]


async def tenancy(client: GraphQLClient) -> Tenancy:
    alice, viewer, bob = (
        await client.register("alice"),
        await client.register("viewer"),
        await client.register("bob"),
    )
    ws = await client.create_workspace(alice)
    await client.add_member(alice, ws, viewer, "VIEWER")
    await client.create_workspace(bob)
    document_id = await uploaded(client, alice, ws, "policy.md", POLICY)
    ready = await settled(client, alice, document_id)
    assert ready["status"] == "READY"
    return Tenancy(alice, viewer, bob, ws, document_id, ready)


@pytest.mark.parametrize(
    ("who", "expected"),
    [("bob", [("NOT_FOUND", None)]), ("viewer", [("FORBIDDEN", None)])],
    ids=["member of another workspace", "viewer"],
)
async def test_others_cannot_delete_or_reindex_a_document(
    backend: Backend, client: GraphQLClient, who: str, expected: list[tuple[str, None]]
) -> None:
    # given Alice's indexed document, its stored file and its vectors
    t = await tenancy(client)
    intruder: SignedIn = getattr(t, who)
    ws, doc = uuid.UUID(t.workspace_id), uuid.UUID(t.document_id)
    vectors_before = await backend.container.vectors.count(ws, doc)
    files_before = await backend.container.files.keys()
    assert vectors_before == t.ready["chunkCount"]

    # when the intruder tries to delete it and to reindex it
    deleted = await client.execute(DELETE, {"id": t.document_id}, intruder.access_token)
    reindexed = await client.execute(REINDEX, {"id": t.document_id}, intruder.access_token)

    # then both are refused (a stranger cannot even tell the document exists)
    assert errors(deleted) == expected
    assert errors(reindexed) == expected
    assert deleted["data"] is None and reindexed["data"] is None
    # and the document is exactly as it was: READY, same passages, same file, same vectors
    after = await client.data(DOCUMENT, {"id": t.document_id}, t.alice.access_token)
    assert after["document"] == t.ready
    assert await backend.container.vectors.count(ws, doc) == vectors_before
    assert await backend.container.files.keys() == files_before
