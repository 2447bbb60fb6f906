"""Cross-tenant attempts with real ids: everything outside your workspaces is NOT_FOUND."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import pytest

from domain.documents.models import DocumentStatus, WorkspaceDocument
from tests.conftest import Backend
from tests.support.client import GraphQLClient, SignedIn, errors

WORKSPACE = """
query Workspace($id: ID!) { workspace(id: $id) { id name } }
"""
MEMBERS = """
query Members($id: ID!) {
  workspace(id: $id) { members { edges { node { role user { id email } } } } }
}
"""
SESSIONS = """
query Sessions($id: ID!) { workspace(id: $id) { sessions { edges { node { id title } } } } }
"""
DOCUMENTS = """
query Documents($id: ID!) { workspace(id: $id) { documents { edges { node { id } } } } }
"""
CHAT_SESSION = """
query Session($id: ID!) { chatSession(id: $id) { id title } }
"""
DOCUMENT = """
query Document($id: ID!) { document(id: $id) { id filename } }
"""
MY_WORKSPACES = """
query { viewer { workspaces { edges { node { id name } } } } }
"""
MEMBERS_WORKSPACES = """
query MembersWorkspaces($id: ID!) {
  workspace(id: $id) {
    members { edges { node { user { id workspaces { edges { node { id name } } } } } } }
  }
}
"""
UPDATE = """
mutation Update($id: ID!) { updateWorkspace(id: $id, input: {name: "Mine now"}) { id } }
"""
DELETE = """
mutation Delete($id: ID!) { deleteWorkspace(id: $id) }
"""
ADD = """
mutation Add($ws: ID!, $email: String!, $role: WorkspaceRole!) {
  addWorkspaceMember(workspaceId: $ws, email: $email, role: $role) { id }
}
"""
CHANGE_ROLE = """
mutation ChangeRole($ws: ID!, $user: ID!, $role: WorkspaceRole!) {
  updateWorkspaceMemberRole(workspaceId: $ws, userId: $user, role: $role) { role }
}
"""
REMOVE = """
mutation Remove($ws: ID!, $user: ID!) { removeWorkspaceMember(workspaceId: $ws, userId: $user) }
"""
CREATE_SESSION = """
mutation CreateSession($ws: ID!, $title: String) {
  createChatSession(workspaceId: $ws, title: $title) { id }
}
"""
RENAME_SESSION = """
mutation Rename($id: ID!) { renameChatSession(id: $id, title: "Hijacked") { id } }
"""
DELETE_SESSION = """
mutation DeleteSession($id: ID!) { deleteChatSession(id: $id) }
"""


@dataclass
class Tenants:
    """Alice's workspace (with a session and a document) and Bob, a stranger to it."""

    alice: SignedIn
    bob: SignedIn
    carol: SignedIn
    workspace_id: str
    bobs_workspace_id: str
    session_id: str
    document_id: str


@pytest.fixture
async def tenants(client: GraphQLClient, backend: Backend) -> Tenants:
    alice = await client.register("alice")
    bob = await client.register("bob")
    carol = await client.register("carol")
    workspace_id = await client.create_workspace(alice, "Alice's research")
    bobs_workspace_id = await client.create_workspace(bob, "Bob's notes")
    await client.add_member(alice, workspace_id, carol, "EDITOR")
    session_id = (
        await client.data(
            CREATE_SESSION, {"ws": workspace_id, "title": "Alice's chat"}, alice.access_token
        )
    )["createChatSession"]["id"]
    document = WorkspaceDocument(
        workspace_id=uuid.UUID(workspace_id),
        uploaded_by_id=uuid.UUID(alice.user_id),
        filename="secret.pdf",
        content_type="application/pdf",
        size_bytes=1024,
        sha256="a" * 64,
        storage_key=f"{workspace_id}/secret.pdf",
        status=DocumentStatus.READY,
        chunk_count=3,
    )
    async with backend.container.sessionmaker.begin() as session:
        session.add(document)
    return Tenants(alice, bob, carol, workspace_id, bobs_workspace_id, session_id, str(document.id))


