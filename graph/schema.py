"""The Strawberry schema: root types, limits, caches and error shaping."""

from __future__ import annotations

from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.extensions import (
    MaxAliasesLimiter,
    MaxTokensLimiter,
    ParserCache,
    QueryDepthLimiter,
    ValidationCache,
)
from strawberry.schema.config import StrawberryConfig
from strawberry.types import ExecutionContext

from graph.auth.mutations import AuthMutations
from graph.chat.mutations import ChatMutations
from graph.chat.queries import ChatQueries
from graph.documents.queries import DocumentQueries
from graph.documents.subscriptions import DocumentSubscriptions
from graph.errors import shape_error
from graph.scope import OperationScope
from graph.users.queries import UserQueries
from graph.workspaces.mutations import WorkspaceMutations
from graph.workspaces.queries import WorkspaceQueries


@strawberry.type(description="Entry points for reading.")
class Query(UserQueries, WorkspaceQueries, DocumentQueries, ChatQueries):
    pass


@strawberry.type(description="Entry points for changing things.")
class Mutation(AuthMutations, WorkspaceMutations, ChatMutations):
    pass


@strawberry.type(description="Live updates over graphql-transport-ws.")
class Subscription(DocumentSubscriptions):
    pass


class RagqlSchema(strawberry.Schema):
    def __init__(self, *args: Any, hide_suggestions: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.hide_suggestions = hide_suggestions

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        for error in errors:
            shape_error(error, hide_suggestions=self.hide_suggestions)


def build_schema(
    *,
    max_depth: int = 12,
    max_aliases: int = 30,
    max_tokens: int = 2000,
    production: bool = False,
) -> RagqlSchema:
    return RagqlSchema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        hide_suggestions=production,
        config=StrawberryConfig(disable_field_suggestions=production),
        extensions=[
            # Token limit first: it bounds the parser's work on hostile documents.
            lambda: MaxTokensLimiter(max_token_count=max_tokens),
            lambda: ParserCache(maxsize=512),
            lambda: QueryDepthLimiter(max_depth=max_depth),
            lambda: MaxAliasesLimiter(max_alias_count=max_aliases),
            lambda: ValidationCache(maxsize=512),
            OperationScope,
        ],
    )
