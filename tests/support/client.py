"""Talking to the server as a client would: GraphQL over HTTP and graphql-transport-ws."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

import httpx
import websockets

REGISTER = """
mutation Register($input: RegisterInput!) {
  register(input: $input) { accessToken refreshToken expiresIn user { id email displayName } }
}
"""
CREATE_WORKSPACE = """
mutation CreateWorkspace($name: String!) { createWorkspace(input: {name: $name}) { id name } }
"""
ADD_MEMBER = """
mutation Add($ws: ID!, $email: String!, $role: WorkspaceRole!) {
  addWorkspaceMember(workspaceId: $ws, email: $email, role: $role) { id role user { id } }
}
"""
PASSWORD = "correct horse battery"


@dataclass
class SignedIn:
    user_id: str
    email: str
    access_token: str
    refresh_token: str


class GraphQLClient:
    def __init__(self, address: str) -> None:
        self.address = address
        self.http = httpx.AsyncClient(base_url=f"http://{address}", timeout=30)

    async def execute(
        self, query: str, variables: dict[str, Any] | None = None, token: str | None = None
    ) -> dict[str, Any]:
        headers = {"authorization": f"Bearer {token}"} if token else {}
        response = await self.http.post(
            "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
        )
        assert response.status_code == 200, (response.status_code, response.text)
        body: dict[str, Any] = response.json()
        return body

    async def data(
        self, query: str, variables: dict[str, Any] | None = None, token: str | None = None
    ) -> dict[str, Any]:
        """The `data` of a request that must succeed."""
        body = await self.execute(query, variables, token)
        assert "errors" not in body, body["errors"]
        result: dict[str, Any] = body["data"]
        return result

    async def register(self, name: str = "user") -> SignedIn:
        email = f"{name}-{uuid.uuid4().hex[:10]}@example.com"
        data = await self.data(
            REGISTER, {"input": {"email": email, "password": PASSWORD, "displayName": name}}
        )
        payload = data["register"]
        return SignedIn(
            payload["user"]["id"], email, payload["accessToken"], payload["refreshToken"]
        )

    async def create_workspace(self, user: SignedIn, name: str = "Research") -> str:
        data = await self.data(CREATE_WORKSPACE, {"name": name}, user.access_token)
        return str(data["createWorkspace"]["id"])

    async def add_member(
        self, owner: SignedIn, workspace_id: str, user: SignedIn, role: str
    ) -> None:
        await self.data(
            ADD_MEMBER, {"ws": workspace_id, "email": user.email, "role": role}, owner.access_token
        )

    async def close(self) -> None:
        await self.http.aclose()


def error_codes(body: dict[str, Any]) -> list[str]:
    return [error.get("extensions", {}).get("code") for error in body.get("errors", [])]


def errors(body: dict[str, Any]) -> list[tuple[str, str | None]]:
    """(code, field) of every error, in order."""
    return [
        (error["extensions"]["code"], error["extensions"].get("field"))
        for error in body.get("errors", [])
    ]


class TransportWsClient:
    """A minimal graphql-transport-ws client over a real socket."""

    def __init__(self, socket: websockets.ClientConnection) -> None:
        self.socket = socket

    @classmethod
    async def connect(cls, address: str) -> TransportWsClient:
        socket = await websockets.connect(
            f"ws://{address}/graphql", subprotocols=[websockets.Subprotocol("graphql-transport-ws")]
        )
        return cls(socket)

    async def send(self, message: dict[str, Any]) -> None:
        await self.socket.send(json.dumps(message))

    async def receive(self) -> dict[str, Any]:
        message: dict[str, Any] = json.loads(await self.socket.recv())
        return message

    async def init(self, token: str | None) -> dict[str, Any]:
        payload = {"authorization": f"Bearer {token}"} if token else {}
        await self.send({"type": "connection_init", "payload": payload})
        return await self.receive()

    async def subscribe(self, op_id: str, query: str, variables: dict[str, Any]) -> None:
        await self.send(
            {"id": op_id, "type": "subscribe", "payload": {"query": query, "variables": variables}}
        )

    async def close(self) -> None:
        await self.socket.close()


UPLOAD = """
mutation Upload($ws: ID!, $file: Upload!) {
  uploadDocument(workspaceId: $ws, file: $file) { id status filename contentType sizeBytes sha256 }
}
"""


async def upload(
    client: GraphQLClient, token: str, workspace_id: str, filename: str, content: bytes
) -> httpx.Response:
    """A GraphQL multipart request (the spec Apollo and urql upload clients send)."""
    operations = {"query": UPLOAD, "variables": {"ws": workspace_id, "file": None}}
    return await client.http.post(
        "/graphql",
        data={"operations": json.dumps(operations), "map": json.dumps({"0": ["variables.file"]})},
        files={"0": (filename, content, "application/octet-stream")},
        headers={"authorization": f"Bearer {token}"},
    )
