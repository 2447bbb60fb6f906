"""ChatSession.messages: oldest first, paged forwards with first/after, back with last/before."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import pytest

from domain.chat.models import ChatMessage, MessageRole, MessageStatus
from tests.conftest import Backend
from tests.support.client import GraphQLClient, SignedIn, errors

CREATE_SESSION = """
mutation Create($ws: ID!) { createChatSession(workspaceId: $ws) { id } }
"""
MESSAGES = """
query Messages($id: ID!, $first: Int, $after: String, $last: Int, $before: String) {
  chatSession(id: $id) {
    messages(first: $first, after: $after, last: $last, before: $before) {
      edges { cursor node { content } }
      pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    }
  }
}
"""
MESSAGE_FIELDS = """
query MessageFields($id: ID!) {
  chatSession(id: $id) {
    messages {
      edges {
        node {
          id sessionId role status content error model
          sources { documentId filename chunk page score snippet }
          usage { promptTokens completionTokens totalTokens }
        }
      }
    }
  }
}
"""
TWO_SESSIONS = """
query TwoSessions($a: ID!, $b: ID!) {
  a: chatSession(id: $a) { messages(first: 10) { edges { node { content } } } }
  b: chatSession(id: $b) { messages(first: 10) { edges { node { content } } } }
}
"""


@dataclass
class Conversation:
    user: SignedIn
    session_id: str
    contents: list[str]


async def start_session(client: GraphQLClient, user: SignedIn, workspace_id: str) -> str:
    data = await client.data(CREATE_SESSION, {"ws": workspace_id}, user.access_token)
    return str(data["createChatSession"]["id"])


async def insert_messages(
    backend: Backend, session_id: str, contents: list[str]
) -> list[ChatMessage]:
    messages = [
        ChatMessage(
            session_id=uuid.UUID(session_id),
            role=MessageRole.USER if n % 2 == 0 else MessageRole.ASSISTANT,
            status=MessageStatus.COMPLETE,
            content=content,
            sources=[],
        )
        for n, content in enumerate(contents)
    ]
    async with backend.container.sessionmaker.begin() as session:
        for message in messages:
            session.add(message)
            await session.flush()  # one at a time: ids are assigned in this order
    return messages


@pytest.fixture
async def conversation(client: GraphQLClient, backend: Backend) -> Conversation:
    """Seven messages, m0 (oldest) to m6 (newest)."""
    user = await client.register("alice")
    workspace_id = await client.create_workspace(user)
    session_id = await start_session(client, user, workspace_id)
    contents = [f"m{n}" for n in range(7)]
    await insert_messages(backend, session_id, contents)
    return Conversation(user, session_id, contents)


async def messages(
    client: GraphQLClient, conversation: Conversation, **arguments: Any
) -> dict[str, Any]:
    data = await client.data(
        MESSAGES, {"id": conversation.session_id, **arguments}, conversation.user.access_token
    )
    result: dict[str, Any] = data["chatSession"]["messages"]
    return result


def contents(page: dict[str, Any]) -> list[str]:
    return [edge["node"]["content"] for edge in page["edges"]]


def flags(page: dict[str, Any]) -> tuple[bool, bool]:
    """(hasPreviousPage, hasNextPage)"""
    return page["pageInfo"]["hasPreviousPage"], page["pageInfo"]["hasNextPage"]


async def test_without_arguments_messages_come_oldest_first(
    client: GraphQLClient, conversation: Conversation
) -> None:
    # when
    page = await messages(client, conversation)

    # then
    assert contents(page) == conversation.contents
    assert flags(page) == (False, False)
    assert page["pageInfo"]["startCursor"] == page["edges"][0]["cursor"]
    assert page["pageInfo"]["endCursor"] == page["edges"][-1]["cursor"]


async def test_paging_forwards_with_first_and_after(
    client: GraphQLClient, conversation: Conversation
) -> None:
    # when
    one = await messages(client, conversation, first=3)
    two = await messages(client, conversation, first=3, after=one["pageInfo"]["endCursor"])
    three = await messages(client, conversation, first=3, after=two["pageInfo"]["endCursor"])

    # then
    assert [contents(page) for page in (one, two, three)] == [
        ["m0", "m1", "m2"],
        ["m3", "m4", "m5"],
        ["m6"],
    ]
    assert [flags(page) for page in (one, two, three)] == [
        (False, True),
        (True, True),
        (True, False),
    ]


async def test_paging_back_from_the_newest_with_last_and_before(
    client: GraphQLClient, conversation: Conversation
) -> None:
    # when
    one = await messages(client, conversation, last=3)
    two = await messages(client, conversation, last=3, before=one["pageInfo"]["startCursor"])
    three = await messages(client, conversation, last=3, before=two["pageInfo"]["startCursor"])

    # then: each page is still oldest first
    assert [contents(page) for page in (one, two, three)] == [
        ["m4", "m5", "m6"],
        ["m1", "m2", "m3"],
        ["m0"],
    ]
    assert [flags(page) for page in (one, two, three)] == [
        (True, False),
        (True, True),
        (False, True),
    ]
    for page in (one, two, three):
        assert page["pageInfo"]["startCursor"] == page["edges"][0]["cursor"]
        assert page["pageInfo"]["endCursor"] == page["edges"][-1]["cursor"]


async def test_last_larger_than_the_history_returns_it_all(
    client: GraphQLClient, conversation: Conversation
) -> None:
    # when
    page = await messages(client, conversation, last=50)

    # then
    assert contents(page) == conversation.contents
    assert flags(page) == (False, False)


async def test_a_cursor_taken_going_back_can_be_used_going_forward(
    client: GraphQLClient, conversation: Conversation
) -> None:
    # given: the newest two, then everything after the older of them
    newest = await messages(client, conversation, last=2)

    # when
    forward = await messages(client, conversation, first=5, after=newest["edges"][0]["cursor"])
    backward = await messages(client, conversation, last=2, before=newest["edges"][1]["cursor"])

    # then
    assert contents(newest) == ["m5", "m6"]
    assert contents(forward) == ["m6"]
    assert contents(backward) == ["m4", "m5"]


async def test_first_0_and_last_0_return_no_edges(
    client: GraphQLClient, conversation: Conversation
) -> None:
    # when
    first = await messages(client, conversation, first=0)
    last = await messages(client, conversation, last=0)

    # then
    assert first["edges"] == last["edges"] == []
    assert flags(first) == (False, True)
    assert flags(last) == (True, False)


async def test_an_empty_session_has_no_messages(client: GraphQLClient) -> None:
    # given
    user = await client.register("alice")
    session_id = await start_session(client, user, await client.create_workspace(user))

    # when
    for arguments in ({}, {"first": 5}, {"last": 5}):
        data = await client.data(MESSAGES, {"id": session_id, **arguments}, user.access_token)

        # then
        assert data["chatSession"]["messages"] == {
            "edges": [],
            "pageInfo": {
                "hasNextPage": False,
                "hasPreviousPage": False,
                "startCursor": None,
                "endCursor": None,
            },
        }


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        ({"first": 101}, [("BAD_USER_INPUT", "first")]),
        ({"first": -1}, [("BAD_USER_INPUT", "first")]),
        ({"last": 101}, [("BAD_USER_INPUT", "last")]),
        ({"last": -1}, [("BAD_USER_INPUT", "last")]),
        ({"first": 1, "last": 1}, [("BAD_USER_INPUT", "last")]),
        ({"first": 1, "after": "garbage"}, [("BAD_USER_INPUT", "after")]),
        ({"last": 1, "before": "garbage"}, [("BAD_USER_INPUT", "before")]),
    ],
    ids=["first-101", "first-negative", "last-101", "last-negative", "both", "after", "before"],
)
async def test_bad_paging_arguments_are_bad_user_input(
    client: GraphQLClient,
    conversation: Conversation,
    arguments: dict[str, Any],
    expected: list[tuple[str, str]],
) -> None:
    # when
    body = await client.execute(
        MESSAGES, {"id": conversation.session_id, **arguments}, conversation.user.access_token
    )

    # then
    assert errors(body) == expected
    assert body["data"] == {"chatSession": None}


async def test_every_message_field_is_served(client: GraphQLClient, backend: Backend) -> None:
    # given: a question and a sourced answer
    user = await client.register("alice")
    session_id = await start_session(client, user, await client.create_workspace(user))
    document_id = str(uuid.uuid4())
    question = ChatMessage(
        session_id=uuid.UUID(session_id),
        role=MessageRole.USER,
        status=MessageStatus.COMPLETE,
        content="What is the notice period?",
        sources=[],
    )
    answer = ChatMessage(
        session_id=uuid.UUID(session_id),
        role=MessageRole.ASSISTANT,
        status=MessageStatus.FAILED,
        content="Thirty days",
        error="The model stopped early.",
        model="gpt-4o-mini",
        sources=[
            {
                "document_id": document_id,
                "filename": "contract.pdf",
                "chunk": 4,
                "page": 2,
                "score": 0.83,
                "snippet": "notice of thirty (30) days",
            }
        ],
        usage={"prompt_tokens": 120, "completion_tokens": 8, "total_tokens": 128},
    )
    async with backend.container.sessionmaker.begin() as session:
        session.add(question)
        await session.flush()
        session.add(answer)

    # when
    data = await client.data(MESSAGE_FIELDS, {"id": session_id}, user.access_token)

    # then
    assert [edge["node"] for edge in data["chatSession"]["messages"]["edges"]] == [
        {
            "id": str(question.id),
            "sessionId": session_id,
            "role": "USER",
            "status": "COMPLETE",
            "content": "What is the notice period?",
            "error": None,
            "model": None,
            "sources": [],
            "usage": None,
        },
        {
            "id": str(answer.id),
            "sessionId": session_id,
            "role": "ASSISTANT",
            "status": "FAILED",
            "content": "Thirty days",
            "error": "The model stopped early.",
            "model": "gpt-4o-mini",
            "sources": [
                {
                    "documentId": document_id,
                    "filename": "contract.pdf",
                    "chunk": 4,
                    "page": 2,
                    "score": 0.83,
                    "snippet": "notice of thirty (30) days",
                }
            ],
            "usage": {"promptTokens": 120, "completionTokens": 8, "totalTokens": 128},
        },
    ]


async def test_each_session_gets_only_its_own_messages_in_one_request(
    client: GraphQLClient, backend: Backend
) -> None:
    # given: two sessions whose messages interleave in time
    user = await client.register("alice")
    workspace_id = await client.create_workspace(user)
    first = await start_session(client, user, workspace_id)
    second = await start_session(client, user, workspace_id)
    for n in range(3):
        await insert_messages(backend, first, [f"first {n}"])
        await insert_messages(backend, second, [f"second {n}"])

    # when
    data = await client.data(TWO_SESSIONS, {"a": first, "b": second}, user.access_token)

    # then
    assert [edge["node"]["content"] for edge in data["a"]["messages"]["edges"]] == [
        "first 0",
        "first 1",
        "first 2",
    ]
    assert [edge["node"]["content"] for edge in data["b"]["messages"]["edges"]] == [
        "second 0",
        "second 1",
        "second 2",
    ]


async def test_another_users_messages_are_out_of_reach(
    client: GraphQLClient, conversation: Conversation
) -> None:
    # given
    bob = await client.register("bob")

    # when
    body = await client.execute(MESSAGES, {"id": conversation.session_id}, bob.access_token)

    # then
    assert errors(body) == [("NOT_FOUND", None)]
    assert body["data"] == {"chatSession": None}
