"""Creating, changing and deleting workspaces through the graph."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlalchemy import func, select

from domain.chat.models import ChatMessage, ChatSession, MessageRole, MessageStatus
from domain.documents.models import DocumentStatus, WorkspaceDocument
from domain.workspaces.models import Workspace, WorkspaceMember
from tests.conftest import Backend
from tests.support.client import GraphQLClient, SignedIn, errors

WORKSPACE_FIELDS = """
  id name systemPrompt topK similarityThreshold chatModel temperature viewerRole
"""
CREATE = f"""
mutation Create($name: String!) {{
  createWorkspace(input: {{name: $name}}) {{
    {WORKSPACE_FIELDS}
    members {{ edges {{ node {{ role user {{ id }} }} }} }}
  }}
}}
"""
UPDATE = f"""
mutation Update($id: ID!, $input: UpdateWorkspaceInput!) {{
  updateWorkspace(id: $id, input: $input) {{ {WORKSPACE_FIELDS} }}
}}
"""
DELETE = """
mutation Delete($id: ID!) { deleteWorkspace(id: $id) }
"""
WORKSPACE = f"""
query Workspace($id: ID!) {{ workspace(id: $id) {{ {WORKSPACE_FIELDS} }} }}
"""
MY_WORKSPACE_NAMES = """
query { viewer { workspaces(first: 100) { edges { node { name } } } } }
"""
CHAT_SESSION = """
query Session($id: ID!) { chatSession(id: $id) { id } }
"""
CREATE_SESSION = """
mutation CreateSession($ws: ID!) { createChatSession(workspaceId: $ws) { id } }
"""

DEFAULTS = {
    "systemPrompt": None,
    "topK": 5,
    "similarityThreshold": 0.0,
    "chatModel": None,
    "temperature": None,
    "viewerRole": "OWNER",
}


async def settings_of(client: GraphQLClient, user: SignedIn, workspace_id: str) -> dict[str, Any]:
    data = await client.data(WORKSPACE, {"id": workspace_id}, user.access_token)
    result: dict[str, Any] = data["workspace"]
    return result


async def workspace_names(client: GraphQLClient, user: SignedIn) -> list[str]:
    data = await client.data(MY_WORKSPACE_NAMES, token=user.access_token)
    return [edge["node"]["name"] for edge in data["viewer"]["workspaces"]["edges"]]


async def test_the_creator_is_the_only_member_and_its_owner(client: GraphQLClient) -> None:
    # given
    alice = await client.register("alice")

    # when
    data = await client.data(CREATE, {"name": "Research"}, alice.access_token)

    # then
    created = data["createWorkspace"]
    uuid.UUID(created["id"])
    assert {k: v for k, v in created.items() if k not in ("id", "members")} == {
        "name": "Research",
        **DEFAULTS,
    }
    assert created["members"]["edges"] == [
        {"node": {"role": "OWNER", "user": {"id": alice.user_id}}}
    ]
    assert await settings_of(client, alice, created["id"]) == {
        "id": created["id"],
        "name": "Research",
        **DEFAULTS,
    }


async def test_whitespace_in_a_name_is_collapsed(client: GraphQLClient) -> None:
    # given
    alice = await client.register("alice")

    # when
    data = await client.data(CREATE, {"name": "  Deep \t  research \n"}, alice.access_token)

    # then
    assert data["createWorkspace"]["name"] == "Deep research"


async def test_a_name_of_exactly_100_characters_is_accepted(client: GraphQLClient) -> None:
    # given
    alice = await client.register("alice")

    # when
    data = await client.data(CREATE, {"name": "n" * 100}, alice.access_token)

    # then
    assert data["createWorkspace"]["name"] == "n" * 100


@pytest.mark.parametrize(
    "name", ["", "   ", "\t\n", "n" * 101], ids=["empty", "spaces", "blank", "101"]
)
async def test_an_invalid_name_is_rejected_and_nothing_is_created(
    client: GraphQLClient, name: str
) -> None:
    # given
    alice = await client.register("alice")

    # when
    body = await client.execute(CREATE, {"name": name}, alice.access_token)

    # then
    assert errors(body) == [("BAD_USER_INPUT", "name")]
    assert body["data"] is None
    assert await workspace_names(client, alice) == []


async def test_creating_a_workspace_needs_a_signed_in_user(client: GraphQLClient) -> None:
    # when
    body = await client.execute(CREATE, {"name": "Research"})

    # then
    assert errors(body) == [("UNAUTHENTICATED", None)]
    assert body["data"] is None


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"name": "  Renamed   space "}, {"name": "Renamed space"}),
        ({"systemPrompt": "Answer in French."}, {"systemPrompt": "Answer in French."}),
        ({"topK": 1}, {"topK": 1}),
        ({"topK": 50}, {"topK": 50}),
        ({"similarityThreshold": 0.0}, {"similarityThreshold": 0.0}),
        ({"similarityThreshold": 1.0}, {"similarityThreshold": 1.0}),
        ({"similarityThreshold": 0.35}, {"similarityThreshold": 0.35}),
        ({"chatModel": " llama3.1:8b "}, {"chatModel": "llama3.1:8b"}),
        ({"temperature": 0}, {"temperature": 0.0}),
        ({"temperature": 2}, {"temperature": 2.0}),
        ({"temperature": 0.7}, {"temperature": 0.7}),
    ],
    ids=lambda value: "-".join(f"{k}={v}" for k, v in value.items()),
)
async def test_updating_one_field_leaves_the_others_untouched(
    client: GraphQLClient, change: dict[str, Any], expected: dict[str, Any]
) -> None:
    # given
    alice = await client.register("alice")
    workspace_id = await client.create_workspace(alice, "Research")
    before = await settings_of(client, alice, workspace_id)

    # when
    data = await client.data(UPDATE, {"id": workspace_id, "input": change}, alice.access_token)

    # then
    assert data["updateWorkspace"] == {**before, **expected}
    assert await settings_of(client, alice, workspace_id) == {**before, **expected}


async def test_updating_every_field_at_once(client: GraphQLClient) -> None:
    # given
    alice = await client.register("alice")
    workspace_id = await client.create_workspace(alice, "Research")
    change = {
        "name": "Legal",
        "systemPrompt": "Cite the clause.",
        "topK": 8,
        "similarityThreshold": 0.2,
        "chatModel": "gpt-4o",
        "temperature": 0.1,
    }

    # when
    data = await client.data(UPDATE, {"id": workspace_id, "input": change}, alice.access_token)

    # then
    expected = {"id": workspace_id, **change, "viewerRole": "OWNER"}
    assert data["updateWorkspace"] == expected
    assert await settings_of(client, alice, workspace_id) == expected


async def test_an_empty_update_changes_nothing(client: GraphQLClient) -> None:
    # given
    alice = await client.register("alice")
    workspace_id = await client.create_workspace(alice, "Research")
    before = await settings_of(client, alice, workspace_id)

    # when
    data = await client.data(UPDATE, {"id": workspace_id, "input": {}}, alice.access_token)

    # then
    assert data["updateWorkspace"] == before


@pytest.mark.parametrize(
    "field", ["systemPrompt", "chatModel", "temperature"], ids=lambda field: field
)
async def test_null_clears_an_optional_setting(client: GraphQLClient, field: str) -> None:
    # given
    alice = await client.register("alice")
    workspace_id = await client.create_workspace(alice, "Research")
    await client.data(
        UPDATE,
        {
            "id": workspace_id,
            "input": {"systemPrompt": "Be brief.", "chatModel": "gpt-4o", "temperature": 1.5},
        },
        alice.access_token,
    )
    before = await settings_of(client, alice, workspace_id)

    # when
    data = await client.data(
        UPDATE, {"id": workspace_id, "input": {field: None}}, alice.access_token
    )

    # then
    assert data["updateWorkspace"] == {**before, field: None}
    assert await settings_of(client, alice, workspace_id) == {**before, field: None}


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"name": None}, "name"),
        ({"name": ""}, "name"),
        ({"name": "   "}, "name"),
        ({"name": "n" * 101}, "name"),
        ({"systemPrompt": "p" * 20_001}, "systemPrompt"),
        ({"topK": 0}, "topK"),
        ({"topK": 51}, "topK"),
        ({"topK": -1}, "topK"),
        ({"topK": None}, "topK"),
        ({"similarityThreshold": -0.1}, "similarityThreshold"),
        ({"similarityThreshold": 1.1}, "similarityThreshold"),
        ({"similarityThreshold": None}, "similarityThreshold"),
        ({"chatModel": ""}, "chatModel"),
        ({"chatModel": "   "}, "chatModel"),
        ({"chatModel": "m" * 201}, "chatModel"),
        ({"temperature": 3}, "temperature"),
        ({"temperature": 2.01}, "temperature"),
        ({"temperature": -0.5}, "temperature"),
    ],
    ids=lambda value: value if isinstance(value, str) else repr(value)[:40],
)
async def test_an_out_of_bounds_setting_names_its_field_and_changes_nothing(
    client: GraphQLClient, change: dict[str, Any], field: str
) -> None:
    # given
    alice = await client.register("alice")
    workspace_id = await client.create_workspace(alice, "Research")
    before = await settings_of(client, alice, workspace_id)

    # when: a valid change rides along with the bad one
    valid = {"name": "Renamed"} if field != "name" else {"topK": 9}
    body = await client.execute(
        UPDATE, {"id": workspace_id, "input": {**valid, **change}}, alice.access_token
    )

    # then
    assert errors(body) == [("BAD_USER_INPUT", field)]
    assert body["data"] is None
    assert await settings_of(client, alice, workspace_id) == before


async def test_an_empty_system_prompt_is_stored_as_none(client: GraphQLClient) -> None:
    # given
    alice = await client.register("alice")
    workspace_id = await client.create_workspace(alice, "Research")
    await client.data(
        UPDATE, {"id": workspace_id, "input": {"systemPrompt": "Be brief."}}, alice.access_token
    )

    # when
    data = await client.data(
        UPDATE, {"id": workspace_id, "input": {"systemPrompt": ""}}, alice.access_token
    )

    # then
    assert data["updateWorkspace"]["systemPrompt"] is None


async def count(backend: Backend, model: Any, *where: Any) -> int:
    async with backend.container.sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


async def test_deleting_a_workspace_takes_everything_in_it(
    client: GraphQLClient, backend: Backend
) -> None:
    # given: a workspace with a second member, sessions, a message and a document
    alice = await client.register("alice")
    bob = await client.register("bob")
    workspace_id = await client.create_workspace(alice, "Doomed")
    kept_id = await client.create_workspace(alice, "Kept")
    await client.add_member(alice, workspace_id, bob, "EDITOR")
    alice_session = (await client.data(CREATE_SESSION, {"ws": workspace_id}, alice.access_token))[
        "createChatSession"
    ]["id"]
    bob_session = (await client.data(CREATE_SESSION, {"ws": workspace_id}, bob.access_token))[
        "createChatSession"
    ]["id"]
    ws = uuid.UUID(workspace_id)
    async with backend.container.sessionmaker.begin() as session:
        session.add(
            ChatMessage(
                session_id=uuid.UUID(alice_session),
                role=MessageRole.USER,
                status=MessageStatus.COMPLETE,
                content="hello",
                sources=[],
            )
        )
        session.add(
            WorkspaceDocument(
                workspace_id=ws,
                uploaded_by_id=uuid.UUID(alice.user_id),
                filename="notes.txt",
                content_type="text/plain",
                size_bytes=5,
                sha256="0" * 64,
                storage_key=f"{ws}/notes.txt",
                status=DocumentStatus.READY,
            )
        )

    # when
    data = await client.data(DELETE, {"id": workspace_id}, alice.access_token)

    # then
    assert data == {"deleteWorkspace": workspace_id}
    assert await count(backend, Workspace, Workspace.id == ws) == 0
    assert await count(backend, WorkspaceMember, WorkspaceMember.workspace_id == ws) == 0
    assert await count(backend, ChatSession, ChatSession.workspace_id == ws) == 0
    assert (
        await count(backend, ChatMessage, ChatMessage.session_id == uuid.UUID(alice_session)) == 0
    )
    assert await count(backend, WorkspaceDocument, WorkspaceDocument.workspace_id == ws) == 0
    for user in (alice, bob):
        body = await client.execute(WORKSPACE, {"id": workspace_id}, user.access_token)
        assert errors(body) == [("NOT_FOUND", None)]
        assert body["data"] == {"workspace": None}
    for user, session_id in ((alice, alice_session), (bob, bob_session)):
        body = await client.execute(CHAT_SESSION, {"id": session_id}, user.access_token)
        assert errors(body) == [("NOT_FOUND", None)]
    assert await workspace_names(client, alice) == ["Kept"]
    assert await workspace_names(client, bob) == []
    assert (await settings_of(client, alice, kept_id))["name"] == "Kept"


async def test_a_deleted_workspace_cannot_be_deleted_or_updated_again(
    client: GraphQLClient,
) -> None:
    # given
    alice = await client.register("alice")
    workspace_id = await client.create_workspace(alice, "Doomed")
    await client.data(DELETE, {"id": workspace_id}, alice.access_token)

    # when
    deleted_again = await client.execute(DELETE, {"id": workspace_id}, alice.access_token)
    updated = await client.execute(
        UPDATE, {"id": workspace_id, "input": {"name": "Back"}}, alice.access_token
    )

    # then
    assert errors(deleted_again) == [("NOT_FOUND", None)]
    assert errors(updated) == [("NOT_FOUND", None)]