def attempts(t: Tenants) -> dict[str, tuple[str, dict[str, Any]]]:
    """Everything Bob might try with ids from Alice's workspace."""
    ws = t.workspace_id
    return {
        "read-workspace": (WORKSPACE, {"id": ws}),
        "read-members": (MEMBERS, {"id": ws}),
        "read-sessions": (SESSIONS, {"id": ws}),
        "read-documents": (DOCUMENTS, {"id": ws}),
        "read-session": (CHAT_SESSION, {"id": t.session_id}),
        "read-document": (DOCUMENT, {"id": t.document_id}),
        "update-workspace": (UPDATE, {"id": ws}),
        "delete-workspace": (DELETE, {"id": ws}),
        "add-himself": (ADD, {"ws": ws, "email": t.bob.email, "role": "OWNER"}),
        "add-existing-member": (ADD, {"ws": ws, "email": t.carol.email, "role": "VIEWER"}),
        "promote-himself": (CHANGE_ROLE, {"ws": ws, "user": t.bob.user_id, "role": "OWNER"}),
        "demote-owner": (CHANGE_ROLE, {"ws": ws, "user": t.alice.user_id, "role": "VIEWER"}),
        "remove-owner": (REMOVE, {"ws": ws, "user": t.alice.user_id}),
        "remove-member": (REMOVE, {"ws": ws, "user": t.carol.user_id}),
        "leave": (REMOVE, {"ws": ws, "user": t.bob.user_id}),
        "create-session": (CREATE_SESSION, {"ws": ws, "title": "Snooping"}),
        "rename-session": (RENAME_SESSION, {"id": t.session_id}),
        "delete-session": (DELETE_SESSION, {"id": t.session_id}),
    }


ATTEMPTS = [
    "read-workspace",
    "read-members",
    "read-sessions",
    "read-documents",
    "read-session",
    "read-document",
    "update-workspace",
    "delete-workspace",
    "add-himself",
    "add-existing-member",
    "promote-himself",
    "demote-owner",
    "remove-owner",
    "remove-member",
    "leave",
    "create-session",
    "rename-session",
    "delete-session",
]


async def assert_alice_untouched(client: GraphQLClient, t: Tenants) -> None:
    token = t.alice.access_token
    workspace = await client.data(WORKSPACE, {"id": t.workspace_id}, token)
    assert workspace["workspace"] == {"id": t.workspace_id, "name": "Alice's research"}
    members = await client.data(MEMBERS, {"id": t.workspace_id}, token)
    assert [
        (edge["node"]["user"]["id"], edge["node"]["role"])
        for edge in members["workspace"]["members"]["edges"]
    ] == [(t.alice.user_id, "OWNER"), (t.carol.user_id, "EDITOR")]
    sessions = await client.data(SESSIONS, {"id": t.workspace_id}, token)
    assert sessions["workspace"]["sessions"]["edges"] == [
        {"node": {"id": t.session_id, "title": "Alice's chat"}}
    ]
    document = await client.data(DOCUMENT, {"id": t.document_id}, token)
    assert document["document"] == {"id": t.document_id, "filename": "secret.pdf"}


@pytest.mark.parametrize("attempt", ATTEMPTS)
async def test_a_stranger_using_real_ids_finds_nothing(
    client: GraphQLClient, tenants: Tenants, attempt: str
) -> None:
    # given
    query, variables = attempts(tenants)[attempt]

    # when
    body = await client.execute(query, variables, tenants.bob.access_token)

    # then: not FORBIDDEN (no hint it exists) and no data
    assert errors(body) == [("NOT_FOUND", None)]
    assert body["data"] is None or all(value is None for value in body["data"].values())
    await assert_alice_untouched(client, tenants)


@pytest.mark.parametrize("attempt", ATTEMPTS)
async def test_a_real_foreign_id_answers_exactly_like_an_unknown_one(
    client: GraphQLClient, tenants: Tenants, attempt: str
) -> None:
    # given: the same request with every id of Alice's swapped for a fresh one
    query, variables = attempts(tenants)[attempt]
    real_ids = {tenants.workspace_id, tenants.session_id, tenants.document_id}
    unknown = {
        name: str(uuid.uuid4()) if value in real_ids else value for name, value in variables.items()
    }

    # when
    foreign = await client.execute(query, variables, tenants.bob.access_token)
    missing = await client.execute(query, unknown, tenants.bob.access_token)

    # then
    assert foreign == missing


