"""Chat helpers for tests: a session to ask in, and reading a messageStream to the end."""

from __future__ import annotations

import itertools
from typing import Any

from tests.support.client import GraphQLClient, SignedIn, TransportWsClient

CREATE_SESSION = """
mutation S($ws: ID!) { createChatSession(workspaceId: $ws) { id title } }
"""
SEND = """
mutation Send($s: ID!, $q: String!) {
  sendMessage(sessionId: $s, content: $q) {
    userMessage { id role status content }
    assistantMessage { id role status content }
  }
}
"""
STREAM = """
subscription Stream($id: ID!, $after: Int) {
  messageStream(messageId: $id, after: $after) {
    messageId seq delta done
    message { id status content error model usage { promptTokens completionTokens totalTokens }
              sources { documentId filename chunk snippet score } }
  }
}
"""
_ids = itertools.count(1)


async def new_session(client: GraphQLClient, user: SignedIn, workspace_id: str) -> str:
    data = await client.data(CREATE_SESSION, {"ws": workspace_id}, user.access_token)
    return str(data["createChatSession"]["id"])


async def ask(
    client: GraphQLClient, user: SignedIn, session_id: str, question: str
) -> dict[str, Any]:
    data = await client.data(SEND, {"s": session_id, "q": question}, user.access_token)
    return dict(data["sendMessage"])


async def read_stream(
    address: str, token: str, message_id: str, after: int | None = None
) -> list[dict[str, Any]]:
    """Every `next` payload's messageStream until `complete` (or an error)."""
    ws = await TransportWsClient.connect(address)
    try:
        assert (await ws.init(token))["type"] == "connection_ack"
        op = str(next(_ids))
        await ws.subscribe(op, STREAM, {"id": message_id, "after": after})
        frames: list[dict[str, Any]] = []
        while True:
            message = await ws.receive()
            if message["type"] == "next":
                payload = message["payload"]
                if payload.get("errors"):
                    frames.append({"errors": payload["errors"]})
                else:
                    frames.append(payload["data"]["messageStream"])
            elif message["type"] == "complete":
                return frames
            elif message["type"] == "error":
                return [{"errors": message["payload"]}]
    finally:
        await ws.close()
