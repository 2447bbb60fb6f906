"""Relay paging over the viewer's workspaces and the other connections."""

from __future__ import annotations

import base64
import uuid
from typing import Any

import pytest

from tests.support.client import GraphQLClient, SignedIn, errors

MY_WORKSPACES = """
query MyWorkspaces($first: Int, $after: String) {
  viewer {
    workspaces(first: $first, after: $after) {
      edges { cursor node { id name } }
      pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    }
  }
}
"""
MY_WORKSPACES_DEFAULT = """
query { viewer { workspaces { edges { node { id } } pageInfo { hasNextPage } } } }
"""
MEMBERS = """
query Members($id: ID!, $first: Int, $after: String) {
  workspace(id: $id) {
    members(first: $first, after: $after) {
      edges { node { role } }
      pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    }
  }
}
"""
SESSIONS = """
query Sessions($id: ID!, $first: Int, $after: String) {
  workspace(id: $id) { sessions(first: $first, after: $after) { edges { node { id } } } }
}
"""
DOCUMENTS = """
query Documents($id: ID!, $first: Int, $after: String) {
  workspace(id: $id) { documents(first: $first, after: $after) { edges { node { id } } } }
}
"""


@pytest.fixture
async def alice(client: GraphQLClient) -> SignedIn:
    return await client.register("alice")


async def create_workspaces(client: GraphQLClient, user: SignedIn, count: int) -> list[str]:
    return [await client.create_workspace(user, f"Workspace {n:02d}") for n in range(count)]


async def page(
    client: GraphQLClient, user: SignedIn, first: int | None, after: str | None = None
) -> dict[str, Any]:
    data = await client.data(MY_WORKSPACES, {"first": first, "after": after}, user.access_token)
    result: dict[str, Any] = data["viewer"]["workspaces"]
    return result


async def test_walking_25_workspaces_in_pages_of_10(client: GraphQLClient, alice: SignedIn) -> None:
    # given
    created = await create_workspaces(client, alice, 25)

    # when
    first = await page(client, alice, 10)
    second = await page(client, alice, 10, first["pageInfo"]["endCursor"])
    third = await page(client, alice, 10, second["pageInfo"]["endCursor"])

    # then
    pages = [first, second, third]
    assert [len(p["edges"]) for p in pages] == [10, 10, 5]
    assert [p["pageInfo"]["hasNextPage"] for p in pages] == [True, True, False]
    assert [p["pageInfo"]["hasPreviousPage"] for p in pages] == [False, True, True]
    walked = [edge["node"]["id"] for p in pages for edge in p["edges"]]
    assert walked == created  # oldest first, nothing twice, nothing left out
    assert [edge["node"]["name"] for edge in first["edges"]] == [
        f"Workspace {n:02d}" for n in range(10)
    ]
    for p in pages:
        assert p["pageInfo"]["startCursor"] == p["edges"][0]["cursor"]
        assert p["pageInfo"]["endCursor"] == p["edges"][-1]["cursor"]


async def test_paging_past_the_end_gives_an_empty_page(
    client: GraphQLClient, alice: SignedIn
) -> None:
    # given
    await create_workspaces(client, alice, 3)
    everything = await page(client, alice, 3)

    # when
    beyond = await page(client, alice, 10, everything["pageInfo"]["endCursor"])

    # then
    assert everything["pageInfo"]["hasNextPage"] is False
    assert beyond == {
        "edges": [],
        "pageInfo": {
            "hasNextPage": False,
            "hasPreviousPage": True,
            "startCursor": None,
            "endCursor": None,
        },
    }


async def test_cursors_are_stable_between_requests(client: GraphQLClient, alice: SignedIn) -> None:
    # given
    await create_workspaces(client, alice, 4)
    whole = await page(client, alice, 4)

    # when: resume after the second edge
    rest = await page(client, alice, 4, whole["edges"][1]["cursor"])

    # then
    assert rest["edges"] == whole["edges"][2:]


async def test_without_first_a_page_holds_20(client: GraphQLClient, alice: SignedIn) -> None:
    # given
    await create_workspaces(client, alice, 21)

    # when
    data = await client.data(MY_WORKSPACES_DEFAULT, token=alice.access_token)

    # then
    assert len(data["viewer"]["workspaces"]["edges"]) == 20
    assert data["viewer"]["workspaces"]["pageInfo"] == {"hasNextPage": True}


async def test_first_100_is_allowed(client: GraphQLClient, alice: SignedIn) -> None:
    # given
    created = await create_workspaces(client, alice, 2)

    # when
    result = await page(client, alice, 100)

    # then
    assert [edge["node"]["id"] for edge in result["edges"]] == created
    assert result["pageInfo"]["hasNextPage"] is False


