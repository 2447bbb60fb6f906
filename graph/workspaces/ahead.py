"""Loading a list of workspaces' members and sessions ahead, with the list.

`User.workspaces` knows which workspaces it returns before their fields resolve. When the
operation selects their `members` or `sessions` (one occurrence each, as a single-page app
asks), it loads those pages here, one batch each, exactly the batches the per-workspace
resolvers would have made. `Workspace.members` and `Workspace.sessions` then find their
page loaded and answer synchronously: no coroutine, task and gather per workspace, about a
tenth of the execution of a home-screen query (bench/graph_overhead.py). Anything unusual
(aliases with other arguments, bad arguments) is left to the resolvers.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable
from typing import Any

from graphql import GraphQLError, get_argument_values

from domain.errors import DomainError
from domain.pagination import PageRequest
from graph.context import Info
from graph.relay import page_request
from graph.selection import selected_fields, selects


async def load_pages_ahead(info: Info, workspace_ids: list[uuid.UUID]) -> None:
    if not workspace_ids:
        return
    loaders = info.context.loaders
    loads: list[Awaitable[object]] = []
    members = _request(info, "members")
    if members is not None:
        loads.append(_members_and_users(info, [(pk, members) for pk in workspace_ids]))
    sessions = _request(info, "sessions")
    if sessions is not None:
        loads.append(
            loaders.sessions_by_workspace.load_many([(pk, sessions) for pk in workspace_ids])
        )
    if loads:
        await asyncio.gather(*loads)


async def _members_and_users(info: Info, keys: list[tuple[uuid.UUID, PageRequest]]) -> None:
    loaders = info.context.loaders
    pages = await loaders.members_by_workspace.load_many(keys)
    if selects(info, "edges", "node", "members", "edges", "node", "user"):
        ids = [member.user_id for page in pages for member in page.items]
        await loaders.user_by_id.load_many(list(dict.fromkeys(ids)))


def _request(info: Info, field: str) -> PageRequest | None:
    """The page request `Workspace.<field>` will make, if it is selected exactly once."""
    nodes = selected_fields(info, "edges", "node", field)
    if len(nodes) != 1:
        return None
    raw: Any = info._raw_info
    definition = raw.schema.get_type("Workspace").fields[field]
    try:
        arguments = get_argument_values(definition, nodes[0], raw.variable_values)
        settings = info.context.container.settings
        return page_request(
            settings.graphql_max_page_size, arguments.get("first"), arguments.get("after")
        )
    except (DomainError, GraphQLError, ValueError, TypeError):
        return None