async def test_a_strangers_workspace_list_holds_only_his_own(
    client: GraphQLClient, tenants: Tenants
) -> None:
    # when
    data = await client.data(MY_WORKSPACES, token=tenants.bob.access_token)

    # then
    assert data["viewer"]["workspaces"]["edges"] == [
        {"node": {"id": tenants.bobs_workspace_id, "name": "Bob's notes"}}
    ]


async def test_a_fellow_members_user_is_no_way_into_their_other_workspaces(
    client: GraphQLClient, tenants: Tenants
) -> None:
    # given: Alice also has a private workspace Carol is not in
    await client.create_workspace(tenants.alice, "Alice's private")

    # when: Carol walks from the shared workspace to Alice's user and her workspaces
    data = await client.data(
        MEMBERS_WORKSPACES, {"id": tenants.workspace_id}, tenants.carol.access_token
    )

    # then: Carol sees only her own list, Alice's comes back empty
    listed = {
        edge["node"]["user"]["id"]: [
            w["node"]["name"] for w in edge["node"]["user"]["workspaces"]["edges"]
        ]
        for edge in data["workspace"]["members"]["edges"]
    }
    assert listed == {tenants.alice.user_id: [], tenants.carol.user_id: ["Alice's research"]}


async def test_a_chat_session_is_private_to_its_creator(
    client: GraphQLClient, tenants: Tenants
) -> None:
    # given: Carol is a member of the workspace Alice's session lives in
    carol = tenants.carol.access_token

    # when
    read = await client.execute(CHAT_SESSION, {"id": tenants.session_id}, carol)
    renamed = await client.execute(RENAME_SESSION, {"id": tenants.session_id}, carol)
    deleted = await client.execute(DELETE_SESSION, {"id": tenants.session_id}, carol)
    listed = await client.data(SESSIONS, {"id": tenants.workspace_id}, carol)

    # then
    assert errors(read) == [("NOT_FOUND", None)]
    assert errors(renamed) == [("NOT_FOUND", None)]
    assert errors(deleted) == [("NOT_FOUND", None)]
    assert listed["workspace"]["sessions"]["edges"] == []
    await assert_alice_untouched(client, tenants)


async def test_not_even_the_owner_sees_a_members_session(
    client: GraphQLClient, tenants: Tenants
) -> None:
    # given
    created = await client.data(
        CREATE_SESSION,
        {"ws": tenants.workspace_id, "title": "Carol's chat"},
        tenants.carol.access_token,
    )
    carols_session = created["createChatSession"]["id"]

    # when
    read = await client.execute(CHAT_SESSION, {"id": carols_session}, tenants.alice.access_token)
    alices_list = await client.data(
        SESSIONS, {"id": tenants.workspace_id}, tenants.alice.access_token
    )
    carols_list = await client.data(
        SESSIONS, {"id": tenants.workspace_id}, tenants.carol.access_token
    )

    # then
    assert errors(read) == [("NOT_FOUND", None)]
    assert alices_list["workspace"]["sessions"]["edges"] == [
        {"node": {"id": tenants.session_id, "title": "Alice's chat"}}
    ]
    assert carols_list["workspace"]["sessions"]["edges"] == [
        {"node": {"id": carols_session, "title": "Carol's chat"}}
    ]


async def test_a_fellow_member_reads_the_workspaces_documents(
    client: GraphQLClient, tenants: Tenants
) -> None:
    # when
    data = await client.data(DOCUMENT, {"id": tenants.document_id}, tenants.carol.access_token)

    # then
    assert data["document"] == {"id": tenants.document_id, "filename": "secret.pdf"}


MALFORMED = ["", "' OR 1=1 --", "00000000-0000-0000-0000-00000000000g"]


