"""The Strawberry schema: root types, limits, caches and error shaping."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.extensions import (
    AddValidationRules,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    ParserCache,
    QueryDepthLimiter,
    ValidationCache,
)
from strawberry.schema.config import StrawberryConfig
from strawberry.schema.schema import DEFAULT_ALLOWED_OPERATION_TYPES
from strawberry.types import ExecutionContext, ExecutionResult
from strawberry.types.graphql import OperationType

from graph.auth.mutations import AuthMutations
from graph.chat.mutations import ChatMutations, MessageMutations
from graph.chat.queries import ChatQueries
from graph.chat.streaming import ChatSubscriptions
from graph.documents.mutations import DocumentMutations
from graph.documents.queries import DocumentQueries
from graph.documents.subscriptions import DocumentSubscriptions
from graph.errors import shape_error
from graph.execution import RagqlExecutionContext
from graph.scope import OperationScope
from graph.users.queries import UserQueries
from graph.workspaces.mutations import WorkspaceMutations
from graph.workspaces.queries import WorkspaceQueries


@strawberry.type(description="Entry points for reading.")
class Query(UserQueries, WorkspaceQueries, DocumentQueries, ChatQueries):
    pass


@strawberry.type(description="Entry points for changing things.")
class Mutation(
    AuthMutations, WorkspaceMutations, DocumentMutations, ChatMutations, MessageMutations
):
    pass


@strawberry.type(description="Live updates over graphql-transport-ws.")
class Subscription(DocumentSubscriptions, ChatSubscriptions):
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

    async def execute(
        self,
        query: str | None,
        variable_values: dict[str, Any] | None = None,
        context_value: Any | None = None,
        root_value: Any | None = None,
        operation_name: str | None = None,
        allowed_operation_types: Iterable[OperationType] | None = None,
        operation_extensions: dict[str, Any] | None = None,
    ) -> ExecutionResult:
        # One-shot execution cannot stream: a subscription here (plain HTTP POST) would run
        # its generator as an ordinary field and fail as an internal error. Refusing it makes
        # the HTTP view answer 400; WebSocket subscriptions go through `stream`, not here.
        allowed = set(allowed_operation_types or DEFAULT_ALLOWED_OPERATION_TYPES)
        allowed.discard(OperationType.SUBSCRIPTION)
        return await super().execute(
            query,
            variable_values=variable_values,
            context_value=context_value,
            root_value=root_value,
            operation_name=operation_name,
            allowed_operation_types=allowed,
            operation_extensions=operation_extensions,
        )


def build_schema(
    *,
    max_depth: int = 12,
    max_aliases: int = 30,
    max_tokens: int = 2000,
    production: bool = False,
) -> RagqlSchema:
    # The depth and alias rules are built once, here. Each limiter creates a new rule class
    # when constructed, and ValidationCache keys on the rule classes: built per request
    # (inside the factories below) they made every request a cache miss. The rules keep no
    # state between validations, and a cache hit returns the cached errors, limits included.
    limit_rules = (
        *QueryDepthLimiter(max_depth=max_depth).validation_rules,
        *MaxAliasesLimiter(max_alias_count=max_aliases).validation_rules,
    )
    return RagqlSchema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        hide_suggestions=production,
        execution_context_class=RagqlExecutionContext,
        config=StrawberryConfig(disable_field_suggestions=production),
        extensions=[
            # Token limit first: it bounds the parser's work on hostile documents.
            lambda: MaxTokensLimiter(max_token_count=max_tokens),
            lambda: ParserCache(maxsize=512),
            lambda: AddValidationRules(list(limit_rules)),
            lambda: ValidationCache(maxsize=512),
            OperationScope,
        ],
    )
