"""Changing EMBEDDER: search keeps working from the old vectors until re-embedding ends."""

from __future__ import annotations

import uuid
from pathlib import Path

from domain.container import Container
from domain.db.migrate import migrate
from graph.app import create_app
from tests.conftest import make_settings
from tests.graph.documents.test_upload import REFUNDS, settled, uploaded
from tests.support.client import GraphQLClient
from tests.support.server import running_server

SEARCH = """
query S($ws: ID!) {
  workspace(id: $ws) { embedder search(query: "money back", limit: 2, mode: VECTOR) { documentId } }
}
"""
OLD, NEW = "wordllama:l2_supercat:128", "wordllama:l2_supercat:256"


async def test_switching_embedder_reembeds_in_the_background(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'ragql.sqlite3'}"
    await migrate(url)
    # given a workspace indexed with a 128-dimension embedder
    old = Container.build(make_settings(tmp_path, url, embedding_dimension=128))
    async with running_server(create_app(container=old)) as address:
        client = GraphQLClient(address)
        owner = await client.register("owner")
        ws = await client.create_workspace(owner)
        document_id = await uploaded(client, owner, ws, "policy.md", REFUNDS)
        chunks = (await settled(client, owner, document_id))["chunkCount"]
        before = await client.data(SEARCH, {"ws": ws}, owner.access_token)
        await client.close()
    await old.close()
    assert before["workspace"]["embedder"] == OLD

    # when the server restarts with the 256-dimension embedder (re-embedding not yet run)
    new = Container.build(make_settings(tmp_path, url, ingestion_workers=0))
    async with running_server(create_app(container=new)) as address:
        client = GraphQLClient(address)
        during = await client.data(SEARCH, {"ws": ws}, owner.access_token)
        # then search still answers, from the old vectors
        assert during["workspace"]["embedder"] == OLD
        assert during["workspace"]["search"][0]["documentId"] == document_id

        # when the background pass runs
        assert await new.reembedder().run_once() == 1
        after = await client.data(SEARCH, {"ws": ws}, owner.access_token)
        await client.close()
    # then the workspace uses the new vectors, complete, and the old ones are gone
    assert after["workspace"]["embedder"] == NEW
    assert after["workspace"]["search"][0]["documentId"] == document_id
    workspace_id, doc = uuid.UUID(ws), uuid.UUID(document_id)
    assert await new.vectors.count(workspace_id, doc) == chunks
    assert await new.open_store(OLD, 128).count(workspace_id, doc) == 0
    # and a second pass has nothing to do
    assert await new.reembedder().run_once() == 0
    await new.close()