@pytest.mark.parametrize("bad_id", MALFORMED, ids=repr)
@pytest.mark.parametrize(
    ("query", "variable", "field"),
    [
        (WORKSPACE, "id", "id"),
        (CHAT_SESSION, "id", "id"),
        (DOCUMENT, "id", "id"),
        (UPDATE, "id", "id"),
        (DELETE, "id", "id"),
        (RENAME_SESSION, "id", "id"),
        (DELETE_SESSION, "id", "id"),
        (CREATE_SESSION, "ws", "workspaceId"),
    ],
    ids=[
        "workspace",
        "chatSession",
        "document",
        "updateWorkspace",
        "deleteWorkspace",
        "renameChatSession",
        "deleteChatSession",
        "createChatSession",
    ],
)
async def test_a_malformed_id_is_not_found(
    client: GraphQLClient, query: str, variable: str, field: str, bad_id: str
) -> None:
    # given
    alice = await client.register("alice")

    # when
    body = await client.execute(query, {variable: bad_id}, alice.access_token)

    # then
    assert errors(body) == [("NOT_FOUND", field)]


@pytest.mark.parametrize(
    ("query", "variables", "field"),
    [
        (ADD, {"ws": "nope", "email": "x@example.com", "role": "VIEWER"}, "workspaceId"),
        (CHANGE_ROLE, {"ws": "nope", "user": str(uuid.uuid4()), "role": "VIEWER"}, "workspaceId"),
        (REMOVE, {"ws": "nope", "user": str(uuid.uuid4())}, "workspaceId"),
        (CHANGE_ROLE, {"ws": "REAL", "user": "nope", "role": "VIEWER"}, "userId"),
        (REMOVE, {"ws": "REAL", "user": "nope"}, "userId"),
    ],
    ids=["add-ws", "role-ws", "remove-ws", "role-user", "remove-user"],
)
async def test_a_malformed_id_in_a_membership_mutation_is_not_found(
    client: GraphQLClient, query: str, variables: dict[str, Any], field: str
) -> None:
    # given
    alice = await client.register("alice")
    workspace_id = await client.create_workspace(alice)
    variables = {k: workspace_id if v == "REAL" else v for k, v in variables.items()}

    # when
    body = await client.execute(query, variables, alice.access_token)

    # then
    assert errors(body) == [("NOT_FOUND", field)]


@pytest.mark.parametrize("attempt", ATTEMPTS)
async def test_anonymous_requests_are_unauthenticated(
    client: GraphQLClient, tenants: Tenants, attempt: str
) -> None:
    # given
    query, variables = attempts(tenants)[attempt]

    # when
    body = await client.execute(query, variables)

    # then
    assert errors(body) == [("UNAUTHENTICATED", None)]
    assert body["data"] is None or all(value is None for value in body["data"].values())
    await assert_alice_untouched(client, tenants)


@pytest.mark.parametrize("attempt", ["read-workspace", "delete-workspace"])
@pytest.mark.parametrize(
    "authorization",
    ["Bearer not-a-token", "Basic YWxpY2U6c2VjcmV0", "Bearer", "REFRESH", "TAMPERED"],
    ids=["garbage-token", "basic-auth", "empty-bearer", "refresh-token", "tampered"],
)
async def test_a_bad_token_is_unauthenticated_even_for_the_owner(
    client: GraphQLClient, tenants: Tenants, attempt: str, authorization: str
) -> None:
    # given: tokens that are Alice's own, or look like them
    query, variables = attempts(tenants)[attempt]
    if authorization == "REFRESH":
        authorization = f"Bearer {tenants.alice.refresh_token}"
    if authorization == "TAMPERED":
        header, payload, signature = tenants.alice.access_token.split(".")
        authorization = f"Bearer {header}.{payload}.{signature[::-1]}"

    # when
    response = await client.http.post(
        "/graphql",
        json={"query": query, "variables": variables},
        headers={"authorization": authorization},
    )

    # then
    assert response.status_code == 200
    body = response.json()
    assert errors(body) == [("UNAUTHENTICATED", None)]
    assert body["data"] is None or all(value is None for value in body["data"].values())
    await assert_alice_untouched(client, tenants)