async def test_first_0_returns_no_edges(client: GraphQLClient, alice: SignedIn) -> None:
    # given
    await create_workspaces(client, alice, 2)

    # when
    result = await page(client, alice, 0)

    # then: nothing, but the list goes on
    assert result == {
        "edges": [],
        "pageInfo": {
            "hasNextPage": True,
            "hasPreviousPage": False,
            "startCursor": None,
            "endCursor": None,
        },
    }


async def test_first_0_of_an_empty_list_has_no_next_page(
    client: GraphQLClient, alice: SignedIn
) -> None:
    # when
    result = await page(client, alice, 0)

    # then
    assert result["edges"] == []
    assert result["pageInfo"]["hasNextPage"] is False


async def test_first_0_on_a_child_connection_agrees_with_the_top_level(
    client: GraphQLClient, alice: SignedIn
) -> None:
    # given: one member in the workspace
    workspace_id = await client.create_workspace(alice)

    # when
    data = await client.data(MEMBERS, {"id": workspace_id, "first": 0}, alice.access_token)

    # then
    assert data["workspace"]["members"] == {
        "edges": [],
        "pageInfo": {
            "hasNextPage": True,
            "hasPreviousPage": False,
            "startCursor": None,
            "endCursor": None,
        },
    }


@pytest.mark.parametrize("first", [101, 1000, -1, -100])
async def test_first_out_of_bounds_is_bad_user_input(
    client: GraphQLClient, alice: SignedIn, first: int
) -> None:
    # when
    body = await client.execute(MY_WORKSPACES, {"first": first}, alice.access_token)

    # then
    assert errors(body) == [("BAD_USER_INPUT", "first")]
    assert body["data"] == {"viewer": None}  # workspaces is non-null, so the viewer goes


def encoded(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode()


GARBAGE_CURSORS = [
    "garbage",
    "",
    "!!!!",
    encoded(b"c1:not-hex"),
    encoded(b"c2:" + uuid.uuid4().hex.encode()),
    encoded(b"\xff\xfe\xfd"),
    uuid.uuid4().hex,
    str(uuid.uuid4()),
    "a" * 5000,
]


@pytest.mark.parametrize("after", GARBAGE_CURSORS, ids=range(len(GARBAGE_CURSORS)))
async def test_a_garbage_cursor_is_bad_user_input(
    client: GraphQLClient, alice: SignedIn, after: str
) -> None:
    # given
    await create_workspaces(client, alice, 1)

    # when
    body = await client.execute(MY_WORKSPACES, {"first": 5, "after": after}, alice.access_token)

    # then
    assert errors(body) == [("BAD_USER_INPUT", "after")]


@pytest.mark.parametrize(
    "query", [MEMBERS, SESSIONS, DOCUMENTS], ids=["members", "sessions", "documents"]
)
@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        ({"first": 101}, [("BAD_USER_INPUT", "first")]),
        ({"first": -1}, [("BAD_USER_INPUT", "first")]),
        ({"first": 1, "after": "garbage"}, [("BAD_USER_INPUT", "after")]),
    ],
    ids=["first-101", "first-negative", "garbage-after"],
)
async def test_child_connections_check_their_arguments_too(
    client: GraphQLClient,
    alice: SignedIn,
    query: str,
    arguments: dict[str, Any],
    expected: list[tuple[str, str]],
) -> None:
    # given
    workspace_id = await client.create_workspace(alice)

    # when
    body = await client.execute(query, {"id": workspace_id, **arguments}, alice.access_token)

    # then
    assert errors(body) == expected
    assert body["data"] == {"workspace": None}


async def test_members_page_in_joining_order(client: GraphQLClient, alice: SignedIn) -> None:
    # given: the owner and four more members
    workspace_id = await client.create_workspace(alice)
    for role in ("EDITOR", "VIEWER", "VIEWER", "EDITOR"):
        await client.add_member(alice, workspace_id, await client.register(role.lower()), role)

    # when
    first = await client.data(MEMBERS, {"id": workspace_id, "first": 3}, alice.access_token)
    cursor = first["workspace"]["members"]["pageInfo"]["endCursor"]
    second = await client.data(
        MEMBERS, {"id": workspace_id, "first": 3, "after": cursor}, alice.access_token
    )

    # then
    one, two = first["workspace"]["members"], second["workspace"]["members"]
    assert [e["node"]["role"] for e in one["edges"] + two["edges"]] == [
        "OWNER",
        "EDITOR",
        "VIEWER",
        "VIEWER",
        "EDITOR",
    ]
    assert (one["pageInfo"]["hasNextPage"], one["pageInfo"]["hasPreviousPage"]) == (True, False)
    assert (two["pageInfo"]["hasNextPage"], two["pageInfo"]["hasPreviousPage"]) == (False, True)
