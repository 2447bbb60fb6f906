"""Who may do what in a workspace, and how membership changes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from tests.support.client import GraphQLClient, SignedIn, errors

WORKSPACE = """
query Workspace($id: ID!) { workspace(id: $id) { id name viewerRole } }
"""
MEMBERS = """
query Members($id: ID!) {
  workspace(id: $id) { members { edges { node { role user { id email } } } } }
}
"""
UPDATE = """
mutation Update($id: ID!, $input: UpdateWorkspaceInput!) {
  updateWorkspace(id: $id, input: $input) { id name }
}
"""
DELETE = """
mutation Delete($id: ID!) { deleteWorkspace(id: $id) }
"""
ADD = """
mutation Add($ws: ID!, $email: String!, $role: WorkspaceRole!) {
  addWorkspaceMember(workspaceId: $ws, email: $email, role: $role) {
    id role user { id email }
  }
}
"""
CHANGE_ROLE = """
mutation ChangeRole($ws: ID!, $user: ID!, $role: WorkspaceRole!) {
  updateWorkspaceMemberRole(workspaceId: $ws, userId: $user, role: $role) { role user { id } }
}
"""
REMOVE = """
mutation Remove($ws: ID!, $user: ID!) { removeWorkspaceMember(workspaceId: $ws, userId: $user) }
"""
CREATE_SESSION = """
mutation CreateSession($ws: ID!) { createChatSession(workspaceId: $ws) { id } }
"""
CHAT_SESSION = """
query Session($id: ID!) { chatSession(id: $id) { id title } }
"""
RENAME_SESSION = """
mutation Rename($id: ID!) { renameChatSession(id: $id, title: "Mine") { id } }
"""
DELETE_SESSION = """
mutation DeleteSession($id: ID!) { deleteChatSession(id: $id) }
"""
MY_WORKSPACES = """
query { viewer { workspaces { edges { node { id } } } } }
"""

# From the viewer's list: loaded ahead for a single selection, resolved one by one when
# the same field is selected twice with other arguments.
LISTED_MEMBERS = """
query Listed($after: String) {
  viewer { workspaces { edges { node {
    members(first: 2) { edges { cursor node { role user { id } } } }
    rest: members(first: 5, after: $after) { edges { node { role user { id } } } }
    sessions(first: 1) { edges { node { id } } }
  } } } }
}
"""
LISTED_ONCE = """
query { viewer { workspaces { edges { node {
  members(first: 2) { edges { node { role user { id } } } }
  sessions(first: 1) { edges { node { id } } }
} } } } }
"""


@dataclass
class Team:
    """A workspace with an OWNER, an EDITOR and a VIEWER, and an outsider with an account."""

    workspace_id: str
    owner: SignedIn
    editor: SignedIn
    viewer: SignedIn
    outsider: SignedIn

    def by_role(self, role: str) -> SignedIn:
        return {"OWNER": self.owner, "EDITOR": self.editor, "VIEWER": self.viewer}[role]


@pytest.fixture
async def team(client: GraphQLClient) -> Team:
    owner = await client.register("owner")
    editor = await client.register("editor")
    viewer = await client.register("viewer")
    outsider = await client.register("outsider")
    workspace_id = await client.create_workspace(owner, "Team space")
    await client.add_member(owner, workspace_id, editor, "EDITOR")
    await client.add_member(owner, workspace_id, viewer, "VIEWER")
    return Team(workspace_id, owner, editor, viewer, outsider)


async def members_of(client: GraphQLClient, team: Team) -> dict[str, str]:
    """user id -> role, read by the owner."""
    data = await client.data(MEMBERS, {"id": team.workspace_id}, team.owner.access_token)
    return {
        edge["node"]["user"]["id"]: edge["node"]["role"]
        for edge in data["workspace"]["members"]["edges"]
    }


def original_roles(team: Team) -> dict[str, str]:
    return {
        team.owner.user_id: "OWNER",
        team.editor.user_id: "EDITOR",
        team.viewer.user_id: "VIEWER",
    }


def owner_only_operations(team: Team) -> dict[str, tuple[str, dict[str, Any]]]:
    ws = team.workspace_id
    return {
        "update": (UPDATE, {"id": ws, "input": {"name": "Taken over"}}),
        "delete": (DELETE, {"id": ws}),
        "add": (ADD, {"ws": ws, "email": team.outsider.email, "role": "VIEWER"}),
        "remove-owner": (REMOVE, {"ws": ws, "user": team.owner.user_id}),
        "remove-editor": (REMOVE, {"ws": ws, "user": team.editor.user_id}),
        "remove-viewer": (REMOVE, {"ws": ws, "user": team.viewer.user_id}),
        "promote-self": (CHANGE_ROLE, {"ws": ws, "user": "SELF", "role": "OWNER"}),
        "demote-owner": (CHANGE_ROLE, {"ws": ws, "user": team.owner.user_id, "role": "VIEWER"}),
    }


OPERATIONS = [
    "update",
    "delete",
    "add",
    "remove-owner",
    "remove-editor",
    "remove-viewer",
    "promote-self",
    "demote-owner",
]
# Removing yourself is leaving, which every member may do (tested below).
ROLE_MATRIX = [
    pytest.param(role, operation, id=f"{role}-{operation}")
    for role in ("VIEWER", "EDITOR")
    for operation in OPERATIONS
    if operation != f"remove-{role.lower()}"
]


@pytest.mark.parametrize(("role", "operation"), ROLE_MATRIX)
async def test_only_an_owner_may_change_the_workspace_or_its_members(
    client: GraphQLClient, team: Team, role: str, operation: str
) -> None:
    # given
    member = team.by_role(role)
    query, variables = owner_only_operations(team)[operation]
    if variables.get("user") == "SELF":
        variables = {**variables, "user": member.user_id}

    # when
    body = await client.execute(query, variables, member.access_token)

    # then
    assert errors(body) == [("FORBIDDEN", None)]
    assert body["data"] is None
    assert await members_of(client, team) == original_roles(team)
    workspace = await client.data(WORKSPACE, {"id": team.workspace_id}, member.access_token)
    assert workspace["workspace"] == {
        "id": team.workspace_id,
        "name": "Team space",
        "viewerRole": role,
    }


async def test_members_see_their_own_role(client: GraphQLClient, team: Team) -> None:
    for role in ("OWNER", "EDITOR", "VIEWER"):
        # when
        data = await client.data(
            WORKSPACE, {"id": team.workspace_id}, team.by_role(role).access_token
        )

        # then
        assert data["workspace"]["viewerRole"] == role


async def test_every_member_sees_the_member_list_in_joining_order(
    client: GraphQLClient, team: Team
) -> None:
    for member in (team.owner, team.editor, team.viewer):
        # when
        data = await client.data(MEMBERS, {"id": team.workspace_id}, member.access_token)

        # then
        assert data["workspace"]["members"]["edges"] == [
            {
                "node": {
                    "role": "OWNER",
                    "user": {"id": team.owner.user_id, "email": team.owner.email},
                }
            },
            {
                "node": {
                    "role": "EDITOR",
                    "user": {"id": team.editor.user_id, "email": team.editor.email},
                }
            },
            {
                "node": {
                    "role": "VIEWER",
                    "user": {"id": team.viewer.user_id, "email": team.viewer.email},
                }
            },
        ]


async def test_the_members_listed_with_the_workspaces_are_the_same_either_way(
    client: GraphQLClient, team: Team
) -> None:
    # given the owner's list of workspaces, asked with members once, and twice (aliased,
    # with other arguments, so nothing is loaded ahead for them)
    once = await client.data(LISTED_ONCE, {}, team.owner.access_token)
    [listed] = once["viewer"]["workspaces"]["edges"]
    first_two = [edge["node"] for edge in listed["node"]["members"]["edges"]]
    data = await client.data(LISTED_MEMBERS, {"after": None}, team.owner.access_token)
    [node] = [edge["node"] for edge in data["viewer"]["workspaces"]["edges"]]
    cursor = node["members"]["edges"][-1]["cursor"]
    after = await client.data(LISTED_MEMBERS, {"after": cursor}, team.owner.access_token)
    [later] = [edge["node"] for edge in after["viewer"]["workspaces"]["edges"]]

    # then each selection got its own page: the first two, all three, the one after them
    owner, editor = (
        {"role": "OWNER", "user": {"id": team.owner.user_id}},
        {"role": "EDITOR", "user": {"id": team.editor.user_id}},
    )
    viewer = {"role": "VIEWER", "user": {"id": team.viewer.user_id}}
    assert first_two == [owner, editor]
    assert [edge["node"] for edge in node["members"]["edges"]] == [owner, editor]
    assert [edge["node"] for edge in node["rest"]["edges"]] == [owner, editor, viewer]
    assert [edge["node"] for edge in later["rest"]["edges"]] == [viewer]
    assert listed["node"]["sessions"] == node["sessions"] == {"edges": []}


async def test_the_owner_adds_a_member_by_email(client: GraphQLClient, team: Team) -> None:
    # when: the address is typed with other capitals and spaces
    email = f"  {team.outsider.email.upper()} "
    data = await client.data(
        ADD, {"ws": team.workspace_id, "email": email, "role": "EDITOR"}, team.owner.access_token
    )

    # then
    added = data["addWorkspaceMember"]
    assert added["role"] == "EDITOR"
    assert added["user"] == {"id": team.outsider.user_id, "email": team.outsider.email}
    assert await members_of(client, team) == {
        **original_roles(team),
        team.outsider.user_id: "EDITOR",
    }
    seen = await client.data(WORKSPACE, {"id": team.workspace_id}, team.outsider.access_token)
    assert seen["workspace"]["viewerRole"] == "EDITOR"


async def test_adding_an_unknown_email_is_not_found_on_the_email_field(
    client: GraphQLClient, team: Team
) -> None:
    # when
    body = await client.execute(
        ADD,
        {"ws": team.workspace_id, "email": "nobody-at-all@example.com", "role": "VIEWER"},
        team.owner.access_token,
    )

    # then
    assert errors(body) == [("NOT_FOUND", "email")]
    assert body["data"] is None
    assert await members_of(client, team) == original_roles(team)


@pytest.mark.parametrize("role", ["OWNER", "EDITOR", "VIEWER"])
async def test_adding_an_existing_member_again_is_a_conflict(
    client: GraphQLClient, team: Team, role: str
) -> None:
    # when: the existing member is added again, whatever the role asked for
    body = await client.execute(
        ADD,
        {"ws": team.workspace_id, "email": team.viewer.email.upper(), "role": role},
        team.owner.access_token,
    )

    # then
    assert errors(body) == [("CONFLICT", "email")]
    assert body["data"] is None
    assert await members_of(client, team) == original_roles(team)


async def test_the_owner_changes_a_members_role(client: GraphQLClient, team: Team) -> None:
    # when
    data = await client.data(
        CHANGE_ROLE,
        {"ws": team.workspace_id, "user": team.viewer.user_id, "role": "EDITOR"},
        team.owner.access_token,
    )

    # then
    assert data["updateWorkspaceMemberRole"] == {
        "role": "EDITOR",
        "user": {"id": team.viewer.user_id},
    }
    assert await members_of(client, team) == {**original_roles(team), team.viewer.user_id: "EDITOR"}
    seen = await client.data(WORKSPACE, {"id": team.workspace_id}, team.viewer.access_token)
    assert seen["workspace"]["viewerRole"] == "EDITOR"


async def test_a_promoted_owner_has_owner_rights(client: GraphQLClient, team: Team) -> None:
    # given
    await client.data(
        CHANGE_ROLE,
        {"ws": team.workspace_id, "user": team.editor.user_id, "role": "OWNER"},
        team.owner.access_token,
    )

    # when
    data = await client.data(
        UPDATE,
        {"id": team.workspace_id, "input": {"name": "Co-owned"}},
        team.editor.access_token,
    )

    # then
    assert data["updateWorkspace"] == {"id": team.workspace_id, "name": "Co-owned"}


async def test_the_last_owner_cannot_be_demoted(client: GraphQLClient, team: Team) -> None:
    # when
    body = await client.execute(
        CHANGE_ROLE,
        {"ws": team.workspace_id, "user": team.owner.user_id, "role": "EDITOR"},
        team.owner.access_token,
    )

    # then
    assert errors(body) == [("CONFLICT", None)]
    assert body["data"] is None
    assert await members_of(client, team) == original_roles(team)


async def test_an_owner_may_step_down_once_there_is_another_owner(
    client: GraphQLClient, team: Team
) -> None:
    # given
    await client.data(
        CHANGE_ROLE,
        {"ws": team.workspace_id, "user": team.editor.user_id, "role": "OWNER"},
        team.owner.access_token,
    )

    # when
    data = await client.data(
        CHANGE_ROLE,
        {"ws": team.workspace_id, "user": team.owner.user_id, "role": "VIEWER"},
        team.owner.access_token,
    )

    # then
    assert data["updateWorkspaceMemberRole"]["role"] == "VIEWER"
    roles = await client.data(MEMBERS, {"id": team.workspace_id}, team.editor.access_token)
    assert {
        edge["node"]["user"]["id"]: edge["node"]["role"]
        for edge in roles["workspace"]["members"]["edges"]
    } == {
        team.owner.user_id: "VIEWER",
        team.editor.user_id: "OWNER",
        team.viewer.user_id: "VIEWER",
    }


async def test_changing_the_role_of_a_non_member_is_not_found(
    client: GraphQLClient, team: Team
) -> None:
    # when
    body = await client.execute(
        CHANGE_ROLE,
        {"ws": team.workspace_id, "user": team.outsider.user_id, "role": "EDITOR"},
        team.owner.access_token,
    )

    # then
    assert errors(body) == [("NOT_FOUND", "userId")]
    assert await members_of(client, team) == original_roles(team)


@pytest.mark.parametrize("role", ["EDITOR", "VIEWER"])
async def test_the_owner_removes_a_member(client: GraphQLClient, team: Team, role: str) -> None:
    # given
    member = team.by_role(role)

    # when
    data = await client.data(
        REMOVE, {"ws": team.workspace_id, "user": member.user_id}, team.owner.access_token
    )

    # then
    assert data == {"removeWorkspaceMember": member.user_id}
    remaining = original_roles(team)
    del remaining[member.user_id]
    assert await members_of(client, team) == remaining


@pytest.mark.parametrize("role", ["EDITOR", "VIEWER"])
async def test_a_member_can_leave(client: GraphQLClient, team: Team, role: str) -> None:
    # given
    member = team.by_role(role)

    # when
    data = await client.data(
        REMOVE, {"ws": team.workspace_id, "user": member.user_id}, member.access_token
    )

    # then
    assert data == {"removeWorkspaceMember": member.user_id}
    remaining = original_roles(team)
    del remaining[member.user_id]
    assert await members_of(client, team) == remaining
    listed = await client.data(MY_WORKSPACES, token=member.access_token)
    assert listed["viewer"]["workspaces"]["edges"] == []


async def test_the_last_owner_cannot_leave(client: GraphQLClient, team: Team) -> None:
    # when
    body = await client.execute(
        REMOVE, {"ws": team.workspace_id, "user": team.owner.user_id}, team.owner.access_token
    )

    # then
    assert errors(body) == [("CONFLICT", None)]
    assert body["data"] is None
    assert await members_of(client, team) == original_roles(team)


async def test_an_owner_can_leave_when_another_owner_stays(
    client: GraphQLClient, team: Team
) -> None:
    # given
    await client.data(
        CHANGE_ROLE,
        {"ws": team.workspace_id, "user": team.editor.user_id, "role": "OWNER"},
        team.owner.access_token,
    )

    # when
    data = await client.data(
        REMOVE, {"ws": team.workspace_id, "user": team.owner.user_id}, team.owner.access_token
    )

    # then
    assert data == {"removeWorkspaceMember": team.owner.user_id}
    body = await client.execute(WORKSPACE, {"id": team.workspace_id}, team.owner.access_token)
    assert errors(body) == [("NOT_FOUND", None)]
    roles = await client.data(MEMBERS, {"id": team.workspace_id}, team.editor.access_token)
    assert [edge["node"]["user"]["id"] for edge in roles["workspace"]["members"]["edges"]] == [
        team.editor.user_id,
        team.viewer.user_id,
    ]


async def test_removing_a_non_member_is_not_found(client: GraphQLClient, team: Team) -> None:
    # when
    body = await client.execute(
        REMOVE, {"ws": team.workspace_id, "user": team.outsider.user_id}, team.owner.access_token
    )

    # then
    assert errors(body) == [("NOT_FOUND", "userId")]
    assert await members_of(client, team) == original_roles(team)


async def test_a_removed_member_loses_the_workspace_and_their_sessions(
    client: GraphQLClient, team: Team
) -> None:
    # given: the editor has a chat session in the workspace
    created = await client.data(CREATE_SESSION, {"ws": team.workspace_id}, team.editor.access_token)
    session_id = created["createChatSession"]["id"]

    # when
    await client.data(
        REMOVE, {"ws": team.workspace_id, "user": team.editor.user_id}, team.owner.access_token
    )

    # then
    token = team.editor.access_token
    workspace = await client.execute(WORKSPACE, {"id": team.workspace_id}, token)
    assert errors(workspace) == [("NOT_FOUND", None)]
    assert workspace["data"] == {"workspace": None}
    for query in (CHAT_SESSION, RENAME_SESSION, DELETE_SESSION):
        body = await client.execute(query, {"id": session_id}, token)
        assert errors(body) == [("NOT_FOUND", None)]
    new_session = await client.execute(CREATE_SESSION, {"ws": team.workspace_id}, token)
    assert errors(new_session) == [("NOT_FOUND", None)]
    leave_again = await client.execute(
        REMOVE, {"ws": team.workspace_id, "user": team.editor.user_id}, token
    )
    assert errors(leave_again) == [("NOT_FOUND", None)]
    listed = await client.data(MY_WORKSPACES, token=token)
    assert listed["viewer"]["workspaces"]["edges"] == []
