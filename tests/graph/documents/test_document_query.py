"""Reading documents: `document(id)` and `Workspace.documents` with its status filter."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from domain.documents.models import DocumentStatus, WorkspaceDocument
from tests.conftest import Backend
from tests.support.client import GraphQLClient, SignedIn, errors

DOCUMENT = """
query Document($id: ID!) {
  document(id: $id) {
    id workspaceId filename contentType sizeBytes sha256 status error chunkCount
  }
}
"""
DOCUMENTS = """
query Documents($ws: ID!, $status: DocumentStatus, $first: Int, $after: String) {
  workspace(id: $ws) {
    documents(status: $status, first: $first, after: $after) {
      edges { node { filename status } }
      pageInfo { hasNextPage hasPreviousPage endCursor }
    }
  }
}
"""
BY_STATUS = """
query ByStatus($ws: ID!) {
  workspace(id: $ws) {
    ready: documents(status: READY) { edges { node { filename } } }
    failed: documents(status: FAILED) { edges { node { filename } } }
    all: documents { edges { node { filename } } }
  }
}
"""
REMOVE = """
mutation Remove($ws: ID!, $user: ID!) { removeWorkspaceMember(workspaceId: $ws, userId: $user) }
"""


@dataclass
class Library:
    owner: SignedIn
    viewer: SignedIn
    workspace_id: str
    ids: dict[str, str]  # filename -> document id


async def insert_document(
    backend: Backend,
    workspace_id: str,
    filename: str,
    status: DocumentStatus,
    **fields: Any,
) -> str:
    document = WorkspaceDocument(
        workspace_id=uuid.UUID(workspace_id),
        filename=filename,
        content_type=fields.pop("content_type", "text/plain"),
        size_bytes=fields.pop("size_bytes", 100),
        sha256=hashlib.sha256(f"{workspace_id}/{filename}".encode()).hexdigest(),
        storage_key=uuid.uuid4().hex,
        status=status,
        # Rows inserted here are not for the live ingestion worker: a lease far in the
        # future keeps a PENDING row from being claimed while the test reads it.
        lease_expires_at=fields.pop("lease_expires_at", datetime.now(UTC) + timedelta(days=1)),
        **fields,
    )
    async with backend.container.sessionmaker.begin() as session:
        session.add(document)
    return str(document.id)


# Uploaded in this order, oldest first.
FILES = [
    ("handbook.pdf", DocumentStatus.READY),
    ("scan.png", DocumentStatus.FAILED),
    ("minutes.docx", DocumentStatus.READY),
    ("draft.md", DocumentStatus.PROCESSING),
    ("notes.txt", DocumentStatus.PENDING),
    ("policy.pdf", DocumentStatus.READY),
]


@pytest.fixture
async def library(client: GraphQLClient, backend: Backend) -> Library:
    owner = await client.register("owner")
    viewer = await client.register("viewer")
    workspace_id = await client.create_workspace(owner, "Library")
    await client.add_member(owner, workspace_id, viewer, "VIEWER")
    ids = {
        filename: await insert_document(backend, workspace_id, filename, status)
        for filename, status in FILES
    }
    return Library(owner, viewer, workspace_id, ids)


async def test_a_member_reads_a_document(
    client: GraphQLClient, backend: Backend, library: Library
) -> None:
    # given
    document_id = await insert_document(
        backend,
        library.workspace_id,
        "report.pdf",
        DocumentStatus.READY,
        content_type="application/pdf",
        size_bytes=3_000_000_000,  # beyond 32 bits
        chunk_count=42,
        uploaded_by_id=uuid.UUID(library.owner.user_id),
    )

    # when: read by a VIEWER, not the uploader
    data = await client.data(DOCUMENT, {"id": document_id}, library.viewer.access_token)

    # then
    assert data["document"] == {
        "id": document_id,
        "workspaceId": library.workspace_id,
        "filename": "report.pdf",
        "contentType": "application/pdf",
        "sizeBytes": 3_000_000_000,
        "sha256": hashlib.sha256(f"{library.workspace_id}/report.pdf".encode()).hexdigest(),
        "status": "READY",
        "error": None,
        "chunkCount": 42,
    }


async def test_a_failed_document_says_why(
    client: GraphQLClient, backend: Backend, library: Library
) -> None:
    # given
    document_id = await insert_document(
        backend,
        library.workspace_id,
        "broken.pdf",
        DocumentStatus.FAILED,
        error="The PDF is encrypted.",
    )

    # when
    data = await client.data(DOCUMENT, {"id": document_id}, library.owner.access_token)

    # then
    assert (data["document"]["status"], data["document"]["error"]) == (
        "FAILED",
        "The PDF is encrypted.",
    )


async def test_an_unknown_document_is_not_found(client: GraphQLClient, library: Library) -> None:
    # when
    body = await client.execute(DOCUMENT, {"id": str(uuid.uuid4())}, library.owner.access_token)

    # then
    assert errors(body) == [("NOT_FOUND", None)]
    assert body["data"] == {"document": None}


async def test_a_removed_member_can_no_longer_read_documents(
    client: GraphQLClient, library: Library
) -> None:
    # given
    await client.data(
        REMOVE,
        {"ws": library.workspace_id, "user": library.viewer.user_id},
        library.owner.access_token,
    )

    # when
    body = await client.execute(
        DOCUMENT, {"id": library.ids["handbook.pdf"]}, library.viewer.access_token
    )

    # then
    assert errors(body) == [("NOT_FOUND", None)]


async def test_documents_are_listed_newest_first(client: GraphQLClient, library: Library) -> None:
    # when
    data = await client.data(DOCUMENTS, {"ws": library.workspace_id}, library.viewer.access_token)

    # then
    edges = data["workspace"]["documents"]["edges"]
    assert [(edge["node"]["filename"], edge["node"]["status"]) for edge in edges] == [
        (filename, status.value) for filename, status in reversed(FILES)
    ]


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("READY", ["policy.pdf", "minutes.docx", "handbook.pdf"]),
        ("FAILED", ["scan.png"]),
        ("PROCESSING", ["draft.md"]),
        ("PENDING", ["notes.txt"]),
    ],
)
async def test_the_status_filter_keeps_only_that_status(
    client: GraphQLClient, library: Library, status: str, expected: list[str]
) -> None:
    # when
    data = await client.data(
        DOCUMENTS, {"ws": library.workspace_id, "status": status}, library.owner.access_token
    )

    # then
    edges = data["workspace"]["documents"]["edges"]
    assert [edge["node"]["filename"] for edge in edges] == expected
    assert {edge["node"]["status"] for edge in edges} == {status}


async def test_a_null_status_means_no_filter(client: GraphQLClient, library: Library) -> None:
    # when
    data = await client.data(
        DOCUMENTS, {"ws": library.workspace_id, "status": None}, library.owner.access_token
    )

    # then
    assert len(data["workspace"]["documents"]["edges"]) == len(FILES)


async def test_filtered_lists_side_by_side_in_one_request(
    client: GraphQLClient, library: Library
) -> None:
    # when
    data = await client.data(BY_STATUS, {"ws": library.workspace_id}, library.owner.access_token)

    # then
    workspace = data["workspace"]
    names = {
        key: [edge["node"]["filename"] for edge in workspace[key]["edges"]] for key in workspace
    }
    assert names == {
        "ready": ["policy.pdf", "minutes.docx", "handbook.pdf"],
        "failed": ["scan.png"],
        "all": [filename for filename, _ in reversed(FILES)],
    }


async def test_paging_through_a_filtered_list(client: GraphQLClient, library: Library) -> None:
    # given
    variables = {"ws": library.workspace_id, "status": "READY", "first": 2}
    first = await client.data(DOCUMENTS, variables, library.owner.access_token)
    page_one = first["workspace"]["documents"]

    # when
    second = await client.data(
        DOCUMENTS,
        {**variables, "after": page_one["pageInfo"]["endCursor"]},
        library.owner.access_token,
    )

    # then
    page_two = second["workspace"]["documents"]
    assert [edge["node"]["filename"] for edge in page_one["edges"]] == [
        "policy.pdf",
        "minutes.docx",
    ]
    assert [edge["node"]["filename"] for edge in page_two["edges"]] == ["handbook.pdf"]
    flags = [
        (page["pageInfo"]["hasPreviousPage"], page["pageInfo"]["hasNextPage"])
        for page in (page_one, page_two)
    ]
    assert flags == [(False, True), (True, False)]


async def test_documents_of_other_workspaces_are_not_listed(
    client: GraphQLClient, backend: Backend, library: Library
) -> None:
    # given: the owner has a second workspace with its own document
    other = await client.create_workspace(library.owner, "Elsewhere")
    await insert_document(backend, other, "elsewhere.pdf", DocumentStatus.READY)

    # when
    here = await client.data(
        DOCUMENTS, {"ws": library.workspace_id, "status": "READY"}, library.owner.access_token
    )
    there = await client.data(DOCUMENTS, {"ws": other}, library.owner.access_token)

    # then
    assert "elsewhere.pdf" not in [
        edge["node"]["filename"] for edge in here["workspace"]["documents"]["edges"]
    ]
    assert [edge["node"]["filename"] for edge in there["workspace"]["documents"]["edges"]] == [
        "elsewhere.pdf"
    ]


async def test_an_unknown_status_is_a_validation_error(
    client: GraphQLClient, library: Library
) -> None:
    # when
    body = await client.execute(
        DOCUMENTS, {"ws": library.workspace_id, "status": "DELETED"}, library.owner.access_token
    )

    # then
    assert errors(body) == [("BAD_USER_INPUT", None)]
    assert body["data"] is None
