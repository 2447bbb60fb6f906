"""Asking questions on the embedded default: the extractive answerer, streamed and cited."""

from __future__ import annotations

import asyncio

from tests.conftest import Backend
from tests.graph.documents.test_upload import REFUNDS, settled, uploaded
from tests.support.chat import ask, new_session, read_stream
from tests.support.client import GraphQLClient, SignedIn

SESSION = """
query S($id: ID!) {
  chatSession(id: $id) { title messages { edges { node { role status content } } } }
}
"""


async def workspace_with_policy(client: GraphQLClient) -> tuple[SignedIn, str]:
    owner = await client.register("owner")
    ws = await client.create_workspace(owner)
    await settled(client, owner, await uploaded(client, owner, ws, "policy.md", REFUNDS))
    return owner, ws


async def test_answer_streams_with_citations_and_persists(
    backend: Backend, client: GraphQLClient
) -> None:
    # given a workspace with a READY document and a chat session
    owner, ws = await workspace_with_policy(client)
    session_id = await new_session(client, owner, ws)
    # when the owner asks and follows the answer
    sent = await ask(client, owner, session_id, "How do I get my money back?")
    frames = await read_stream(backend.address, owner.access_token, sent["assistantMessage"]["id"])
    # then both messages were stored at once, the answer STREAMING
    assert sent["userMessage"]["status"] == "COMPLETE"
    assert sent["assistantMessage"]["status"] == "STREAMING"
    # and the frames carry increasing seqs, end with done and the stored message
    assert [f["done"] for f in frames] == [False] * (len(frames) - 1) + [True]
    seqs = [f["seq"] for f in frames]
    assert seqs == sorted(seqs) and len(set(seqs[:-1])) == len(seqs[:-1])
    final = frames[-1]["message"]
    assert final["status"] == "COMPLETE"
    assert "".join(f["delta"] for f in frames) == final["content"]
    assert "The money goes back to the original card. [1]" in final["content"]
    assert final["sources"] and final["sources"][0]["filename"] == "policy.md"
    assert final["model"] == "extractive"
    assert final["usage"]["totalTokens"] > 0
    # and the session got its title from the first question
    data = await client.data(SESSION, {"id": session_id}, owner.access_token)
    assert data["chatSession"]["title"] == "How do I get my money back?"
    roles = [
        (e["node"]["role"], e["node"]["status"]) for e in data["chatSession"]["messages"]["edges"]
    ]
    assert roles == [("USER", "COMPLETE"), ("ASSISTANT", "COMPLETE")]


async def test_replay_after_any_seq_resumes_exactly(
    backend: Backend, client: GraphQLClient
) -> None:
    owner, ws = await workspace_with_policy(client)
    session_id = await new_session(client, owner, ws)
    sent = await ask(client, owner, session_id, "refunds")
    message_id = sent["assistantMessage"]["id"]
    first = await read_stream(backend.address, owner.access_token, message_id)
    content = first[-1]["message"]["content"]
    # when readers resume after each seq seen, and two read from the start at once
    for index, frame in enumerate(first[:-1]):
        seen = "".join(f["delta"] for f in first[: index + 1])
        resumed = await read_stream(backend.address, owner.access_token, message_id, frame["seq"])
        # then each gets exactly the rest, no loss, no repeat
        assert seen + "".join(f["delta"] for f in resumed) == content
        assert resumed[-1]["done"] is True
    both = await asyncio.gather(
        read_stream(backend.address, owner.access_token, message_id),
        read_stream(backend.address, owner.access_token, message_id),
    )
    assert ["".join(f["delta"] for f in frames) for frames in both] == [content, content]


async def test_another_user_cannot_follow_an_answer(
    backend: Backend, client: GraphQLClient
) -> None:
    owner, ws = await workspace_with_policy(client)
    member = await client.register("member")
    await client.add_member(owner, ws, member, "VIEWER")
    session_id = await new_session(client, owner, ws)
    sent = await ask(client, owner, session_id, "refunds")
    frames = await read_stream(backend.address, member.access_token, sent["assistantMessage"]["id"])
    assert [e["extensions"]["code"] for e in frames[0]["errors"]] == ["NOT_FOUND"]
