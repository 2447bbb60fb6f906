"""Chat sessions: create, rename, delete and list the viewer's own."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import func, select

from domain.chat.models import ChatMessage, MessageRole, MessageStatus
from tests.conftest import Backend
from tests.support.client import GraphQLClient, SignedIn, errors

CREATE = """
mutation Create($ws: ID!, $title: String) {
  createChatSession(workspaceId: $ws, title: $title) { id workspaceId title }
}
"""
CREATE_WITHOUT_TITLE = """
mutation Create($ws: ID!) { createChatSession(workspaceId: $ws) { id workspaceId title } }
"""
RENAME = """
mutation Rename($id: ID!, $title: String!) {
  renameChatSession(id: $id, title: $title) { id workspaceId title }
}
"""
DELETE = """
mutation Delete($id: ID!) { deleteChatSession(id: $id) }
"""
SESSION = """
query Session($id: ID!) { chatSession(id: $id) { id workspaceId title } }
"""
SESSIONS = """
query Sessions($ws: ID!, $first: Int, $after: String) {
  workspace(id: $ws) {
    sessions(first: $first, after: $after) {
      edges { cursor node { id title } }
      pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    }
  }
}
"""


@pytest.fixture
async def alice(client: GraphQLClient) -> SignedIn:
    return await client.register("alice")


@pytest.fixture
async def workspace_id(client: GraphQLClient, alice: SignedIn) -> str:
    return await client.create_workspace(alice, "Research")


async def create(client: GraphQLClient, user: SignedIn, workspace_id: str, title: str) -> str:
    data = await client.data(CREATE, {"ws": workspace_id, "title": title}, user.access_token)
    return str(data["createChatSession"]["id"])


async def titles(client: GraphQLClient, user: SignedIn, workspace_id: str) -> list[str]:
    data = await client.data(SESSIONS, {"ws": workspace_id}, user.access_token)
    return [edge["node"]["title"] for edge in data["workspace"]["sessions"]["edges"]]


@pytest.mark.parametrize("query", [CREATE, CREATE_WITHOUT_TITLE], ids=["null-title", "no-title"])
async def test_a_session_without_a_title_is_called_new_chat(
    client: GraphQLClient, alice: SignedIn, workspace_id: str, query: str
) -> None:
    # when
    data = await client.data(query, {"ws": workspace_id, "title": None}, alice.access_token)

    # then
    created = data["createChatSession"]
    uuid.UUID(created["id"])
    assert created == {"id": created["id"], "workspaceId": workspace_id, "title": "New chat"}
    read = await client.data(SESSION, {"id": created["id"]}, alice.access_token)
    assert read["chatSession"] == created


async def test_a_session_keeps_its_title_with_whitespace_collapsed(
    client: GraphQLClient, alice: SignedIn, workspace_id: str
) -> None:
    # when
    data = await client.data(
        CREATE, {"ws": workspace_id, "title": "  Quarterly \n  numbers "}, alice.access_token
    )

    # then
    assert data["createChatSession"]["title"] == "Quarterly numbers"


async def test_a_title_of_200_characters_is_accepted(
    client: GraphQLClient, alice: SignedIn, workspace_id: str
) -> None:
    # when
    data = await client.data(CREATE, {"ws": workspace_id, "title": "t" * 200}, alice.access_token)

    # then
    assert data["createChatSession"]["title"] == "t" * 200


BAD_TITLES = ["", "   ", "\n\t", "t" * 201]


@pytest.mark.parametrize("title", BAD_TITLES, ids=["empty", "spaces", "blank", "201"])
async def test_an_invalid_title_is_rejected_on_create(
    client: GraphQLClient, alice: SignedIn, workspace_id: str, title: str
) -> None:
    # when
    body = await client.execute(CREATE, {"ws": workspace_id, "title": title}, alice.access_token)

    # then
    assert errors(body) == [("BAD_USER_INPUT", "title")]
    assert body["data"] is None
    assert await titles(client, alice, workspace_id) == []


@pytest.mark.parametrize("role", ["VIEWER", "EDITOR"])
async def test_any_member_may_start_a_session(
    client: GraphQLClient, alice: SignedIn, workspace_id: str, role: str
) -> None:
    # given
    member = await client.register(role.lower())
    await client.add_member(alice, workspace_id, member, role)

    # when
    await create(client, member, workspace_id, f"{role} chat")

    # then
    assert await titles(client, member, workspace_id) == [f"{role} chat"]


async def test_renaming_a_session(
    client: GraphQLClient, alice: SignedIn, workspace_id: str
) -> None:
    # given
    session_id = await create(client, alice, workspace_id, "Draft")

    # when
    data = await client.data(
        RENAME, {"id": session_id, "title": "  Final   title "}, alice.access_token
    )

    # then
    expected = {"id": session_id, "workspaceId": workspace_id, "title": "Final title"}
    assert data["renameChatSession"] == expected
    assert (await client.data(SESSION, {"id": session_id}, alice.access_token))[
        "chatSession"
    ] == expected


@pytest.mark.parametrize("title", BAD_TITLES, ids=["empty", "spaces", "blank", "201"])
async def test_an_invalid_title_is_rejected_on_rename(
    client: GraphQLClient, alice: SignedIn, workspace_id: str, title: str
) -> None:
    # given
    session_id = await create(client, alice, workspace_id, "Draft")

    # when
    body = await client.execute(RENAME, {"id": session_id, "title": title}, alice.access_token)

    # then
    assert errors(body) == [("BAD_USER_INPUT", "title")]
    assert body["data"] is None
    assert await titles(client, alice, workspace_id) == ["Draft"]


async def test_deleting_a_session_takes_its_messages(
    client: GraphQLClient, backend: Backend, alice: SignedIn, workspace_id: str
) -> None:
    # given
    doomed = await create(client, alice, workspace_id, "Doomed")
    kept = await create(client, alice, workspace_id, "Kept")
    async with backend.container.sessionmaker.begin() as session:
        for session_id in (doomed, kept):
            session.add(
                ChatMessage(
                    session_id=uuid.UUID(session_id),
                    role=MessageRole.USER,
                    status=MessageStatus.COMPLETE,
                    content="hello",
                    sources=[],
                )
            )

    # when
    data = await client.data(DELETE, {"id": doomed}, alice.access_token)

    # then
    assert data == {"deleteChatSession": doomed}
    read = await client.execute(SESSION, {"id": doomed}, alice.access_token)
    assert errors(read) == [("NOT_FOUND", None)]
    assert read["data"] == {"chatSession": None}
    assert await titles(client, alice, workspace_id) == ["Kept"]
    async with backend.container.sessionmaker() as session:
        remaining = await session.execute(
            select(ChatMessage.session_id, func.count())
            .where(ChatMessage.session_id.in_([uuid.UUID(doomed), uuid.UUID(kept)]))
            .group_by(ChatMessage.session_id)
        )
        assert {parent: n for parent, n in remaining.all()} == {uuid.UUID(kept): 1}


async def test_a_deleted_session_cannot_be_renamed_or_deleted_again(
    client: GraphQLClient, alice: SignedIn, workspace_id: str
) -> None:
    # given
    session_id = await create(client, alice, workspace_id, "Doomed")
    await client.data(DELETE, {"id": session_id}, alice.access_token)

    # when
    renamed = await client.execute(RENAME, {"id": session_id, "title": "Back"}, alice.access_token)
    deleted = await client.execute(DELETE, {"id": session_id}, alice.access_token)

    # then
    assert errors(renamed) == [("NOT_FOUND", None)]
    assert errors(deleted) == [("NOT_FOUND", None)]


async def test_sessions_are_listed_newest_first(
    client: GraphQLClient, alice: SignedIn, workspace_id: str
) -> None:
    # given
    created = [await create(client, alice, workspace_id, f"Chat {n}") for n in range(5)]

    # when
    data = await client.data(SESSIONS, {"ws": workspace_id}, alice.access_token)

    # then
    sessions = data["workspace"]["sessions"]
    assert [edge["node"]["id"] for edge in sessions["edges"]] == created[::-1]
    assert [edge["node"]["title"] for edge in sessions["edges"]] == [
        "Chat 4",
        "Chat 3",
        "Chat 2",
        "Chat 1",
        "Chat 0",
    ]
    assert sessions["pageInfo"]["hasNextPage"] is False


async def test_renaming_does_not_reorder_the_list(
    client: GraphQLClient, alice: SignedIn, workspace_id: str
) -> None:
    # given
    older = await create(client, alice, workspace_id, "Older")
    await create(client, alice, workspace_id, "Newer")

    # when
    await client.data(RENAME, {"id": older, "title": "Older, renamed"}, alice.access_token)

    # then
    assert await titles(client, alice, workspace_id) == ["Newer", "Older, renamed"]


async def test_sessions_page_from_newest_to_oldest(
    client: GraphQLClient, alice: SignedIn, workspace_id: str
) -> None:
    # given
    created = [await create(client, alice, workspace_id, f"Chat {n}") for n in range(5)]

    # when
    first = await client.data(SESSIONS, {"ws": workspace_id, "first": 2}, alice.access_token)
    walked = [first["workspace"]["sessions"]]
    while walked[-1]["pageInfo"]["hasNextPage"]:
        cursor = walked[-1]["pageInfo"]["endCursor"]
        more = await client.data(
            SESSIONS, {"ws": workspace_id, "first": 2, "after": cursor}, alice.access_token
        )
        walked.append(more["workspace"]["sessions"])

    # then
    assert [[edge["node"]["id"] for edge in page["edges"]] for page in walked] == [
        created[4:2:-1],
        created[2:0:-1],
        created[:1],
    ]
    assert [page["pageInfo"]["hasPreviousPage"] for page in walked] == [False, True, True]


async def test_sessions_in_other_workspaces_are_not_listed(
    client: GraphQLClient, alice: SignedIn, workspace_id: str
) -> None:
    # given
    other_workspace = await client.create_workspace(alice, "Other")
    await create(client, alice, workspace_id, "Here")
    await create(client, alice, other_workspace, "There")

    # then
    assert await titles(client, alice, workspace_id) == ["Here"]
    assert await titles(client, alice, other_workspace) == ["There"]
