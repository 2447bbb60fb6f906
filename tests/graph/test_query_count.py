"""A deep query costs the same number of SQL statements whatever the number of rows."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event

from tests.conftest import Backend
from tests.support.client import GraphQLClient, SignedIn

DEEP_QUERY = """
query Deep {
  viewer {
    id
    workspaces(first: 50) {
      edges {
        node {
          id
          name
          members(first: 20) { edges { node { role user { id email displayName } } } }
          sessions(first: 20) {
            edges { node { id title messages(last: 5) { edges { node { id content } } } } }
          }
          documents(first: 5) { edges { node { id status } } }
        }
      }
    }
  }
}
"""
BACKGROUND_MARKERS = ("lease_expires_at <=", "workspaces.embedder IS NOT NULL", "job_runs")
CREATE_SESSION = """
mutation S($ws: ID!) { createChatSession(workspaceId: $ws, title: "t") { id } }
"""


@contextmanager
def count_statements(backend: Backend) -> Iterator[list[str]]:
    statements: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        # The server's own background work (ingestion polls, re-embedding scans) shares
        # the engine; it is not the query's cost.
        if not any(marker in statement for marker in BACKGROUND_MARKERS):
            statements.append(statement)

    engine = backend.container.engine.sync_engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)


async def seed(client: GraphQLClient, owner: SignedIn, workspaces: int) -> None:
    for index in range(workspaces):
        workspace_id = await client.create_workspace(owner, f"ws {index}")
        for _ in range(2):
            member = await client.register("member")
            await client.add_member(owner, workspace_id, member, "VIEWER")
            await client.data(CREATE_SESSION, {"ws": workspace_id}, owner.access_token)


async def statements_for(backend: Backend, client: GraphQLClient, user: SignedIn) -> list[str]:
    with count_statements(backend) as statements:
        data = await client.data(DEEP_QUERY, token=user.access_token)
    assert data["viewer"]["id"] == user.user_id
    return statements


async def test_deep_query_statement_count_does_not_grow_with_rows(
    backend: Backend, client: GraphQLClient
) -> None:
    # given one user with 2 workspaces and another with 6, each with members and sessions
    small, large = await client.register("small"), await client.register("large")
    await seed(client, small, 2)
    await seed(client, large, 6)
    # when each runs the same deep query
    small_statements = await statements_for(backend, client, small)
    large_statements = await statements_for(backend, client, large)
    # then both cost the same, small, number of statements (one per level, no N+1)
    assert len(large_statements) == len(small_statements)
    assert len(large_statements) <= 7, large_statements
